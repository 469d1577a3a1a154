"""Hand finished digests to the world: ``.eml`` files in an outbox, an SMTP server, feed files.

Files are written to a temporary name and renamed into place, so a reader (or a crash)
never sees half a message or half a feed. The SMTP sender survives faults: it reuses one
connection, reconnects when the server drops it, retries 4xx replies and timeouts with
backoff, and tells a permanent refusal (5xx) from a transient one by the exception it raises.
"""

from __future__ import annotations

import os
import random
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from types import TracebackType

from digest.config import Smtp
from digest.errors import DeliveryError


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def outbox_path(outbox: Path, profile: str, edition: str, recipient: str) -> Path:
    """One file per (profile, edition, recipient): rerunning overwrites, never duplicates."""
    safe_recipient = re.sub(r"[^A-Za-z0-9._+-]", "_", recipient.replace("@", "_at_"))
    return outbox / profile / f"{edition}--{safe_recipient}.eml"


def write_outbox(message: EmailMessage, path: Path) -> Path:
    try:
        return write_atomically(path, message.as_bytes())
    except OSError as error:
        raise DeliveryError(f"cannot write {path}: {error.strerror or error}") from None


def write_feeds(feeds_dir: Path, profile: str, rss: bytes, atom: bytes) -> tuple[Path, Path]:
    try:
        return (
            write_atomically(feeds_dir / f"{profile}.rss.xml", rss),
            write_atomically(feeds_dir / f"{profile}.atom.xml", atom),
        )
    except OSError as error:
        raise DeliveryError(f"cannot write feeds to {feeds_dir}: {error}") from None


MAX_BACKOFF = 120.0  # seconds: the longest wait between two attempts at one message


class PermanentFailure(DeliveryError):
    """The server refused this message for good (5xx); retrying will not help."""


class TransientFailure(DeliveryError):
    """Not delivered this time (4xx, a dropped connection, a timeout), even after the
    retries: the message stays pending for the next run."""


class ServerUnavailable(TransientFailure):
    """No message can go out now (no connection, or the server refuses our sender), so the
    rest of the batch stays pending too."""


@dataclass(frozen=True, slots=True)
class _Retry:
    """A failed attempt worth repeating, and what to report if it was the last one."""

    problem: str
    server_wide: bool  # the connection or the server failed, not this one message


