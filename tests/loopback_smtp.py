"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts, and misbehaves
on request.

``reject`` maps a recipient address to the reply the server gives at RCPT TO, such as
``"550 5.1.1 mailbox unavailable"``, so tests can watch one refusal not block the others;
``reject_senders`` does the same for MAIL FROM.

Faults "for a while", each for the next ``times`` commands of one kind (EHLO, MAIL, RCPT or
DATA; HELO, the client's fallback after a refused EHLO, counts as EHLO; a DATA fault strikes
after the message was received, so the message is not accepted):

- ``handler.fail("MAIL", "451 4.3.0 try later", times=3)``: answer that instead; a 421
  reply also closes the connection, as real servers do;
- ``handler.drop("DATA")``: close the connection without answering;
- ``handler.slow("RCPT", 2.0)``: wait that long before answering (for client timeouts).

``connections`` counts the sessions opened, ``commands`` lists every command a fault could
apply to, as it arrived.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_DROPPED = "(connection dropped)"  # a hook's answer that FaultySmtp never sends
FAULTY_COMMANDS = ("EHLO", "MAIL", "RCPT", "DATA")


@dataclass
class Fault:
    command: str  # EHLO, MAIL, RCPT or DATA
    times: int
    reply: str | None = None
    drop: bool = False
    delay: float = 0.0


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
    faults: list[Fault] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, command: str, reply: str, *, times: int = 1) -> None:
        self._add(Fault(command, times, reply=reply))

    def drop(self, command: str, *, times: int = 1) -> None:
        self._add(Fault(command, times, drop=True))

    def slow(self, command: str, seconds: float, *, times: int = 1) -> None:
        self._add(Fault(command, times, delay=seconds))

    def _add(self, fault: Fault) -> None:
        if fault.command not in FAULTY_COMMANDS:
            raise ValueError(f"faults apply to {', '.join(FAULTY_COMMANDS)}, not {fault.command!r}")
        with self._lock:
            self.faults.append(fault)

    async def _fault(self, server: SMTP, command: str) -> str | None:
        """The reply a scheduled fault gives instead of the normal one (None: no fault)."""
        with self._lock:
            self.commands.append(command)
            fault = next((f for f in self.faults if f.command == command and f.times > 0), None)
            if fault is not None:
                fault.times -= 1
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            assert server.transport is not None
            server.transport.close()
            return _DROPPED
        return fault.reply

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
        responses: list[str],
    ) -> list[str]:
        if (reply := await self._fault(server, "EHLO")) is not None:
            return [reply]
        session.host_name = hostname
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        if (reply := await self._fault(server, "EHLO")) is not None:
            return reply
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        if (reply := await self._fault(server, "MAIL")) is not None:
            return reply
        if address in self.reject_senders:
            return self.reject_senders[address]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if (reply := await self._fault(server, "RCPT")) is not None:
            return reply
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if (reply := await self._fault(server, "DATA")) is not None:
            return reply
        content: Any = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self._lock:
            self.delivered.append(
                Delivered(str(envelope.mail_from), tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
            )
        return "250 Message accepted"


class FaultySmtp(SMTP):
    """aiosmtpd's server, closing the connection after a 421 reply and when a hook dropped it."""

    async def push(self, status: AnyStr) -> None:
        text = status.decode() if isinstance(status, bytes) else status
        if text == _DROPPED or self.transport is None or self.transport.is_closing():
            return
        await super().push(status)
        if text.startswith("421"):
            self.transport.close()

    def connection_made(self, transport: Any) -> None:
        handler = self.event_handler
        with handler._lock:
            handler.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return FaultySmtp(self.handler, **self.SMTP_kwargs)


class LoopbackSmtp:
    """Start with ``with LoopbackSmtp() as smtp:``; ``smtp.port``, ``smtp.delivered``."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        # aiosmtpd checks the server is up by connecting to the port it was given, so it
        # needs a real port number rather than 0.
        self._controller = _Controller(self.handler, hostname="127.0.0.1", port=_free_port())

    def __enter__(self) -> LoopbackSmtp:
        self._controller.start()
        self.handler.connections = 0  # start() checked the server with a connection of its own
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
