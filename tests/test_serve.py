"""``digest serve`` as a real process: SMTP to a loopback aiosmtpd, SIGKILL, SIGTERM, SIGHUP.

The SMTP server here can hold one message in DATA (a gate) so a test knows exactly where
the digest process is when it is killed or stopped; nothing depends on how long a step
takes. Every profile is scheduled every minute with an hour of catch-up, so the daemon's
start-up catch-up runs the cycle at once: that is the real daemon path, not a test hook.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from loopback_smtp import Delivered, RecordingHandler, _free_port

from digest.config import load_config
from digest.pipeline import make_message_id
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
SUBSCRIBERS = [f"reader{n}@example.org" for n in range(1, 6)]
WAIT = 60.0  # seconds: a generous limit for a step that normally takes one or two


@dataclass
class GateHandler(RecordingHandler):
    """Records like RecordingHandler, but holds the ``hold_at``-th DATA until ``release``.

    With ``record_first`` the message is recorded (the server has accepted it) before the
    hold, so the client is killed while waiting for the 250 reply.
    """

    hold_at: int = 0
    record_first: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    datas: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.datas += 1
        held = self.datas == self.hold_at
        reply = None
        if held and self.record_first:
            reply = await super().handle_DATA(server, session, envelope)
        if held:
            self.entered.set()
            # If the client dies meanwhile, aiosmtpd cancels this coroutine: nothing recorded.
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return reply or await super().handle_DATA(server, session, envelope)


@pytest.fixture
def gate() -> Iterator[tuple[GateHandler, int]]:
    handler = GateHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, int(controller.port)
    finally:
        handler.release.set()
        controller.stop()


def write_config(
    folder: Path, port: int, *, schedule: str = "* * * * *", smtp: str = ""
) -> Path:
    shutil.copytree(REPO / "examples" / "listings", folder / "listings")
    path = folder / "config.yaml"
    path.write_text(f"""
sender: "Paper Digest <digest@example.org>"
timezone: Europe/Berlin
catch_up_hours: 1
delivery:
  method: smtp
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 30{smtp}}}
sources: [{{name: listings, type: file, paths: ["listings/*.jsonl"]}}]
profiles:
  llm:
    schedule: "{schedule}"
    interests: [{{name: Everything, keywords: [model, learning, retrieval, benchmark]}}]
    min_score: 0.0001
    subscribers: [{", ".join(SUBSCRIBERS)}]
