"""Seed papers looked up by arXiv id: a loopback arXiv API, real SQLite files, real runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from arxiv_atom import Entry, api_error, api_feed, id_list
from loopback_http import LoopbackServer, Response
from test_cli import digest, no_traceback

from digest.config import Config, load_config
from digest.errors import FetchError
from digest.fetch import HttpClient
from digest.lookup import NOT_ON_ARXIV, fetch_by_id, look_up_papers
from digest.models import Paper
from digest.pipeline import missing_seeds, rank_day, run_once
from digest.store import Store

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
RAG = Entry("2005.11401v4", "Retrieval-Augmented Generation for Knowledge-Intensive Tasks",
            "Retrieval augmented generation combines a dense passage retriever with a "
            "sequence to sequence generator for open domain question answering.")
OLD = Entry("hep-th/9901001v2", "Strings on a lattice", "Lattice strings and dualities.",
            published="1999-01-04T10:00:00Z", category="hep-th")


def client() -> HttpClient:
    return HttpClient(user_agent="paper-digest-tests", timeout=5, retries=0,
                      sleep=lambda _seconds: None)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "digest.sqlite") as opened:
        yield opened


def test_missing_ids_are_asked_for_in_one_request_then_kept(
    store: Store, http_server: LoopbackServer
) -> None:
    http_server.serve("/api/query", api_feed(RAG, OLD))
    url = http_server.url("/api/query")
    first = look_up_papers(store, client(), url, ["2005.11401", "hep-th/9901001"], now=NOW)
    second = look_up_papers(store, client(), url, ["2005.11401", "hep-th/9901001"], now=NOW)
    assert [id_list(r.path) for r in http_server.requests] == [["2005.11401", "hep-th/9901001"]]
    assert "max_results=2" in http_server.requests[0].path
    assert (first.fetched, second.fetched) == (2, 0)
    assert first.papers == second.papers
    assert second.papers["hep-th/9901001"].title == "Strings on a lattice"
    assert second.papers["hep-th/9901001"].version == 2
    assert not first.unknown and not second.unknown


def test_an_id_missing_from_the_answer_is_unknown_and_asked_again_next_time(
    store: Store, http_server: LoopbackServer
) -> None:
    http_server.serve("/api/query", api_feed(RAG))
    url = http_server.url("/api/query")
    ids = ["2005.11401", "2401.99999"]
    first = look_up_papers(store, client(), url, ids, now=NOW)
    second = look_up_papers(store, client(), url, ids, now=NOW)
    assert first.unknown == second.unknown == {"2401.99999": NOT_ON_ARXIV}
    # The found paper is kept; the unknown one is asked for again (arXiv's empty answers
    # are sometimes wrong, and a fixed typo should not stay wrong).
    assert [id_list(r.path) for r in http_server.requests] == [ids, ["2401.99999"]]


def test_an_error_entry_is_narrowed_down_to_the_refused_id(
    store: Store, http_server: LoopbackServer
) -> None:
    refused = Response(400, {"Content-Type": "application/atom+xml"},
                       api_error("incorrect id format for 1234.5678"))
    http_server.script("/api/query", [
        refused,  # [2005.11401, hep-th/9901001, 1234.5678]
        Response(200, {}, api_feed(RAG)),  # [2005.11401]
        refused,  # [hep-th/9901001, 1234.5678]
        Response(200, {}, api_feed(OLD)),  # [hep-th/9901001]
        refused,  # [1234.5678]
    ])
    ids = ["2005.11401", "hep-th/9901001", "1234.5678"]
    lookup = look_up_papers(store, client(), http_server.url("/api/query"), ids, now=NOW)
    assert [id_list(r.path) for r in http_server.requests] == [
        ids, ids[:1], ids[1:], ids[1:2], ids[2:]]
    assert set(lookup.papers) == {"2005.11401", "hep-th/9901001"}
    assert lookup.unknown == {
        "1234.5678": "the arXiv API refused the query: incorrect id format for 1234.5678"}


def test_a_network_failure_raises_and_keeps_nothing(
    store: Store, http_server: LoopbackServer
) -> None:
    http_server.script("/api/query", [Response(503, {}, b"down for maintenance")])
    with pytest.raises(FetchError, match="HTTP 503"):
        look_up_papers(store, client(), http_server.url("/api/query"), ["2005.11401"], now=NOW)
    assert store.known_papers(["2005.11401"]) == {}


def test_real_api_answers_for_unknown_and_old_style_ids(
    shared_fixtures: Path, http_server: LoopbackServer
) -> None:
    folder = shared_fixtures / "arxiv_api"
    for name, path in [
        ("arxiv.py__EMPTY_id_list_0000.0000_2026-04-12.xml", "/empty"),
        ("arxiv.py__id_list_2ids_0808.05394_1707.08567.xml", "/two"),
        ("arxiv.py__oldstyle_id_astro-ph_0601001_2026-05-11.xml", "/old"),
    ]:
        http_server.serve(path, (folder / name).read_bytes())
    http_server.script("/refused", [Response(400, {}, (
        folder / "arxiv.py__ERROR_http400_id_list_abc_2026-04-12.xml").read_bytes())])
    assert fetch_by_id(client(), http_server.url("/empty"), ["0000.0000"]) == (
        {}, {"0000.0000": NOT_ON_ARXIV})
    found, unknown = fetch_by_id(client(), http_server.url("/two"), ["0808.05394", "1707.08567"])
    assert list(found) == ["1707.08567"] and list(unknown) == ["0808.05394"]
    found, _ = fetch_by_id(client(), http_server.url("/old"), ["astro-ph/0601001"])
    assert found["astro-ph/0601001"].title.startswith("Frequency of Hot Jupiters")
    assert fetch_by_id(client(), http_server.url("/refused"), ["abc"]) == (
        {}, {"abc": "the arXiv API refused the query: incorrect id format for abc"})


def test_an_old_style_id_is_one_paper_however_it_is_written(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    """Older citations add the subject class (math.GT/0309136); arXiv's id has none."""
    knots = Entry("math/0309136v1", "Knots and their invariants", "Invariants of knots.",
                  published="2003-09-08T10:00:00Z", category="math.GT")
    http_server.serve("/api/query", api_feed(knots))
    config = seeded_config(tmp_path, http_server.url("/api/query"),
                           "math.GT/0309136, arXiv:Math.gt/0309136v1, math/0309136")
    assert config.profiles["nlp"].interests[0].seeds == ["math/0309136"] * 3
    with Store.open(config.database) as store:
        lookup = look_up_papers(store, client(), http_server.url("/api/query"),
                                config.profiles["nlp"].interests[0].seeds, now=NOW)
        assert missing_seeds(store, config.profiles["nlp"]) == []
    assert [id_list(r.path) for r in http_server.requests] == [["math/0309136"]]
    assert lookup.papers["math/0309136"].title == "Knots and their invariants"
    assert not lookup.unknown


