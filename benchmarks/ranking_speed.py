"""How fast the ranker serves many profiles, next to arxiv-sanity-lite's per-profile SVMs.

Run:  python benchmarks/ranking_speed.py [--corpus 50000] [--new 2000] [--profiles 1000]
                                         [--workers 1,2] [--svm-sample 5]

The workload of issue 3: 2,000 new papers ranked for 1,000 profiles, each with 3 interests of
10 seed papers and 2 keywords, over a stored corpus of 50,000 papers. The text is real (the
labelled listings and the 1,504-item arXiv feed in ../shared/fixtures, about 8,000 papers),
repeated with renumbered ids to reach the corpus size, so word statistics are realistic but
repeated papers are more alike than real ones; the timing is what this measures.

Printed for each step: wall time, throughput and peak resident memory so far (getrusage;
tracemalloc is left off because it slows this workload several-fold), both of this process
(RUSAGE_SELF) and of the largest worker process that has ended (RUSAGE_CHILDREN: the
maximum over children, not their sum). A worker's figure counts the pages it shares with
this process copy-on-write, so the two must not be added up:

* fit:       Ranker.fit on the corpus (once per run in `digest run` / `digest serve`), once
             for each number of worker processes in --workers (the text is analysed on
             them; the fitted ranker is the same)
* rank:      ranker.rank(..., limit=2 * max_papers + 10) + select_for_edition for every
             profile through digest.parallel.rank_profiles, as `digest run` does, once for
             each number of worker processes in --workers, each on the ranker just fitted
             (a fresh one, as every run has: no cache warmed by an earlier row)
* rank keywords-only: the same profiles without their seeds (the cold start), where the
             stored papers that use the keywords stand in for them, on the same ranker
             (whose keyword vectors the row before has made)
* baseline:  arxiv-sanity-lite's method for the same profiles: its TF-IDF on the corpus, then
             one LinearSVC(C=0.01, balanced) per profile over all known papers. Training
             every profile takes hours, so --svm-sample profiles are timed and the total
             extrapolated (said so in the output).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from digest.config import Profile
from digest.models import Paper
from digest.parallel import RankRequest, rank_profiles
from digest.rank import Ranker
from digest.sources import parse_arxiv_rss

FIXTURES = Path(__file__).resolve().parents[2] / "shared/fixtures"
RSS = FIXTURES / "arxiv_rss_new/jmmeus_aioarxiv__all_archives_2024-11-28_full_1504items.xml"
T = TypeVar("T")


def real_papers() -> list[Paper]:
    papers = list(parse_arxiv_rss(RSS.read_bytes(), announce_types=None).papers)
    for path in sorted((FIXTURES / "labeled/wanzhouliu_arxiv_feed_mirror_cs.CV").glob("*.json")):
        for item in json.loads(path.read_text())["papers"]:
            papers.append(Paper(title=item["title"], abstract=item["abstract"],
                                authors=tuple(item["authors"]),
                                categories=tuple(item["categories"]),
                                announced=date(2026, 4, 1), arxiv_id=item["arxiv_id"]))
    for path in sorted((FIXTURES / "labeled/datawraith_arxiv_frontpage/downloads").glob("*")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            papers.append(Paper(title=item["title"], abstract=item["abstract"],
                                authors=tuple(item["authors"].split(", "))
                                if isinstance(item["authors"], str) else tuple(item["authors"]),
                                categories=(), announced=date(2025, 4, 11),
                                arxiv_id=item["url"].rsplit("/", 1)[-1]))
    return list({paper.key: paper for paper in papers}.values())


def scaled(papers: list[Paper], count: int) -> list[Paper]:
    """``count`` papers cycling through ``papers``, each copy with its own id."""
    return [
        replace(papers[i % len(papers)], arxiv_id=f"9{i // 100000:03d}.{i % 100000:05d}",
                doi=None)
        for i in range(count)
    ]


def profiles(corpus: list[Paper], count: int, rng: random.Random) -> list[Profile]:
    words = [w for p in corpus[:5000] for w in p.title.lower().split() if w.isalpha()
             and len(w) > 5]
    made = []
    for _ in range(count):
        interests = [
            {"name": f"interest {k}",
             "keywords": [f"{rng.choice(words)} {rng.choice(words)}", rng.choice(words)],
             "seeds": [p.arxiv_id for p in rng.sample(corpus, 10)]}
            for k in range(3)
        ]
        made.append(Profile.model_validate({"interests": interests, "max_papers": 25}))
    return made


def without_seeds(profile: Profile) -> Profile:
    return profile.model_copy(update={"interests": [
        interest.model_copy(update={"seeds": []}) for interest in profile.interests]})


def _processes(workers: int) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''}"


def measure(label: str, items: int, unit: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"| {label} | {seconds:8.2f} s | {items / seconds:10.0f} {unit}/s | {rss:7.0f} MiB "
          f"| {children:7.0f} MiB |")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=int, default=50_000)
    parser.add_argument("--new", type=int, default=2_000)
    parser.add_argument("--profiles", type=int, default=1_000)
    parser.add_argument("--workers", default="1,2",
                        help="worker processes to fit and rank with, comma-separated (one run "
                             "each)")
    parser.add_argument("--svm-sample", type=int, default=5)
    args = parser.parse_args()
    if not RSS.is_file():
        print(f"fixtures not found at {FIXTURES}", file=sys.stderr)
        return 1
    rng = random.Random(7)
    papers = scaled(real_papers(), args.corpus + args.new)
    corpus, new = papers[: args.corpus], papers[args.corpus :]
    chosen = profiles(corpus, args.profiles, rng)
    by_id = {p.arxiv_id: p for p in corpus}
    print(f"{len(corpus)} stored papers, {len(new)} new, {len(chosen)} profiles "
          "x 3 interests x 10 seeds")
    print("| step | time | throughput | peak RSS so far | largest worker's peak RSS |")
    print("|---|---:|---:|---:|---:|")
    known = corpus + new  # the daily job has stored the new papers before ranking them
    counts = [int(count) for count in args.workers.split(",")]
    requests = [
        RankRequest(profile, new, seeds={s: by_id[s] for i in profile.interests for s in i.seeds},
                    limit=2 * profile.max_papers + 10)
        for profile in chosen
    ]
    # The same profiles before their owners chose seeds: keyword neighbours instead.
    keywords_only = [
        RankRequest(without_seeds(request.profile), new, seeds={}, limit=request.limit)
        for request in requests
    ]
    for workers in counts:
        # A fresh fit for each: ranking on a Ranker an earlier row has used would start with
        # its caches (keyword vectors, category centroids) already filled.
        ranker = measure(f"fit (project, {_processes(workers)})", len(known), "papers",
                         partial(Ranker.fit, known, workers=workers))
        measure(f"rank (project, {_processes(workers)})", len(chosen), "profiles",
                partial(rank_profiles, ranker, requests, workers=workers, select=True))
        measure(f"rank keywords-only profiles (project, {_processes(workers)})",
                len(chosen), "profiles",
                partial(rank_profiles, ranker, keywords_only, workers=workers, select=True))
        del ranker  # the next fit's peak RSS is then its own

    def aslite_features() -> tuple[object, dict[str, int]]:
        vectorizer = TfidfVectorizer(
            strip_accents="unicode", stop_words="english", ngram_range=(1, 2),
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", max_features=20_000,
            sublinear_tf=True, min_df=5, max_df=0.1,
        )
        matrix = vectorizer.fit_transform(
            f"{p.title} {p.abstract} {' '.join(p.authors)}" for p in known)
        return matrix, {p.arxiv_id or "": row for row, p in enumerate(known)}

    matrix, rows = measure("fit (arxiv-sanity-lite)", len(known), "papers", aslite_features)
    sample = chosen[: args.svm_sample]

    def train_sample() -> None:
        for profile in sample:
            labels = np.zeros(matrix.shape[0])  # type: ignore[attr-defined]
            labels[[rows[s] for i in profile.interests for s in i.seeds]] = 1
            svm = LinearSVC(class_weight="balanced", C=0.01, max_iter=10_000, tol=1e-6)
            svm.fit(matrix, labels)
            svm.decision_function(matrix[-len(new):])  # type: ignore[index]

    start = time.perf_counter()
    measure(f"train+rank (arxiv-sanity-lite, {len(sample)} profiles)", len(sample),
            "profiles", train_sample)
    per_profile = (time.perf_counter() - start) / len(sample)
    print(f"\narxiv-sanity-lite extrapolated to {len(chosen)} profiles: "
          f"{per_profile * len(chosen):.0f} s ({per_profile:.2f} s per profile, timed on "
          f"{len(sample)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
