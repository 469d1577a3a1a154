"""Feedback labels: the store on real SQLite files, and `digest feedback` as a subprocess."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from arxiv_atom import Entry, api_feed, id_list
from loopback_http import LoopbackServer
from test_cli import digest, no_traceback

from digest.errors import StoreError
from digest.models import Paper
from digest.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)


def paper(arxiv_id: str, title: str = "Dense retrieval for questions") -> Paper:
    return Paper(title=title, abstract="We retrieve passages.", authors=("Ada Lovelace",),
                 categories=("cs.CL",), announced=date(2026, 11, 20), arxiv_id=arxiv_id)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "digest.sqlite") as opened:
        opened.upsert_papers([paper("2611.00001"), paper("2611.00002", "Galaxies")],
                             source="f", now=NOW)
        opened.save_looked_up([paper("2005.11401", "RAG")], now=NOW)
        yield opened


def test_a_later_label_replaces_the_earlier_one_and_clear_removes_it(store: Store) -> None:
    store.set_feedback("nlp", "2611.00001", 1, now=NOW)
    store.set_feedback("nlp", "2005.11401", 1, now=NOW + timedelta(minutes=1))
    store.set_feedback("nlp", "2611.00002", 1, now=NOW + timedelta(minutes=2))
    store.set_feedback("nlp", "2611.00002", -1, now=NOW + timedelta(minutes=3))
    store.set_feedback("astro", "2611.00002", 1, now=NOW)
    labels = [(p.arxiv_id, p.title, label) for p, label in store.feedback("nlp")]
    assert labels == [("2611.00001", "Dense retrieval for questions", 1),
                      ("2005.11401", "RAG", 1), ("2611.00002", "Galaxies", -1)]
    assert store.clear_feedback("nlp", "2611.00001") is True
    assert store.clear_feedback("nlp", "2611.00001") is False
    assert [p.arxiv_id for p, _label in store.feedback("nlp")] == ["2005.11401", "2611.00002"]
    assert [(p.arxiv_id, label) for p, label in store.feedback("astro")] == [("2611.00002", 1)]
    assert store.feedback("other") == []


def test_a_label_needs_a_known_paper_and_a_sign(store: Store) -> None:
    with pytest.raises(StoreError, match=r"paper 2401\.99999 is not in the store"):
        store.set_feedback("nlp", "2401.99999", 1, now=NOW)
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        store.set_feedback("nlp", "2611.00001", 0, now=NOW)
    assert store.feedback("nlp") == []


def test_a_database_from_before_feedback_is_upgraded_keeping_its_papers(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite"
    with Store.open(path) as store:
        store.upsert_papers([paper("2611.00001")], source="f", now=NOW)
    with sqlite3.connect(path) as db:  # as the previous release left it
        # Every table from the feedback migrations on (later migrations included) goes.
        for table in ("feedback", "looked_up_papers", "profile_runs", "notices",
                      "subscriptions", "settings"):
            db.execute(f"DROP TABLE {table}")
        before = [step.__name__ for step in MIGRATIONS].index("_looked_up_papers")
        db.execute(f"PRAGMA user_version = {before}")
    with Store.open(path) as store:
        store.set_feedback("nlp", "2611.00001", -1, now=NOW)
        assert [(p.arxiv_id, label) for p, label in store.feedback("nlp")] == [
            ("2611.00001", -1)]


# --- digest feedback, as a user runs it -------------------------------------------------------


def feedback_config(tmp_path: Path, api: str) -> None:
    (tmp_path / "config.yaml").write_text(f"""
arxiv_api_url: "{api}"
http: {{retries: 0}}
sources: [{{name: files, type: file, paths: ["*.jsonl"]}}]
profiles:
  nlp:
    interests: [{{name: RAG, keywords: [retrieval]}}]
""", encoding="utf-8")


def test_feedback_looks_up_an_unknown_paper_once_and_lists_the_labels(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.serve("/api/query", api_feed(Entry(
        "hep-th/9901001v2", "Strings on a lattice", "Lattice strings.", category="hep-th")))
    feedback_config(tmp_path, http_server.url("/api/query"))
    liked = digest("feedback", "nlp", "hep-th/9901001v2", "--like", cwd=tmp_path)
    assert liked.returncode == 0, liked.stderr
    assert liked.stdout == "nlp: liked hep-th/9901001 “Strings on a lattice”\n"
    disliked = digest("feedback", "nlp", "arXiv:hep-th/9901001", "--dislike", cwd=tmp_path)
    assert disliked.returncode == 0, disliked.stderr
    listed = digest("feedback", "nlp", "--list", cwd=tmp_path)
    assert listed.stdout.split() == ["dislike", "hep-th/9901001", "Strings", "on", "a", "lattice"]
    assert [id_list(r.path) for r in http_server.requests] == [["hep-th/9901001"]]
    cleared = digest("feedback", "nlp", "hep-th/9901001", "--clear", cwd=tmp_path)
    assert cleared.stdout == "nlp: label for hep-th/9901001 removed\n"
    assert digest("feedback", "nlp", "--list", cwd=tmp_path).stdout == "nlp has no labels yet\n"


def test_feedback_errors_are_one_clear_line(tmp_path: Path, http_server: LoopbackServer) -> None:
    http_server.serve("/api/query", api_feed())  # arXiv has no such paper
    feedback_config(tmp_path, http_server.url("/api/query"))
    unknown = digest("feedback", "nlp", "2401.99999", "--like", cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr == "Error: 2401.99999: arXiv has no paper with this id\n"
    profile = digest("feedback", "nlpx", "2401.99999", "--like", cwd=tmp_path)
    assert profile.returncode == 1
    assert "no profile named 'nlpx'" in profile.stderr
    both = digest("feedback", "nlp", "2401.99999", "--like", "--dislike", cwd=tmp_path)
    assert both.returncode == 2 and "exactly one of --like, --dislike" in both.stderr
    bad_id = digest("feedback", "nlp", "not-an-id", "--like", cwd=tmp_path)
    assert bad_id.returncode == 2 and "'not-an-id' is not an arXiv id" in bad_id.stderr
    for result in (unknown, profile, both, bad_id):
        no_traceback(result)
    assert len(http_server.requests) == 1
