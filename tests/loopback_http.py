"""A real HTTP server on 127.0.0.1 for tests: served files, scripted replies, a request log.

Tests talk to it over real sockets, so the code under test runs exactly as in production:

    with LoopbackServer() as server:
        server.serve("/feed.xml", b"<rss/>", etag='"v1"')
        server.script("/feed.xml", [Response(429, {"Retry-After": "0"}), Response(500)])
        ...  # GET server.url("/feed.xml") -> 429, then 500, then the served file

It speaks HTTP/1.0, so every reply closes its connection and nothing is left half-open.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Response:
    """One scripted reply; headers are sent as given (plus Date and Server unless given)."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering, for timeout tests


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it; ``path`` includes the query string."""

    method: str
    path: str
    headers: Message


@dataclass(frozen=True, slots=True)
class _Served:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    gzip: bool


class LoopbackServer:
    """A threaded HTTP server on an ephemeral port of 127.0.0.1; use it as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._files: dict[str, _Served] = {}
        self._scripts: dict[str, deque[Response]] = {}
        self._log: list[Received] = []
        handler = partial(_Handler, loopback=self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # keeps stop() fast
            name="loopback-http",
            daemon=True,
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; replies still sleeping on a ``delay`` wake up and are dropped."""
        self._stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/xml",
        etag: str | None = None,
        last_modified: str | None = None,
        gzip: bool = False,
    ) -> None:
        """Serve ``body`` at ``path``; ``etag`` is sent verbatim, so include its quotes."""
        with self._lock:
            self._files[path] = _Served(body, content_type, etag, last_modified, gzip)

    def script(self, path: str, responses: list[Response]) -> None:
        """Queue replies for ``path``, used one per request before falling back to ``serve``."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(responses)

    @property
    def requests(self) -> list[Received]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._log)

    def _next_reply(self, received: Received) -> Response:
        path = urlsplit(received.path).path
        with self._lock:
            self._log.append(received)
            queue = self._scripts.get(path)
            if queue:
                return queue.popleft()
            served = self._files.get(path)
        if served is None:
            return Response(404, {"Content-Type": "text/plain"}, b"not found\n")
        return _reply_with_file(served, received.headers)

    def _wait(self, seconds: float) -> bool:
        """Sleep for a scripted delay; False if the server is stopping meanwhile."""
        return not self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    server_version = "loopback-http/1"

    def __init__(self, *args: Any, loopback: LoopbackServer, **kwargs: Any) -> None:
        self.loopback = loopback
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        reply = self.loopback._next_reply(Received(self.command, self.path, self.headers))
        if reply.delay and not self.loopback._wait(reply.delay):
            return
        # The client may have given up already (timeout tests); nothing is left to tell it.
        with contextlib.suppress(ConnectionError):
            self._send(reply, send_body=send_body)

    def _send(self, reply: Response, *, send_body: bool) -> None:
        self.send_response_only(reply.status)
        given = {name.lower() for name in reply.headers}
        if "server" not in given:
            self.send_header("Server", self.version_string())
        if "date" not in given:
            self.send_header("Date", self.date_time_string())
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log; tests read ``LoopbackServer.requests`` instead."""


def _reply_with_file(served: _Served, request_headers: Message) -> Response:
    validators = {"ETag": served.etag, "Last-Modified": served.last_modified}
    validators = {name: value for name, value in validators.items() if value is not None}
    if _not_modified(served, request_headers):
        return Response(304, validators)
    body = served.body
    headers = {"Content-Type": served.content_type, **validators}
    if served.gzip:
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in (request_headers.get("Accept-Encoding") or ""):
            body = gzip_module.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(body))
    return Response(200, headers, body)


def _not_modified(served: _Served, request_headers: Message) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = request_headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return served.etag is not None and ("*" in tags or served.etag in tags)
    if_modified_since = request_headers.get("If-Modified-Since")
    if if_modified_since is None or served.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(served.last_modified) <= parsedate_to_datetime(
            if_modified_since
        )
    except (TypeError, ValueError):  # unreadable, or naive compared with aware
        return False
