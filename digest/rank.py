"""Rank candidate papers against a profile: pure, deterministic, explained.

Scores come from TF-IDF vectors (scikit-learn) fitted on the stored corpus. For each interest:

* each keyword (a word or a phrase) is a small query vector; its contribution to a paper is
  the cosine between the two, counted only where the phrase occurs (half if its words occur
  apart). The more seeds an interest has, the less its keywords count (1/sqrt(seeds)): with
  many examples the examples say more than a few words do;
* the seeds are one centroid over their topical words (words in more than 10% of the corpus
  are dropped, as arxiv-sanity-lite does) and one over their title words; a paper scores its
  cosine with the first plus 0.3 times its cosine with the second;
* when most seeds share an arXiv category that is rare in the store, the stored papers of that
  category (never the candidates being ranked) form a second, broader centroid, counted the
  same way: "like recent cs.RO papers, where your seeds are";
* an interest's score is ``weight * (keywords + seeds + category neighbours)``, and a paper
  belongs to the interest that scores it highest.

On top come author and category boosts, Hugging Face upvotes (off by default) and, once a
profile has a few ``digest feedback`` labels, a logistic regression over the same topical
features trained on them. ``exclude`` terms and ``categories.only`` take a paper out of the
running (score 0, with the reason shown).

Scores are computed for all candidates at once with sparse matrix products; reasons are built
only for the papers a caller asks for. The reasons attached to a paper are exactly the terms
its score is the sum of, largest first, so what the email says about a paper is what put it
there. ``benchmarks/ranking.py`` measures all of this against arxiv-sanity-lite.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from digest.config import Interest, Profile
from digest.models import Paper, Ranked, Reason, folded_words

# Reasons of these kinds take a paper out of an edition whatever its score.
BLOCKING_REASONS = frozenset({"exclude", "filter"})
_MAX_KEYWORD_REASONS = 4
_PHRASE_APART = 0.5  # a phrase whose words all occur, but not together, counts half
TITLE_WEIGHT = 0.3  # title-to-title similarity, next to the whole text's
COMMON_SHARE = 0.1  # words in more of the corpus than this say little about a topic...
COMMON_SHARE_TITLES = 0.2
COMMON_MIN_CORPUS = 200  # ...once the corpus is big enough to tell
ENRICHED_SHARE = 0.5  # a category on at least half the seeds...
ENRICHED_LIFT = 3.0  # ...and three times as common among them as in the store
MIN_NEIGHBOURS = 5
MIN_FEEDBACK = 3  # labels before a profile's own model is trained
FEEDBACK_WEIGHT = 1.0
FEEDBACK_BACKGROUND = 200  # stored papers used as the "other" class beside the labels
UPVOTES_FULL = 100  # upvotes at which the popularity boost reaches its full weight
NEAR_DUPLICATE = 0.7  # cosine above which two papers are the same work for a digest


def paper_text(paper: Paper) -> str:
    # The title is said twice: it is the author's own summary and should weigh more.
    return f"{paper.title}. {paper.title}. {paper.abstract}"


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """Fold plurals (galaxies -> galaxy, models -> model) so a keyword meets its inflections."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    """The vectoriser's tokens: words of two or more characters, no stop words, stemmed."""
    return [_stem(w) for w in folded_words(text) if len(w) > 1 and w not in ENGLISH_STOP_WORDS]


def _fold(text: str) -> str:
    """Stemmed words between spaces: the form phrases and names are matched in."""
    return " " + " ".join(_stem(word) for word in folded_words(text)) + " "


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        tokenizer=_tokens,
        token_pattern=None,
        lowercase=False,  # _tokens folds case and accents itself
        dtype=np.float32,
    )


def _fit(texts: list[str]) -> TfidfVectorizer:
    vectorizer = _vectorizer()
    try:
        vectorizer.fit(texts or ["placeholder"])
    except ValueError:  # no usable word at all ("empty vocabulary")
        vectorizer.fit(["placeholder"])
    return vectorizer


