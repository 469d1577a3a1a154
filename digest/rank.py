"""Rank candidate papers against a profile: pure, deterministic, explained.

Scores come from TF-IDF vectors (scikit-learn) fitted on the stored corpus:

* each keyword (a word or a phrase) is a small query vector; its contribution to a paper is
  the cosine between the two, so a rare word counts more than a common one;
* each seed paper is a vector too; the most similar seed contributes its cosine;
* an interest's score is ``weight * (sum of keyword contributions + best seed similarity)``,
  and a paper belongs to the interest that scores it highest;
* author and category boosts are added on top; ``exclude`` terms and ``categories.only``
  take a paper out of the running (score 0, with the reason shown).

The reasons attached to each paper are exactly those contributions, largest first, so what
the email says about a paper is what actually put it there.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from digest.config import Interest, Profile
from digest.models import Paper, Ranked, Reason, folded_words

# Reasons of these kinds take a paper out of an edition whatever its score.
BLOCKING_REASONS = frozenset({"exclude", "filter"})
_MAX_KEYWORD_REASONS = 4


def paper_text(paper: Paper) -> str:
    # The title is said twice: it is the author's own summary and should weigh more.
    return f"{paper.title}. {paper.title}. {paper.abstract}"


_PHRASE_APART = 0.5  # a phrase whose words all occur, but not together, counts half


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


@dataclass(frozen=True, slots=True)
class _Scored:
    score: float
    interest: str | None
    reasons: tuple[Reason, ...]


class Ranker:
    """Word weights learnt from a corpus; ranks any number of profiles against candidates."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self._vectorizer = vectorizer
        # Candidates are vectorised once per Ranker, however many profiles rank them: the
        # text analysis is most of the cost. Keyed by paper key; a Ranker lives for one run.
        self._rows: dict[str, int] = {}
        self._matrix = sparse.csr_matrix((0, len(vectorizer.vocabulary_)), dtype=np.float32)
        self._folded: list[str] = []

    @classmethod
    def fit(cls, corpus: Sequence[Paper]) -> Ranker:
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            tokenizer=_tokens,
            token_pattern=None,
            lowercase=False,  # _tokens folds case and accents itself
            dtype=np.float32,
        )
        texts = [paper_text(paper) for paper in corpus]
        try:
            vectorizer.fit(texts or ["placeholder"])
        except ValueError:  # no usable word at all ("empty vocabulary")
            vectorizer.fit(["placeholder"])
        return cls(vectorizer)

    def rank(
        self, profile: Profile, candidates: Sequence[Paper], *, seeds: Mapping[str, Paper]
    ) -> list[Ranked]:
        """Every candidate with its score and reasons, best first, ties broken by key."""
        if not candidates:
            return []
        docs, folded = self._vectors(candidates)
        per_interest = [
            self._interest_contributions(interest, docs, folded, seeds)
            for interest in profile.interests
        ]
        ranked = [
            _finish(profile, paper, [contrib[index] for contrib in per_interest], folded[index])
            for index, paper in enumerate(candidates)
        ]
        ranked.sort(key=lambda r: (-round(r.score, 9), r.paper.key))
        return ranked

    def _vectors(self, papers: Sequence[Paper]) -> tuple[sparse.csr_matrix, list[str]]:
        """TF-IDF rows and folded text of ``papers``, computing only those not seen before."""
        missing = list({p.key: p for p in papers if p.key not in self._rows}.values())
        if missing:
            added = self._vectorizer.transform([paper_text(paper) for paper in missing])
            self._matrix = sparse.vstack([self._matrix, added], format="csr")
            for paper in missing:
                self._rows[paper.key] = len(self._folded)
                self._folded.append(_fold(f"{paper.title} {paper.abstract}"))
        rows = [self._rows[paper.key] for paper in papers]
        return self._matrix[rows], [self._folded[row] for row in rows]

    def _interest_contributions(
        self,
        interest: Interest,
        docs: sparse.csr_matrix,
        folded_texts: Sequence[str],
        seeds: Mapping[str, Paper],
    ) -> list[_Scored]:
        """For one interest, each candidate's score and the contributions that make it up."""
        keyword_sims = self._similarities(list(interest.keywords), docs)
        seed_papers = [seeds[seed] for seed in interest.seeds if seed in seeds]
        seed_sims = self._similarities([paper_text(p) for p in seed_papers], docs)
        results = []
        for column, text in enumerate(folded_texts):
            reasons = _keyword_reasons(interest, keyword_sims[:, column], text)
            if seed_papers:
                best = int(np.argmax(seed_sims[:, column]))
                similarity = float(seed_sims[best, column])
                if similarity > 0:
                    reasons.append(_seed_reason(interest, seed_papers[best], similarity))
            score = sum(reason.weight for reason in reasons)
            results.append(_Scored(score, interest.name, tuple(reasons)))
        return results

    def _similarities(self, texts: list[str], docs: sparse.csr_matrix) -> np.ndarray:
        """Cosine similarity of each text (row) with each candidate (column)."""
        if not texts:
            return np.zeros((0, docs.shape[0]), dtype=np.float32)
        queries = self._vectorizer.transform(texts)
        return np.asarray((queries @ docs.T).todense(), dtype=np.float32)


