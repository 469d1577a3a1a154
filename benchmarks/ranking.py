"""Ranking quality on real labelled listings: the project's ranker against three baselines.

Run:  python benchmarks/ranking.py [--draws 3] [--feedback 10,30]

Two tasks, both read from ../shared/fixtures/labeled (nothing is copied into the repo):

* category interest (wanzhouliu cs.CV mirror, 12 announcement days): for each category
  other than cs.CV on at least 50 papers, 10 seed papers of that category are drawn from
  the first half of the days; every later day's full pool is ranked, and a paper is
  relevant when the category is among its categories. The days are ingested one by one,
  as the daily job would, so nothing from a later day is known when a day is ranked.
* a real person's tags (datawraith arxiv-frontpage): for each of the four labelled days
  and each tag with a paper that day, that day's pool is ranked with the tag's papers from
  the other days as seeds and the tag's name as the keyword. Relevant = labelled with it.

Methods, each given the same store contents, seeds and pool:

* random:   a seeded shuffle (expected value of a digest that ignores the profile)
* centroid: cosine with the mean TF-IDF vector of the seeds
* arxiv-sanity-lite: its TF-IDF (words and word pairs, sublinear tf, English stop words,
  l2, min_df 5, max_df 0.1, 20,000 features, over title, abstract and authors) and one
  LinearSVC(C=0.01, class_weight="balanced") per interest, trained on the seeds as
  positives and every other known paper as negatives
* project:  the digest ranker through its public path: profiles written as YAML, loaded by
  load_config, papers ingested by a ``file`` source, ranked by rank_day (what `digest rank`
  runs)
* project, no category neighbours: the same with that feature off. It learns from the
  categories of earlier days' stored papers, which on the category task are earlier days'
  labels that the baselines do not get; this row compares on equal information. (On the
  tags task the project also gets the tag's name as a keyword, which arxiv-sanity-lite's
  method has no place for.)
* project, keywords only: the profile without its seeds, a name alone as its keyword (the
  tag's name; on the category task the category's name as arXiv lists it, "robotics" for
  cs.RO): the cold start of a user who has not chosen seed papers yet; also without
  neighbours, whose keyword kind (stored papers that use the keywords) serves exactly
  these profiles
* project + N feedback: the same, after N simulated `digest feedback` labels on the top
  papers of earlier digests (never of the day being ranked); also with category neighbours
  off, since on the category task they already learn from earlier days' categories, which
  are what the labels say

Scores are nDCG@10 and P@10 (binary relevance), averaged over every (interest, day, draw).

The person labelled only some of each day's papers on a topic, so the tags task is also
scored a second time, with blind judgments added (benchmarks/judgments/): every paper in
the top 10 of a row other than random that the person did not label was judged for the tag
without knowing which method put it there. A paper no one judged counts as not relevant;
the "unjudged" column says how much of a method's top 10 that is (random, and a ranker
changed since the judging, have some).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from datetime import time as day_time
from pathlib import Path

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from digest.config import Config, load_config
from digest.fetch import HttpClient
from digest.ingest import ingest_sources
from digest.models import Paper, split_arxiv_id
from digest.pipeline import CORPUS_LIMIT, rank_day
from digest.rank import Ranker
from digest.store import Store

LABELED = Path(__file__).resolve().parents[2] / "shared/fixtures/labeled"
CV_MIRROR = LABELED / "wanzhouliu_arxiv_feed_mirror_cs.CV"
FRONTPAGE = LABELED / "datawraith_arxiv_frontpage"
JUDGMENTS = Path(__file__).resolve().parent / "judgments" / "datawraith_tags.json"
MIN_CATEGORY_PAPERS = 50
# A category's name as arXiv's taxonomy gives it: the keyword of its keywords-only profile.
CATEGORY_NAMES = {
    "cs.AI": "artificial intelligence", "cs.AR": "hardware architecture",
    "cs.CE": "computational engineering", "cs.CG": "computational geometry",
    "cs.CL": "computation and language", "cs.CR": "cryptography and security",
    "cs.CY": "computers and society", "cs.DB": "databases",
    "cs.DC": "distributed computing", "cs.DS": "data structures and algorithms",
    "cs.ET": "emerging technologies", "cs.GR": "graphics",
    "cs.GT": "game theory", "cs.HC": "human-computer interaction",
    "cs.IR": "information retrieval", "cs.IT": "information theory",
    "cs.LG": "machine learning", "cs.MA": "multiagent systems", "cs.MM": "multimedia",
    "cs.NE": "neural and evolutionary computing", "cs.NI": "networking",
    "cs.RO": "robotics", "cs.SD": "sound", "cs.SE": "software engineering",
    "cs.SI": "social and information networks", "cs.SY": "systems and control",
    "eess.AS": "audio and speech processing", "eess.IV": "image and video processing",
    "eess.SP": "signal processing", "eess.SY": "systems and control",
    "math.NA": "numerical analysis", "math.OC": "optimization and control",
    "physics.med-ph": "medical physics", "physics.optics": "optics",
    "q-bio.NC": "neurons and cognition", "q-bio.QM": "quantitative methods",
    "stat.AP": "applications", "stat.ME": "methodology", "stat.ML": "machine learning",
}
SEEDS_PER_CATEGORY = 10
K = 10


# --- what is judged --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One ranking to judge: an interest (seeds, keywords) against one day's pool."""

    name: str
    day: date
    seeds: tuple[str, ...]
    keywords: tuple[str, ...]
    relevant: frozenset[str]
    draw: int = 0
    # Papers of earlier days a simulated user may have labelled: id -> relevant?
    judged_before: dict[str, bool] = field(default_factory=dict)
    # What a user would write before having seeds (the keywords-only row); () for none.
    cold_start: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    title: str
    listings: dict[date, list[dict[str, object]]]  # JSONL records per announcement day
    queries: list[Query]
    ingest_daily: bool  # ingest day by day (temporal) or everything first (hold-one-day-out)
    # Blind judgments beside the labels: interest name -> paper id -> relevant? ({}: none)
    judged: dict[str, dict[str, bool]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Judged:
    """A ranking scored on the labels and the blind judgments together."""

    ndcg: float
    precision: float
    unjudged: float  # share of the top 10 that no one labelled or judged
    relevant: int  # papers of the pool known to be relevant, labelled or judged


@dataclass(frozen=True, slots=True)
class Scores:
    """One method's scores for one query."""

    interest: str
    ndcg: float
    precision: float
    judged: Judged | None = None


def score(ranked: Sequence[str], query: Query, pool: set[str],
          judged: dict[str, dict[str, bool]]) -> Scores:
    labels = Scores(query.name, ndcg_at_k(ranked, query.relevant),
                    precision_at_k(ranked, query.relevant))
    if query.name not in judged:
        return labels
    verdicts = judged[query.name]
    relevant = query.relevant | {key for key in pool if verdicts.get(key)}
    unjudged = sum(key not in query.relevant and key not in verdicts for key in ranked[:K])
    return replace(labels, judged=Judged(ndcg_at_k(ranked, relevant),
                                         precision_at_k(ranked, relevant), unjudged / K,
                                         len(relevant)))


def ratio_interval(ours: Sequence[tuple[str, float]], baseline: Sequence[tuple[str, float]],
                   draws: int = 10_000) -> tuple[float, float]:
    """A 95% bootstrap interval for mean(ours) / mean(baseline), resampling interests (an
    interest's rankings go together: its days share its seeds and its labeller's habits)."""
    names = sorted({name for name, _ in ours})
    index = {name: i for i, name in enumerate(names)}
    sums = np.zeros((2, len(names)))
    for row, scores in enumerate((ours, baseline)):
        for name, value in scores:
            sums[row, index[name]] += value
    picks = np.random.default_rng(0).integers(0, len(names), size=(draws, len(names)))
    ratios = sums[0, picks].sum(axis=1) / sums[1, picks].sum(axis=1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def ndcg_at_k(ranked: Sequence[str], relevant: frozenset[str], k: int = K) -> float:
    gains = [1.0 / np.log2(rank + 2) for rank, key in enumerate(ranked[:k]) if key in relevant]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return float(sum(gains) / ideal) if ideal else 0.0


def precision_at_k(ranked: Sequence[str], relevant: frozenset[str], k: int = K) -> float:
    return sum(1 for key in ranked[:k] if key in relevant) / k


# --- the two datasets ------------------------------------------------------------------------


def category_task(draws: int) -> Task:
    listings: dict[date, list[dict[str, object]]] = {}
    seen: set[str] = set()
    for path in sorted(CV_MIRROR.glob("*.json")):
        day = date.fromisoformat(json.loads(path.read_text())["date"])
        records = []
        for item in json.loads(path.read_text())["papers"]:
            if item["arxiv_id"] in seen:
                continue  # a replacement of a paper already announced is not new that day
            seen.add(item["arxiv_id"])
            records.append(_record(item["arxiv_id"], item["title"], item["abstract"],
                                    item["authors"], day, item["categories"]))
        if records:
            listings[day] = records
    days = sorted(listings)
    seed_days, ranked_days = days[: len(days) // 2], days[len(days) // 2 :]
    counts: dict[str, int] = {}
    for records in listings.values():
        for record in records:
            for category in record["categories"]:  # type: ignore[union-attr]
                counts[category] = counts.get(category, 0) + 1
    categories = sorted(c for c, n in counts.items() if n >= MIN_CATEGORY_PAPERS and c != "cs.CV")
    queries = []
    for category in categories:
        cold_start = (CATEGORY_NAMES[category],) if category in CATEGORY_NAMES else ()
        early = [r for d in seed_days for r in listings[d] if category in r["categories"]]  # type: ignore[operator]
        for draw in range(draws):
            rng = random.Random(f"{category}/{draw}")
            seeds = tuple(str(r["id"]) for r in rng.sample(early, SEEDS_PER_CATEGORY))
            judged = {
                str(r["id"]): category in r["categories"]  # type: ignore[operator]
                for d in seed_days for r in listings[d] if str(r["id"]) not in seeds
            }
            for day in ranked_days:
                relevant = frozenset(
                    str(r["id"]) for r in listings[day] if category in r["categories"]  # type: ignore[operator]
                )
                if relevant:
                    queries.append(Query(category, day, seeds, (), relevant, draw, dict(judged),
                                         cold_start=cold_start))
                judged.update({str(r["id"]): str(r["id"]) in relevant for r in listings[day]})
    return Task("Category interest (cs.CV mirror, 12 days)", listings, queries, ingest_daily=True)


def frontpage_task(judgments: Path | None = JUDGMENTS) -> Task:
    weights = json.loads((FRONTPAGE / "tags.json").read_text())
    pools: dict[date, list[dict[str, object]]] = {}
    for path in sorted((FRONTPAGE / "downloads").glob("*.jsonl")):
        day = date.fromisoformat(path.stem)
        pools[day] = [
            _record(_arxiv_id(item["url"]), item["title"], item["abstract"], item["authors"], day)
            for item in map(json.loads, path.read_text().splitlines())
        ]
    pool_day = {str(r["id"]): day for day, records in pools.items() for r in records}
    tagged: dict[str, list[dict[str, object]]] = {}
    for tag in weights:
        path = FRONTPAGE / "train" / f"{tag.replace(' ', '_')}.jsonl"
        tagged[tag] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    # Labelled papers from days outside the four pools are known to the store as older papers.
    earlier = date(2025, 4, 1)
    extra = {}
    for items in tagged.values():
        for item in items:
            arxiv_id = _arxiv_id(item["url"])
            if arxiv_id not in pool_day:
                extra[arxiv_id] = _record(arxiv_id, item["title"], item["abstract"],
                                          item["authors"], earlier)
    listings = {earlier: list(extra.values()), **pools}
    queries = []
    for tag, items in tagged.items():
        ids = {_arxiv_id(item["url"]) for item in items}
        for day in pools:
            relevant = frozenset(i for i in ids if pool_day.get(i) == day)
            seeds = tuple(sorted(i for i in ids if pool_day.get(i) != day))
            if relevant and seeds:
                judged = {
                    str(r["id"]): str(r["id"]) in ids
                    for other, rs in pools.items() if other != day for r in rs
                }
                queries.append(Query(tag, day, seeds, (tag,), relevant, 0, judged,
                                     cold_start=(tag,)))
    judged = json.loads(judgments.read_text())["judged"] if judgments else {}
    return Task("A real person's tags (datawraith, 4 days, hold one day out)", listings,
                queries, ingest_daily=False, judged=judged)


def _record(arxiv_id: str, title: str, abstract: str, authors: object, day: date,
            categories: Iterable[str] = ()) -> dict[str, object]:
    names = authors if isinstance(authors, list) else [str(authors)]
    return {"id": arxiv_id, "title": title, "abstract": abstract, "authors": names,
            "categories": list(categories), "published": day.isoformat()}


def _arxiv_id(url: str) -> str:
    split = split_arxiv_id(url)
    if split is None:
        raise ValueError(f"no arXiv id in {url!r}")
    return split[0]


# --- the methods -----------------------------------------------------------------------------

Method = Callable[["Day", Query], list[str]]


@dataclass
class Day:
    """What every method may use when ranking one day: the store as it stands, the pool."""

    store: Store
    config: Config
    day: date
    pool: list[Paper]
    known: list[Paper]
    project_ranker: Ranker
    _text_only: Ranker | None = None
    _aslite: tuple[TfidfVectorizer, object, dict[str, int]] | None = None

    def text_only_ranker(self) -> Ranker:
        """The project's ranker with neighbours off (category and keyword), fitted on the
        same papers."""
        if self._text_only is None:
            self._text_only = Ranker.fit(self.known, neighbours=False)
        return self._text_only

    def aslite_features(self) -> tuple[TfidfVectorizer, object, dict[str, int]]:
        if self._aslite is None:
            vectorizer = TfidfVectorizer(
                strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
                token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                max_features=20_000, norm="l2", use_idf=True, smooth_idf=True,
                sublinear_tf=True, min_df=5, max_df=0.1,
            )
            matrix = vectorizer.fit_transform(
                f"{p.title} {p.abstract} {' '.join(p.authors)}" for p in self.known
            )
            rows = {p.arxiv_id or p.key: row for row, p in enumerate(self.known)}
            self._aslite = (vectorizer, matrix, rows)
        return self._aslite


def random_method(day: Day, query: Query) -> list[str]:
    ids = [_id(p) for p in day.pool]
    random.Random(f"{query.name}/{query.day}/{query.draw}").shuffle(ids)
    return ids


def centroid_method(day: Day, query: Query) -> list[str]:
    _, matrix, rows = day.aslite_features()
    scores = matrix[[rows[_id(p)] for p in day.pool]] @ _seed_centroid(day, query)
    return _by_score(day.pool, scores)


def _seed_centroid(day: Day, query: Query) -> np.ndarray:
    """The mean of the seeds' vectors in arxiv-sanity-lite's TF-IDF space."""
    _, matrix, rows = day.aslite_features()
    return np.asarray(matrix[[rows[s] for s in query.seeds if s in rows]].mean(axis=0)).ravel()


def aslite_method(day: Day, query: Query) -> list[str]:
    _, matrix, rows = day.aslite_features()
    labels = np.zeros(matrix.shape[0])
    labels[[rows[s] for s in query.seeds if s in rows]] = 1
    svm = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
    svm.fit(matrix, labels)
    scores = svm.decision_function(matrix[[rows[_id(p)] for p in day.pool]])
    return _by_score(day.pool, scores)


def text_only_method(day: Day, query: Query) -> list[str]:
    """The project's ranker with category neighbours off: seeds, titles and keywords only.

    Category neighbours learn from the categories of earlier days' stored papers, which on
    the category task are that task's labels for earlier days; the baselines get only the
    seeds. This row is the comparison on equal information."""
    return _ranked_ids(day, _profile_name(query), day.text_only_ranker())


def project_method(day: Day, query: Query) -> list[str]:
    return _ranked_ids(day, _profile_name(query), day.project_ranker)


def _ranked_ids(day: Day, name: str, ranker: Ranker) -> list[str]:
    """Profile ``name``'s ranking of the day, as `digest rank` makes it."""
    _, ranked = rank_day(day.store, name, day.config.profiles[name], day=day.day,
                         now=_noon(day.day), ranker=ranker)
    return [_id(r.paper) for r in ranked]


def keywords_only_method(day: Day, query: Query) -> list[str]:
    """The project's ranker given a name alone as the interest's keyword, no seeds."""
    return _ranked_ids(day, _keywords_only_name(query), day.project_ranker)


def keywords_only_text_method(day: Day, query: Query) -> list[str]:
    """The same without neighbours: the keywords' own matches alone."""
    return _ranked_ids(day, _keywords_only_name(query), day.text_only_ranker())


def feedback_method(labels: int, *, neighbours: bool = True) -> Method:
    """The project's ranker after ``labels`` `digest feedback` labels: the simulated reader
    rated the papers of earlier days that looked most like their seeds (the top of their
    earlier digests), liking the relevant ones. ``neighbours=False``: with category
    neighbours off, where the labels are information the ranker has no other way to get."""

    def method(day: Day, query: Query) -> list[str]:
        name = _profile_name(query, labels)
        _, matrix, rows = day.aslite_features()
        judged = [key for key in query.judged_before if key in rows]
        similarity = matrix[[rows[key] for key in judged]] @ _seed_centroid(day, query)
        for index in np.argsort(-similarity, kind="stable")[:labels]:
            key = judged[index]
            day.store.set_feedback(name, key, 1 if query.judged_before[key] else -1,
                                   now=_noon(day.day))
        return _ranked_ids(day, name, day.project_ranker if neighbours
                           else day.text_only_ranker())

    return method


def _by_score(pool: Sequence[Paper], scores: np.ndarray) -> list[str]:
    order = sorted(range(len(pool)), key=lambda i: (-float(scores[i]), _id(pool[i])))
    return [_id(pool[i]) for i in order]


def _id(paper: Paper) -> str:
    return paper.arxiv_id or paper.key


def _noon(day: date) -> datetime:
    return datetime.combine(day, day_time(12), tzinfo=UTC)


# --- running a task through the public path --------------------------------------------------


def _profile_name(query: Query, feedback: int = 0) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in query.name.lower())
    return f"{slug}-d{query.draw}-{query.day.isoformat()}-f{feedback}"


def _keywords_only_name(query: Query) -> str:
    return _profile_name(query) + "-keywords"


def write_config(directory: Path, queries: Sequence[Query], feedback: Sequence[int]) -> Path:
    """The YAML a user would write: one profile per query, seeds and keywords, file source
    (and a copy of each profile per feedback row, whose labels the benchmark adds)."""
    profiles = {}
    for query in queries:
        interest: dict[str, object] = {"name": query.name, "seeds": list(query.seeds)}
        if query.keywords:
            interest["keywords"] = list(query.keywords)
        for labels in (0, *feedback):
            profiles[_profile_name(query, labels)] = {
                "interests": [interest], "min_score": 0, "max_papers": 500}
        if query.cold_start:  # what a new user writes before having seeds
            profiles[_keywords_only_name(query)] = {
                "interests": [{"name": query.name, "keywords": list(query.cold_start)}],
                "min_score": 0, "max_papers": 500}
    config = {
        "database": str(directory / "bench.sqlite"),
        "outbox": str(directory / "outbox"),
        "feeds_dir": str(directory / "feeds"),
        "sources": [{"name": "listings", "type": "file",
                     "paths": [str(directory / "listings" / "*.jsonl")],
                     "announce_types": ["new", "cross", "replace", "replace-cross"]}],
        "profiles": profiles,
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_task(
    task: Task, methods: dict[str, Method], feedback: Sequence[int] = ()
) -> dict[str, list[Scores]]:
    results: dict[str, list[Scores]] = {name: [] for name in methods}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "listings").mkdir()
        config = load_config(write_config(directory, task.queries, feedback))
        client = HttpClient(user_agent="benchmark")  # file sources only: never used
        with Store.open(config.database) as store:
            days = sorted(task.listings)
            ranked_days = sorted({q.day for q in task.queries})
            if not task.ingest_daily:
                for day in days:
                    _write_listing(directory, day, task.listings[day])
                ingest_sources(config, store, client, now=_noon(days[-1]), progress=_quiet)
            for day in days:
                if task.ingest_daily:
                    _write_listing(directory, day, task.listings[day])
                    ingest_sources(config, store, client, now=_noon(day), progress=_quiet)
                if day not in ranked_days:
                    continue
                known = store.corpus(limit=CORPUS_LIMIT)
                pool = store.papers_announced(after=day.fromordinal(day.toordinal() - 1),
                                              until=day)
                context = Day(store, config, day, pool, known, Ranker.fit(known))
                pool_ids = {_id(paper) for paper in pool}
                for query in (q for q in task.queries if q.day == day):
                    for name, method in methods.items():
                        results[name].append(score(method(context, query), query, pool_ids,
                                                   task.judged))
                print(f"  {day}: {len(pool)} papers, "
                      f"{sum(q.day == day for q in task.queries)} interests ranked",
                      file=sys.stderr)
    return results


def _quiet(_message: str) -> None:
    pass


def _write_listing(directory: Path, day: date, records: list[dict[str, object]]) -> None:
    lines = (json.dumps(record) for record in records)
    (directory / "listings" / f"{day.isoformat()}.jsonl").write_text("\n".join(lines) + "\n")


def report(task: Task, results: dict[str, list[Scores]], seconds: float) -> None:
    baseline = statistics.fmean(s.ndcg for s in results["arxiv-sanity-lite"])
    print(f"\n{task.title}: {len(task.queries)} rankings, {seconds:.0f} s")
    print("| method | nDCG@10 | P@10 | vs arxiv-sanity-lite |")
    print("|---|---:|---:|---:|")
    for name, scores in results.items():
        ndcg = statistics.fmean(s.ndcg for s in scores)
        precision = statistics.fmean(s.precision for s in scores)
        print(f"| {name} | {ndcg:.3f} | {precision:.3f} | {ndcg / baseline:.2f}x |")
    _interval(results, lambda s: s.ndcg)
    if not all(s.judged for scores in results.values() for s in scores):
        return
    judged = {name: [s.judged for s in scores if s.judged] for name, scores in results.items()}
    baseline = statistics.fmean(j.ndcg for j in judged["arxiv-sanity-lite"])
    print("\nThe same, scored on the labels and the blind judgments "
          "(benchmarks/judgments/datawraith_tags.json):")
    print("| method | nDCG@10 | P@10 | vs arxiv-sanity-lite | unjudged in top 10 |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in judged.items():
        ndcg = statistics.fmean(j.ndcg for j in rows)
        print(f"| {name} | {ndcg:.3f} | {statistics.fmean(j.precision for j in rows):.3f} "
              f"| {ndcg / baseline:.2f}x | {statistics.fmean(j.unjudged for j in rows):.0%} |")
    _interval(results, lambda s: s.judged.ndcg if s.judged else 0.0)
    few = sum(j.relevant < K for j in judged["arxiv-sanity-lite"])
    print(f"Even a perfect top 10 would be {1 / baseline:.3f}x arxiv-sanity-lite here. Only "
          "relevant papers no one has judged yet, once judged, could lift that (they raise "
          f"the ideal score), in the {few} of the {len(task.queries)} rankings that have "
          f"fewer than {K} relevant papers known.")


def _interval(results: dict[str, list[Scores]], value: Callable[[Scores], float]) -> None:
    low, high = ratio_interval([(s.interest, value(s)) for s in results["project"]],
                               [(s.interest, value(s)) for s in results["arxiv-sanity-lite"]])
    interests = len({s.interest for s in results["project"]})
    print(f"project vs arxiv-sanity-lite, 95% bootstrap interval over the {interests} "
          f"interests: {low:.2f}x to {high:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=3, help="seed draws per category")
    parser.add_argument("--task", choices=["categories", "tags", "both"], default="both")
    parser.add_argument("--feedback", default="10,30",
                        help="feedback rows: numbers of labels, comma-separated ('' for none)")
    parser.add_argument("--no-judgments", action="store_true",
                        help="score the tags task on the person's labels only")
    args = parser.parse_args()
    if not LABELED.is_dir():
        print(f"labelled fixtures not found at {LABELED}", file=sys.stderr)
        return 1
    methods: dict[str, Method] = {
        "random": random_method,
        "centroid": centroid_method,
        "arxiv-sanity-lite": aslite_method,
        "project": project_method,
        "project, no category neighbours": text_only_method,
    }
    feedback = [int(n) for n in args.feedback.split(",") if n.strip()]
    for labels in feedback:
        methods[f"project + {labels} feedback labels"] = feedback_method(labels)
    for labels in feedback:
        methods[f"project, no category neighbours, + {labels} feedback labels"] = (
            feedback_method(labels, neighbours=False))
    tasks = []
    if args.task in ("categories", "both"):
        tasks.append(category_task(args.draws))
    if args.task in ("tags", "both"):
        tasks.append(frontpage_task(None if args.no_judgments else JUDGMENTS))
    for task in tasks:
        start = time.perf_counter()
        cold_start = {"project, keywords only (no seeds)": keywords_only_method,
                      "project, keywords only, no neighbours": keywords_only_text_method}
        named = all(query.cold_start for query in task.queries)
        if not named:
            print("(no keywords-only row: a category without a name in CATEGORY_NAMES)",
                  file=sys.stderr)
        results = run_task(task, {**methods, **cold_start} if named else methods, feedback)
        report(task, results, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
