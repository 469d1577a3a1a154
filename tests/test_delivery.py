"""SMTP that survives faults, on a real aiosmtpd server told to misbehave (tests/loopback_smtp.py).

Waiting is injected: ``sleep`` records the pauses instead of taking them, so the tests
assert on the backoff and the rate limit without depending on the wall clock.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from loopback_smtp import LoopbackSmtp
from one_paper import one_paper_config

from digest.config import Config, Smtp, load_config
from digest.deliver import (
    MAX_BACKOFF,
    PermanentFailure,
    ServerUnavailable,
    SmtpSender,
    TransientFailure,
)
from digest.errors import ConfigError
from digest.pipeline import RunReport, run_once
from digest.store import Store

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
READERS = ["ada@example.org", "grace@example.org", "lin@example.org"]


def settings(port: int, **options: object) -> Smtp:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "security": "none",
                                 "timeout": 5, "retries": 3, "backoff": 1}
    return Smtp.model_validate(values | options)


def letter(recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Digest <digest@example.org>"
    message["To"] = recipient
    message["Subject"] = "A test digest"
    message.set_content("Nothing but a test.\n")
    return message


def sender(smtp: Smtp, pauses: list[float]) -> SmtpSender:
    return SmtpSender(smtp, sleep=pauses.append, rng=random.Random(7))


def recipients_of(server: LoopbackSmtp) -> list[str]:
    return [address for message in server.delivered for address in message.recipients]


# --- the sender on its own ------------------------------------------------------------------


def test_451_for_a_while_is_retried_with_growing_pauses(smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.fail("DATA", "451 4.3.0 try again later", times=2)
    pauses: list[float] = []
    with sender(settings(smtp_server.port), pauses) as smtp:
        smtp.send(letter(READERS[0]), READERS[0])
    assert recipients_of(smtp_server) == [READERS[0]]
    # Backoff 1 s doubling, plus up to half again of jitter.
    assert len(pauses) == 2 and 1 <= pauses[0] <= 1.5 and 2 <= pauses[1] <= 3
    assert smtp_server.handler.connections == 1  # a 451 keeps the connection


def test_421_closes_the_connection_and_the_sender_reconnects(smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.fail("MAIL", "421 4.3.2 shutting down", times=1)
    with sender(settings(smtp_server.port), []) as smtp:
        for reader in READERS:
            smtp.send(letter(reader), reader)
    assert recipients_of(smtp_server) == READERS
    assert smtp_server.handler.connections == 2


def test_a_dropped_connection_is_reopened_and_the_message_sent_once(
    smtp_server: LoopbackSmtp,
) -> None:
    smtp_server.handler.drop("DATA")  # the message arrives, but is not accepted
    with sender(settings(smtp_server.port), []) as smtp:
        smtp.send(letter(READERS[0]), READERS[0])
        smtp.send(letter(READERS[1]), READERS[1])
    assert recipients_of(smtp_server) == READERS[:2]
    assert smtp_server.handler.commands.count("DATA") == 3
    assert smtp_server.handler.connections == 2


def test_a_server_that_does_not_answer_in_time_is_retried(smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.slow("MAIL", 3.0)
    with sender(settings(smtp_server.port, timeout=0.5), []) as smtp:
        smtp.send(letter(READERS[0]), READERS[0])
    assert recipients_of(smtp_server) == [READERS[0]]
    assert smtp_server.handler.connections == 2


def test_a_4xx_beyond_the_retries_is_transient_and_names_the_reply(
    smtp_server: LoopbackSmtp,
) -> None:
    smtp_server.handler.fail("RCPT", "452 4.2.2 mailbox full", times=10)
    pauses: list[float] = []
    with (sender(settings(smtp_server.port, retries=2), pauses) as smtp,
          pytest.raises(TransientFailure) as failure):
        smtp.send(letter(READERS[0]), READERS[0])
    assert not isinstance(failure.value, ServerUnavailable)
    assert str(failure.value) == (
        "ada@example.org: server replied 452 4.2.2 mailbox full (3 attempts)")
    assert len(pauses) == 2 and not smtp_server.delivered


def test_a_550_is_permanent_at_once(smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.reject[READERS[1]] = "550 5.1.1 no such mailbox"
    pauses: list[float] = []
    with sender(settings(smtp_server.port), pauses) as smtp:
        with pytest.raises(PermanentFailure, match=r"550 5\.1\.1 no such mailbox"):
            smtp.send(letter(READERS[1]), READERS[1])
        smtp.send(letter(READERS[2]), READERS[2])  # the connection is still good
    assert pauses == [] and recipients_of(smtp_server) == [READERS[2]]


def test_a_refused_greeting_is_the_server_not_the_recipient(smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.fail("EHLO", "421 4.3.2 not now", times=1)
    smtp_server.handler.fail("EHLO", "554 5.7.1 go away", times=2)  # EHLO, then HELO
    pauses: list[float] = []
    with sender(settings(smtp_server.port), pauses) as smtp:
        with pytest.raises(ServerUnavailable, match=r"greeting .*: 554 5\.7\.1 go away"):
            smtp.send(letter(READERS[0]), READERS[0])
        smtp.send(letter(READERS[0]), READERS[0])
    assert len(pauses) == 1 and recipients_of(smtp_server) == [READERS[0]]


def test_a_refused_connection_is_retried_then_reported_as_unavailable() -> None:
    pauses: list[float] = []
    with (sender(settings(_closed_port(), retries=2), pauses) as smtp,
          pytest.raises(ServerUnavailable, match=r"cannot connect .*\(3 attempts\)")):
        smtp.send(letter(READERS[0]), READERS[0])
    assert len(pauses) == 2


def test_pauses_never_exceed_the_cap(smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.fail("MAIL", "451 4.3.0 later", times=4)
    pauses: list[float] = []
    with sender(settings(smtp_server.port, retries=4, backoff=100), pauses) as smtp:
        smtp.send(letter(READERS[0]), READERS[0])
    assert 100 <= pauses[0] <= MAX_BACKOFF and pauses[1:] == [MAX_BACKOFF] * 3


def test_the_rate_limit_spaces_messages(smtp_server: LoopbackSmtp) -> None:
    now = [100.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    smtp = SmtpSender(settings(smtp_server.port, rate_limit=4), sleep=sleep,
                      clock=lambda: now[0])
    with smtp:
        for reader in READERS:
            smtp.send(letter(reader), reader)
            now[0] += 0.05  # sending took a while: only the rest of the interval is waited
    assert pauses == pytest.approx([0.2, 0.2])
    assert recipients_of(smtp_server) == READERS


def test_the_rate_limit_is_a_positive_number() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        settings(25, rate_limit=0)


def test_bad_retry_settings_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("""sources: [{name: files, type: file, paths: [x.jsonl]}]
profiles: {astro: {interests: [{name: Galaxies, keywords: [galaxy]}]}}
delivery:
  method: smtp
  smtp:
    host: 127.0.0.1
    retries: 50
    backof: 1
