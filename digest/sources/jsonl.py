"""Parse JSON Lines exports: one paper per line, for local files and other tools' dumps.

Each record has ``title`` and ``published`` (the announcement date; ``created`` or ``date``
are accepted too), and optionally ``id``, ``abstract`` (or ``summary``), ``authors`` (a list
or one string), ``categories``, ``doi`` and ``url``. The id may be an arXiv id, an arxiv.org
URL or a DOI; anything else is ignored and the paper is keyed by DOI or title. Every error
names the line and the field: "line 7: 'title' is missing".
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from digest.errors import ParseError
from digest.models import Listing, Paper, find_doi, split_arxiv_id
from digest.sources.text import iso_local_date, plain_text, split_author_list

FORMAT = "jsonl"
_DATE_KEYS = ("published", "created", "date")


class _RecordError(Exception):
    """A problem with one field of one record; parse_jsonl adds the line number."""


def parse_jsonl(data: bytes) -> Listing:
    """Papers in a JSON Lines document; blank lines are ignored."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON Lines: not UTF-8 text: {exc}") from exc
    papers: list[Paper] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                papers.append(_paper(_load_record(line)))
            except _RecordError as exc:
                raise ParseError(f"line {number}: {exc}") from exc
    return Listing(FORMAT, tuple(papers))


def _load_record(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _RecordError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise _RecordError(f"expected a JSON object, got {type(record).__name__}")
    return record


def _paper(record: dict[str, Any]) -> Paper:
    # JSON Lines fields are plain text by definition: "a <b> c" is a title, not markup.
    title = plain_text(_string(record, "title", required=True), html=False)
    url = _string(record, "url") or None
    split = _arxiv_id(record, url)
    return Paper(
        title=title,
        abstract=plain_text(_string(record, "abstract") or _string(record, "summary"), html=False),
        authors=_authors(record.get("authors")),
        categories=_categories(record.get("categories")),
        announced=_announced(record),
        arxiv_id=split[0] if split else None,
        version=split[1] if split else None,
        doi=_doi(record, url),
        url=url,
    )


def _string(record: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _RecordError(f"{key!r} is missing")
        return ""
    if not isinstance(value, str):
        raise _RecordError(f"{key!r} must be a string, not {type(value).__name__}")
    return value.strip()


def _arxiv_id(record: dict[str, Any], url: str | None) -> tuple[str, int | None] | None:
    for text in (_string(record, "id"), url or ""):
        split = split_arxiv_id(text) if text else None
        if split:
            return split
    return None


def _doi(record: dict[str, Any], url: str | None) -> str | None:
    for text in (_string(record, "doi"), _string(record, "id"), url or ""):
        doi = find_doi(text) if text else None
        if doi:
            return doi
    return None


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) and ";" in value:
        return tuple(name.strip() for name in value.split(";") if name.strip())
    if isinstance(value, str):
        return split_author_list(value)
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return tuple(name.strip() for name in value if name.strip())
    raise _RecordError("'authors' must be a list of strings or a string")


def _categories(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    if isinstance(value, list) and all(isinstance(term, str) for term in value):
        return tuple(dict.fromkeys(term.strip() for term in value if term.strip()))
    raise _RecordError("'categories' must be a list of strings or a string")


def _announced(record: dict[str, Any]) -> date:
    key = next((k for k in _DATE_KEYS if record.get(k) not in (None, "")), None)
    if key is None:
        raise _RecordError("'published' is missing")
    text = record[key]
    if not isinstance(text, str):
        raise _RecordError(f"{key!r} must be an ISO date string, not {type(text).__name__}")
    try:
        return iso_local_date(text)
    except ValueError as exc:
        raise _RecordError(f"{key!r} is not an ISO date or timestamp: {text!r}") from exc
