"""Ranking over worker processes gives exactly what ranking in-process gives."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from guarded import raised_within

from digest.config import Config, Profile, cgroup_cpu_quota, load_config, usable_cpus
from digest.errors import ConfigError, RankingError
from digest.models import Paper
from digest.parallel import RankRequest, can_fork, rank_profiles
from digest.pipeline import RunReport, run_once
from digest.rank import Ranker
from digest.sources import parse_arxiv_rss
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
RSS_FULL = "arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"
NOW = datetime(2024, 11, 28, 12, tzinfo=UTC)
DAY = date(2024, 11, 28)
EXAMPLE_NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)  # the morning after examples/listings


def _first_ids(store: Store, category: str, count: int) -> list[str]:
    papers = store.papers_announced(after=DAY - timedelta(days=1), until=DAY)
    return [p.arxiv_id or "" for p in papers if p.categories[:1] == (category,)][:count]


def _requests(store: Store) -> list[RankRequest]:
    """Four profiles over the day's 1,504 real papers: keywords (wildcards too), seeds,
    category neighbours, an author, exclusions, boosts and feedback labels, so every part of
    a score and of its reasons is made in the workers."""
    robots, galaxies, language = (_first_ids(store, c, 8) for c in ("cs.RO", "astro-ph.GA",
                                                                     "cs.CL"))
    for arxiv_id in language[4:7]:
        store.set_feedback("lm", arxiv_id, 1, now=NOW)
    store.set_feedback("lm", robots[0], -1, now=NOW)
    settings = {
        "robots": {"interests": [
            {"name": "Legged", "keywords": ["legged locomotion", "quadruped"],
             "seeds": robots[:5]},
            {"name": "Grasping", "keywords": ["grasp", "manipulation"]}],
            "categories": {"boost": {"cs.RO": 0.2}}, "max_papers": 10},
        "sky": {"interests": [{"name": "Galaxies", "keywords": ["galaxy"],
                               "seeds": galaxies[:6]}],
                "exclude": ["dark matter"], "min_score": 0.05},
        "lm": {"interests": [{"name": "LM", "keywords": ["language model", "retrieval"],
                              "seeds": language[:4]},
                             {"name": "Speech", "keywords": ["speech recognition"]}],
               "authors": ["Yoshua Bengio"], "exclude": ["review*"], "max_papers": 15},
        "vision": {"interests": [{"name": "Segmentation",
                                  "keywords": ["segmentation", "semantic segment*"]}],
                   "categories": {"only": ["cs.CV"]}},
    }
    candidates = store.papers_announced(after=DAY - timedelta(days=1), until=DAY)
    requests = []
    for name, raw in settings.items():
        profile = Profile.model_validate(raw)
        wanted = [seed for interest in profile.interests for seed in interest.seeds]
        requests.append(RankRequest(
            profile, candidates, seeds=store.known_papers(wanted),
            feedback=store.feedback(name), limit=2 * profile.max_papers + 10))
    # One profile ranks its own list (another day's papers, in a way), one ranks them all.
    requests.append(RankRequest(requests[0].profile, candidates[::3], seeds=requests[0].seeds))
    requests.append(RankRequest(requests[1].profile, candidates, seeds=requests[1].seeds))
    return requests


@pytest.fixture(scope="module")
def stored(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[list[RankRequest], list[Paper]]:
    listing = parse_arxiv_rss((shared_fixtures / RSS_FULL).read_bytes(), announce_types=None)
    with Store.open(tmp_path_factory.mktemp("parallel") / "digest.sqlite") as store:
        store.upsert_papers(listing.papers, source="arxiv", now=NOW)
        return _requests(store), store.corpus(limit=20_000)


@pytest.mark.parametrize("select", [False, True])
def test_two_workers_rank_exactly_as_one_process_does(
    stored: tuple[list[RankRequest], list[Paper]], select: bool
) -> None:
    if not can_fork():
        pytest.skip("this system cannot fork; rank_profiles ranks in-process there")
    requests, corpus = stored
    serial = rank_profiles(Ranker.fit(corpus), requests, workers=1, select=select)
    parallel = rank_profiles(Ranker.fit(corpus), requests, workers=2, select=select)
    assert [len(ranked) for ranked in serial] == [len(ranked) for ranked in parallel]
    assert all(ranked for ranked in serial)
    texts = [reason.text for ranked in serial for item in ranked for reason in item.reasons]
    assert any(text.startswith("like stored papers that use") for text in texts)  # no seeds
    assert any("“semantic segment*” (" in text for text in texts)  # a wildcard, and its word
    if not select:  # an edition leaves the excluded papers out
        assert "excluded: mentions “review*”" in texts
    # Same papers (the parent's own objects), order, scores, interests and reasons.
    assert parallel == serial
    assert all(a.paper is b.paper for x, y in zip(serial, parallel, strict=True)
               for a, b in zip(x, y, strict=True))


def test_one_worker_ranks_as_the_ranker_does(
    stored: tuple[list[RankRequest], list[Paper]]
) -> None:
    requests, corpus = stored
    ranker = Ranker.fit(corpus)
    direct = [ranker.rank(r.profile, r.candidates, seeds=r.seeds, feedback=r.feedback,
                          limit=r.limit) for r in requests[:2]]
    assert rank_profiles(Ranker.fit(corpus), requests[:2], workers=1) == direct


def test_workers_default_to_the_usable_cpus_and_must_be_positive(tmp_path: Path) -> None:
    config = """\
sources:
  - {name: local, type: file, paths: ["*.jsonl"]}