def stored_paper(arxiv_id: str, announced: date) -> Paper:
    return Paper(title="Dense retrieval for questions", abstract="We retrieve passages.",
                 authors=("Ada Lovelace",), categories=("cs.CL",), announced=announced,
                 arxiv_id=arxiv_id)


def test_looked_up_papers_are_never_candidates(store: Store) -> None:
    """The trap: an old seed stored today must not pass for a late arrival or an announcement."""
    store.upsert_papers([stored_paper("2611.00001", date(2026, 11, 20))], source="f", now=NOW)
    before = NOW.replace(hour=1)
    seed = stored_paper("2005.11401", date(2020, 5, 22))
    future = stored_paper("2612.00001", date(2026, 12, 1))
    store.save_looked_up([seed, future], now=NOW)
    announced = store.papers_announced(after=None, until=date(2027, 1, 1), stored_after=before)
    assert [paper.key for paper in announced] == ["arxiv:2611.00001"]
    assert store.latest_announcement() == date(2026, 11, 20)
    assert store.count_papers() == 1
    assert [paper.key for paper in store.corpus(limit=10)] == ["arxiv:2611.00001"]
    assert set(store.known_papers(["2005.11401", "2611.00001", "2612.00001"])) == {
        "2005.11401", "2611.00001", "2612.00001"}


