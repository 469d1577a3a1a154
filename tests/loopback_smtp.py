"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts.

``reject`` maps a recipient address to the reply the server gives at RCPT TO, such as
``"550 5.1.1 mailbox unavailable"``, so tests can watch one refusal not block the others;
``reject_senders`` does the same for MAIL FROM.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True, slots=True)
class Delivered:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage


@dataclass
class RecordingHandler:
    reject: dict[str, str] = field(default_factory=dict)
    reject_senders: dict[str, str] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        if address in self.reject_senders:
            return self.reject_senders[address]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content: Any = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self._lock:
            self.delivered.append(
                Delivered(str(envelope.mail_from), tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
            )
        return "250 Message accepted"


class LoopbackSmtp:
    """Start with ``with LoopbackSmtp() as smtp:``; ``smtp.port``, ``smtp.delivered``."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        # aiosmtpd checks the server is up by connecting to the port it was given, so it
        # needs a real port number rather than 0.
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=_free_port())

    def __enter__(self) -> LoopbackSmtp:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def delivered(self) -> list[Delivered]:
        with self.handler._lock:
            return list(self.handler.delivered)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
