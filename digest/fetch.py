"""Download listing bytes over HTTP(S) politely, so that parsers never touch the network.

``HttpClient.get`` sends a User-Agent naming the project, asks for gzip, makes conditional
requests from remembered ``Validators``, retries 429/5xx and dropped connections with
exponential backoff (honouring Retry-After), caps response size, and spaces requests to
hosts such as arXiv that ask for it. Every failure is a ``FetchError`` naming the URL.
"""

from __future__ import annotations

import errno
import random
import socket
import ssl
import time
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.client import HTTPException, IncompleteRead
from types import MappingProxyType
from typing import BinaryIO
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit, urlunsplit

import digest
from digest.errors import FetchError

DEFAULT_USER_AGENT = f"paper-digest/{digest.__version__}"

# arXiv's terms of use ask for at most one request every three seconds.
DEFAULT_MIN_INTERVAL: Mapping[str, float] = MappingProxyType({"arxiv.org": 3.0})

_CHUNK_SIZE = 64 * 1024
_GZIP_WBITS = zlib.MAX_WBITS | 16


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said about a response's version, sent back to ask "has it changed?"."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful download; ``body`` is None when the server answered 304 Not Modified."""

    url: str  # the final URL, after redirects
    status: int
    body: bytes | None
    validators: Validators


class HttpStatusError(FetchError):
    """The server answered with an error status; ``body`` may hold its explanation (e.g. Atom)."""

    def __init__(self, message: str, *, url: str, status: int, body: bytes) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class _Transient:
    """A failed attempt worth retrying, with what to report if it was the last one."""

    problem: str
    retry_after: float | None = None
    status: int | None = None
    body: bytes = b""


