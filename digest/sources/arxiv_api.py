"""Parse export.arxiv.org/api/query responses (Atom), in both the classic and the 2025+ layout.

The two layouts differ in element order, link schemes and where namespaces are declared,
none of which matters to ElementTree. Errors come back as a feed with one entry titled
"Error" whose id points into ``/api/errors``; that becomes a ParseError with arXiv's words.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from digest.errors import ApiRefusal, ParseError
from digest.models import Listing, Paper, find_doi, split_arxiv_id
from digest.sources.text import collapse_whitespace, iso_utc_date, parse_xml, repair_mojibake

FORMAT = "arxiv-api"
_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"


def parse_arxiv_api(data: bytes) -> Listing:
    """Papers in an arXiv API response; announced = the UTC date of each entry's <published>."""
    root = parse_xml(data, "arXiv API response")
    if root.tag != f"{_ATOM}feed":
        raise ParseError(f"not an arXiv API response: the document element is <{root.tag}>")
    entries = root.findall(f"{_ATOM}entry")
    for entry in entries:
        _raise_for_error_entry(entry)
    papers: list[Paper] = []
    warnings: list[str] = []
    for number, entry in enumerate(entries, start=1):
        paper = _paper(entry, number)
        if paper is None:
            warnings.append(f"entry {number} has no arXiv id in its <id>; left out")
        else:
            papers.append(paper)
    return Listing(FORMAT, tuple(papers), None, 0, tuple(warnings))


def _raise_for_error_entry(entry: ET.Element) -> None:
    entry_id = entry.findtext(f"{_ATOM}id") or ""
    if "/api/errors" not in entry_id:
        return
    message = collapse_whitespace(entry.findtext(f"{_ATOM}summary") or "") or entry_id
    raise ApiRefusal(f"the arXiv API refused the query: {message}")


def _text(entry: ET.Element, path: str) -> str:
    return collapse_whitespace(repair_mojibake(entry.findtext(path) or ""))


def _paper(entry: ET.Element, number: int) -> Paper | None:
    split = split_arxiv_id(entry.findtext(f"{_ATOM}id") or "")
    if split is None:
        return None
    arxiv_id, version = split
    return Paper(
        title=_text(entry, f"{_ATOM}title"),
        abstract=_text(entry, f"{_ATOM}summary"),
        authors=_authors(entry),
        categories=_categories(entry),
        announced=_published(entry, number),
        arxiv_id=arxiv_id,
        version=version,
        doi=_doi(entry),
        url=_link(entry, rel="alternate") or f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=_link(entry, title="pdf"),
        journal_ref=_text(entry, f"{_ARXIV}journal_ref") or None,
        comment=_text(entry, f"{_ARXIV}comment") or None,
    )


def _published(entry: ET.Element, number: int) -> date:
    text = entry.findtext(f"{_ATOM}published") or entry.findtext(f"{_ATOM}updated") or ""
    try:
        return iso_utc_date(text)
    except ValueError as exc:
        raise ParseError(f"arXiv API entry {number}: <published> is not a date: {text!r}") from exc


def _authors(entry: ET.Element) -> tuple[str, ...]:
    names = (_text(author, f"{_ATOM}name") for author in entry.iterfind(f"{_ATOM}author"))
    return tuple(name for name in names if name)


def _categories(entry: ET.Element) -> tuple[str, ...]:
    """The primary category first, then the others in document order, each once."""
    primary = entry.find(f"{_ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [category.get("term", "") for category in entry.iterfind(f"{_ATOM}category")]
    return tuple(dict.fromkeys(term.strip() for term in terms if term.strip()))


def _doi(entry: ET.Element) -> str | None:
    text = entry.findtext(f"{_ARXIV}doi") or _link(entry, title="doi") or ""
    return find_doi(text)


def _link(entry: ET.Element, *, rel: str | None = None, title: str | None = None) -> str | None:
    for link in entry.iterfind(f"{_ATOM}link"):
        if (rel is None or link.get("rel") == rel) and (
            title is None or link.get("title") == title
        ):
            return link.get("href") or None
    return None