def test_an_ingested_paper_is_preferred_to_its_looked_up_copy(store: Store) -> None:
    store.save_looked_up([stored_paper("2611.00001", date(2026, 11, 1))], now=NOW)
    listed = stored_paper("2611.00001", date(2026, 11, 20))
    store.upsert_papers([listed], source="f", now=NOW)
    assert store.known_papers(["2611.00001"])["2611.00001"].announced == date(2026, 11, 20)


def seeded_config(tmp_path: Path, api: str, seeds: str) -> Config:
    (tmp_path / "listings").mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(f"""
arxiv_api_url: "{api}"
sources: [{{name: files, type: file, paths: ["listings/*.jsonl"]}}]
profiles:
  nlp:
    interests: [{{name: RAG, keywords: [retrieval], seeds: [{seeds}]}}]
    min_score: 0.01
    subscribers: [me@example.org]
""", encoding="utf-8")
    return load_config(path)


def listing(path: Path, *records: tuple[str, str, str, str]) -> None:
    path.write_text("".join(
        f'{{"id": "{i}", "title": "{t}", "abstract": "{a}", "published": "{d}"}}\n'
        for i, t, a, d in records), encoding="utf-8")


def run(config: Config, now: datetime, progress: list[str] | None = None):  # type: ignore[no-untyped-def]
    with Store.open(config.database) as store:
        return run_once(config, store, now=now, client=client(),
                        progress=(progress if progress is not None else []).append)


