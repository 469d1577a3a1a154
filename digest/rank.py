"""Rank candidate papers against a profile: pure, deterministic, explained.

Scores come from TF-IDF vectors (scikit-learn) fitted on the stored corpus. For each interest:

* each keyword (a word or a phrase) is a small query vector; its contribution to a paper is
  the cosine between the two, counted only where the phrase occurs (half if its words occur
  apart). A wildcard keyword ("learn*") is each phrase it stands for, and a paper gets the
  best of them. The more seeds an interest has, the less its keywords count (1/sqrt(seeds)):
  with many examples the examples say more than a few words do;
* the seeds are one centroid over their topical words (words in more than 5% of the corpus,
  or in one paper only, are dropped; arxiv-sanity-lite drops those in 10% of all of arXiv,
  but our store is usually a few fields, where a word is generic sooner) and one over their
  title words (10%); a paper scores its cosine with the first plus 0.3 times its cosine with
  the second. In both, a word counts by the square root of the share of seeds that use it, so
  what the seeds share outweighs what one seed says alone;
* when most seeds share an arXiv category that is rare in the store, the stored papers of that
  category (never the candidates being ranked) form a second, broader centroid, counted the
  same way: "like recent cs.RO papers, where your seeds are";
* an interest without seeds (or whose seeds are not stored yet) has the stored papers that
  use its keywords (never the candidates) stand in for them, at half weight: a centroid of
  up to 200 of them, "like stored papers that use “galaxy”";
* an interest's score is ``weight * (keywords + seeds + neighbours)``, and a paper belongs
  to the interest that scores it highest.

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

import bisect
import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from digest.config import Interest, Profile
from digest.models import Paper, Ranked, Reason, folded_words, keyword_words
from digest.parallel import count_terms, fit_chunks

# Reasons of these kinds take a paper out of an edition whatever its score.
BLOCKING_REASONS = frozenset({"exclude", "filter"})
_MAX_KEYWORD_REASONS = 4
_PHRASE_APART = 0.5  # a phrase whose words all occur, but not together, counts half
TITLE_WEIGHT = 0.3  # title-to-title similarity, next to the whole text's
CONSENSUS = 0.5  # a seed word counts by (share of the seeds that use it) ** this
COMMON_SHARE = 0.05  # words in more of the corpus than this say little about a topic...
COMMON_SHARE_TITLES = 0.1
COMMON_MIN_CORPUS = 200  # ...once the corpus is big enough to tell
ENRICHED_SHARE = 0.5  # a category on at least half the seeds...
ENRICHED_LIFT = 3.0  # ...and three times as common among them as in the store
MIN_NEIGHBOURS = 5
# An interest without seeds: the stored papers that use its keywords (at most this many,
# spread over the store) stand in for seeds, at this weight. Measured on the benchmark's
# keyword-only profiles: +16% (categories named as arXiv names them) and +18% (tags); from
# 0.3 to 1 the gain hardly changes.
KEYWORD_NEIGHBOURS = 0.5
KEYWORD_NEIGHBOURS_SAMPLE = 200
KEYWORD_NEIGHBOURS_MIN = 3  # fewer than 5 papers may use a rare keyword: 3 already helped
NEIGHBOUR_CACHE = 16  # category centroids kept per run (profiles share candidates and seeds)
MIN_FEEDBACK = 3  # labels before a profile's own model is trained
FEEDBACK_WEIGHT = 0.3  # measured: 1.0 let ten labels outweigh ten seeds
FEEDBACK_BACKGROUND = 200  # stored papers used as the "other" class beside the labels...
BACKGROUND_WEIGHT = 0.5  # ...each counting half a label
UPVOTES_FULL = 100  # upvotes at which the popularity boost reaches its full weight
NEAR_DUPLICATE = 0.7  # cosine above which two papers are the same work for a digest
MAX_FORMS = 50  # the forms of a wildcard keyword: its most common words (see Ranker._forms)


def _uses_keyword_neighbours(interest: Interest, seeds: Mapping[str, Paper]) -> bool:
    """Whether the stored papers that use the interest's keywords stand in for its seeds:
    when it has keywords and none of its seeds is known."""
    return bool(interest.keywords) and not any(seed in seeds for seed in interest.seeds)


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


def can_match(keyword: str) -> bool:
    """Whether a keyword can match at all: it has a wildcard or a word that is not an English
    stop word or a single letter (the vectoriser ignores those)."""
    return bool(_tokens(keyword)) or _has_wildcard(keyword)


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


def _fit(texts: list[str], workers: int = 1) -> tuple[TfidfVectorizer, sparse.csr_matrix]:
    """A vectoriser fitted on ``texts``, and their rows: what ``fit`` then ``transform``
    give, bit for bit, with the texts analysed once instead of twice (and, when there are
    enough of them, on up to ``workers`` processes: digest/parallel.py).

    (``fit_transform`` analyses once too, but leaves the words of a row out of column order,
    and a row's norm is summed in that order: its last bits could differ from transform's.)
    """
    vectorizer = _vectorizer()
    try:  # the counting half of fit, with each row's words in column order as transform's
        counts = count_terms(vectorizer, texts, chunks=fit_chunks(texts, workers))
    except ValueError:  # no text, or no usable word at all ("empty vocabulary")
        vectorizer.fit(["placeholder"])
        return vectorizer, (vectorizer.transform(texts) if texts else sparse.csr_matrix(
            (0, len(vectorizer.vocabulary_)), dtype=np.float32))
    weights = TfidfTransformer(norm=vectorizer.norm, use_idf=vectorizer.use_idf,
                               smooth_idf=vectorizer.smooth_idf,
                               sublinear_tf=vectorizer.sublinear_tf).fit(counts)
    vectorizer.idf_ = weights.idf_  # the weighting half of fit
    return vectorizer, weights.transform(counts, copy=False)


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


def _centroid_cosines(
    rows: sparse.csr_matrix, papers_t: sparse.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cosine with each paper, and the cosine of the rows' centroid with each paper.

    Both without a dense vocabulary-sized centroid: the centroid's cosine is the sum of the
    rows' dot products over the norm of their sum, and that norm comes from their Gram matrix.
    """
    per_row = (rows @ papers_t).toarray()
    _, position = np.unique(rows.indices, return_inverse=True)
    norm = float(np.linalg.norm(np.bincount(position, weights=rows.data)))
    return per_row, (per_row.sum(axis=0) / norm if norm else per_row.sum(axis=0))