profiles:
  nlp: {interests: [{name: RAG, keywords: [retrieval]}]}
"""
    path = tmp_path / "config.yaml"
    path.write_text(config, encoding="utf-8")
    assert load_config(path).workers == usable_cpus() >= 1
    path.write_text(config + "workers: 2\n", encoding="utf-8")
    assert load_config(path).workers == 2
    path.write_text(config + "workers: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(":5: workers: " in problem for problem in caught.value.problems)


def test_a_container_cpu_quota_caps_the_usable_cpus() -> None:
    assert cgroup_cpu_quota("200000 100000\n") == 2
    assert cgroup_cpu_quota("150000 100000") == 2  # 1.5 CPUs: two workers keep them busy
    assert cgroup_cpu_quota("50000 100000") == 1
    assert cgroup_cpu_quota("max 100000\n") is None
    assert cgroup_cpu_quota("") is None


def test_check_warns_about_more_workers_than_cpus(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
sources:
  - {{name: local, type: file, paths: ["*.jsonl"]}}
profiles:
  nlp: {{interests: [{{name: RAG, keywords: [retrieval]}}]}}
workers: {usable_cpus() + 1}
""", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "digest", "-c", str(path), "check"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert (f"config.yaml:5: workers: {usable_cpus() + 1} workers but this process may use "
            f"{usable_cpus()} CPU(s)") in result.stderr


def _offline_example(folder: Path, workers: int) -> Config:
    """The shipped offline example (three profiles) in ``folder``, ranking on ``workers``."""
    shutil.copytree(REPO / "examples" / "listings", folder / "examples" / "listings")
    shutil.copy(REPO / "examples" / "offline.yaml", folder / "examples")
    config = load_config(folder / "examples" / "offline.yaml")
    return config.model_copy(update={"workers": workers})


def _run(config: Config, *, stop: Callable[[], bool] = lambda: False) -> RunReport:
    with Store.open(config.database) as store:
        return run_once(config, store, now=EXAMPLE_NOW, stop=stop)


def _outbox(config: Config) -> dict[str, tuple[str, str, str]]:
    """Each message's Message-ID and text and HTML bodies (MIME boundaries are random)."""
    found = {}
    for path in sorted(config.outbox.rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        plain, html = (message.get_body((kind,)) for kind in ("plain", "html"))
        assert plain is not None and html is not None
        found[str(path.relative_to(config.outbox))] = (
            str(message["Message-ID"]), plain.get_content(), html.get_content())
    return found


def test_digest_run_on_two_workers_sends_what_one_process_sends(tmp_path: Path) -> None:
    one, two = (_offline_example(tmp_path / str(n), n) for n in (1, 2))
    assert _run(one).ok and _run(two).ok
    assert len(_outbox(one)) == 4
    assert _outbox(two) == _outbox(one)
    for name in one.profiles:
        for kind in ("rss", "atom"):
            assert (two.feeds_dir / f"{name}.{kind}.xml").read_bytes() == (
                one.feeds_dir / f"{name}.{kind}.xml").read_bytes()
    # A second run sends nothing again, on two workers as on one.
    assert [p.sent for p in _run(two).profiles] == [0, 0, 0]


def test_a_stop_requested_before_ranking_records_and_sends_nothing(
        tmp_path: Path) -> None:
    config = _offline_example(tmp_path, 2)
    assert _run(config, stop=lambda: True).profiles == []
    assert not list(config.outbox.rglob("*.eml"))
    with Store.open(config.database) as store:
        assert all(store.last_edition(name) is None for name in config.profiles)
    assert sum(p.sent for p in _run(config).profiles) == 4  # the next run catches up


needs_fork = pytest.mark.skipif(
    not can_fork(), reason="this system cannot fork; rank_profiles ranks in-process there")


class _SignalsItsWorker(list[Paper]):
    """Candidates that send ``signum`` to the worker process ranking them (the parent, which
    vectorises them before forking, reads them unharmed): a signal meant for
    ``digest serve`` that reached its workers too, as ``pkill -HUP -f "digest serve"``
    does, or the OOM killer."""

    def __init__(self, papers: list[Paper], signum: int) -> None:
        super().__init__(papers)
        self._parent, self._signum = os.getpid(), signum

    def __iter__(self) -> Iterator[Paper]:
        if os.getpid() != self._parent:
            os.kill(os.getpid(), self._signum)
        return super().__iter__()


def _signalling(request: RankRequest, signum: int) -> RankRequest:
    return replace(request, candidates=_SignalsItsWorker(list(request.candidates), signum))


@needs_fork
def test_a_reload_signal_that_reaches_the_workers_does_not_stop_them(
    stored: tuple[list[RankRequest], list[Paper]]
) -> None:
    requests, corpus = stored
    hup = _signalling(requests[0], signal.SIGHUP)
    serial = rank_profiles(Ranker.fit(corpus), requests[:3], workers=1)
    assert rank_profiles(Ranker.fit(corpus), [hup, *requests[1:3]], workers=2) == serial


@needs_fork
def test_a_worker_that_dies_fails_the_ranking_instead_of_hanging_it(
    stored: tuple[list[RankRequest], list[Paper]]
) -> None:
    requests, corpus = stored
    doomed = _signalling(requests[0], signal.SIGKILL)
    error = raised_within(120, lambda: rank_profiles(
        Ranker.fit(corpus), [*requests[1:3], doomed], workers=2))
    assert isinstance(error, RankingError)
    assert "ranking profiles" in str(error) and "SIGKILL" in str(error)
    assert "workers: 1" in str(error)
