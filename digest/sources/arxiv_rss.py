"""Parse the daily arXiv listing feed from rss.arxiv.org (RSS 2.0, the format used since 2024).

Each item carries ``arxiv:announce_type`` (new, cross, replace, replace-cross), the id in its
guid (``oai:arXiv.org:2411.17700v1``), the authors in one ``dc:creator`` and the abstract
after "Abstract:" in the description. The announcement date is the channel ``pubDate``,
read in the offset it is written in (arXiv announces at midnight US Eastern time).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

from digest.errors import ParseError
from digest.models import Listing, Paper, find_doi, split_arxiv_id
from digest.sources.text import (
    collapse_whitespace,
    parse_xml,
    rfc822_local_date,
    split_author_list,
)

FORMAT = "arxiv-rss"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_ERROR_TITLE = "Feed error for query"
# "arXiv:2411.17700v1 Announce Type: new \nAbstract: ..." (each part optional, in this order)
_PREAMBLE = re.compile(r"^\s*(?:arXiv:\S+\s+Announce Type:\s*\S+\s*)?(?:Abstract:\s*)?")


def parse_arxiv_rss(data: bytes, *, announce_types: frozenset[str] | None = None) -> Listing:
    """Papers in an rss.arxiv.org feed, keeping only ``announce_types`` (None keeps all).

    An empty feed (weekends, holidays) is an empty Listing; arXiv's error feed for a bad
    category name raises ParseError with arXiv's explanation.
    """
    channel = _channel(parse_xml(data, "arXiv RSS feed"))
    _raise_for_error_feed(channel)
    announced = _announcement_date(channel)
    papers: list[Paper] = []
    skipped = 0
    warnings: list[str] = []
    for number, item in enumerate(channel.iterfind("item"), start=1):
        kind = item.findtext(f"{_ARXIV}announce_type")
        if announce_types is not None and kind not in announce_types:
            skipped += 1
            continue
        paper = _paper(item, announced, kind)
        if paper is None:
            warnings.append(f"item {number} has no arXiv id in its guid or link; left out")
        else:
            papers.append(paper)
    return Listing(FORMAT, tuple(papers), announced, skipped, tuple(warnings))


def _channel(root: ET.Element) -> ET.Element:
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ParseError(f"not an arXiv RSS feed: the document element is <{root.tag}>")
    return channel


def _raise_for_error_feed(channel: ET.Element) -> None:
    """arXiv answers a bad category with a normal-looking feed whose title says so."""
    title = channel.findtext("title") or ""
    if not title.startswith(_ERROR_TITLE):
        return
    query = title.removeprefix(_ERROR_TITLE).lstrip(": ").strip()
    explanation = collapse_whitespace(channel.findtext("description") or "no explanation given")
    raise ParseError(f"arXiv rejected the feed {query}: {explanation}")


def _announcement_date(channel: ET.Element) -> date:
    """The channel pubDate; failing that the first item's, or the last build date."""
    for path in ("pubDate", "item/pubDate", "lastBuildDate"):
        text = channel.findtext(path)
        if text:
            try:
                return rfc822_local_date(text)
            except ValueError as exc:
                raise ParseError(f"arXiv RSS feed: {exc} in <{path}>") from exc
    raise ParseError("arXiv RSS feed has no <pubDate>, so its announcement day is unknown")


def _paper(item: ET.Element, announced: date, kind: str | None) -> Paper | None:
    split = split_arxiv_id(item.findtext("guid") or "") or split_arxiv_id(
        item.findtext("link") or ""
    )
    if split is None:
        return None
    arxiv_id, version = split
    return Paper(
        title=collapse_whitespace(item.findtext("title") or ""),
        abstract=_abstract(item.findtext("description") or ""),
        authors=split_author_list(item.findtext(f"{_DC}creator") or ""),
        categories=_categories(item),
        announced=announced,
        arxiv_id=arxiv_id,
        version=version,
        doi=find_doi(item.findtext(f"{_ARXIV}DOI") or ""),
        url=(item.findtext("link") or "").strip() or None,
        announce_type=kind,
        journal_ref=collapse_whitespace(item.findtext(f"{_ARXIV}journal_reference") or "") or None,
    )


def _abstract(description: str) -> str:
    """The text after "Abstract:"; the line before it only repeats the id and announce type."""
    return collapse_whitespace(_PREAMBLE.sub("", description, count=1))


def _categories(item: ET.Element) -> tuple[str, ...]:
    terms = (collapse_whitespace(element.text or "") for element in item.iterfind("category"))
    return tuple(dict.fromkeys(term for term in terms if term))