def _consensus(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """The rows with each word scaled by the share of rows that use it, to the power
    CONSENSUS: what several seeds have in common says more about an interest than what one
    seed says alone (that seed's own subject, its dataset, its method's name)."""
    if rows.shape[0] < 2:
        return rows
    _, position, counts = np.unique(rows.indices, return_inverse=True, return_counts=True)
    share = (counts[position] / rows.shape[0]).astype(np.float32)
    return sparse.csr_matrix((rows.data * share**CONSENSUS, rows.indices, rows.indptr),
                             shape=rows.shape)


def _gram(rows: sparse.csr_matrix) -> np.ndarray:
    """Dot products of a few rows with each other, done over the words they use only (a
    transpose over the whole vocabulary would cost more than the product)."""
    columns, compact = np.unique(rows.indices, return_inverse=True)
    used = sparse.csr_matrix((rows.data, compact, rows.indptr),
                             shape=(rows.shape[0], len(columns)))
    return (used @ used.T).toarray()


def _masked(rows: sparse.csr_matrix, columns: np.ndarray) -> sparse.csr_matrix:
    """The rows with only the ``columns`` marked 1, normalised. The words masked out are
    dropped, not kept as stored zeros: they would be most of the matrix, and every product
    with it would step over them."""
    kept = rows.multiply(columns).tocsr()
    kept.eliminate_zeros()
    return _normalised(kept)


def _normalised(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    return normalize(rows, copy=False) if rows.shape[0] else rows


def _centroid(rows: sparse.csr_matrix) -> np.ndarray:
    """The normalised mean of some (already normalised) rows, as a dense vector."""
    mean = np.asarray(rows.mean(axis=0), dtype=np.float32).ravel()
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


@dataclass(frozen=True)
class _Vectors:
    """Papers as the ranker sees them: rows of three matrices, and their folded text."""

    words: sparse.csr_matrix  # full TF-IDF: keyword cosines
    topics: sparse.csr_matrix  # common words dropped, renormalised: seeds, feedback
    titles: sparse.csr_matrix  # title words only
    folded: Sequence[str]

    def __len__(self) -> int:
        return int(self.words.shape[0])

    @functools.cached_property
    def transposed(self) -> tuple[sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix]:
        """words, topics and titles as word x paper matrices: a few query rows times these
        cost only as much as the papers that share the queries' words."""
        return (self.words.T.tocsr(), self.topics.T.tocsr(), self.titles.T.tocsr())


class _FoldedTexts(Sequence[str]):
    """The folded text of each of some papers, made when first asked for (phrase and
    exclude checks need only a few of them)."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self._papers = papers
        self._texts: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._papers)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        if index not in self._texts:
            paper = self._papers[index]
            self._texts[index] = _fold(f"{paper.title} {paper.abstract}")
        return self._texts[index]


@dataclass(frozen=True, slots=True)
class _Part:
    """One interest's contribution to every candidate, with what is needed to explain it."""

    interest: Interest
    keywords: np.ndarray  # keywords x candidates, already weighted
    # keywords x candidates: which of the keyword's forms gave that (see Ranker._forms)
    best_forms: np.ndarray
    seeds: np.ndarray  # candidates
    neighbours: np.ndarray  # candidates
    seed_papers: tuple[Paper, ...]
    closest: np.ndarray | None  # per candidate, the index of the seed it is most like
    neighbours_reason: Reason | None  # what ``neighbours`` are, said with a weight of 0

    @property
    def total(self) -> np.ndarray:
        return self.keywords.sum(axis=0) + self.seeds + self.neighbours


class Ranker:
    """Word weights learnt from a corpus; ranks any number of profiles against candidates.

    A Ranker lives for one run. Every paper it meets (the corpus at fit time, then candidates
    and seeds) is vectorised once and kept, however many profiles rank it: the text analysis
    is most of the cost.
    """

    def __init__(self, corpus: Sequence[Paper], *, neighbours: bool = True,
                 workers: int = 1) -> None:
        self._use_neighbours = neighbours
        texts = [paper_text(paper) for paper in corpus]
        self._words, words = _fit(texts, workers)
        self._titles, titles = _fit([paper.title for paper in corpus], workers)
        self._topical = _topical_columns(words, COMMON_SHARE, rare=2)
        self._topical_titles = _topical_columns(titles, COMMON_SHARE_TITLES, rare=1)
        self._corpus_size = len(corpus)
        self._papers: list[Paper] = list(corpus)
        self._rows = {paper.key: row for row, paper in enumerate(corpus)}
        self._all = _Vectors(words, self._topics(words), self._title_rows(titles),
                             _FoldedTexts(self._papers))
        self._by_category: dict[str, list[int]] = {}
        for row, paper in enumerate(corpus):
            for category in paper.categories:
                self._by_category.setdefault(category, []).append(row)
        self._last: tuple[Sequence[Paper], tuple[str, ...], _Vectors] | None = None
        self._neighbour_cache: dict[
            tuple[frozenset[str], frozenset[str]], tuple[np.ndarray, np.ndarray] | None
        ] = {}
        self._feature_names: np.ndarray | None = None
        self._queries: dict[str, sparse.csr_matrix] = {}
        self._form_cache: dict[str, tuple[str, ...]] = {}
        self._counted: tuple[frozenset[str], dict[str, int]] | None = None
        self._candidates_stored: tuple[frozenset[str], np.ndarray] | None = None

    @classmethod
    def fit(cls, corpus: Sequence[Paper], *, neighbours: bool = True,
            workers: int = 1) -> Ranker:
        """Learn word weights from ``corpus``, its text analysed on up to ``workers``
        processes when it is big enough to be worth it (the result is the same);
        ``neighbours=False`` turns neighbours off, category and keyword neighbours both (the
        benchmark measures the ranker with and without them)."""
        return cls(corpus, neighbours=neighbours, workers=workers)

    # --- public ---------------------------------------------------------------------------

    def vectorise(self, papers: Sequence[Paper],
                  profiles: Iterable[tuple[Profile, Mapping[str, Paper]]] = ()) -> None:
        """Vectorise ``papers`` now rather than when first ranked, and if one of ``profiles``
        (each with its seed papers) has an interest that needs them, index the stored papers
        by word and sort the words wildcards look up: worker processes forked afterwards then
        share all of it (digest/parallel.py)."""
        self._row_numbers(papers)
        profiles = list(profiles)
        needed = any(_uses_keyword_neighbours(interest, seeds)
                     for profile, seeds in profiles for interest in profile.interests)
        if self._use_neighbours and needed:
            _ = self._stored_words_t
        if any(_has_wildcard(keyword) for profile, _ in profiles
               for interest in profile.interests for keyword in interest.keywords):
            _ = self._unigrams

    def unused_words(self, profile: Profile) -> dict[str, list[str]]:
        """Each keyword of ``profile`` that has words no paper the ranker knows uses, with
        those words as the ranker sees them (folded, plurals made singular): a keyword whose
        word no paper uses adds to no paper's score, and a phrase needs every word."""
        vocabulary = self._words.vocabulary_
        unused = {}
        for keyword in dict.fromkeys(k for i in profile.interests for k in i.keywords):
            words: dict[str, None] = {}
            for word, wild in keyword_words(keyword):
                if wild and not self._words_beginning(word):
                    words[f"{word}*"] = None
                elif not wild:  # a stop word or a single letter has no token: it is ignored
                    words.update((token, None) for token in _tokens(word)
                                 if token not in vocabulary)
            if words:
                unused[keyword] = list(words)
        return unused

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
        is the profile's (paper, +1 like / -1 dislike) labels. Successive calls with the same
        candidates share their vectors, so do not change a list between calls.
        """
        if not candidates:
            return []
        keys, vectors = self._candidates(candidates)
        token = frozenset(keys)
        queries = self._keyword_queries(profile)
        parts = [self._interest(interest, vectors, seeds, token, queries)
                 for interest in profile.interests]
        totals = np.vstack([part.total for part in parts])
        best = totals.argmax(axis=0)
        score = totals[best, np.arange(len(candidates))]
        extras, model = self._extras(profile, candidates, vectors, feedback)
        for extra in extras.values():
            score = score + extra
        blocked = self._blocked(profile, candidates, vectors)
        score = np.where(blocked, 0.0, np.round(score, 9))
        # Best first; equal scores in key order (lexsort sorts by its last key first).
        order = np.lexsort((np.array(keys), -score))
        if limit is not None:
            order = self._keep(order, limit, parts, score, keys)
        ranked = [
            self._explain(profile, candidates[i], int(i), parts[best[i]], extras, model,
                          vectors, blocked[i])
            for i in order
        ]
        ranked.sort(key=lambda r: (-round(r.score, 9), r.paper.key))
        return ranked

    @staticmethod
    def _keep(order: np.ndarray, limit: int, parts: Sequence[_Part], score: np.ndarray,
              keys: tuple[str, ...]) -> np.ndarray:
        """The best ``limit`` papers, plus each interest's own best ``limit / interests``
        (so a fair share per interest can still be made from them), best first."""
        kept = set(order[:limit].tolist())
        if len(parts) > 1:
            each = max(1, limit // len(parts))
            for part in parts:
                kept.update(np.argsort(-part.total, kind="stable")[:each].tolist())
        return np.array(sorted(kept, key=lambda i: (-score[i], keys[i])), dtype=np.int64)

    def select_for_edition(self, ranked: Sequence[Ranked], profile: Profile) -> list[Ranked]:
        """The papers an edition carries: at most ``max_papers`` of the eligible ones, without
        near duplicates (the same work listed twice, a paper and its dataset twin), and with
        each interest given a fair share when a profile has several."""
        eligible = eligible_papers(ranked, profile)
        if not eligible:
            return []
        alike = _gram(self._vectors([r.paper for r in eligible]).words) > NEAR_DUPLICATE
        chosen: list[int] = []
        share = profile.max_papers // max(1, len(profile.interests))
        taken: dict[str | None, int] = {}
        # First each interest's best up to its share, then the rest by score.
        for fair_share in (len(profile.interests) > 1, False):
            for index, item in enumerate(eligible):
                if len(chosen) >= profile.max_papers:
                    break
                if index in chosen or (fair_share and (
                        item.interest is None or taken.get(item.interest, 0) >= share)):
                    continue  # papers matching only an author are no interest's share
                if any(alike[index, other] for other in chosen):
                    continue
                chosen.append(index)
                taken[item.interest] = taken.get(item.interest, 0) + 1
        return [eligible[index] for index in sorted(chosen)]

    # --- vectors --------------------------------------------------------------------------

    def _topics(self, words: sparse.csr_matrix) -> sparse.csr_matrix:
        return _masked(words, self._topical)

    def _title_rows(self, titles: sparse.csr_matrix) -> sparse.csr_matrix:
        return _masked(titles, self._topical_titles)

    def _vectors(self, papers: Sequence[Paper]) -> _Vectors:
        return self._select(self._row_numbers(papers))

    def _candidates(self, papers: Sequence[Paper]) -> tuple[tuple[str, ...], _Vectors]:
        """The candidates' keys and rows; profiles of one run usually share them (often the
        very same list), so the last set is kept."""
        if self._last is not None and self._last[0] is papers:
            return self._last[1], self._last[2]
        keys = tuple(paper.key for paper in papers)
        if self._last is None or self._last[1] != keys:
            self._last = (papers, keys, self._vectors(papers))
        else:
            self._last = (papers, keys, self._last[2])
        return self._last[1], self._last[2]

    def _row_numbers(self, papers: Sequence[Paper]) -> np.ndarray:
        """Row numbers of ``papers``, vectorising those not seen before."""
        missing = list({p.key: p for p in papers if p.key not in self._rows}.values())
        if missing:
            words = self._words.transform([paper_text(paper) for paper in missing])
            titles = self._titles.transform([paper.title for paper in missing])
            self._all = _Vectors(
                sparse.vstack([self._all.words, words], format="csr"),
                sparse.vstack([self._all.topics, self._topics(words)], format="csr"),
                sparse.vstack([self._all.titles, self._title_rows(titles)], format="csr"),
                self._all.folded,
            )
            for paper in missing:
                self._rows[paper.key] = len(self._papers)
                self._papers.append(paper)
        return np.array([self._rows[paper.key] for paper in papers], dtype=np.int64)

    def _select(self, rows: np.ndarray) -> _Vectors:
        return _Vectors(self._all.words[rows], self._all.topics[rows], self._all.titles[rows],
                        _Subset(self._all.folded, rows))

    def _keyword_queries(self, profile: Profile) -> dict[str, sparse.csr_matrix]:
        """Every form of every keyword of the profile as a query vector, in one pass of the
        vectoriser."""
        forms = list(dict.fromkeys(form for interest in profile.interests
                                   for k in interest.keywords for form in self._forms(k)))
        new = [form for form in forms if form not in self._queries]
        if new:
            matrix = self._words.transform(new)
            self._queries.update((form, matrix[row]) for row, form in enumerate(new))
        return self._queries

    def _forms(self, keyword: str) -> tuple[str, ...]:
        """What a keyword is matched as: itself, or for a wildcard keyword each phrase it
        stands for ("reinforcement learn*": "reinforcement learning", "reinforcement
        learner"...), made of each wildcard's most common words: MAX_FORMS of them for one
        wildcard, a k-th root of it each for k (7 each for two); () if a wildcard begins no
        word the ranker knows. A form has one word for each word of the keyword."""
        if keyword not in self._form_cache:
            words = keyword_words(keyword)
            wildcards = sum(wild for _, wild in words)
            if not wildcards:
                self._form_cache[keyword] = (keyword,)
            else:
                each = max(1, int(MAX_FORMS ** (1 / wildcards) + 1e-9))
                choices = [self._words_beginning(word)[:each] if wild else [word]
                           for word, wild in words]
                self._form_cache[keyword] = tuple(
                    " ".join(form) for form in itertools.product(*choices))
        return self._form_cache[keyword]

    def _words_beginning(self, prefix: str) -> list[str]:
        """The words (as the ranker keeps them: plurals made singular) that begin with
        ``prefix``, the most common first, with the singulars of the plurals that begin with
        it (_singulars)."""
        unigrams = self._unigrams
        start = bisect.bisect_left(unigrams, prefix)
        end = bisect.bisect_left(unigrams, prefix + "\x7f", lo=start)  # past every ASCII word
        vocabulary = self._words.vocabulary_
        found = set(unigrams[start:end]) | {
            word for word in _singulars(prefix) if word in vocabulary}
        idf = self._words.idf_
        return sorted(found, key=lambda word: (idf[vocabulary[word]], word))

    @functools.cached_property
    def _unigrams(self) -> list[str]:
        """The one-word terms of the vocabulary, sorted: where wildcards look words up."""
        return sorted(term for term in self._words.vocabulary_ if " " not in term)

    # --- one interest ---------------------------------------------------------------------

    def _interest(
        self, interest: Interest, vectors: _Vectors, seeds: Mapping[str, Paper],
        token: frozenset[str], queries: Mapping[str, sparse.csr_matrix],
    ) -> _Part:
        # A paper written twice ('2401.01234' and 'arXiv:2401.01234v2') is one seed: twice,
        # it would weigh double and its words would look shared by several seeds.
        seed_papers = tuple(seeds[seed] for seed in dict.fromkeys(interest.seeds)
                            if seed in seeds)
        n = len(vectors)
        seed_scores = np.zeros(n, dtype=np.float32)
        neighbours = np.zeros(n, dtype=np.float32)
        closest = None
        neighbours_reason = None
        if seed_papers:
            rows = self._row_numbers(seed_papers)
            _, topics_t, titles_t = vectors.transposed
            per_seed, seed_scores = _centroid_cosines(_consensus(self._all.topics[rows]),
                                                      topics_t)
            _, title_scores = _centroid_cosines(_consensus(self._all.titles[rows]), titles_t)
            seed_scores = interest.weight * (seed_scores + TITLE_WEIGHT * title_scores)
            closest = per_seed.argmax(axis=0)
            categories = self._enriched(seed_papers, token) if self._use_neighbours else ()
            found = self._neighbours(categories, token) if categories else None
            if found is not None:
                neighbours = interest.weight * (
                    vectors.topics @ found[0] + TITLE_WEIGHT * (vectors.titles @ found[1]))
                neighbours_reason = Reason(
                    "seed", f"like stored {', '.join(categories)} papers, as your seeds are", 0)
        elif self._use_neighbours and _uses_keyword_neighbours(interest, seeds):
            found_using = self._papers_using(interest.keywords, token)
            if found_using is not None:
                rows, used = found_using
                similar = vectors.topics @ _centroid(self._all.topics[rows])
                neighbours = interest.weight * KEYWORD_NEIGHBOURS * similar
                neighbours_reason = Reason("keyword", "like stored papers that use " + ", ".join(
                    f"“{keyword}”" for keyword in used), 0)
        keyword_weight = interest.weight / math.sqrt(max(1, len(seed_papers)))
        keywords, best_forms = self._keyword_matrix(
            [self._forms(keyword) for keyword in interest.keywords], vectors, queries)
        return _Part(interest, keywords * keyword_weight, best_forms,
                     np.asarray(seed_scores, dtype=np.float32).ravel(),
                     np.asarray(neighbours, dtype=np.float32).ravel(), seed_papers,
                     closest, neighbours_reason)

    def _enriched(self, seed_papers: Sequence[Paper], token: frozenset[str]) -> tuple[str, ...]:
        """Categories on most seeds that are much rarer among the stored papers (the
        candidates left out: their categories are never read) than among the seeds."""
        among_candidates = self._candidate_categories(token)
        total = self._corpus_size - among_candidates.get("", 0)
        if total < COMMON_MIN_CORPUS:
            return ()
        counts: dict[str, int] = {}
        for paper in seed_papers:
            for category in set(paper.categories):
                counts[category] = counts.get(category, 0) + 1
        return tuple(sorted(
            category for category, count in counts.items()
            if count >= ENRICHED_SHARE * len(seed_papers)
            and (count / len(seed_papers)) >= ENRICHED_LIFT * (
                len(self._by_category.get(category, ())) - among_candidates.get(category, 0)
            ) / total
        ))

    def _candidate_categories(self, token: frozenset[str]) -> dict[str, int]:
        """How many stored papers among the candidates are in each category ("" = all)."""
        if self._counted is None or self._counted[0] != token:
            rows = np.flatnonzero(self._candidate_mask(token))
            counts: dict[str, int] = {"": len(rows)}
            for row in rows:
                for category in set(self._papers[row].categories):
                    counts[category] = counts.get(category, 0) + 1
            self._counted = (token, counts)
        return self._counted[1]

    def _neighbours(
        self, categories: tuple[str, ...], token: frozenset[str]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Centroids of the stored papers in ``categories``, leaving out the candidates."""
        key = (frozenset(categories), token)
        if key not in self._neighbour_cache:
            if len(self._neighbour_cache) >= NEIGHBOUR_CACHE:
                self._neighbour_cache.clear()  # entries are vocabulary-sized: keep a few
            rows = sorted({
                row for category in categories for row in self._by_category.get(category, ())
                if self._papers[row].key not in token
            })
            self._neighbour_cache[key] = (
                (_centroid(self._all.topics[rows]), _centroid(self._all.titles[rows]))
                if len(rows) >= MIN_NEIGHBOURS else None
            )
        return self._neighbour_cache[key]

    def _papers_using(self, keywords: Sequence[str], token: frozenset[str]
                      ) -> tuple[np.ndarray, list[str]] | None:
        """Rows of the stored papers with every word of one of ``keywords`` (the candidates
        left out, so that a paper's own words never vouch for it), at most
        KEYWORD_NEIGHBOURS_SAMPLE spread evenly over the store, and the keywords that found
        them; None if too few."""
        using = np.zeros(self._corpus_size, dtype=bool)  # faster than sets of rows
        candidate = self._candidate_mask(token)
        used = []
        for keyword in keywords:
            found = False
            for form in self._forms(keyword):
                rows = self._papers_with_all_words(form, self._stored_words_t)
                rows = rows[~candidate[rows]]
                if len(rows):
                    using[rows] = True
                    found = True
            if found:
                used.append(keyword)
        rows = np.flatnonzero(using)
        if len(rows) < KEYWORD_NEIGHBOURS_MIN:
            return None
        kept = min(len(rows), KEYWORD_NEIGHBOURS_SAMPLE)
        return rows[np.arange(kept) * len(rows) // kept], used

    @functools.cached_property
    def _stored_words_t(self) -> sparse.csr_matrix:
        """The stored papers' words as a word x paper matrix: which papers use a word."""
        return self._all.words[: self._corpus_size].T.tocsr()

    def _candidate_mask(self, token: frozenset[str]) -> np.ndarray:
        """True for each stored paper that is among the candidates."""
        if self._candidates_stored is None or self._candidates_stored[0] != token:
            mask = np.zeros(self._corpus_size, dtype=bool)
            rows = [self._rows.get(key, self._corpus_size) for key in token]
            mask[[row for row in rows if row < self._corpus_size]] = True
            self._candidates_stored = (token, mask)
        return self._candidates_stored[1]

    def _keyword_matrix(self, forms: Sequence[tuple[str, ...]], vectors: _Vectors,
                        queries: Mapping[str, sparse.csr_matrix]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Keyword x candidate contributions, each keyword given by its forms: cosine times
        how much of the phrase occurs, for the form that scores best; and which form that
        is."""
        result = np.zeros((len(forms), len(vectors)), dtype=np.float32)
        best = np.zeros((len(forms), len(vectors)), dtype=np.int32)
        flat = [form for each in forms for form in each]
        if not flat:
            return result, best
        words_t = vectors.transposed[0]
        sims = (sparse.vstack([queries[form] for form in flat]) @ words_t).toarray()
        for row, form in enumerate(flat):
            if len(_fold_keyword(form).split()) < 2:
                continue  # one word: the cosine says it all
            # Only papers with every word of the phrase can count; look at those only.
            having = self._papers_with_all_words(form, words_t)
            phrase = np.zeros(len(vectors), dtype=np.float32)
            for column in having:
                phrase[column] = _phrase_share(form, vectors.folded[column])
            sims[row] *= phrase
        start = 0
        for row, each in enumerate(forms):
            if len(each) == 1:  # a plain keyword, or a wildcard that begins one known word
                result[row] = sims[start]
            elif each:
                best[row] = sims[start : start + len(each)].argmax(axis=0)
                result[row] = sims[start + best[row], np.arange(len(vectors))]
            start += len(each)
        return result, best

    def _papers_with_all_words(self, keyword: str, words_t: sparse.csr_matrix) -> np.ndarray:
        vocabulary = self._words.vocabulary_
        columns = [vocabulary.get(token) for token in dict.fromkeys(_tokens(keyword))]
        if not columns or None in columns:
            return np.zeros(0, dtype=np.int64)
        having = None
        for column in columns:
            found = words_t.indices[words_t.indptr[column] : words_t.indptr[column + 1]]
            # A sparse row holds each column once: no need to make the lists unique.
            having = found if having is None else np.intersect1d(having, found,
                                                                 assume_unique=True)
        return np.asarray(having)

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

        Likes are one class; dislikes and a fixed sample of stored papers the other (when
        every label is a dislike, the sample is the other side instead). Without the sample a
        few dislikes of papers close to the profile's topic would teach the model that the
        topic's own words are disliked; with it, the model learns what sets the liked papers
        apart from the store and what sets the disliked ones apart from the liked. Only the
        weights are used (no intercept), so a paper's feedback contribution is a sum over its
        words, which the reasons can name.
        """
        if len(feedback) < MIN_FEEDBACK:
            return None
        step = max(1, self._corpus_size // FEEDBACK_BACKGROUND)
        background = self._all.topics[: self._corpus_size : step][:FEEDBACK_BACKGROUND]
        if background.shape[0] == 0:
            return None
        labels = np.array([1 if label > 0 else 0 for _, label in feedback])
        rows = sparse.vstack([self._vectors([paper for paper, _ in feedback]).topics,
                              background], format="csr")
        labels = np.concatenate([labels, np.full(background.shape[0], int(labels.max() == 0))])
        weights = np.concatenate([np.ones(len(feedback)),
                                  np.full(background.shape[0], BACKGROUND_WEIGHT)])
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit(rows, labels, sample_weight=weights)
        return model.coef_.ravel().astype(np.float32)

    def _blocked(self, profile: Profile, candidates: Sequence[Paper],
                 vectors: _Vectors) -> np.ndarray:
        blocked = np.zeros(len(candidates), dtype=bool)
        for term in profile.exclude:
            blocked |= np.array([_mentions(term, text) for text in vectors.folded])
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
        forms = [each[part.best_forms[k, column]] if each else ""  # no form: scores nothing
                 for k, each in enumerate(map(self._forms, part.interest.keywords))]
        reasons = _keyword_reasons(part.interest, part.keywords[:, column], forms,
                                   vectors.folded[column], paper)
        if part.seeds[column] > 0:
            assert part.closest is not None
            reasons.append(_seed_reason(part, int(part.closest[column]),
                                        float(part.seeds[column])))
        if part.neighbours[column] > 0:
            assert part.neighbours_reason is not None
            reasons.append(replace(part.neighbours_reason, weight=float(part.neighbours[column])))
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
        if not reasons:
            reasons.append(Reason("none", "matches no keyword, seed, author or boost", 0.0))
        return Ranked(paper=paper, score=score,
                      interest=interest if interest_score > 0 else None, reasons=tuple(reasons))

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
        # Said by direction, not by label: with likes only (or dislikes only) the model's
        # other side is a sample of stored papers, not anything the reader said.
        label = "your feedback favours" if weight > 0 else "your feedback disfavours"
        return Reason("feedback", f"{label} {', '.join(words) or 'its words'}", weight)


class _Subset(Sequence[str]):
    """Some rows of a lazily folded sequence, by position."""

    def __init__(self, texts: Sequence[str], rows: np.ndarray) -> None:
        self._texts, self._rows = texts, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._texts[int(self._rows[index])]


def _seed_reason(part: _Part, closest: int, weight: float) -> Reason:
    seed = part.seed_papers[closest]
    title = seed.title if len(seed.title) <= 60 else seed.title[:57].rstrip() + "…"
    others = len(part.seed_papers) - 1
    more = f" and {others} more" if others else ""
    return Reason("seed", f"like seed {seed.arxiv_id} “{title}”{more}", weight)


def _wildcard_words(keyword: str, form: str, paper: Paper) -> str:
    """The words a wildcard keyword's form put in place of its wildcards, as the paper
    writes them (folded): "learners" where "reinforcement learn*" scored as "reinforcement
    learner"."""
    written = folded_words(f"{paper.title} {paper.abstract}")
    said = []
    for (_, wild), kept in zip(keyword_words(keyword), form.split(), strict=True):
        if wild:
            said.append(next((word for word in written if _stem(word) == kept), kept))
    return ", ".join(dict.fromkeys(said))


def _keyword_reasons(interest: Interest, contributions: np.ndarray, forms: Sequence[str],
                     folded_text: str, paper: Paper) -> list[Reason]:
    """A reason for each keyword that adds to the paper's score; a wildcard keyword's says
    which of its forms did, and is labelled by that form's phrase share."""
    matched = []
    for keyword, form, weight in zip(interest.keywords, forms, contributions, strict=True):
        if weight > 0:
            label = "matched" if _phrase_share(form, folded_text) == 1 else "words of"
            said = (f" ({_wildcard_words(keyword, form, paper)})" if _has_wildcard(keyword)
                    else "")
            matched.append(Reason("keyword", f"{label} “{keyword}”{said}", float(weight)))
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


def _mentions(term: str, folded_text: str) -> bool:
    """Whether a folded text has the term as a phrase (a wildcard word as any word that
    begins with it)."""
    if _has_wildcard(term):
        return _phrase_pattern(term).search(folded_text) is not None
    return _fold_keyword(term) in folded_text


@functools.lru_cache(maxsize=4096)
def _has_wildcard(keyword: str) -> bool:
    return any(wild for _, wild in keyword_words(keyword))


def _singulars(prefix: str) -> set[str]:
    """The words folded texts keep, for plurals that begin with ``prefix``, that do not begin
    with it themselves: "bias" is kept as "bia", "strategies" as "strategy" (so "strategi*"
    also finds "strategy": plurals and singulars are one word to the ranker)."""
    found = {_stem(prefix)} - {prefix}
    for ending in ("i", "ie"):
        root = prefix.removesuffix(ending)
        if root != prefix and _stem(root + "ies") == root + "y":
            found.add(root + "y")
    return found


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(keyword: str) -> re.Pattern[str]:
    """A regular expression for a wildcard term as a phrase, as folded texts have it."""
    patterns = []
    for word, wild in keyword_words(keyword):
        if wild:
            singulars = "".join(f"|{re.escape(s)}" for s in sorted(_singulars(word)))
            patterns.append(f"(?:{re.escape(word)}[a-z0-9]*{singulars})")
        else:
            patterns.append(re.escape(_stem(word)))
    return re.compile(" " + " ".join(patterns) + " ")


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
        if _mentions(term, folded_text)
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
