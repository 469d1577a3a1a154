"""Signed unsubscribe tokens for RFC 8058 one-click unsubscribe links.

A token names a profile and an address and proves that this digest made it::

    v1.<base64url(profile NUL address)>.<base64url(signature)>
    signature = HMAC-SHA256(secret, "v1" NUL profile NUL address)

base64url without padding, so the token goes into a URL as it is. The secret never appears
in it; anyone who changes the profile or the address breaks the signature. Tokens do not
expire: an unsubscribe link in a year-old email still works (RFC 8058 asks for that).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from digest.errors import SubscriptionError

VERSION = "v1"
SECRET_BYTES = 32
MIN_SECRET_CHARS = 16


def new_secret() -> str:
    """A fresh random secret, as text (it is stored in the database's settings)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def make_unsubscribe_token(secret: bytes, profile: str, address: str) -> str:
    """The token that unsubscribes ``address`` from ``profile``."""
    payload = f"{profile}\0{address}".encode()
    return f"{VERSION}.{_encode(payload)}.{_encode(_signature(secret, payload))}"


def verify_unsubscribe_token(secret: bytes, token: str) -> tuple[str, str]:
    """(profile, address) from a token made with ``secret``; SubscriptionError otherwise."""
    version, _, rest = token.strip().partition(".")
    encoded_payload, _, encoded_signature = rest.partition(".")
    if version != VERSION or not encoded_payload or not encoded_signature:
        raise SubscriptionError("not an unsubscribe token (expected 'v1.<payload>.<signature>')")
    try:
        payload = _decode(encoded_payload)
        signature = _decode(encoded_signature)
    except (binascii.Error, ValueError):
        raise SubscriptionError("unsubscribe token is damaged (not base64url)") from None
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        raise SubscriptionError("unsubscribe token signature does not match (altered, or made "
                                "with another secret)")
    profile, separator, address = payload.decode().partition("\0")
    if not separator or not profile or not address:
        raise SubscriptionError("unsubscribe token does not name a profile and an address")
    return profile, address


def _signature(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, VERSION.encode() + b"\0" + payload, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("non-ASCII token")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