def _topical_columns(matrix: sparse.csr_matrix, share: float, *, rare: int) -> np.ndarray:
    """1 for each word in at most ``share`` of the documents and at least ``rare`` of them,
    0 for the others: words that are everywhere, or in one paper only, say nothing about how
    alike two papers are."""
    rows = matrix.shape[0]
    if rows < COMMON_MIN_CORPUS:
        return np.ones(matrix.shape[1], dtype=np.float32)
    document_frequency = np.bincount(matrix.indices, minlength=matrix.shape[1])
    return ((document_frequency <= share * rows) & (document_frequency >= rare)).astype(
        np.float32)


def _centroid(rows: sparse.csr_matrix) -> np.ndarray:
    """The normalised mean of some (already normalised) rows, as a dense vector."""
    mean = np.asarray(rows.mean(axis=0), dtype=np.float32).ravel()
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


@dataclass(frozen=True, slots=True)
class _Vectors:
    """Candidates as the ranker sees them: rows of three matrices and folded text."""

    words: sparse.csr_matrix  # full TF-IDF: keyword cosines
    topics: sparse.csr_matrix  # common words dropped, renormalised: seeds, feedback
    titles: sparse.csr_matrix  # title words only
    folded: list[str]


@dataclass(frozen=True, slots=True)
class _Part:
    """One interest's contribution to every candidate, with what is needed to explain it."""

    interest: Interest
    keywords: np.ndarray  # keywords x candidates, already weighted
    seeds: np.ndarray  # candidates
    neighbours: np.ndarray  # candidates
    seed_papers: tuple[Paper, ...]
    seed_rows: sparse.csr_matrix | None
    categories: tuple[str, ...]

    @property
    def total(self) -> np.ndarray:
        return self.keywords.sum(axis=0) + self.seeds + self.neighbours


