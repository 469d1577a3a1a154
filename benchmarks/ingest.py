"""How fast a day's listing goes from bytes to ranked papers, next to a baseline.

Run:  python benchmarks/ingest.py [--scale N] [--profiles N]

Reads the real 1,504-item arXiv RSS capture from ../shared/fixtures (the same file the
tests use) and, with --scale N, a feed of N copies of it with renumbered ids, built in
memory. For each it prints time, throughput and peak Python memory (tracemalloc) for:

* baseline: feedparser.parse on the same bytes (what most digest tools do)
* parse:    our parse_arxiv_rss
* store:    upsert into a fresh SQLite file, then again (the merge path of a re-run)
* rank:     fit TF-IDF on the stored corpus and rank the day's papers for N profiles

Peak memory is what Python allocates (tracemalloc); SQLite's own C allocations are not
seen by it, so the store rows show only the Python side.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import feedparser

from digest.config import Profile
from digest.pipeline import CORPUS_LIMIT
from digest.rank import Ranker
from digest.sources import parse_arxiv_rss
from digest.store import Store

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "shared/fixtures/arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"
)
NOW = datetime(2024, 11, 28, 12, tzinfo=UTC)
T = TypeVar("T")

PROFILE_TOPICS = [
    ["large language models", "retrieval-augmented generation", "benchmark"],
    ["diffusion", "image editing", "text-to-image"],
    ["reinforcement learning", "robot", "locomotion"],
    ["graph neural network", "molecule", "protein"],
    ["quantum error correction", "qubit", "surface code"],
    ["galaxy", "dark matter", "cosmology"],
    ["superconductivity", "topological", "phase transition"],
    ["causal inference", "econometrics", "treatment effect"],
]


def measure(label: str, items: int, action: Callable[[], T]) -> T:
    """Time ``action``, then run it again under tracemalloc for its peak memory.

    Two passes, because tracemalloc slows allocation-heavy code several times over.
    ``action`` must be repeatable (the store steps below are, by design).
    """
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label:<36} {elapsed * 1000:9.1f} ms  {items / elapsed:10,.0f} items/s"
          f"  peak {peak / 2**20:7.1f} MiB")
    return result


def scaled_feed(body: bytes, copies: int) -> bytes:
    """``copies`` copies of the items, ids renumbered so every copy is a different paper."""
    head, _, rest = body.partition(b"<item>")
    items, _, tail = (b"<item>" + rest).rpartition(b"</item>")
    items += b"</item>"
    parts = [head]
    for copy in range(copies):
        parts.append(re.sub(rb"(\d{4}\.)(\d{5})", lambda m, c=copy: m.group(1) + str(
            (int(m.group(2)) + c * 3000) % 100000).zfill(5).encode(), items))
    parts.append(tail)
    return b"".join(parts)


def profiles(count: int) -> list[Profile]:
    return [
        Profile.model_validate({"interests": [
            {"name": f"topic {i}", "keywords": PROFILE_TOPICS[i % len(PROFILE_TOPICS)]},
            {"name": "other", "keywords": PROFILE_TOPICS[(i + 3) % len(PROFILE_TOPICS)]},
        ]})
        for i in range(count)
    ]


def bench(body: bytes, profile_count: int) -> None:
    items = body.count(b"<item>")
    print(f"\nfeed: {len(body) / 2**20:.1f} MB, {items:,} items")
    measure("baseline: feedparser.parse", items, lambda: feedparser.parse(io.BytesIO(body)))
    listing = measure("parse_arxiv_rss (new+cross)", items, lambda: parse_arxiv_rss(
        body, announce_types=frozenset({"new", "cross"})))
    papers = listing.papers
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "b.sqlite") as store:
        # The first call inserts; every later one (including the memory pass) merges.
        measure("store: upsert into an empty file", len(papers),
                lambda: store.upsert_papers(papers, source="bench", now=NOW))
        measure("store: upsert again (merge path)", len(papers),
                lambda: store.upsert_papers(papers, source="bench", now=NOW))
        ranker = measure("rank: fit TF-IDF on the corpus", len(papers),
                         lambda: Ranker.fit(store.corpus(limit=CORPUS_LIMIT)))
        day = store.papers_announced(after=date(2024, 11, 27), until=date(2024, 11, 28))
        chosen = profiles(profile_count)
        # The timed pass is cold: it includes vectorising the day's papers once.
        measure(f"rank: {profile_count} profiles x {len(day):,} papers",
                len(day) * profile_count,
                lambda: [ranker.rank(p, day, seeds={}) for p in chosen])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=5, help="copies for the large feed")
    parser.add_argument("--profiles", type=int, default=20, help="profiles to rank for")
    args = parser.parse_args()
    if not FIXTURE.is_file():
        print(f"fixture not found: {FIXTURE} (needs ../shared/fixtures beside the clone)")
        return 1
    body = FIXTURE.read_bytes()
    print(f"python {sys.version.split()[0]}; one timed run each, on this machine; "
          "peak = Python allocations (tracemalloc), not SQLite's")
    bench(body, args.profiles)
    if args.scale > 1:
        bench(scaled_feed(body, args.scale), args.profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