class SmtpSender:
    """One SMTP connection for a whole batch, opened on the first message and reopened
    when the server drops it. Use as a context manager.

    Transient failures (4xx replies, a dropped or refused connection, a timeout) are
    retried up to ``settings.retries`` times with exponential backoff and jitter; with
    ``settings.rate_limit``, attempts are spaced to at most that many per second.
    ``sleep``, ``clock`` and ``rng`` are injectable so tests never really wait.
    """

    def __init__(
        self,
        settings: Smtp,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._connection: smtplib.SMTP | None = None
        self._last_attempt: float | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Say goodbye to the server (QUIT) if connected; safe to call twice."""
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Hand one message to the server; returns once the server has accepted its DATA.

        PermanentFailure for a 5xx refusal of this recipient or message; TransientFailure
        when the retries ran out; ServerUnavailable when no message can go out now.
        """
        sender = parseaddr(str(message["From"]))[1]
        attempt = 1
        retry = self._attempt(message, sender, recipient)
        while retry is not None and attempt <= self._settings.retries:
            self._pause(self._retry_delay(attempt))
            attempt += 1
            retry = self._attempt(message, sender, recipient)
        if retry is not None:
            failure = ServerUnavailable if retry.server_wide else TransientFailure
            noun = "attempt" if attempt == 1 else "attempts"
            raise failure(f"{retry.problem} ({attempt} {noun})")

    def _attempt(self, message: EmailMessage, sender: str, recipient: str) -> _Retry | None:
        """One try at one message: None once accepted, a _Retry for a transient failure."""
        try:
            connection = self._open()
        except _CannotConnect as error:
            return _Retry(str(error), server_wide=True)
        self._keep_pace()
        try:
            connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients[recipient]
            return self._refused(code, f"{recipient}: server replied {code} {_text(reply)}")
        except smtplib.SMTPSenderRefused as error:
            return self._sender_refused(error, sender)
        except smtplib.SMTPHeloError as error:
            return self._greeting_refused(error)
        except smtplib.SMTPResponseException as error:
            return self._refused(error.smtp_code, f"{recipient}: server replied {_reply(error)}")
        except (smtplib.SMTPException, OSError) as error:
            # Dropped connection, timeout: the session is in an unknown state, start afresh.
            self._drop()
            return _Retry(f"{recipient}: {_lost(error)}", server_wide=True)
        return None

    def _refused(self, code: int, failure: str) -> _Retry:
        if 500 <= code < 600:
            raise PermanentFailure(failure)
        if code == 421:  # "closing the channel": smtplib has closed it, reconnect next time
            self._drop()
            return _Retry(failure, server_wide=True)
        return _Retry(failure, server_wide=False)

    def _sender_refused(self, error: smtplib.SMTPSenderRefused, sender: str) -> _Retry:
        # A refused sender is our configuration, not the recipient: never 'failed'.
        problem = f"the SMTP server refused the sender {sender}: {_reply(error)}"
        if 500 <= error.smtp_code < 600:
            raise ServerUnavailable(f"{problem} (check 'sender' in the config)")
        if error.smtp_code == 421:
            self._drop()
        return _Retry(problem, server_wide=True)

    def _greeting_refused(self, error: smtplib.SMTPHeloError) -> _Retry:
        # Refused before any message was named: the server's state, not the recipient's.
        self._drop()
        problem = f"the SMTP server refused our greeting (EHLO/HELO): {_reply(error)}"
        if 500 <= error.smtp_code < 600:
            raise ServerUnavailable(problem)
        return _Retry(problem, server_wide=True)

    def _open(self) -> smtplib.SMTP:
        """The live connection, (re)connecting when there is none or the server closed it."""
        if self._connection is None or self._connection.sock is None:
            self._drop()
            self._connection = self._connect()
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        where = f"SMTP server {settings.host}:{settings.port}"
        username, password = _credentials(settings)
        try:
            if settings.security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
                if settings.security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
            if username is not None:
                connection.login(username, password or "")
        except smtplib.SMTPAuthenticationError as error:
            # Retrying will not fix a password: no message can go out.
            raise ServerUnavailable(f"{where} refused the login: {_reply(error)}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise _CannotConnect(f"cannot connect to {where}: {_lost(error)}") from None
        return connection

    def _keep_pace(self) -> None:
        """With a rate limit, leave at least 1/rate seconds between two attempts."""
        if self._settings.rate_limit is not None and self._last_attempt is not None:
            interval = 1 / self._settings.rate_limit
            self._pause(self._last_attempt + interval - self._clock())
        self._last_attempt = self._clock()

    def _retry_delay(self, attempt: int) -> float:
        base = self._settings.backoff * 2 ** (attempt - 1)
        jitter = self._rng.uniform(0, base / 2)  # spreads out senders that failed together
        return min(base + jitter, MAX_BACKOFF)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)


class _CannotConnect(Exception):
    """Connecting failed in a way a later attempt may not (refused, timeout, 421 greeting)."""


def _credentials(settings: Smtp) -> tuple[str | None, str | None]:
    """Secrets come only from the environment variables the config names."""
    values = []
    for variable in (settings.username_env, settings.password_env):
        if variable is None:
            values.append(None)
            continue
        value = os.environ.get(variable)
        if value is None:
            raise ServerUnavailable(
                f"environment variable {variable} (named in the config) is not set"
            )
        values.append(value)
    return values[0], values[1]


def _reply(error: smtplib.SMTPResponseException) -> str:
    return f"{error.smtp_code} {_text(error.smtp_error)}"


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _lost(error: Exception) -> str:
    """What went wrong with the connection, also for errors whose text is empty."""
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    return str(error) or type(error).__name__
