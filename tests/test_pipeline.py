"""The whole job on real parts: files and a loopback HTTP server in, SQLite, outbox, SMTP out."""

from __future__ import annotations

import email
import email.policy
import shutil
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from loopback_http import LoopbackServer, Response
from loopback_smtp import LoopbackSmtp

from digest.config import Config, load_config
from digest.fetch import HttpClient
from digest.pipeline import run_once
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
RSS_FULL = "arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"


@pytest.fixture
def offline(tmp_path: Path) -> Config:
    """The shipped offline example, copied so its outputs land in a temporary folder."""
    shutil.copytree(REPO / "examples" / "listings", tmp_path / "examples" / "listings")
    shutil.copy(REPO / "examples" / "offline.yaml", tmp_path / "examples")
    return load_config(tmp_path / "examples" / "offline.yaml")


def fast_client() -> HttpClient:
    return HttpClient(user_agent="paper-digest-tests", timeout=5, retries=3, backoff=0,
                      sleep=lambda _seconds: None)


def run(config: Config, **options: object):  # type: ignore[no-untyped-def]
    with Store.open(config.database) as store:
        return run_once(config, store, now=options.pop("now", NOW),  # type: ignore[arg-type]
                        client=fast_client(), **options)  # type: ignore[arg-type]


def write_config(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(body, encoding="utf-8")
    return load_config(path)


def test_offline_example_writes_one_eml_per_subscriber_and_valid_feeds(offline: Config) -> None:
    report = run(offline)
    assert report.ok
    emls = sorted(offline.outbox.rglob("*.eml"))
    expected = sum(len(p.subscribers) for p in offline.profiles.values())
    assert len(emls) == expected == 4
    message = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain", "text/html"]
    for header in ("Message-ID", "Date", "List-Id", "List-Unsubscribe", "From", "To"):
        assert message[header], header
    for name in ("llm-eval", "robot-learning"):
        rss = feedparser.parse((offline.feeds_dir / f"{name}.rss.xml").read_bytes())
        atom = feedparser.parse((offline.feeds_dir / f"{name}.atom.xml").read_bytes())
        assert (rss.version, atom.version) == ("rss20", "atom10")
        assert not rss.bozo and not atom.bozo
        assert rss.entries and len(rss.entries) == len(atom.entries)


def test_second_run_delivers_nothing(offline: Config) -> None:
    first = run(offline)
    before = {p: p.stat().st_mtime_ns for p in offline.outbox.rglob("*.eml")}
    second = run(offline, now=NOW.replace(hour=7))
    assert sum(p.sent for p in first.profiles) == 4
    assert sum(p.sent for p in second.profiles) == 0
    assert {p: p.stat().st_mtime_ns for p in offline.outbox.rglob("*.eml")} == before


def test_dry_run_records_and_sends_nothing(offline: Config) -> None:
    report = run(offline, dry_run=True)
    assert not list(offline.outbox.rglob("*.eml")) if offline.outbox.exists() else True
    assert all(p.sent == 0 for p in report.profiles)
    assert sum(p.sent for p in run(offline).profiles) == 4


def test_a_listing_ingested_long_after_its_date_still_makes_a_digest(offline: Config) -> None:
    report = run(offline, now=datetime(2027, 3, 1, tzinfo=UTC))
    assert [p.edition.isoformat() for p in report.profiles if p.edition] == ["2026-11-20"] * 3
    assert sum(p.sent for p in report.profiles) == 4


def test_next_day_edition_holds_only_papers_announced_since(tmp_path: Path) -> None:
    listings = tmp_path / "listings"
    listings.mkdir()
    day1 = REPO / "examples" / "listings" / "2026-11-19.jsonl"
    day2 = REPO / "examples" / "listings" / "2026-11-20.jsonl"
    shutil.copy(day1, listings)
    config = write_config(tmp_path, """
sources: [{name: files, type: file, paths: ["listings/*.jsonl"]}]
profiles:
  all:
    interests: [{name: Everything, keywords: [model, learning, data, retrieval, temporal]}]
    min_score: 0.0001
    max_papers: 100
    subscribers: [me@example.org]
""")
    first = run(config)
    shutil.copy(day2, listings)
    second = run(config)
    with Store.open(config.database) as store:
        first_keys = {r.paper.key for r in store.edition_papers("all", first.profiles[0].edition)}
        second_papers = store.edition_papers("all", second.profiles[0].edition)
    assert str(first.profiles[0].edition) == "2026-11-19"
    assert str(second.profiles[0].edition) == "2026-11-20"
    assert {r.paper.announced.isoformat() for r in second_papers} == {"2026-11-20"}
    # The revised paper (v2 on the second day) was already sent on the first day.
    assert "arxiv:2611.10085" in first_keys
    assert "arxiv:2611.10085" not in {r.paper.key for r in second_papers}
    assert len(list(config.outbox.rglob("*.eml"))) == 2


def test_smtp_delivery_with_one_refused_recipient(offline: Config, tmp_path: Path,
                                                  smtp_server: LoopbackSmtp) -> None:
    smtp_server.handler.reject["grace@example.org"] = "550 5.1.1 mailbox unavailable"
    config = offline.model_copy(update={"delivery": offline.delivery.model_validate({
        "method": "smtp", "smtp": {"host": "127.0.0.1", "port": smtp_server.port,
                                   "security": "none"}})})
    report = run(config, profile="llm-eval")
    outcome = report.profiles[0]
    assert outcome.sent == 1
    assert len(outcome.failed) == 1 and "550" in outcome.failed[0]
    [delivered] = smtp_server.delivered
    assert delivered.recipients == ("ada@example.org",)
    assert delivered.sender == "digest@example.org"
    assert delivered.message["List-Id"].startswith("<llm-eval.")
    with Store.open(config.database) as store:
        assert store.delivery_counts("llm-eval") == {"sent": 1, "failed": 1}
    # A second run neither resends to ada nor retries the permanent failure.
    assert run(config, profile="llm-eval").profiles[0].sent == 0
    assert len(smtp_server.delivered) == 1


def test_unreachable_smtp_server_leaves_messages_pending(offline: Config) -> None:
    config = offline.model_copy(update={"delivery": offline.delivery.model_validate({
        "method": "smtp", "smtp": {"host": "127.0.0.1", "port": 9, "security": "none",
                                   "timeout": 2, "retries": 0}})})
    report = run(config, profile="llm-eval")
    assert not report.ok and "cannot connect" in report.profiles[0].failed[0]
    with Store.open(config.database) as store:
        assert store.delivery_counts("llm-eval") == {"pending": 2}
    # Back to the outbox: the pending messages of that edition go out on the next run.
    assert run(offline, profile="llm-eval").profiles[0].sent == 2


def arxiv_rss_config(tmp_path: Path, server: LoopbackServer, extra: str = "") -> Config:
    return write_config(tmp_path, f"""
sources:
  - {{name: arxiv, type: arxiv-rss, categories: [cs], url: "{server.url('/rss/')}"}}
{extra}
profiles:
  nlp:
    interests: [{{name: LLM, keywords: ["language model", "large language models"]}}]
    subscribers: [me@example.org]
""")


def test_http_source_uses_conditional_get_between_runs(
    tmp_path: Path, http_server: LoopbackServer, shared_fixtures: Path
) -> None:
    body = (shared_fixtures / RSS_FULL).read_bytes()
    http_server.serve("/rss/cs", body, etag='"v1"')
    config = arxiv_rss_config(tmp_path, http_server)
    first = run(config)
    second = run(config)
    assert first.sources[0].status == "ok" and first.sources[0].added == 935
    assert second.sources[0].status == "not-modified"
    assert http_server.requests[-1].headers["If-None-Match"] == '"v1"'
    assert "paper-digest" in http_server.requests[0].headers["User-Agent"]


def test_retries_then_succeeds_and_one_failing_source_does_not_stop_others(
    tmp_path: Path, http_server: LoopbackServer, shared_fixtures: Path
) -> None:
    body = (shared_fixtures / RSS_FULL).read_bytes()
    http_server.serve("/rss/cs", body)
    http_server.script("/rss/cs", [Response(429, {"Retry-After": "0"}), Response(500)])
    http_server.script("/broken.xml", [Response(500)] * 10)
    config = arxiv_rss_config(
        tmp_path, http_server,
        extra=f'  - {{name: journal, type: feed, url: "{http_server.url("/broken.xml")}"}}',
    )
    report = run(config)
    by_name = {s.source: s for s in report.sources}
    assert by_name["arxiv"].status == "ok"
    assert by_name["journal"].status == "error"
    assert "HTTP 500" in by_name["journal"].message and "broken.xml" in by_name["journal"].message
    assert report.profiles[0].sent == 1
    assert not report.ok


def test_broken_feed_keeps_what_was_stored(
    tmp_path: Path, http_server: LoopbackServer, shared_fixtures: Path
) -> None:
    body = (shared_fixtures / RSS_FULL).read_bytes()
    http_server.serve("/rss/cs", body, etag='"v1"')
    config = arxiv_rss_config(tmp_path, http_server)
    run(config)
    http_server.serve("/rss/cs", body[: len(body) // 2], etag='"v2"')  # cut off mid-item
    report = run(config)
    assert report.sources[0].status == "error"
    with Store.open(config.database) as store:
        assert store.count_papers() == 935
        # The broken document's validators were not saved: it is fetched again next time.
        assert store.http_validators(http_server.url("/rss/cs"))[0] == '"v1"'


def jsonl(*records: tuple[str, str, str]) -> str:
    """JSON Lines for (id, title, published), abstracts written for these tests."""
    return "".join(
        f'{{"id": "{i}", "title": "{t}", "abstract": "A study of galaxy dynamics.", '
        f'"published": "{d}"}}\n'
        for i, t, d in records
    )


def galaxy_config(tmp_path: Path) -> Config:
    (tmp_path / "listings").mkdir()
    return write_config(tmp_path, """
sources: [{name: files, type: file, paths: ["listings/*.jsonl"]}]
profiles:
  astro:
    interests: [{name: Galaxies, keywords: [galaxy]}]
    subscribers: [me@example.org]
""")


def test_papers_stored_after_an_edition_go_into_the_next_one(tmp_path: Path) -> None:
    config = galaxy_config(tmp_path)
    listings = tmp_path / "listings"
    (listings / "a.jsonl").write_text(jsonl(("2611.00001", "Bars in galaxies", "2026-11-20")))
    first = run(config)
    # Later the same day, more papers for 2026-11-20 arrive (Hugging Face picks, say) ...
    (listings / "b.jsonl").write_text(jsonl(("2611.00002", "Late galaxy paper", "2026-11-20")))
    assert run(config, now=NOW.replace(hour=9)).profiles[0].sent == 0
    # ... and the next day's edition carries them along with the new day's papers.
    (listings / "c.jsonl").write_text(jsonl(("2611.00003", "Next day galaxy", "2026-11-21")))
    third = run(config, now=NOW.replace(day=22))
    with Store.open(config.database) as store:
        keys = [r.paper.key for r in store.edition_papers("astro", third.profiles[0].edition)]
    assert first.profiles[0].sent == third.profiles[0].sent == 1
    assert sorted(keys) == ["arxiv:2611.00002", "arxiv:2611.00003"]


def test_a_paper_dated_in_the_far_future_does_not_block_editions(tmp_path: Path) -> None:
    config = galaxy_config(tmp_path)
    (tmp_path / "listings" / "a.jsonl").write_text(jsonl(
        ("2611.00001", "Bars in galaxies", "2026-11-20"),
        ("2611.00009", "Typo in the year galaxy", "2062-11-20"),
    ))
    report = run(config)
    assert str(report.profiles[0].edition) == "2026-11-20"
    assert report.profiles[0].sent == 1


def test_an_outbox_that_cannot_be_written_fails_the_run_and_keeps_messages(
    tmp_path: Path,
) -> None:
    config = galaxy_config(tmp_path)
    (tmp_path / "listings" / "a.jsonl").write_text(
        jsonl(("2611.00001", "Bars in galaxies", "2026-11-20")))
    config.outbox.write_text("a file where the outbox folder should be")
    report = run(config)
    assert not report.ok
    assert report.profiles[0].pending == 1
    config.outbox.unlink()
    assert run(config).profiles[0].sent == 1


def test_a_feed_write_failure_is_reported_next_to_what_was_sent(tmp_path: Path) -> None:
    config = galaxy_config(tmp_path)
    (tmp_path / "listings" / "a.jsonl").write_text(
        jsonl(("2611.00001", "Bars in galaxies", "2026-11-20")))
    config.feeds_dir.write_text("a file where the feeds folder should be")
    outcome = run(config).profiles[0]
    assert outcome.sent == 1
    assert len(outcome.failed) == 1 and "cannot write feeds" in outcome.failed[0]


def test_smtp_refusing_the_sender_keeps_every_message_pending(
    offline: Config, smtp_server: LoopbackSmtp
) -> None:
    config = offline.model_copy(update={
        "sender": "Digest <nobody@refused.example>",
        "delivery": offline.delivery.model_validate({
            "method": "smtp", "smtp": {"host": "127.0.0.1", "port": smtp_server.port,
                                       "security": "none"}})})
    smtp_server.handler.reject_senders["nobody@refused.example"] = "553 5.7.1 not allowed"
    outcome = run(config, profile="llm-eval").profiles[0]
    assert outcome.sent == 0 and outcome.pending == 2
    # Reported once, for the whole batch; no recipient is marked failed for our mistake.
    [problem] = outcome.failed
    assert "553 5.7.1 not allowed (check 'sender' in the config)" in problem
    with Store.open(config.database) as store:
        assert store.delivery_counts("llm-eval") == {"pending": 2}
    smtp_server.handler.reject_senders.clear()
    assert run(config, profile="llm-eval").profiles[0].sent == 2


def test_an_empty_local_listing_is_a_day_without_papers(tmp_path: Path) -> None:
    config = galaxy_config(tmp_path)
    (tmp_path / "listings" / "empty.jsonl").write_text("\n")
    report = run(config)
    assert report.sources[0].status == "empty"
    assert report.profiles[0].note.startswith("the store has no papers yet")
