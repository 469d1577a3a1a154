"""Fitting the ranker with its text counted on worker processes gives exactly the fit of one
process: the same vocabulary, word weights, matrices and rankings, bit for bit."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import SupportsIndex

import numpy as np
import pytest
from guarded import raised_within
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.config import Profile
from digest.errors import RankingError
from digest.models import Paper
from digest.parallel import can_fork, count_terms, fit_chunks
from digest.rank import Ranker, _vectorizer, paper_text
from digest.sources import parse_arxiv_rss, parse_jsonl

RSS_FULL = "arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"
FRONTPAGE = "labeled/datawraith_arxiv_frontpage/downloads"

pytestmark = pytest.mark.skipif(not can_fork(), reason="this system cannot fork; the fit "
                                "counts in-process there")


@pytest.fixture(scope="module")
def day(shared_fixtures: Path) -> list[Paper]:
    """One day of real arXiv listings (1,504 papers)."""
    return list(parse_arxiv_rss((shared_fixtures / RSS_FULL).read_bytes(),
                                announce_types=None).papers)


@pytest.fixture(scope="module")
def corpus(shared_fixtures: Path, day: list[Paper]) -> list[Paper]:
    """Enough real text that two workers do split it: the day's listing and four days of
    another front page (about 4,000 papers)."""
    papers = list(day)
    for path in sorted((shared_fixtures / FRONTPAGE).glob("*.jsonl")):
        papers.extend(parse_jsonl(path.read_bytes()).papers)
    return list({paper.key: paper for paper in papers}.values())


def _assert_same_matrix(one: sparse.csr_matrix, two: sparse.csr_matrix) -> None:
    assert type(one) is type(two) and one.shape == two.shape
    for part in ("data", "indices", "indptr"):
        a, b = getattr(one, part), getattr(two, part)
        assert a.dtype == b.dtype and np.array_equal(a, b), part
    assert one.has_sorted_indices and two.has_sorted_indices


def _assert_same_vectorizer(one: TfidfVectorizer, two: TfidfVectorizer) -> None:
    assert sorted(vars(one)) == sorted(vars(two))  # no attribute set by one fit only
    assert one.vocabulary_ == two.vocabulary_
    a, b = one.idf_, two.idf_
    assert a.dtype == b.dtype and np.array_equal(a, b)


def test_two_workers_fit_exactly_as_one_process_does(corpus: list[Paper],
                                                     day: list[Paper]) -> None:
    assert fit_chunks([paper_text(paper) for paper in corpus], 2) == 2  # it does split
    one, two = Ranker.fit(corpus, workers=1), Ranker.fit(corpus, workers=2)
    for a, b in ((one._words, two._words), (one._titles, two._titles)):
        _assert_same_vectorizer(a, b)
    assert len(one._words.vocabulary_) > 100_000
    for part in ("words", "topics", "titles"):
        _assert_same_matrix(getattr(one._all, part), getattr(two._all, part))
    new = [paper_text(paper) for paper in day[:50]] + ["an unseen qwertyuiop word", ""]
    _assert_same_matrix(one._words.transform(new), two._words.transform(new))
    # Rankings of a few profiles: keywords, seeds (and their category neighbours), exclusions.
    seeds = {paper.arxiv_id or "": paper for paper in day
             if paper.categories[:1] == ("cs.RO",)}
    profiles = [
        Profile.model_validate({"interests": [
            {"name": "Robots", "keywords": ["legged locomotion", "grasp"],
             "seeds": list(seeds)[:5]},
            {"name": "LM", "keywords": ["language model", "retrieval"]}]}),
        Profile.model_validate({"interests": [{"name": "Sky", "keywords": ["galaxy"]}],
                                "exclude": ["dark matter"]}),
    ]
    for profile in profiles:
        ranked = one.rank(profile, day, seeds=seeds, limit=30)
        assert ranked and ranked[0].score > 0
        assert two.rank(profile, day, seeds=seeds, limit=30) == ranked


@pytest.mark.parametrize("chunks", [2, 3])
@pytest.mark.parametrize("titles_only", [False, True])
def test_counting_in_chunks_counts_as_one_process(day: list[Paper], chunks: int,
                                                  titles_only: bool) -> None:
    texts = [paper.title if titles_only else paper_text(paper) for paper in day]
    # The first chunk has no usable word at all: its worker cannot fit (empty vocabulary).
    texts = ["", "The of and.", "a b c", *([""] * 200), *texts[:300]]
    one, many = _vectorizer(), _vectorizer()
    counts = count_terms(one, texts, chunks=1)
    _assert_same_matrix(count_terms(many, texts, chunks=chunks), counts)
    assert many.vocabulary_ == one.vocabulary_
    assert counts[:203].nnz == 0 and counts.shape == (503, len(one.vocabulary_))


@pytest.mark.parametrize("texts", [[], ["", "the and of", "a"]], ids=["none", "stop words"])
def test_no_usable_word_in_any_chunk_is_the_empty_vocabulary_of_one_process(
        texts: list[str]) -> None:
    with pytest.raises(ValueError, match="empty vocabulary"):
        count_terms(_vectorizer(), texts, chunks=1)
    with pytest.raises(ValueError, match="empty vocabulary"):
        count_terms(_vectorizer(), texts, chunks=2)


def test_small_corpora_and_one_worker_are_counted_in_process(day: list[Paper]) -> None:
    texts = [paper_text(paper) for paper in day]
    assert fit_chunks(texts, 1) == 1
    assert fit_chunks(texts[:200], 2) == 1  # a few hundred papers: not worth a worker
    assert fit_chunks(texts * 40, 2) == 2 and fit_chunks(texts * 40, 8) > 2


class _KillsItsWorker(list[str]):
    """Texts whose chunk, taken in a worker process (never in the parent), gets that worker
    killed, as the OOM killer would."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self._parent = os.getpid()

    def __getitem__(self, index: SupportsIndex | slice) -> str | list[str]:  # type: ignore[override]
        if os.getpid() != self._parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(index)


def test_a_counting_worker_that_dies_fails_the_fit_instead_of_hanging_it(
        day: list[Paper]) -> None:
    texts = _KillsItsWorker([paper_text(paper) for paper in day[:100]])
    error = raised_within(120, lambda: count_terms(_vectorizer(), texts, chunks=2))
    assert isinstance(error, RankingError)
    assert "counting the corpus's words" in str(error) and "SIGKILL" in str(error)
    assert "workers: 1" in str(error)
