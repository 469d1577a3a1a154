"""Hand finished digests to the world: ``.eml`` files in an outbox, an SMTP server, feed files.

Files are written to a temporary name and renamed into place, so a reader (or a crash)
never sees half a message or half a feed.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
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


class PermanentFailure(DeliveryError):
    """The server refused this message for good (5xx); retrying will not help."""


class SmtpSender:
    """One SMTP connection used for a whole batch. Use as a context manager."""

    def __init__(self, settings: Smtp) -> None:
        self._settings = settings
        self._connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        self._connection = self._connect()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        where = f"SMTP server {settings.host}:{settings.port}"
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
            username, password = _credentials(settings)
            if username is not None:
                connection.login(username, password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"{where} refused the login: {_reply(error)}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"cannot connect to {where}: {error}") from None
        return connection

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Send one message; PermanentFailure for a 5xx refusal, DeliveryError otherwise."""
        if self._connection is None:
            raise RuntimeError("SmtpSender.send outside its 'with' block")
        sender = parseaddr(str(message["From"]))[1]
        try:
            self._connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients[recipient]
            failure = f"{recipient}: server replied {code} {reply.decode(errors='replace')}"
            if 500 <= code < 600:
                raise PermanentFailure(failure) from None
            raise DeliveryError(failure) from None
        except smtplib.SMTPSenderRefused as error:
            # A refused sender is our configuration, not the recipient: keep it pending.
            raise DeliveryError(
                f"the SMTP server refused the sender {sender}: {_reply(error)} "
                "(check 'sender' in the config)"
            ) from None
        except smtplib.SMTPResponseException as error:
            failure = f"{recipient}: server replied {_reply(error)}"
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(failure) from None
            raise DeliveryError(failure) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{recipient}: {error}") from None


def _credentials(settings: Smtp) -> tuple[str | None, str | None]:
    """Secrets come only from the environment variables the config names."""
    values = []
    for variable in (settings.username_env, settings.password_env):
        if variable is None:
            values.append(None)
            continue
        value = os.environ.get(variable)
        if value is None:
            raise DeliveryError(f"environment variable {variable} (named in the config) is not set")
        values.append(value)
    return values[0], values[1]


def _reply(error: smtplib.SMTPResponseException) -> str:
    message = error.smtp_error
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{error.smtp_code} {text}"