class HttpClient:
    """A small HTTP GET client for listings. Not thread-safe: use one per thread.

    ``min_interval`` maps a host suffix (``"arxiv.org"`` covers ``export.arxiv.org``) to the
    seconds to leave between the end of one request to that family and the start of the next.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        max_bytes: int = 50 * 1024 * 1024,
        min_interval: Mapping[str, float] = DEFAULT_MIN_INTERVAL,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0 or retries < 0 or backoff < 0 or max_backoff < 0 or max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive; retries and backoffs >= 0")
        self._user_agent = user_agent
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_bytes = max_bytes
        self._min_interval = {host.lower(): seconds for host, seconds in min_interval.items()}
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._last_request_end: dict[str, float] = {}
        self._opener = _build_opener()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        validators: Validators | None = None,
    ) -> FetchResult:
        """Download ``url`` (with ``params`` added to its query); 304 when ``validators`` match."""
        full_url = _with_params(url, params)
        _require_http(full_url)
        request = self._build_request(full_url, validators)
        family = _host_family(urlsplit(full_url).hostname or "", self._min_interval)
        attempt = 1
        outcome = self._throttled_attempt(request, validators, family)
        while isinstance(outcome, _Transient) and attempt <= self._retries:
            self._pause(self._retry_delay(attempt, outcome.retry_after))
            attempt += 1
            outcome = self._throttled_attempt(request, validators, family)
        if isinstance(outcome, _Transient):
            raise _give_up(full_url, outcome, attempt)
        return outcome

    def _build_request(self, url: str, validators: Validators | None) -> urllib.request.Request:
        headers = {"User-Agent": self._user_agent, "Accept-Encoding": "gzip"}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        return urllib.request.Request(url, headers=headers, method="GET")

    def _throttled_attempt(
        self, request: urllib.request.Request, sent: Validators | None, family: str | None
    ) -> FetchResult | _Transient:
        if family is None:
            return self._attempt(request, sent)
        last_end = self._last_request_end.get(family)
        if last_end is not None:
            self._pause(self._min_interval[family] - (self._clock() - last_end))
        try:
            return self._attempt(request, sent)
        finally:
            self._last_request_end[family] = self._clock()

    def _attempt(
        self, request: urllib.request.Request, sent: Validators | None
    ) -> FetchResult | _Transient:
        url = request.full_url
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                headers = response.headers
                body = self._read_body(url, response, headers)
                return FetchResult(response.url, response.status, body, _validators(headers))
        except HTTPError as error:
            try:
                return self._on_error_status(url, error, sent)
            finally:
                error.close()
        except (OSError, HTTPException) as error:  # URLError is an OSError
            return self._on_connection_error(url, error)

    def _on_error_status(
        self, url: str, error: HTTPError, sent: Validators | None
    ) -> FetchResult | _Transient:
        status = error.code
        if status == HTTPStatus.NOT_MODIFIED:
            remembered = _merge(sent or Validators(), _validators(error.headers))
            return FetchResult(error.url, status, None, remembered)
        problem = f"HTTP {status} {_phrase(status, error.reason)}"
        if 300 <= status < 400:  # a redirect urllib refused: a loop, or to a non-HTTP URL
            problem += f" (redirect to {error.headers.get('Location')!r} not followed)"
        body = self._read_error_body(url, error)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= 500:
            return _Transient(problem, _retry_after_seconds(error.headers), status, body)
        raise HttpStatusError(f"GET {url}: {problem}", url=url, status=status, body=body)

    def _on_connection_error(self, url: str, error: OSError | HTTPException) -> _Transient:
        reason = error.reason if isinstance(error, URLError) else error
        if isinstance(reason, TimeoutError):
            return _Transient(f"timed out after {self._timeout:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return _Transient("connection refused")
        if isinstance(reason, socket.gaierror) and reason.errno != socket.EAI_AGAIN:
            host = urlsplit(url).hostname
            raise FetchError(f"GET {url}: cannot resolve host {host!r} ({reason.strerror})")
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise FetchError(f"GET {url}: TLS certificate not accepted ({reason.verify_message})")
        if isinstance(reason, str):  # only redirects get here: get() checked the URL itself
            raise FetchError(f"GET {url}: redirected to a URL we cannot fetch ({reason})")
        if isinstance(reason, IncompleteRead):
            return _Transient(_describe_cut_off(reason))
        if isinstance(reason, HTTPException):
            return _Transient(f"broken HTTP response ({type(reason).__name__}: {reason})")
        return _Transient(f"connection failed ({_describe_os_error(reason)})")

    def _read_body(self, url: str, stream: BinaryIO, headers: Message) -> bytes:
        declared = headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise _too_large(url, self._max_bytes)
        raw = _read_capped(url, stream, self._max_bytes)
        if declared.isdigit() and len(raw) < int(declared):
            # http.client returns short reads silently; retry rather than parse half a feed.
            raise IncompleteRead(raw, int(declared) - len(raw))
        return _decode(url, raw, headers.get("Content-Encoding", ""), self._max_bytes)

    def _read_error_body(self, url: str, error: HTTPError) -> bytes:
        """The error page, if it can be read; the status is the failure, so this is best effort."""
        try:
            return self._read_body(url, error, error.headers)
        except (FetchError, OSError, HTTPException):
            return b""

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_backoff)
        base = self._backoff * 2 ** (attempt - 1)
        jitter = self._rng.uniform(0, base / 2)  # spreads out clients that failed together
        return min(base + jitter, self._max_backoff)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)


def _build_opener() -> urllib.request.OpenerDirector:
    """An opener that speaks only http and https, even when redirected (no file:, ftp:, data:)."""
    opener = urllib.request.OpenerDirector()
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ]
    for handler in handlers:
        opener.add_handler(handler)
    return opener


def _with_params(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))


def _require_http(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"{parts.scheme}:// URLs are" if parts.scheme else "URLs without a scheme are"
        raise FetchError(f"GET {url}: {scheme} not allowed; use an http:// or https:// URL")
    if not parts.hostname:
        raise FetchError(f"GET {url}: the URL has no host name")


def _host_family(host: str, min_interval: Mapping[str, float]) -> str | None:
    """The most specific ``min_interval`` key that ``host`` equals or is a subdomain of."""
    host = host.lower()
    matches = [key for key in min_interval if host == key or host.endswith("." + key)]
    return max(matches, key=len, default=None)


def _validators(headers: Message) -> Validators:
    return Validators(etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"))


def _merge(sent: Validators, fresh: Validators) -> Validators:
    """The validators we sent, updated with any the 304 response carried."""
    return Validators(fresh.etag or sent.etag, fresh.last_modified or sent.last_modified)


def _phrase(status: int, server_reason: str) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return server_reason


def _retry_after_seconds(headers: Message) -> float | None:
    """Retry-After as seconds; an HTTP-date is measured against the response's own Date."""
    value = (headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    wanted, sent = _http_date(value), _http_date(headers.get("Date"))
    if wanted is None or sent is None:
        return None  # absent or unreadable: fall back to our own backoff
    return max(0.0, (wanted - sent).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # HTTP dates are GMT


def _read_capped(url: str, stream: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_CHUNK_SIZE):
        total += len(chunk)
        if total > limit:
            raise _too_large(url, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(url: str, raw: bytes, content_encoding: str, limit: int) -> bytes:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise FetchError(f"GET {url}: unsupported Content-Encoding {content_encoding!r}")
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)  # bounded, so a gzip bomb cannot fill memory
    except zlib.error as error:
        raise FetchError(f"GET {url}: the gzip-encoded response is corrupt ({error})") from None
    if len(body) > limit:
        raise _too_large(url, limit)
    if not inflater.eof:
        raise FetchError(f"GET {url}: the gzip-encoded response is truncated")
    return body


def _too_large(url: str, limit: int) -> FetchError:
    return FetchError(
        f"GET {url}: response is larger than the {limit:,}-byte limit; "
        "if this listing really is that big, raise http.max_mb in the config"
    )


def _give_up(url: str, last: _Transient, attempts: int) -> FetchError:
    tries = f"; gave up after {attempts} attempts" if attempts > 1 else ""
    message = f"GET {url}: {last.problem}{tries}"
    if last.status is None:
        return FetchError(message)
    return HttpStatusError(message, url=url, status=last.status, body=last.body)


def _describe_cut_off(error: IncompleteRead) -> str:
    received = len(error.partial)
    if error.expected is None:
        return f"response cut off after {received:,} bytes"
    return f"response cut off after {received:,} of {received + error.expected:,} bytes"


def _describe_os_error(error: BaseException) -> str:
    code, text = getattr(error, "errno", None), getattr(error, "strerror", None)
    if code is not None and text:
        return f"{errno.errorcode.get(code, code)}: {text}"
    return str(error) or type(error).__name__