def _keyword_reasons(interest: Interest, sims: np.ndarray, folded_text: str) -> list[Reason]:
    matched = []
    for keyword, sim in zip(interest.keywords, sims, strict=True):
        share = _phrase_share(keyword, folded_text) if sim > 0 else 0.0
        if share > 0:
            label = "matched" if share == 1 else "words of"
            weight = float(sim) * share * interest.weight
            matched.append(Reason("keyword", f"{label} “{keyword}”", weight))
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


def _seed_reason(interest: Interest, seed: Paper, similarity: float) -> Reason:
    title = seed.title if len(seed.title) <= 70 else seed.title[:67].rstrip() + "…"
    return Reason(
        "seed",
        f"similar to seed {seed.arxiv_id} “{title}”",
        similarity * interest.weight,
    )


def _finish(profile: Profile, paper: Paper, options: list[_Scored], folded_text: str) -> Ranked:
    """Pick the paper's best interest, then apply boosts, exclusions and category limits."""
    best = max(options, key=lambda scored: scored.score)
    reasons = [*best.reasons, *_author_reasons(profile, paper), *_category_reasons(profile, paper)]
    blocking = _blocking_reasons(profile, paper, folded_text)
    if blocking:
        return Ranked(paper=paper, score=0.0, interest=best.interest, reasons=tuple(blocking))
    reasons.sort(key=lambda reason: -reason.weight)
    score = sum(reason.weight for reason in reasons)
    interest = best.interest if best.score > 0 else None
    return Ranked(paper=paper, score=score, interest=interest, reasons=tuple(reasons))


def _author_reasons(profile: Profile, paper: Paper) -> list[Reason]:
    if not profile.authors or profile.author_boost == 0:
        return []
    names = {_fold(author) for author in paper.authors}
    return [
        Reason("author", f"author: {author}", profile.author_boost)
        for author in profile.authors
        if _fold(author) in names
    ]


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


def select_for_edition(ranked: Sequence[Ranked], profile: Profile) -> list[Ranked]:
    """The papers an edition carries: at most ``max_papers``, each at least ``min_score``,
    not excluded, and matching an interest or an author (a category boost alone is not
    enough: it would fill the digest with everything in the category)."""
    chosen = [
        r
        for r in ranked
        if r.score > 0
        and r.score >= profile.min_score
        and (r.interest is not None or any(reason.kind == "author" for reason in r.reasons))
        and not any(reason.kind in BLOCKING_REASONS for reason in r.reasons)
    ]
    return chosen[: profile.max_papers]
