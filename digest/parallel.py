"""Rank many profiles at once, spread over worker processes that share one fitted Ranker;
and count the words of a big corpus, for fitting that Ranker, on worker processes too.

The workers are forked after the Ranker is fitted and the requests are made, so they inherit
both (copy-on-write): nothing big is pickled. Each worker ranks whole profiles and sends
back, for each paper it kept, only its position among the request's candidates, its score,
interest and reasons; the parent rebuilds the Ranked objects around its own Paper objects.
The results are those of ranking one profile after the other in-process (tests/test_parallel.py
compares the two), because a profile's ranking depends only on the fitted corpus, never on
what the Ranker met before.

One request, one worker, or a system without ``fork`` (Windows, for one) ranks in-process:
starting a pool costs more than it saves there.

Counting (:func:`count_terms`) splits the texts into contiguous chunks, one per worker; each
worker analyses and counts its chunk and sends back its vocabulary and count matrix, and the
parent merges them into what one ``CountVectorizer.fit_transform`` over all the texts gives:
the union vocabulary in sorted order and the rows in order, bit for bit
(tests/test_parallel_fit.py compares the two). Small corpora are counted in-process
(:func:`fit_chunks`).
"""

from __future__ import annotations

import itertools
import multiprocessing
import operator
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from threadpoolctl import threadpool_limits

from digest.config import Profile
from digest.errors import RankingError
from digest.models import Paper, Ranked, Reason

if TYPE_CHECKING:  # rank.py counts its corpus with this module's count_terms
    from digest.rank import Ranker

# A ranked paper as a worker sends it: (position among the candidates, score, interest,
# reasons as (kind, text, weight)). Plain tuples pickle several times faster than Papers.
_Compact = tuple[int, float, str | None, tuple[tuple[str, str, float], ...]]
_CHUNKS_PER_WORKER = 8  # small enough chunks that a worker left with slow profiles is not alone
_WATCH_SECONDS = 1.0  # how often the parent checks that its workers are alive
# Characters of text below which a chunk is not worth a worker of its own: forking, sending
# the counts back and merging the vocabularies (which grows with them) eat most of the gain.
# Measured on the fixtures' text, 2 cores with other work on them: 1,000-2,500 papers
# (1.3-3.6M characters) in two chunks were no faster, 7,400 papers (10.7M) 20% faster.
FIT_CHUNK_MIN_CHARS = 2_000_000
_Task = TypeVar("_Task")
_Result = TypeVar("_Result")


