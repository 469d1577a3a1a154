"""Parse any other feed (RSS 0.9x, RSS 1.0/RDF, RSS 2.0, Atom), e.g. a journal's, via feedparser.

feedparser only ever sees bytes we already downloaded, wrapped in a stream: given a bare
``bytes`` value it would try to open it as a local file name first. Titles and abstracts
become plain text here, so no markup from a feed reaches the digest.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import feedparser

from digest.errors import ParseError
from digest.models import Listing, Paper, find_doi, normalise_title, split_arxiv_id
from digest.sources.text import (
    html_to_text,
    iso_local_date,
    plain_text,
    rfc822_local_date,
    split_author_list,
)

FORMAT = "feed"
# bioRxiv/medRxiv landing pages end in the version ("10.1101/2024.01.02.123456v2").
_PREPRINT_VERSION = re.compile(r"(10\.\d{4,9}/\d{4}\.\d{2}\.\d{2}\.\d+)v(\d+)$")
_XML_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml")
_DOI_FIELDS = ("prism_doi", "dc_identifier", "id", "link")


def parse_feed(data: bytes, *, fallback_date: date) -> Listing:
    """Papers in a feed; each dated by its own date, else the channel's, else ``fallback_date``."""
    parsed = feedparser.parse(io.BytesIO(data))
    warnings = _check_well_formed(parsed, data)
    channel_day = _date_of(parsed.feed, "published", "updated")
    atom = str(parsed.version).startswith("atom")
    papers = tuple(
        _paper(entry, channel_day or fallback_date, atom=atom) for entry in parsed.entries
    )
    return Listing(FORMAT, papers, channel_day, 0, warnings)


def _check_well_formed(parsed: Any, data: bytes) -> tuple[str, ...]:
    """Raise when a broken feed gave nothing; warn when feedparser recovered entries from it."""
    if not parsed.bozo:
        if not parsed.version and not parsed.entries:
            raise ParseError("not a feed: no RSS or Atom elements found")
        return ()
    reason = _bozo_reason(parsed.bozo_exception, data)
    if not parsed.entries:
        raise ParseError(f"feed is not well-formed and has no readable entries: {reason}")
    return (f"feed is not well-formed ({reason}); read {len(parsed.entries)} entries anyway",)


def _bozo_reason(exc: BaseException, data: bytes) -> str:
    get_line = getattr(exc, "getLineNumber", None)
    get_column = getattr(exc, "getColumnNumber", None)
    reason = getattr(exc, "getMessage", lambda: str(exc))()
    if not (callable(get_line) and callable(get_column)):
        return str(reason)
    # feedparser puts an XML declaration line in front of documents that lack one.
    shift = 0 if _XML_DECLARATION.match(data) else 1
    return f"{reason} at line {max(1, get_line() - shift)}, column {get_column() + 1}"


def _date_of(obj: Any, *keys: str) -> date | None:
    """The date of the first of ``keys`` present, as written (local to its stated offset).

    feedparser's ``<key>_parsed`` values are converted to UTC, which can move a date written
    as "Tue, 02 Jun 2025 00:30:00 +0200" to the day before, so the raw text is tried first.
    """
    for key in keys:
        day = _local_date(obj.get(key)) if obj.get(key) else None
        parsed: time.struct_time | None = obj.get(f"{key}_parsed")
        if day is None and parsed is not None:
            day = datetime(*parsed[:6], tzinfo=UTC).date()
        if day is not None:
            return day
    return None


def _local_date(text: str) -> date | None:
    for parse in (rfc822_local_date, iso_local_date):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def _paper(entry: Any, default_day: date, *, atom: bool) -> Paper:
    title = _title(entry, atom=atom)
    doi, preprint_version = _doi(entry)
    split = _arxiv_id(entry)
    return Paper(
        title=title,
        abstract=_abstract(entry, title, doi, atom=atom),
        authors=_authors(entry),
        categories=_categories(entry),
        announced=_date_of(entry, "published", "updated", "created") or default_day,
        arxiv_id=split[0] if split else None,
        version=split[1] if split else preprint_version,
        doi=doi,
        url=entry.get("link") or None,
    )


def _title(entry: Any, *, atom: bool) -> str:
    detail = entry.get("title_detail") or {}
    return plain_text(entry.get("title", ""), html=_is_html(detail, atom=atom))


def _is_html(detail: Any, *, atom: bool) -> bool | None:
    """HTML, plain text, or None to guess from the content.

    Only Atom declares plain text reliably (type="text"); feedparser labels every RSS title
    text/plain, though publishers routinely put escaped HTML there.
    """
    kind = str(detail.get("type", ""))
    if "html" in kind:
        return True
    return False if atom and kind == "text/plain" else None


def _abstract(entry: Any, title: str, doi: str | None, *, atom: bool) -> str:
    """The longest of summary and content, minus a leading citation line and a repeated title."""
    candidates = [entry.get("summary_detail") or {"value": entry.get("summary", "")}]
    candidates += entry.get("content", [])
    texts = [plain_text(c.get("value", ""), html=_is_html(c, atom=atom)) for c in candidates]
    text = _drop_citation_prefix(max(texts, key=len, default=""), doi)
    if title and text.startswith(title):
        text = text[len(title) :].lstrip(" .:;-")
    return "" if normalise_title(text) == normalise_title(title) else text


def _drop_citation_prefix(text: str, doi: str | None) -> str:
    """Journals often open with "Journal, Published online: <date>; doi:<doi>"; drop that part."""
    if not doi:
        return text
    at = text.lower().find(doi, 0, 300)
    return text[at + len(doi) :].strip() if at >= 0 else text


def _authors(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors", []):
        names.extend(split_author_list(html_to_text(author.get("name", ""))))
    if not names and entry.get("author"):
        names.extend(split_author_list(html_to_text(entry["author"])))
    return tuple(dict.fromkeys(names))


def _categories(entry: Any) -> tuple[str, ...]:
    terms = (plain_text(tag.get("term") or "") for tag in entry.get("tags", []))
    return tuple(dict.fromkeys(term for term in terms if term))


def _doi(entry: Any) -> tuple[str | None, int | None]:
    """The entry's DOI, and the version when it came from a bioRxiv-style versioned URL."""
    for text in _doi_sources(entry):
        doi = find_doi(text)
        if doi:
            versioned = _PREPRINT_VERSION.match(doi)
            return (versioned[1], int(versioned[2])) if versioned else (doi, None)
    return None, None


def _doi_sources(entry: Any) -> Iterator[str]:
    for key in _DOI_FIELDS:
        value = entry.get(key)
        if isinstance(value, str):
            yield value
    for link in entry.get("links", []):
        yield link.get("href", "")


def _arxiv_id(entry: Any) -> tuple[str, int | None] | None:
    for text in (entry.get("link", ""), entry.get("id", "")):
        if "arxiv.org/" in text.lower():
            split = split_arxiv_id(text)
            if split:
                return split
    return None
