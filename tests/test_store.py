"""The store on real SQLite files: merging sightings, editions, deliveries, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import Paper, Ranked, Reason
from digest.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def paper(arxiv_id: str | None = "2611.00001", **changes: object) -> Paper:
    base = {
        "title": "Sparse Probes for Grammar in Small Models",
        "abstract": "We probe small language models for syntax.",
        "authors": ("Ada Lovelace",),
        "categories": ("cs.CL",),
        "announced": date(2026, 11, 19),
        "arxiv_id": arxiv_id,
        "version": 1,
    }
    base.update(changes)
    return Paper(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "digest.sqlite") as opened:
        yield opened


def test_a_later_sighting_merges_instead_of_duplicating(store: Store) -> None:
    store.upsert_papers([paper()], source="arxiv", now=NOW)
    later = paper(version=2, abstract="Revised.", categories=("cs.LG",), upvotes=12,
                  announced=date(2026, 11, 20))
    stats = store.upsert_papers([later], source="hf", now=NOW)
    assert (stats.added, stats.merged) == (0, 1)
    assert store.count_papers() == 1
    [stored] = store.papers_announced(after=None, until=date(2026, 12, 1))
    assert stored.version == 2 and stored.abstract == "Revised."
    assert stored.categories == ("cs.CL", "cs.LG")
    assert stored.upvotes == 12
    # Announced once: a later listing of the same work is not news again.
    assert stored.announced == date(2026, 11, 19)


def test_an_older_version_does_not_overwrite_a_newer_one(store: Store) -> None:
    store.upsert_papers([paper(version=3, abstract="v3")], source="a", now=NOW)
    store.upsert_papers([paper(version=1, abstract="v1")], source="b", now=NOW)
    [stored] = store.papers_announced(after=None, until=date(2026, 12, 1))
    assert (stored.version, stored.abstract) == (3, "v3")


def test_non_arxiv_items_deduplicate_by_doi_then_title(store: Store) -> None:
    journal = paper(arxiv_id=None, doi="10.1000/xyz1", version=None)
    store.upsert_papers([journal], source="journal", now=NOW)
    store.upsert_papers([paper(arxiv_id=None, doi="10.1000/XYZ1".lower(), version=None)],
                        source="other", now=NOW)
    store.upsert_papers([paper(arxiv_id=None, doi=None, version=None,
                               title="Sparse probes for grammar in small models!")],
                        source="rss", now=NOW)
    assert store.count_papers() == 1


def test_a_doi_item_later_seen_on_arxiv_is_rekeyed(store: Store) -> None:
    store.upsert_papers([paper(arxiv_id=None, doi="10.1000/xyz1", version=None)],
                        source="journal", now=NOW)
    store.upsert_papers([paper(doi="10.1000/xyz1")], source="arxiv", now=NOW)
    [stored] = store.papers_announced(after=None, until=date(2026, 12, 1))
    assert stored.key == "arxiv:2611.00001" and stored.doi == "10.1000/xyz1"


def test_a_failed_batch_leaves_earlier_papers_untouched(store: Store) -> None:
    store.upsert_papers([paper()], source="a", now=NOW)

    def papers_then_crash():
        yield paper(arxiv_id="2611.00002")
        raise RuntimeError("parser blew up half-way")

    with pytest.raises(RuntimeError):
        store.upsert_papers(papers_then_crash(), source="b", now=NOW)
    assert store.count_papers() == 1


def test_edition_records_papers_deliveries_and_feed(store: Store) -> None:
    store.upsert_papers([paper(), paper(arxiv_id="2611.00002")], source="a", now=NOW)
    papers = store.papers_announced(after=None, until=date(2026, 11, 19))
    ranked = [Ranked(p, 1.0 - i / 10, "Syntax", (Reason("keyword", "matched", 0.5),))
              for i, p in enumerate(papers)]
    store.record_edition("nlp", date(2026, 11, 19), since=None, papers=ranked,
                         recipients=["a@example.org", "b@example.org"], now=NOW)
    assert store.last_edition("nlp") == (date(2026, 11, 19), NOW)
    assert store.received_keys("nlp", [p.key for p in papers]) == {p.key for p in papers}
    assert store.pending_deliveries("nlp") == [
        (date(2026, 11, 19), "a@example.org"), (date(2026, 11, 19), "b@example.org")]
    store.mark_delivery("nlp", date(2026, 11, 19), "a@example.org", status="sent", now=NOW)
    assert store.delivery_counts("nlp") == {"sent": 1, "pending": 1}
    assert store.edition_papers("nlp", date(2026, 11, 19)) == ranked
    entries = store.feed_entries("nlp", since=NOW)
    assert [e.ranked for e in entries] == ranked and entries[0].published == NOW


def test_the_same_edition_cannot_be_recorded_twice(store: Store) -> None:
    store.record_edition("nlp", date(2026, 11, 19), since=None, papers=[], recipients=[], now=NOW)
    with pytest.raises(StoreError, match="already recorded by another run"):
        store.record_edition("nlp", date(2026, 11, 19), since=None, papers=[], recipients=[],
                             now=NOW)


def test_late_arrivals_are_found_by_when_they_were_stored(store: Store) -> None:
    store.upsert_papers([paper()], source="a", now=NOW)
    later = NOW.replace(day=21)
    store.upsert_papers([paper(arxiv_id="2611.00002")], source="hf", now=later)
    found = store.papers_announced(after=date(2026, 11, 19), until=date(2026, 11, 20),
                                   stored_after=NOW)
    assert [p.arxiv_id for p in found] == ["2611.00002"]


def test_latest_announcement_can_ignore_future_dates(store: Store) -> None:
    store.upsert_papers([paper(), paper(arxiv_id="2611.00002", announced=date(2062, 11, 19))],
                        source="a", now=NOW)
    assert store.latest_announcement() == date(2062, 11, 19)
    assert store.latest_announcement(not_after=date(2026, 11, 21)) == date(2026, 11, 19)


def test_only_one_run_holds_the_lock(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d.sqlite") as first, Store.open(tmp_path / "d.sqlite") as second:
        with (
            first.exclusive(),
            pytest.raises(StoreError, match="another digest run"),
            second.exclusive(),
        ):
            pass
        with second.exclusive():
            pass  # free again once the first run let go


def test_a_database_path_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="cannot open the database"):
        Store.open(tmp_path / "afile" / "d.sqlite")


def test_http_validators_are_remembered_across_opens(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d.sqlite") as store:
        store.save_http_validators("http://x/feed", '"abc"', "Thu, 28 Nov 2024", now=NOW)
    with Store.open(tmp_path / "d.sqlite") as store:
        assert store.http_validators("http://x/feed") == ('"abc"', "Thu, 28 Nov 2024")
        assert store.http_validators("http://x/other") == (None, None)


def test_schema_version_is_recorded_and_newer_databases_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    Store.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this program knows"):
        Store.open(path)


def test_an_sqlite_too_old_for_the_schema_is_refused_before_the_file_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 24, 0))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.24.0")
    path = tmp_path / "data" / "d.sqlite"
    with pytest.raises(StoreError, match=r"SQLite is 3\.24\.0; the database needs 3\.25\.0"):
        Store.open(path)
    assert not path.parent.exists()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store.open(path)
    assert path.read_text().startswith("these are my notes")