@dataclass(frozen=True, slots=True)
class RankRequest:
    """One profile's ranking, as the arguments of :meth:`Ranker.rank`."""

    profile: Profile
    candidates: Sequence[Paper]
    seeds: Mapping[str, Paper]
    feedback: Sequence[tuple[Paper, int]] = ()
    limit: int | None = None


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def rank_profiles(
    ranker: Ranker, requests: Sequence[RankRequest], *, workers: int, select: bool = False
) -> list[list[Ranked]]:
    """Each request's ranked candidates (``select``: only the papers its edition carries,
    as :meth:`Ranker.select_for_edition` chooses them), in the order of ``requests``, ranked
    on up to ``workers`` processes."""
    workers = min(workers, len(requests))
    if workers <= 1 or not can_fork():
        return [_rank(ranker, request, select) for request in requests]
    # Vectorised (and indexed) once here rather than once in every worker.
    ranker.vectorise(_papers_of(requests),
                     [(request.profile, request.seeds) for request in requests])
    chunk = max(1, len(requests) // (workers * _CHUNKS_PER_WORKER))
    compact = _map_on_workers(workers, _start_worker, (ranker, requests, select),
                              _rank_in_worker, range(len(requests)), chunksize=chunk,
                              doing="ranking profiles")
    return [_expand(request, ranked) for request, ranked in zip(requests, compact, strict=True)]


def _map_on_workers(
    workers: int, initializer: Callable[..., None], initargs: tuple[object, ...],
    task: Callable[[_Task], _Result], items: Iterable[_Task], *, chunksize: int = 1,
    doing: str,
) -> list[_Result]:
    """``task`` of each item, in order, on ``workers`` forked processes that start with
    ``initializer(*initargs)`` (inherited, not pickled); RankingError naming what they were
    ``doing`` if one of them dies."""
    others = set(multiprocessing.active_children())
    pool = multiprocessing.get_context("fork").Pool(
        workers, initializer=initializer, initargs=initargs)
    started = [process for process in multiprocessing.active_children()
               if process not in others]
    try:
        result = pool.map_async(task, items, chunksize=chunksize)
        # A worker that dies (the OOM killer) takes its tasks with it, and the pool, which
        # starts a new worker, would wait for them forever: watch the workers.
        while not result.ready():
            result.wait(_WATCH_SECONDS)
            dead = [process for process in started if process.exitcode is not None]
            if dead and not result.ready():
                raise RankingError(_died(dead[0].exitcode or 0, doing))
        results = result.get()
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    return results


def _died(exitcode: int, doing: str) -> str:
    how = (f"was killed by {signal.Signals(-exitcode).name}" if exitcode < 0
           and -exitcode in signal.valid_signals() else f"exited with status {exitcode}")
    hint = " (the OOM killer, if memory ran short)" if exitcode == -signal.SIGKILL else ""
    return (f"a worker process {doing} {how}{hint}; run again, or set 'workers: 1' "
            "in the config to work in the one process")


def _papers_of(requests: Sequence[RankRequest]) -> list[Paper]:
    """Every paper the requests rank or learn from, each list of candidates once (profiles
    usually share one: a thousand copies would cost seconds in key lookups alone)."""
    lists = {id(request.candidates): request.candidates for request in requests}
    return [
        *(paper for candidates in lists.values() for paper in candidates),
        *(paper for request in requests for paper in request.seeds.values()),
        *(paper for request in requests for paper, _ in request.feedback),
    ]


def _rank(ranker: Ranker, request: RankRequest, select: bool) -> list[Ranked]:
    ranked = ranker.rank(request.profile, request.candidates, seeds=request.seeds,
                         feedback=request.feedback, limit=request.limit)
    return ranker.select_for_edition(ranked, request.profile) if select else ranked


# What a worker process was forked with. A pool's initializer can only hand its arguments
# to the tasks through the worker's globals; in the parent process this stays None.
_worker: tuple[Ranker, Sequence[RankRequest], bool] | None = None


def _start_worker(ranker: Ranker, requests: Sequence[RankRequest], select: bool) -> None:
    global _worker
    _worker = (ranker, requests, select)
    _leave_signals_to_the_parent()
    _one_blas_thread()


def _one_blas_thread() -> None:
    # The workers are already one per CPU. A BLAS call that spreads itself over every CPU
    # in each of them (OpenBLAS does, for a long vector) has them wait on each other:
    # keyword-only profiles ranked slower on 2 workers than on 1 (6.6 s against 4.5 s for
    # 400 profiles; 2.9 s with one BLAS thread each).
    threadpool_limits(limits=1)


def _leave_signals_to_the_parent() -> None:
    # The parent's handlers (digest serve's stop and reload) are not the worker's business:
    # the parent stops its workers with SIGTERM, and Ctrl-C reaches the parent. A reload
    # (SIGHUP) sent by name, as ``pkill -HUP -f "digest serve"`` does, reaches the workers
    # too: it must not kill them.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _rank_in_worker(index: int) -> list[_Compact]:
    if _worker is None:
        raise RuntimeError("_rank_in_worker runs only in a worker started by rank_profiles")
    ranker, requests, select = _worker
    request = requests[index]
    position = {id(paper): i for i, paper in enumerate(request.candidates)}
    return [
        (position[id(r.paper)], r.score, r.interest,
         tuple((reason.kind, reason.text, reason.weight) for reason in r.reasons))
        for r in _rank(ranker, request, select)
    ]


def _expand(request: RankRequest, compact: list[_Compact]) -> list[Ranked]:
    return [
        Ranked(paper=request.candidates[i], score=score, interest=interest,
               reasons=tuple(Reason(*reason) for reason in reasons))
        for i, score, interest, reasons in compact
    ]


# --- counting the corpus -----------------------------------------------------------------

# A chunk's counts as a worker sends them: its vocabulary as a list of terms in column order
# (a list pickles smaller and faster than a dict), and its count matrix.
_Counted = tuple[list[str], sparse.csr_matrix]

# What a counting worker was forked with (as _worker is for ranking).
_counting: tuple[CountVectorizer, Sequence[str]] | None = None


def fit_chunks(texts: Sequence[str], workers: int) -> int:
    """How many chunks :func:`count_terms` should count ``texts`` in on up to ``workers``
    processes: one per worker, as long as each gets FIT_CHUNK_MIN_CHARS of text; 1 (counted
    in-process) for a small corpus or one worker."""
    if workers <= 1:
        return 1
    return max(1, min(workers, sum(map(len, texts)) // FIT_CHUNK_MIN_CHARS))


def count_terms(vectorizer: CountVectorizer, texts: Sequence[str], *,
                chunks: int) -> sparse.csr_matrix:
    """``CountVectorizer.fit_transform(vectorizer, texts)`` with each row's columns in order
    (as ``transform`` gives them), the texts counted in ``chunks`` contiguous chunks on as
    many forked processes (in-process on a system without ``fork``): the same
    ``vocabulary_`` and counts, bit for bit.

    ValueError when no text has a usable word, as from ``fit_transform``.
    """
    if chunks <= 1 or not can_fork():
        counts = CountVectorizer.fit_transform(vectorizer, texts)
        counts.sort_indices()
        return counts
    bounds = np.linspace(0, len(texts), chunks + 1).astype(int).tolist()
    parts = _map_on_workers(chunks, _start_counting, (vectorizer, texts), _count_chunk,
                            itertools.pairwise(bounds), doing="counting the corpus's words")
    vocabulary, counts = _merged(parts)
    # sklearn's own fit sets the fitted state (and checks the parameters), on a one-word
    # text; the vocabulary is then the merged one.
    CountVectorizer.fit_transform(vectorizer, ["placeholder"])
    vectorizer.vocabulary_ = vocabulary
    return counts


def _merged(parts: Sequence[_Counted]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """The vocabulary over all the chunks, sorted as ``CountVectorizer`` sorts its features,
    and the chunks' counts as one matrix over it."""
    every = list(itertools.chain.from_iterable(terms for terms, _ in parts))
    if not every:
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    # Each chunk's terms are sorted, and sorting runs that are in order is a merge; where
    # each chunk's terms land comes from the same sort (a dict lookup per term of each chunk
    # took twice as long: hashing unpickled strings is slow).
    order = sorted(range(len(every)), key=every.__getitem__)
    ranked = list(map(every.__getitem__, order))
    first = np.ones(len(ranked), dtype=bool)  # where a new term starts in sorted order
    first[1:] = np.fromiter(map(operator.ne, ranked[:-1], ranked[1:]), dtype=bool,
                            count=len(ranked) - 1)
    column = np.empty(len(every), dtype=np.int64)
    column[order] = np.cumsum(first) - 1
    terms = list(itertools.compress(ranked, first))
    rows, offset = [], 0
    for chunk_terms, counts in parts:
        # The chunk's column -> the union's; the map keeps the terms' order, so each row's
        # columns stay sorted.
        moved = column[offset:offset + len(chunk_terms)].astype(counts.indices.dtype)
        offset += len(chunk_terms)
        rows.append(sparse.csr_matrix((counts.data, moved[counts.indices], counts.indptr),
                                      shape=(counts.shape[0], len(terms))))
    merged = sparse.vstack(rows, format="csr")
    merged.sort_indices()
    return dict(zip(terms, range(len(terms)), strict=True)), merged


def _start_counting(vectorizer: CountVectorizer, texts: Sequence[str]) -> None:
    global _counting
    _counting = (vectorizer, texts)
    _leave_signals_to_the_parent()
    _one_blas_thread()


def _count_chunk(bounds: tuple[int, int]) -> _Counted:
    if _counting is None:
        raise RuntimeError("_count_chunk runs only in a worker started by count_terms")
    vectorizer, texts = _counting
    chunk = texts[bounds[0]:bounds[1]]
    try:
        counts = CountVectorizer.fit_transform(vectorizer, chunk)
    except ValueError:
        analyse = vectorizer.build_analyzer()
        if any(analyse(text) for text in chunk):
            raise  # not the "empty vocabulary" of a chunk without a usable word
        return [], sparse.csr_matrix((len(chunk), 0), dtype=vectorizer.dtype)
    counts.sort_indices()  # here rather than in the parent, which merges alone
    terms = np.empty(len(vectorizer.vocabulary_), dtype=object)
    terms[list(vectorizer.vocabulary_.values())] = list(vectorizer.vocabulary_)
    return terms.tolist(), counts
