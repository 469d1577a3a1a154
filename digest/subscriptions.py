"""Who receives a profile's digest: the config's subscribers, plus those added with
``digest subscribe``, minus those who unsubscribed (by command or one-click link).

An unsubscription stored in the database outranks the config: an address that left gets
nothing more, even while it is still listed in the YAML, until it is subscribed again.
Leaving also cancels the messages still pending for that address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from digest.config import Config, Profile, normalise_address
from digest.errors import SubscriptionError
from digest.store import Store
from digest.tokens import MIN_SECRET_CHARS, make_unsubscribe_token, new_secret

SECRET_SETTING = "unsubscribe-secret"


@dataclass(frozen=True, slots=True)
class Subscriber:
    address: str
    in_config: bool
    stored: bool | None  # what the commands left: subscribed, unsubscribed, or nothing

    @property
    def active(self) -> bool:
        return self.stored is not False

    @property
    def source(self) -> str:
        """config, command or config+command: where the address comes from."""
        return "+".join(
            name for name, present in (("config", self.in_config),
                                       ("command", self.stored is not None)) if present
        )


def subscribers(store: Store, name: str, profile: Profile) -> list[Subscriber]:
    """Everyone the profile knows of, active or not, by address."""
    stored = store.subscriptions(name)
    addresses = sorted({*profile.subscribers, *stored})
    return [
        Subscriber(address, address in profile.subscribers, stored.get(address))
        for address in addresses
    ]


def recipients(store: Store, name: str, profile: Profile) -> list[str]:
    """The addresses an edition of the profile goes to, config order first."""
    active = {s.address for s in subscribers(store, name, profile) if s.active}
    extra = sorted(active - set(profile.subscribers))
    return [address for address in profile.subscribers if address in active] + extra


def subscribe(config: Config, store: Store, address: str, profile: str, *,
              now: datetime) -> str:
    """Subscribe ``address`` to ``profile`` (again); returns the normalised address."""
    config.profile(profile)
    normalised = _valid(address)
    store.subscribe(profile, normalised, now=now)
    return normalised


def unsubscribe(config: Config, store: Store, address: str, profile: str | None, *,
                now: datetime) -> tuple[str, list[str], int]:
    """Unsubscribe ``address`` from ``profile`` (None: from every profile in the config).

    Returns the normalised address, the profiles and how many pending messages were
    cancelled.
    """
    names = [profile] if profile is not None else sorted(config.profiles)
    for name in names:
        config.profile(name)
    normalised = _valid(address)
    return normalised, names, store.unsubscribe(names, normalised, now=now)


def _valid(address: str) -> str:
    try:
        return normalise_address(address.strip())
    except ValueError as error:
        raise SubscriptionError(f"not a usable email address: {error}") from None


# --- one-click unsubscribe links (RFC 8058) -----------------------------------------------


def unsubscribe_secret(config: Config, store: Store) -> bytes:
    """The key that signs unsubscribe tokens: from the environment variable the config
    names, or else made at random on first use and kept in the database."""
    variable = config.unsubscribe_secret_env
    if variable is None:
        return store.setting(SECRET_SETTING, default=new_secret).encode()
    value = os.environ.get(variable)
    if value is None:
        raise SubscriptionError(
            f"environment variable {variable} (unsubscribe_secret_env in the config) is not set"
        )
    if len(value) < MIN_SECRET_CHARS:
        raise SubscriptionError(
            f"environment variable {variable} holds a secret shorter than {MIN_SECRET_CHARS} "
            "characters; use a long random one"
        )
    return value.encode()


def unsubscribe_link(base_url: str, secret: bytes, profile: str, address: str) -> str:
    """``BASE/unsubscribe?token=...`` for one subscriber of one profile."""
    token = make_unsubscribe_token(secret, profile, address)
    return f"{base_url.rstrip('/')}/unsubscribe?token={token}"