""")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems == [
        f"{path}:7: delivery.smtp.retries: Input should be less than or equal to 10",
        f"{path}:8: delivery.smtp.backof: unknown key 'backof'; did you mean 'backoff'?",
    ]


# --- whole runs: every subscriber gets one message, whatever the server does ---------------


def smtp_config(tmp_path: Path, port: int, smtp: str = "", profiles: str = "") -> Config:
    return one_paper_config(tmp_path, READERS, f"""{profiles}
delivery:
  method: smtp
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 5, backoff: 1{smtp}}}""")


def deliver(
    config: Config, pauses: list[float] | None = None, *, now: datetime = NOW
) -> RunReport:
    assert config.delivery.smtp is not None
    with Store.open(config.database) as store:
        return run_once(config, store, now=now,
                        smtp=sender(config.delivery.smtp, [] if pauses is None else pauses))


def each_once(server: LoopbackSmtp) -> bool:
    return Counter(recipients_of(server)) == Counter(READERS)


def test_451_for_a_while_then_every_subscriber_gets_one_message(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    smtp_server.handler.fail("DATA", "451 4.3.0 greylisted", times=3)
    config = smtp_config(tmp_path, smtp_server.port)
    report = deliver(config)
    assert report.ok and report.profiles[0].sent == 3
    assert each_once(smtp_server)
    assert deliver(config).profiles[0].sent == 0 and each_once(smtp_server)


def test_421_and_dropped_connections_deliver_once(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    smtp_server.handler.fail("RCPT", "421 4.4.2 too busy, closing", times=1)
    smtp_server.handler.drop("DATA", times=2)
    report = deliver(smtp_config(tmp_path, smtp_server.port))
    assert report.ok and report.profiles[0].sent == 3
    assert each_once(smtp_server)
    assert smtp_server.handler.connections == 4


def test_a_4xx_that_outlasts_the_retries_stays_pending_for_the_next_run(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    smtp_server.handler.fail("RCPT", "451 4.7.1 try later", times=4)
    config = smtp_config(tmp_path, smtp_server.port, ", retries: 1")
    first = deliver(config).profiles[0]
    # ada used two attempts, grace two more; lin got through.
    assert (first.sent, first.pending, first.failed) == (1, 2, [])
    with Store.open(config.database) as store:
        waiting = [d for d in store.deliveries("astro") if d.status == "pending"]
    assert [d.recipient for d in waiting] == READERS[:2]
    assert all("451 4.7.1 try later (2 attempts)" in (d.error or "") for d in waiting)
    second = deliver(config).profiles[0]
    assert (second.sent, second.pending) == (2, 0)
    assert each_once(smtp_server)


def test_a_550_for_one_subscriber_is_recorded_and_the_others_delivered(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    smtp_server.handler.reject[READERS[1]] = "550 5.1.1 grace has left"
    config = smtp_config(tmp_path, smtp_server.port)
    outcome = deliver(config).profiles[0]
    assert outcome.sent == 2 and outcome.failed == [
        "grace@example.org: server replied 550 5.1.1 grace has left"]
    assert recipients_of(smtp_server) == [READERS[0], READERS[2]]
    with Store.open(config.database) as store:
        failed = [d for d in store.deliveries("astro") if d.status == "failed"]
    assert [(d.recipient, d.error) for d in failed] == [
        (READERS[1], "grace@example.org: server replied 550 5.1.1 grace has left")]
    assert deliver(config).profiles[0].sent == 0  # a permanent failure is not retried


def test_a_server_that_is_down_costs_one_round_of_retries_not_one_per_message(
    tmp_path: Path,
) -> None:
    config = smtp_config(tmp_path, _closed_port(), ", retries: 2")
    pauses: list[float] = []
    outcome = deliver(config, pauses).profiles[0]
    assert len(pauses) == 2
    assert outcome.sent == 0 and outcome.pending == 3
    assert len(outcome.failed) == 1 and "cannot connect" in outcome.failed[0]
    assert outcome.feeds  # the feed is still written


def test_one_connection_serves_a_cycle_and_its_notes_are_retried_like_digests(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    config = smtp_config(tmp_path, smtp_server.port, profiles=f"""
  noted:
    interests: [{{name: Galaxies, keywords: [galaxy]}}]
    notify_empty: true
    subscribers: [{", ".join(READERS)}]""")
    first = deliver(config)
    assert [p.sent for p in first.profiles] == [3, 3]
    assert smtp_server.handler.connections == 1  # both profiles' messages, one connection

    smtp_server.handler.fail("DATA", "451 4.3.0 greylisted")
    pauses: list[float] = []
    quiet = deliver(config, pauses, now=NOW + timedelta(days=1))  # nothing new
    assert quiet.ok and [p.notices for p in quiet.profiles] == [0, 3]
    assert len(pauses) == 1  # the note refused once was retried after a backoff
    assert smtp_server.handler.connections == 2
    notes = [m.recipients[0] for m in smtp_server.delivered
             if "no-papers" in str(m.message["Message-ID"])]
    assert notes == READERS


def test_notes_the_server_could_not_take_count_as_pending_and_go_out_later_that_day(
    tmp_path: Path, smtp_server: LoopbackSmtp
) -> None:
    noted = f"""
  noted:
    interests: [{{name: Galaxies, keywords: [galaxy]}}]
    notify_empty: true
    subscribers: [{", ".join(READERS)}]"""
    assert deliver(smtp_config(tmp_path, smtp_server.port, profiles=noted)).ok
    down = smtp_config(tmp_path, _closed_port(), ", retries: 1", profiles=noted)
    quiet = deliver(down, [], now=NOW + timedelta(days=1)).profiles[1]
    assert quiet.profile == "noted" and quiet.notices == 0 and quiet.pending == 3
    later = deliver(smtp_config(tmp_path, smtp_server.port, profiles=noted),
                    now=NOW + timedelta(days=1, hours=1)).profiles[1]
    assert later.notices == 3 and later.pending == 0


def _closed_port() -> int:
    """A loopback port nobody listens on (the server was started and stopped)."""
    with LoopbackSmtp() as server:
        port = server.port
    return port
