"""Recognise which listing format a document is in, from its content, and parse it.

File names and Content-Type headers lie often enough (arXiv serves its RSS error page with
status 200) that only the bytes are trusted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

from digest.errors import ParseError
from digest.models import Listing
from digest.sources.arxiv_api import parse_arxiv_api
from digest.sources.arxiv_rss import parse_arxiv_rss
from digest.sources.biorxiv import parse_biorxiv_api
from digest.sources.feed import parse_feed
from digest.sources.hf_daily import parse_hf_daily
from digest.sources.jsonl import parse_jsonl

FORMATS = ("arxiv-rss", "arxiv-api", "hf-daily", "biorxiv-api", "jsonl", "feed")
_HEAD = 8192  # every format announces itself within the first few kilobytes
_FEED_ROOT = re.compile(rb"<(?:[\w-]+:)?(?:rss|feed|RDF|rdf)[\s>]")
_HTML = re.compile(rb"<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE)


def detect_format(data: bytes) -> str:
    """One of FORMATS, by sniffing ``data``; ParseError("not a listing we can read: ...")."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise _unreadable("the document is empty")
    if text.startswith(b"<"):
        return _detect_xml(text[:_HEAD])
    if text[:1] in (b"[", b"{"):
        return _detect_json(text)
    raise _unreadable(f"it is neither XML nor JSON (starts with {_preview(text)})")


def parse_listing(
    data: bytes,
    *,
    fmt: str | None = None,
    announce_types: frozenset[str] | None = None,
    fallback_date: date,
) -> Listing:
    """Parse ``data`` as ``fmt`` (detected when None); ``announce_types`` is for arxiv-rss."""
    fmt = fmt or detect_format(data)
    parsers: dict[str, Callable[[bytes], Listing]] = {
        "arxiv-rss": lambda d: parse_arxiv_rss(d, announce_types=announce_types),
        "arxiv-api": parse_arxiv_api,
        "hf-daily": parse_hf_daily,
        "biorxiv-api": parse_biorxiv_api,
        "jsonl": parse_jsonl,
        "feed": lambda d: parse_feed(d, fallback_date=fallback_date),
    }
    if fmt not in parsers:
        raise ParseError(f"unknown listing format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return parsers[fmt](data)


def _detect_xml(head: bytes) -> str:
    from_arxiv = b"rss.arxiv.org" in head or b"announce_type" in head
    if b"<rss" in head and b"http://arxiv.org/schemas/atom" in head and from_arxiv:
        return "arxiv-rss"
    if b"<feed" in head and b"arxiv.org/api" in head:
        return "arxiv-api"
    if _FEED_ROOT.search(head):
        return "feed"
    if _HTML.search(head):
        raise _unreadable("it is an HTML page, not a feed")
    raise _unreadable(f"XML without an RSS, RDF or Atom root (starts with {_preview(head)})")


def _detect_json(text: bytes) -> str:
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _detect_json_lines(text)
    if isinstance(document, list) and all(
        isinstance(item, dict) and "paper" in item for item in document
    ):
        return "hf-daily"
    if isinstance(document, dict) and "collection" in document:
        return "biorxiv-api"
    if isinstance(document, dict) and "title" in document:
        return "jsonl"  # a JSON Lines file holding a single record
    raise _unreadable(f"JSON of an unknown shape (starts with {_preview(text)})")


def _detect_json_lines(text: bytes) -> str:
    first_line = text.split(b"\n", 1)[0]
    try:
        record = json.loads(first_line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _unreadable(f"it is not valid JSON (starts with {_preview(text)})") from None
    if isinstance(record, dict):
        return "jsonl"
    raise _unreadable(f"JSON lines that are not objects (starts with {_preview(text)})")


def _preview(text: bytes) -> str:
    return repr(text[:60].decode("utf-8", "replace"))


def _unreadable(reason: str) -> ParseError:
    return ParseError(f"not a listing we can read: {reason}")