class Ranker:
    """Word weights learnt from a corpus; ranks any number of profiles against candidates."""

    def __init__(self, corpus: Sequence[Paper]) -> None:
        texts = [paper_text(paper) for paper in corpus]
        self._words = _fit(texts)
        self._titles = _fit([paper.title for paper in corpus])
        words = self._words.transform(texts) if corpus else None
        titles = self._titles.transform([p.title for p in corpus]) if corpus else None
        empty_words = sparse.csr_matrix((0, len(self._words.vocabulary_)), dtype=np.float32)
        empty_titles = sparse.csr_matrix((0, len(self._titles.vocabulary_)), dtype=np.float32)
        self._topical = _topical_columns(words if words is not None else empty_words,
                                         COMMON_SHARE, rare=2)
        self._topical_titles = _topical_columns(
            titles if titles is not None else empty_titles, COMMON_SHARE_TITLES, rare=1)
        # The corpus, kept for category neighbours and as background for feedback models.
        self._corpus = tuple(corpus)
        self._corpus_rows = {paper.key: row for row, paper in enumerate(corpus)}
        self._corpus_topics = self._topics(words) if words is not None else empty_words
        self._corpus_titles = self._title_rows(titles) if titles is not None else empty_titles
        self._by_category: dict[str, list[int]] = {}
        for row, paper in enumerate(corpus):
            for category in paper.categories:
                self._by_category.setdefault(category, []).append(row)
        # Candidates are vectorised once per Ranker, however many profiles rank them: the
        # text analysis is most of the cost. Keyed by paper key; a Ranker lives for one run.
        self._rows: dict[str, int] = {}
        self._cache = _Vectors(empty_words, empty_words, empty_titles, [])
        self._neighbour_cache: dict[
            tuple[frozenset[str], frozenset[str]], tuple[tuple[np.ndarray, np.ndarray] | None]
        ] = {}
        self._feature_names: np.ndarray | None = None

    @classmethod
    def fit(cls, corpus: Sequence[Paper]) -> Ranker:
        return cls(corpus)

    # --- public ---------------------------------------------------------------------------

    def rank(
        self,
        profile: Profile,
        candidates: Sequence[Paper],
        *,
        seeds: Mapping[str, Paper],
        feedback: Sequence[tuple[Paper, int]] = (),
        limit: int | None = None,
    ) -> list[Ranked]:
        """Candidates with their scores and reasons, best first, ties broken by key.

        ``limit`` keeps only the best so many (reasons are built only for those); ``feedback``
        is the profile's (paper, +1 like / -1 dislike) labels.
        """
        if not candidates:
            return []
        vectors = self._vectors(candidates)
        token = frozenset(paper.key for paper in candidates)
        parts = [self._interest(interest, vectors, seeds, token) for interest in profile.interests]
        totals = np.vstack([part.total for part in parts])
        best = totals.argmax(axis=0)
        score = totals[best, np.arange(len(candidates))]
        extras, model = self._extras(profile, candidates, vectors, feedback)
        score = score + sum(extras.values(), np.zeros(len(candidates), dtype=np.float32))
        blocked = self._blocked(profile, candidates, vectors)
        score = np.where(blocked, 0.0, score)
        order = sorted(range(len(candidates)),
                       key=lambda i: (-round(float(score[i]), 9), candidates[i].key))
        if limit is not None:
            order = order[:limit]
        ranked = [
            self._explain(profile, candidates[i], i, parts[best[i]], extras, model, vectors,
                          blocked[i])
            for i in order
        ]
        ranked.sort(key=lambda r: (-round(r.score, 9), r.paper.key))
        return ranked

    def select_for_edition(self, ranked: Sequence[Ranked], profile: Profile) -> list[Ranked]:
        """The papers an edition carries: at most ``max_papers`` of the eligible ones, without near
        duplicates (the same work listed twice, a paper and its dataset twin), and with each
        interest given a fair share when a profile has several."""
        self._vectors([r.paper for r in ranked])
        eligible = eligible_papers(ranked, profile)
        chosen: list[Ranked] = []
        share = profile.max_papers // max(1, len(profile.interests))
        taken: dict[str | None, int] = {}
        # First each interest's best up to its share, then the rest by score.
        for pass_ in ("share", "rest"):
            for item in eligible:
                if len(chosen) >= profile.max_papers:
                    break
                if item in chosen:
                    continue
                if pass_ == "share" and (len(profile.interests) < 2
                                         or taken.get(item.interest, 0) >= share):
                    continue
                if self._repeats(item.paper, [c.paper for c in chosen]):
                    continue
                chosen.append(item)
                taken[item.interest] = taken.get(item.interest, 0) + 1
        chosen.sort(key=lambda r: (-round(r.score, 9), r.paper.key))
        return chosen

    # --- vectors --------------------------------------------------------------------------

    def _topics(self, words: sparse.csr_matrix) -> sparse.csr_matrix:
        return normalize(words.multiply(self._topical).tocsr(), copy=False)

    def _title_rows(self, titles: sparse.csr_matrix) -> sparse.csr_matrix:
        return normalize(titles.multiply(self._topical_titles).tocsr(), copy=False)

    def _vectors(self, papers: Sequence[Paper]) -> _Vectors:
        """The rows of ``papers``, computing only those not seen before."""
        missing = list({p.key: p for p in papers if p.key not in self._rows}.values())
        if missing:
            words = self._words.transform([paper_text(paper) for paper in missing])
            titles = self._titles.transform([paper.title for paper in missing])
            cache = self._cache
            self._cache = _Vectors(
                sparse.vstack([cache.words, words], format="csr"),
                sparse.vstack([cache.topics, self._topics(words)], format="csr"),
                sparse.vstack([cache.titles, self._title_rows(titles)], format="csr"),
                cache.folded + [_fold(f"{p.title} {p.abstract}") for p in missing],
            )
            for paper in missing:
                self._rows[paper.key] = len(self._rows)
        rows = [self._rows[paper.key] for paper in papers]
        return _Vectors(self._cache.words[rows], self._cache.topics[rows],
                        self._cache.titles[rows], [self._cache.folded[row] for row in rows])

    def _repeats(self, paper: Paper, chosen: Sequence[Paper]) -> bool:
        if not chosen:
            return False
        rows = [self._rows[p.key] for p in chosen]
        similarity = self._cache.words[rows] @ self._cache.words[self._rows[paper.key]].T
        return bool(similarity.toarray().max() > NEAR_DUPLICATE)

    # --- one interest ---------------------------------------------------------------------

    def _interest(
        self, interest: Interest, vectors: _Vectors, seeds: Mapping[str, Paper],
        token: frozenset[str],
    ) -> _Part:
        seed_papers = tuple(seeds[seed] for seed in interest.seeds if seed in seeds)
        n = len(vectors.folded)
        seed_scores = np.zeros(n, dtype=np.float32)
        neighbours = np.zeros(n, dtype=np.float32)
        seed_rows = None
        categories: tuple[str, ...] = ()
        if seed_papers:
            seed_vectors = self._vectors(seed_papers)
            seed_rows = seed_vectors.topics
            seed_scores = interest.weight * self._likeness(
                seed_vectors.topics, seed_vectors.titles, vectors)
            categories = self._enriched(seed_papers)
            found = self._neighbours(categories, token) if categories else None
            if found is not None:
                neighbours = interest.weight * (
                    vectors.topics @ found[0] + TITLE_WEIGHT * (vectors.titles @ found[1]))
        keyword_weight = interest.weight / math.sqrt(max(1, len(seed_papers)))
        keywords = self._keyword_matrix(interest.keywords, vectors) * keyword_weight
        return _Part(interest, keywords, np.asarray(seed_scores).ravel(),
                     np.asarray(neighbours, dtype=np.float32).ravel(), seed_papers,
                     seed_rows, categories)

    def _likeness(self, topics: sparse.csr_matrix, titles: sparse.csr_matrix,
                  vectors: _Vectors) -> np.ndarray:
        return vectors.topics @ _centroid(topics) + TITLE_WEIGHT * (
            vectors.titles @ _centroid(titles))

    def _enriched(self, seed_papers: Sequence[Paper]) -> tuple[str, ...]:
        """Categories on most seeds that are much rarer in the store than among the seeds."""
        total = len(self._corpus)
        if total < COMMON_MIN_CORPUS:
            return ()
        counts: dict[str, int] = {}
        for paper in seed_papers:
            for category in set(paper.categories):
                counts[category] = counts.get(category, 0) + 1
        return tuple(sorted(
            category for category, count in counts.items()
            if count >= ENRICHED_SHARE * len(seed_papers)
            and (count / len(seed_papers))
            >= ENRICHED_LIFT * len(self._by_category.get(category, ())) / total
        ))

    def _neighbours(
        self, categories: tuple[str, ...], token: frozenset[str]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Centroids of the stored papers in ``categories``, leaving out the candidates."""
        key = (frozenset(categories), token)
        if key not in self._neighbour_cache:
            rows = sorted({
                row for category in categories for row in self._by_category.get(category, ())
                if self._corpus[row].key not in token
            })
            self._neighbour_cache[key] = (
                (_centroid(self._corpus_topics[rows]), _centroid(self._corpus_titles[rows]))
                if len(rows) >= MIN_NEIGHBOURS else None,
            )
        return self._neighbour_cache[key][0]

    def _keyword_matrix(self, keywords: Sequence[str], vectors: _Vectors) -> np.ndarray:
        """Keyword x candidate contributions: cosine times how much of the phrase occurs."""
        result = np.zeros((len(keywords), len(vectors.folded)), dtype=np.float32)
        if not keywords:
            return result
        sims = (self._words.transform(list(keywords)) @ vectors.words.T).tocoo()
        for row, column, value in zip(sims.row, sims.col, sims.data, strict=True):
            result[row, column] = value * _phrase_share(keywords[row], vectors.folded[column])
        return result

    # --- the rest of a profile ------------------------------------------------------------

    def _extras(
        self, profile: Profile, candidates: Sequence[Paper], vectors: _Vectors,
        feedback: Sequence[tuple[Paper, int]],
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Boosts that do not belong to an interest, each a vector over the candidates, and
        the profile's feedback model (word weights) if it has one."""
        extras: dict[str, np.ndarray] = {}
        if profile.authors and profile.author_boost:
            extras["author"] = np.array(
                [len(_author_matches(profile, p)) * profile.author_boost for p in candidates],
                dtype=np.float32)
        if profile.categories.boost:
            extras["category"] = np.array(
                [sum(b for c, b in profile.categories.boost.items() if c in p.categories)
                 for p in candidates], dtype=np.float32)
        if profile.upvote_weight:
            extras["upvotes"] = profile.upvote_weight * np.array(
                [_popularity(p) for p in candidates], dtype=np.float32)
        model = self._feedback_model(feedback)
        if model is not None:
            extras["feedback"] = FEEDBACK_WEIGHT * (vectors.topics @ model)
        return extras, model

    def _feedback_model(self, feedback: Sequence[tuple[Paper, int]]) -> np.ndarray | None:
        """Weights of a logistic regression on the profile's labels, or None if too few.

        Likes are one class; dislikes, and a fixed sample of stored papers when the labels are
        all one kind, the other. Only the weights are used (no intercept), so a paper's
        feedback contribution is a sum over its words, which the reasons can name.
        """
        if len(feedback) < MIN_FEEDBACK:
            return None
        rows = self._vectors([paper for paper, _ in feedback]).topics
        labels = np.array([1 if label > 0 else 0 for _, label in feedback])
        weights = np.ones(len(labels))
        if labels.min() == labels.max():
            step = max(1, len(self._corpus) // FEEDBACK_BACKGROUND)
            background = self._corpus_topics[::step][:FEEDBACK_BACKGROUND]
            if background.shape[0] == 0:
                return None
            rows = sparse.vstack([rows, background], format="csr")
            labels = np.concatenate([labels, np.full(background.shape[0], 1 - labels[0])])
            weights = np.concatenate([weights, np.full(background.shape[0], 0.5)])
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit(rows, labels, sample_weight=weights)
        return model.coef_.ravel().astype(np.float32)

    def _blocked(self, profile: Profile, candidates: Sequence[Paper],
                 vectors: _Vectors) -> np.ndarray:
        blocked = np.zeros(len(candidates), dtype=bool)
        for term in profile.exclude:
            folded = _fold_keyword(term)
            blocked |= np.array([folded in text for text in vectors.folded])
        only = set(profile.categories.only)
        if only:
            blocked |= np.array([not only & set(p.categories) for p in candidates])
        return blocked

    # --- reasons --------------------------------------------------------------------------

    def _explain(
        self, profile: Profile, paper: Paper, column: int, part: _Part,
        extras: Mapping[str, np.ndarray], model: np.ndarray | None, vectors: _Vectors,
        blocked: bool,
    ) -> Ranked:
        interest = part.interest.name
        if blocked:
            reasons = _blocking_reasons(profile, paper, vectors.folded[column])
            return Ranked(paper=paper, score=0.0, interest=interest, reasons=tuple(reasons))
        reasons = _keyword_reasons(part.interest, part.keywords[:, column],
                                   vectors.folded[column])
        if part.seeds[column] > 0:
            reasons.append(self._seed_reason(part, vectors, column))
        if part.neighbours[column] > 0:
            reasons.append(Reason(
                "seed", f"like stored {', '.join(part.categories)} papers, as your seeds are",
                float(part.neighbours[column])))
        interest_score = sum(reason.weight for reason in reasons)
        reasons += _author_reasons(profile, paper) + _category_reasons(profile, paper)
        if "upvotes" in extras and extras["upvotes"][column] > 0:
            reasons.append(Reason("popular", f"{paper.upvotes} upvotes on Hugging Face",
                                  float(extras["upvotes"][column])))
        if model is not None and extras["feedback"][column] != 0:
            reasons.append(self._feedback_reason(model, vectors, column,
                                                 float(extras["feedback"][column])))
        reasons.sort(key=lambda reason: -reason.weight)
        score = sum(reason.weight for reason in reasons)
        return Ranked(paper=paper, score=score,
                      interest=interest if interest_score > 0 else None, reasons=tuple(reasons))

    def _seed_reason(self, part: _Part, vectors: _Vectors, column: int) -> Reason:
        assert part.seed_rows is not None
        closest = int((part.seed_rows @ vectors.topics[column].T).toarray().argmax())
        seed = part.seed_papers[closest]
        title = seed.title if len(seed.title) <= 60 else seed.title[:57].rstrip() + "…"
        others = len(part.seed_papers) - 1
        more = f" and {others} more" if others else ""
        return Reason("seed", f"like seed {seed.arxiv_id} “{title}”{more}",
                      float(part.seeds[column]))

    def _feedback_reason(self, model: np.ndarray, vectors: _Vectors, column: int,
                         weight: float) -> Reason:
        """Name the words that moved the learnt score most, in the direction it went."""
        terms = vectors.topics[column].multiply(model[np.newaxis, :]).tocoo()
        if self._feature_names is None:
            self._feature_names = self._words.get_feature_names_out()
        direction = 1 if weight > 0 else -1
        order = np.argsort(-direction * terms.data)[:3]
        words = [f"“{self._feature_names[terms.col[i]]}”" for i in order
                 if direction * terms.data[i] > 0]
        label = "learnt from your likes" if weight > 0 else "learnt from your dislikes"
        return Reason("feedback", f"{label}: {', '.join(words) or 'overall'}", weight)


def _keyword_reasons(interest: Interest, contributions: np.ndarray,
                     folded_text: str) -> list[Reason]:
    matched = []
    for keyword, weight in zip(interest.keywords, contributions, strict=True):
        if weight > 0:
            label = "matched" if _phrase_share(keyword, folded_text) == 1 else "words of"
            matched.append(Reason("keyword", f"{label} “{keyword}”", float(weight)))
    matched.sort(key=lambda reason: -reason.weight)
    # Every keyword counts in the score; the long tail is folded into one line.
    if len(matched) > _MAX_KEYWORD_REASONS:
        rest = matched[_MAX_KEYWORD_REASONS - 1 :]
        folded = Reason(
            "keyword",
            f"{len(rest)} more keywords",
            sum(reason.weight for reason in rest),
        )
        matched = [*matched[: _MAX_KEYWORD_REASONS - 1], folded]
    return matched


@functools.lru_cache(maxsize=4096)
def _fold_keyword(keyword: str) -> str:
    return _fold(keyword)


def _phrase_share(keyword: str, folded_text: str) -> float:
    """How much a keyword's similarity counts: a phrase only as a phrase, or half if its words
    all occur apart; one word of "dense retrieval" alone ("Dense Plasmas") counts nothing."""
    folded = _fold_keyword(keyword)
    if folded in folded_text:
        return 1.0
    words = folded.split()
    if len(words) > 1 and all(f" {word} " in folded_text for word in words):
        return _PHRASE_APART
    return 0.0 if len(words) > 1 else 1.0


def _popularity(paper: Paper) -> float:
    """0 to 1: log-scaled Hugging Face upvotes, full at UPVOTES_FULL."""
    if not paper.upvotes:
        return 0.0
    return min(1.0, math.log1p(paper.upvotes) / math.log1p(UPVOTES_FULL))


def _author_matches(profile: Profile, paper: Paper) -> list[str]:
    names = {_fold(author) for author in paper.authors}
    return [author for author in profile.authors if _fold(author) in names]


def _author_reasons(profile: Profile, paper: Paper) -> list[Reason]:
    if not profile.authors or profile.author_boost == 0:
        return []
    return [Reason("author", f"author: {author}", profile.author_boost)
            for author in _author_matches(profile, paper)]


def _category_reasons(profile: Profile, paper: Paper) -> list[Reason]:
    return [
        Reason("category", f"category: {category}", boost)
        for category, boost in sorted(profile.categories.boost.items())
        if category in paper.categories
    ]


def _blocking_reasons(profile: Profile, paper: Paper, folded_text: str) -> list[Reason]:
    blocking = [
        Reason("exclude", f"excluded: mentions “{term}”", 0.0)
        for term in profile.exclude
        if _fold_keyword(term) in folded_text
    ]
    only = profile.categories.only
    if only and not set(only) & set(paper.categories):
        blocking.append(Reason("filter", f"not in {', '.join(only)}", 0.0))
    return blocking


def eligible_papers(ranked: Sequence[Ranked], profile: Profile) -> list[Ranked]:
    """Papers an edition may carry: each at least ``min_score``, not excluded, and matching
    an interest or an author (a category boost alone is not enough: it would fill the digest
    with everything in the category)."""
    return [
        r
        for r in ranked
        if r.score > 0
        and r.score >= profile.min_score
        and (r.interest is not None or any(reason.kind == "author" for reason in r.reasons))
        and not any(reason.kind in BLOCKING_REASONS for reason in r.reasons)
    ]
