"""Frozen value types that flow between stages. No I/O and no database ids here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

# New-style ids (0704.0001 onwards) and old-style ids (astro-ph/0601001, math.GT/0309136).
_ARXIV_NEW = r"\d{4}\.\d{4,5}"
_ARXIV_OLD = r"[a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7}"
_SUBJECT_CLASS = re.compile(r"\.[a-z]{2}/", re.IGNORECASE)
_ARXIV_ID_FULL = re.compile(
    rf"^(?:arxiv:)?(?P<id>{_ARXIV_NEW}|{_ARXIV_OLD})(?:v(?P<version>\d+))?$", re.IGNORECASE
)
_ARXIV_URL = re.compile(
    rf"arxiv\.org/(?:abs|pdf|html)/(?P<id>{_ARXIV_NEW}|{_ARXIV_OLD})(?:v(?P<version>\d+))?",
    re.IGNORECASE,
)
_DOI_RE = re.compile(r"(10\.\d{4,9}/[^\s\"<>]+)")


def split_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Return (id without version, version) for an arXiv id, ``arXiv:`` id, or arxiv.org URL.

    An old-style id comes back as arXiv itself gives it: the archive in lower case and
    without the two-letter subject class that older citations add (``math.GT/0309136`` is
    ``math/0309136``), so that those spellings of one paper are one key. (Papers stored
    before this under a spelling with a subject class keep their old key.)
    """
    text = text.strip()
    match = _ARXIV_ID_FULL.match(text) or _ARXIV_URL.search(text)
    if match is None:
        if text.lower().startswith("oai:arxiv.org:"):
            return split_arxiv_id(text[len("oai:arxiv.org:"):])
        return None
    version = match.group("version")
    arxiv_id = match.group("id")
    if "/" in arxiv_id:
        arxiv_id = _SUBJECT_CLASS.sub("/", arxiv_id).lower()
    return arxiv_id, int(version) if version else None


def find_doi(text: str) -> str | None:
    """Return the DOI in ``text`` (bare, ``doi:`` prefixed or a doi.org URL), lower-cased."""
    match = _DOI_RE.search(text)
    return match.group(1).rstrip(".,;").lower() if match else None


_WORD = re.compile(r"[a-z0-9]+")
_KEYWORD_WORD = re.compile(r"([a-z0-9]+)(\*?)")
WILDCARD_MIN = 3  # letters before a wildcard's "*": "net*" is the shortest


def _ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def folded_words(text: str) -> list[str]:
    """The words of ``text`` with case, accents and punctuation folded away."""
    return _WORD.findall(_ascii_lower(text))


def keyword_words(keyword: str) -> list[tuple[str, bool]]:
    """The folded words of a keyword, each with whether it is a wildcard: a word of at least
    WILDCARD_MIN letters ending in "*" stands for every word that begins with it ("learn*":
    learn, learning, learner...). Any other "*" is punctuation, as in "A* search"."""
    return [(word, bool(star) and len(word) >= WILDCARD_MIN)
            for word, star in _KEYWORD_WORD.findall(_ascii_lower(keyword))]


def two_letter_stars(keyword: str) -> list[str]:
    """Words of two letters followed by "*" ("AI*"): too short for a wildcard, so the "*"
    is punctuation, which the writer may not have meant (one letter, as in "A* search", is
    taken as a name)."""
    return re.findall(r"(?<![a-z0-9])([a-z0-9]{2})\*", _ascii_lower(keyword))


def wildcard_problem(keyword: str) -> str | None:
    """Why a keyword's "*" cannot be read, or None: a "*" before a letter ("*learn",
    "le*rn") would ask for a word's end or middle, which keywords cannot match."""
    if re.search(r"\*[a-z0-9]", _ascii_lower(keyword)):
        return (f"{keyword!r}: a '*' can only end a word, as in 'learn*' (every word that "
                "begins with 'learn')")
    return None


def normalise_title(title: str) -> str:
    """Fold case, accents, punctuation and spacing so the same title from two feeds matches."""
    return " ".join(folded_words(title))


def paper_key(*, arxiv_id: str | None, doi: str | None, title: str) -> str:
    """The de-duplication key: arXiv id without version, else DOI, else normalised title."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi.lower()}"
    return f"title:{normalise_title(title)}"


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a source saw it. ``announced`` is the announcement (listing) date."""

    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]  # primary category first when the source says which it is
    announced: date
    arxiv_id: str | None = None  # without version
    version: int | None = None
    doi: str | None = None
    url: str | None = None  # landing page
    pdf_url: str | None = None
    announce_type: str | None = None  # arXiv listings: new, cross, replace, replace-cross
    upvotes: int | None = None  # Hugging Face Daily Papers
    journal_ref: str | None = None
    comment: str | None = None

    @property
    def key(self) -> str:
        return paper_key(arxiv_id=self.arxiv_id, doi=self.doi, title=self.title)

    @property
    def abs_url(self) -> str | None:
        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.arxiv_id}"
        return self.url

    @property
    def pdf_link(self) -> str | None:
        if self.pdf_url:
            return self.pdf_url
        if self.arxiv_id:
            return f"https://arxiv.org/pdf/{self.arxiv_id}"
        return None

    @property
    def hf_url(self) -> str | None:
        # Hugging Face pages exist for new-style arXiv ids only.
        if self.arxiv_id and "/" not in self.arxiv_id:
            return f"https://huggingface.co/papers/{self.arxiv_id}"
        return None


@dataclass(frozen=True, slots=True)
class Listing:
    """What one parse of one document yielded.

    ``announced`` is the date the document says it was announced (the arXiv RSS channel
    pubDate), or None when the format has no such notion. An empty ``papers`` with a date
    means "no announcement today" (weekend or holiday), which is not an error.
    """

    format: str
    papers: tuple[Paper, ...]
    announced: date | None = None
    skipped: int = 0  # items dropped on purpose (e.g. announce types not asked for)
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to a score, in words a reader understands."""

    kind: str  # keyword | seed | author | category | popularity
    text: str
    weight: float  # how much of the score it explains


@dataclass(frozen=True, slots=True)
class Ranked:
    paper: Paper
    score: float
    interest: str | None  # the interest the paper is grouped under in the digest
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Edition:
    """One profile's digest: the ranked papers announced after ``since`` up to ``date``."""

    profile: str
    date: date
    since: date | None
    papers: tuple[Ranked, ...]
    interests: tuple[str, ...] = ()  # display order of the groups


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A ranked paper as it stands in a profile's RSS/Atom feed, kept across runs."""

    ranked: Ranked
    edition: date
    published: datetime  # timezone-aware: when the item entered the feed