""", encoding="utf-8")
    return path


class Digest:
    """A running ``digest`` process whose standard error goes to a log file."""

    def __init__(self, config: Path, *args: str) -> None:
        self.log = config.parent / f"digest-{time.monotonic_ns()}.log"
        self._stderr = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest", "-c", str(config), *args],
            stdout=subprocess.DEVNULL, stderr=self._stderr, cwd=config.parent,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str) -> None:
        deadline = time.monotonic() + WAIT
        while needle not in self.text():
            assert self.process.poll() is None or needle in self.text(), self.text()
            assert time.monotonic() < deadline, f"no {needle!r} in the log:\n{self.text()}"
            time.sleep(0.05)

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def finish(self) -> int:
        code = self.process.wait(timeout=WAIT)
        self._stderr.close()
        return code


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_for(event: threading.Event, what: str) -> None:
    assert event.wait(WAIT), f"timed out waiting for {what}"


def counts(config: Path) -> dict[str, int]:
    loaded = load_config(config)
    with Store.open(loaded.database) as store:
        return store.delivery_counts("llm")


def by_recipient(delivered: list[Delivered]) -> Counter[str]:
    return Counter(recipient for item in delivered for recipient in item.recipients)


@pytest.mark.parametrize("killed_at", [1, 3])
def test_sigkill_mid_batch_then_restart_delivers_each_message_exactly_once(
    tmp_path: Path, gate: tuple[GateHandler, int], killed_at: int
) -> None:
    # Kill point: the server holds message ``killed_at`` in DATA, not yet accepted; the
    # ones before it were accepted and (the client sends one message at a time) marked
    # sent before this one began.
    handler, port = gate
    config = write_config(tmp_path, port)
    handler.hold_at = killed_at
    first = Digest(config, "serve")
    wait_for(handler.entered, "the held message")
    first.process.kill()
    assert first.finish() == -signal.SIGKILL
    assert len(handler.delivered) == killed_at - 1
    expected = {"sent": killed_at - 1, "pending": 6 - killed_at}
    assert counts(config) == {status: n for status, n in expected.items() if n}

    second = Digest(config, "serve")  # the catch-up at start-up finishes the batch
    wait_until(lambda: counts(config) == {"sent": 5}, "every message sent")
    second.signal(signal.SIGTERM)
    assert second.finish() == 0, second.text()
    assert "stopped" in second.text()

    assert by_recipient(handler.delivered) == Counter(SUBSCRIBERS)
    loaded = load_config(config)
    edition = load_edition_date(config)
    assert sorted(item.message["Message-ID"] for item in handler.delivered) == sorted(
        make_message_id(loaded, "llm", edition, address) for address in SUBSCRIBERS)


def load_edition_date(config: Path) -> date:
    with Store.open(load_config(config).database) as store:
        last = store.last_edition("llm")
    assert last is not None
    return last[0]


def test_sigkill_after_the_server_accepted_resends_that_message_with_the_same_id(
    tmp_path: Path, gate: tuple[GateHandler, int]
) -> None:
    # The one window no client can close: the server has accepted message 2 but the
    # process dies before the 250 reply reaches it, so the store still says pending. The
    # restart sends it again, with the same deterministic Message-ID for receivers to
    # recognise; no other message is repeated.
    handler, port = gate
    config = write_config(tmp_path, port)
    handler.hold_at, handler.record_first = 2, True
    first = Digest(config, "serve")
    wait_for(handler.entered, "the held message")
    first.process.kill()
    first.finish()
    second = Digest(config, "serve")
    wait_until(lambda: counts(config) == {"sent": 5}, "every message sent")
    second.signal(signal.SIGTERM)
    assert second.finish() == 0, second.text()
    per_recipient = by_recipient(handler.delivered)
    assert sorted(per_recipient.values()) == [1, 1, 1, 1, 2]
    ids = Counter(item.message["Message-ID"] for item in handler.delivered)
    assert len(ids) == 5 and sorted(ids.values()) == [1, 1, 1, 1, 2]


def test_sigterm_finishes_the_message_in_flight_and_the_restart_catches_up(
    tmp_path: Path, gate: tuple[GateHandler, int]
) -> None:
    handler, port = gate
    config = write_config(tmp_path, port)
    handler.hold_at = 2
    first = Digest(config, "serve")
    wait_for(handler.entered, "the held message")
    first.signal(signal.SIGTERM)
    first.wait_for_log("SIGTERM received")
    handler.release.set()  # the message in flight is accepted; then the daemon stops
    assert first.finish() == 0, first.text()
    assert "stop requested: the remaining messages stay pending" in first.text()
    assert counts(config) == {"sent": 2, "pending": 3}

    second = Digest(config, "serve")
    wait_until(lambda: counts(config) == {"sent": 5}, "every message sent")
    second.signal(signal.SIGINT)  # Ctrl-C
    assert second.finish() == 0, second.text()
    assert by_recipient(handler.delivered) == Counter(SUBSCRIBERS)


def test_sigterm_during_an_smtp_backoff_stops_without_waiting_it_out(
    tmp_path: Path, gate: tuple[GateHandler, int]
) -> None:
    # The first message is refused with a 451; the retry would come after a backoff of
    # at least 100 s (longer than finish() waits), so only an interrupted wait passes.
    handler, port = gate
    config = write_config(tmp_path, port, smtp=", retries: 2, backoff: 100")
    handler.fail("RCPT", "451 4.3.0 try later")
    serve = Digest(config, "serve")
    wait_until(lambda: "RCPT" in handler.commands, "the refused first message")
    serve.signal(signal.SIGTERM)
    assert serve.finish() == 0, serve.text()
    assert "stop requested while waiting to retry" in serve.text()
    assert handler.commands.count("RCPT") == 1 and handler.delivered == []
    assert counts(config) == {"pending": 5}
    with Store.open(load_config(config).database) as store:
        assert store.last_profile_run("llm") is None  # so the next start catches it up


def test_concurrent_run_and_serve_never_double_send(
    tmp_path: Path, gate: tuple[GateHandler, int]
) -> None:
    handler, port = gate
    config = write_config(tmp_path, port)
    handler.hold_at = 2
    run = Digest(config, "run")  # holds the store's lock while it delivers
    wait_for(handler.entered, "the run's second message")
    serve = Digest(config, "serve")
    serve.wait_for_log("waiting: another digest run is using")
    handler.release.set()
    assert run.finish() == 0, run.text()
    serve.wait_for_log("llm: nothing announced since the last edition, 0 sent")
    serve.signal(signal.SIGTERM)
    assert serve.finish() == 0, serve.text()

    # A run after both finds nothing left to send.
    result = subprocess.run([sys.executable, "-m", "digest", "-c", str(config), "run"],
                            capture_output=True, text=True, timeout=WAIT, check=False)
    assert result.returncode == 0 and "0 sent" in result.stdout, result.stderr
    assert by_recipient(handler.delivered) == Counter(SUBSCRIBERS)


def test_a_run_while_serve_holds_the_lock_is_refused(
    tmp_path: Path, gate: tuple[GateHandler, int]
) -> None:
    handler, port = gate
    config = write_config(tmp_path, port)
    handler.hold_at = 1
    serve = Digest(config, "serve")
    wait_for(handler.entered, "serve's first message")
    result = subprocess.run([sys.executable, "-m", "digest", "-c", str(config), "run"],
                            capture_output=True, text=True, timeout=WAIT, check=False)
    assert result.returncode == 1
    assert "another digest run is using" in result.stderr
    handler.release.set()
    wait_until(lambda: counts(config) == {"sent": 5}, "every message sent")
    serve.signal(signal.SIGTERM)
    assert serve.finish() == 0, serve.text()
    assert by_recipient(handler.delivered) == Counter(SUBSCRIBERS)


def test_reload_keeps_the_old_config_when_the_new_one_is_invalid(
    tmp_path: Path, gate: tuple[GateHandler, int]
) -> None:
    _handler, port = gate
    config = write_config(tmp_path, port, schedule="30 7 * * mon-fri")
    serve = Digest(config, "serve")
    serve.wait_for_log("llm: '30 7 * * mon-fri' in Europe/Berlin, next run")
    good = config.read_text(encoding="utf-8")

    config.write_text(good.replace("30 7 * * mon-fri", "30 25 * * *"), encoding="utf-8")
    serve.signal(signal.SIGHUP)
    serve.wait_for_log("config reload failed; still running the previous config")
    assert "profiles.llm.schedule: '30 25 * * *' is not a cron schedule" in serve.text()
    assert serve.process.poll() is None

    # A valid edit is picked up without a signal (the file is watched).
    config.write_text(good.replace("30 7 * * mon-fri", "0 6 * * *"), encoding="utf-8")
    os.utime(config)
    serve.wait_for_log("config reloaded from")
    serve.wait_for_log("llm: '0 6 * * *' in Europe/Berlin, next run")
    serve.signal(signal.SIGTERM)
    assert serve.finish() == 0, serve.text()


def test_serve_without_any_schedule_says_what_to_add(tmp_path: Path) -> None:
    config = write_config(tmp_path, 25, schedule="")
    config.write_text(config.read_text(encoding="utf-8").replace('    schedule: ""\n', ""))
    result = subprocess.run([sys.executable, "-m", "digest", "-c", str(config), "serve"],
                            capture_output=True, text=True, timeout=WAIT, check=False)
    assert result.returncode == 1
    assert "no profile has a 'schedule'" in result.stderr
    assert "Traceback" not in result.stderr