def test_run_fetches_seeds_once_ranks_with_them_and_never_delivers_them(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.serve("/api/query", api_feed(RAG, OLD))
    url = http_server.url("/api/query")
    listings = tmp_path / "listings"
    (tmp_path / "listings").mkdir()
    listing(listings / "a.jsonl",
            ("2611.00001", "Retrieval augmented generation with a dense passage retriever",
             "A sequence to sequence generator reads retrieved passages.", "2026-11-20"),
            ("2611.00002", "Galaxy rotation curves", "Dark matter in dwarf galaxies.",
             "2026-11-20"))
    first = run(seeded_config(tmp_path, url, "hep-th/9901001"), NOW)
    # The user adds seeds after the first edition: they are stored after it was made and
    # dated long before it, just like late arrivals, and must still never be delivered.
    config = seeded_config(tmp_path, url, "2005.11401v2, hep-th/9901001, 2401.99999")
    listing(listings / "b.jsonl",
            ("2611.00003", "Open domain question answering with retrieval",
             "A dense retriever and a generator.", "2026-11-21"))
    progress: list[str] = []
    second = run(config, NOW.replace(day=22), progress)
    third = run(config, NOW.replace(day=23))
    assert [id_list(r.path) for r in http_server.requests] == [
        ["hep-th/9901001"], ["2005.11401", "2401.99999"], ["2401.99999"]]
    assert "looked up 1 seed paper(s) on arXiv" in progress
    assert f"seed 2401.99999 (in 'RAG' of nlp) does not count: {NOT_ON_ARXIV}" in progress
    with Store.open(config.database) as store:
        assert missing_seeds(store, config.profiles["nlp"]) == ["2401.99999"]
        delivered = [ranked for report in (first, second)
                     for ranked in store.edition_papers("nlp", report.profiles[0].edition)]
        _day, ranked = rank_day(store, "nlp", config.profiles["nlp"], day=date(2026, 11, 20),
                                now=NOW)
    assert [r.paper.arxiv_id for r in delivered] == ["2611.00001", "2611.00003"]
    assert third.profiles[0].edition is None
    assert [r.paper.arxiv_id for r in ranked] == ["2611.00001", "2611.00002"]
    assert any(reason.kind == "seed" and "2005.11401" in reason.text
               for reason in delivered[1].reasons)
    assert first.ok and second.ok and third.ok


def test_a_run_whose_seed_lookup_fails_still_delivers(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.script("/api/query", [Response(503, {}, b"busy")])
    config = seeded_config(tmp_path, http_server.url("/api/query"), "2005.11401")
    listing(tmp_path / "listings" / "a.jsonl",
            ("2611.00001", "Retrieval augmented generation", "Passages and a generator.",
             "2026-11-20"))
    progress: list[str] = []
    report = run(config, NOW, progress)
    assert report.profiles[0].edition == date(2026, 11, 20)
    assert any(line.startswith("seed papers not in the store could not be looked up")
               and "HTTP 503" in line for line in progress)


# --- digest check, as a user runs it ----------------------------------------------------------


def check_config(tmp_path: Path, api: str, interests: str) -> None:
    (tmp_path / "config.yaml").write_text(f"""
arxiv_api_url: "{api}"
http: {{retries: 0}}
sources: [{{name: files, type: file, paths: ["*.jsonl"]}}]
profiles:
  nlp:
    interests:
{interests}
""", encoding="utf-8")


def test_check_names_the_profile_interest_and_id_arxiv_does_not_know(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.serve("/api/query", api_feed(RAG))
    check_config(tmp_path, http_server.url("/api/query"), """\
      - name: RAG
        seeds: [2005.11401]
      - name: Typos
        seeds:
          - 2401.99999v1""")
    result = digest("check", cwd=tmp_path)
    assert result.returncode == 1
    no_traceback(result)
    assert ("config.yaml:12: profiles.nlp.interests[1].seeds[0]: seed 2401.99999 of interest "
            f"'Typos': {NOT_ON_ARXIV}") in result.stderr
    assert "2005.11401" not in result.stderr
    # What arXiv did return is kept: a second check asks only about the unknown id.
    digest("check", cwd=tmp_path)
    assert [id_list(r.path) for r in http_server.requests] == [
        ["2005.11401", "2401.99999"], ["2401.99999"]]


def test_check_explains_a_network_failure_and_offline_skips_the_lookup(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.serve("/elsewhere", b"")  # /api/query answers 404 Not Found
    check_config(tmp_path, http_server.url("/api/query"), """\
      - name: RAG
        seeds: [2005.11401]""")
    failed = digest("check", cwd=tmp_path)
    assert failed.returncode == 1
    no_traceback(failed)
    assert "cannot look the seed papers up on arXiv: GET " in failed.stderr
    assert "HTTP 404" in failed.stderr and "digest check --offline" in failed.stderr
    offline = digest("check", "--offline", cwd=tmp_path)
    assert offline.returncode == 0, offline.stderr
    assert len(http_server.requests) == 1


def test_check_warns_about_keywords_made_only_of_stop_words(tmp_path: Path) -> None:
    check_config(tmp_path, "http://127.0.0.1:9/unused", """\
      - name: Systems
        keywords: [system, "across the", "board game", "the*", "AI*", "A* search"]""")
    result = digest("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3  # "the*" finds "theory"; "A*" is a name
    assert warnings[0].startswith("warning: config.yaml:9: profiles.nlp.interests[0].keywords[0]: "
                                  "'system' can never match: every word of it is an English stop")
    assert "keywords[1]: 'across the' can never match" in warnings[1]
    assert warnings[2].endswith("keywords[4]: 'AI*': a '*' makes a wildcard only after 3 or "
                                "more letters; after 'ai' it is punctuation, so only the word "
                                "'ai' itself matches")
