"""Rank many profiles at once, spread over worker processes that share one fitted Ranker.

The workers are forked after the Ranker is fitted and the requests are made, so they inherit
both (copy-on-write): nothing big is pickled. Each worker ranks whole profiles and sends
back, for each paper it kept, only its position among the request's candidates, its score,
interest and reasons; the parent rebuilds the Ranked objects around its own Paper objects.
The results are those of ranking one profile after the other in-process (tests/test_parallel.py
compares the two), because a profile's ranking depends only on the fitted corpus, never on
what the Ranker met before.

One request, one worker, or a system without ``fork`` (Windows, for one) ranks in-process:
starting a pool costs more than it saves there.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from digest.config import Profile
from digest.errors import RankingError
from digest.models import Paper, Ranked, Reason
from digest.rank import Ranker

# A ranked paper as a worker sends it: (position among the candidates, score, interest,
# reasons as (kind, text, weight)). Plain tuples pickle several times faster than Papers.
_Compact = tuple[int, float, str | None, tuple[tuple[str, str, float], ...]]
_CHUNKS_PER_WORKER = 8  # small enough chunks that a worker left with slow profiles is not alone
_WATCH_SECONDS = 1.0  # how often the parent checks that its workers are alive


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
    # Vectorised once here rather than once in every worker.
    ranker.vectorise(_papers_of(requests))
    others = set(multiprocessing.active_children())
    pool = multiprocessing.get_context("fork").Pool(
        workers, initializer=_start_worker, initargs=(ranker, requests, select))
    started = [process for process in multiprocessing.active_children()
               if process not in others]
    try:
        chunk = max(1, len(requests) // (workers * _CHUNKS_PER_WORKER))
        result = pool.map_async(_rank_in_worker, range(len(requests)), chunksize=chunk)
        # A worker that dies (the OOM killer) takes its profiles with it, and the pool,
        # which starts a new worker, would wait for them forever: watch the workers.
        while not result.ready():
            result.wait(_WATCH_SECONDS)
            dead = [process for process in started if process.exitcode is not None]
            if dead and not result.ready():
                raise RankingError(_died(dead[0].exitcode or 0))
        compact = result.get()
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    return [_expand(request, ranked) for request, ranked in zip(requests, compact, strict=True)]


def _died(exitcode: int) -> str:
    how = (f"was killed by {signal.Signals(-exitcode).name}" if exitcode < 0
           and -exitcode in signal.valid_signals() else f"exited with status {exitcode}")
    hint = " (the OOM killer, if memory ran short)" if exitcode == -signal.SIGKILL else ""
    return (f"a worker process ranking profiles {how}{hint}; run again, or set 'workers: 1' "
            "in the config to rank in the one process")


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
