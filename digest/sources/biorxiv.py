"""Parse the bioRxiv / medRxiv details API (api.biorxiv.org/details/<server>/...): JSON.

The response is ``{"messages": [...], "collection": [...]}``; each record has a DOI, title,
"Surname, I.; Surname, I." authors, the posting date, a category and the server name.
An empty collection (a day without postings) is an empty Listing, not an error.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from digest.errors import ParseError
from digest.models import Listing, Paper, find_doi
from digest.sources.text import iso_local_date, plain_text, surname_first_to_natural

FORMAT = "biorxiv-api"
_SERVERS = {"biorxiv": "https://www.biorxiv.org", "medrxiv": "https://www.medrxiv.org"}
# Structured abstracts lose the break after their headings ("BackgroundThe shunt ...").
_HEADING = re.compile(
    r"\b(Background|Objectives?|Aims?|Purpose|Importance|Introduction|Methods?|Design"
    r"|Setting|Participants|Results?|Findings|Interpretation|Conclusions?|Funding)"
    r"(?=[A-Z][a-z])"
)


def parse_biorxiv_api(data: bytes) -> Listing:
    """Preprints in a details-API response; url points at biorxiv.org or medrxiv.org."""
    document = _load_object(data)
    records = document.get("collection")
    if not isinstance(records, list):
        raise ParseError("bioRxiv API response: 'collection' is missing or not a list")
    papers = tuple(_paper(record, number) for number, record in enumerate(records, start=1))
    message = _first_message(document)
    warnings = _status_warning(message) if not papers else ()
    return Listing(FORMAT, papers, _single_day(message), 0, warnings)


def _load_object(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"bioRxiv API response: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ParseError(
            f"bioRxiv API response: expected a JSON object, got a {type(document).__name__}"
        )
    return document


def _first_message(document: dict[str, Any]) -> dict[str, Any]:
    messages = document.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return messages[0]
    return {}


def _status_warning(message: dict[str, Any]) -> tuple[str, ...]:
    status = message.get("status")
    return (f"bioRxiv API says: {status}",) if status and status != "ok" else ()


def _single_day(message: dict[str, Any]) -> date | None:
    """The interval's day when the query covered exactly one ("2026-09-15:2026-09-15")."""
    start, _, end = str(message.get("interval", "")).partition(":")
    if not start or start != end:
        return None
    try:
        return date.fromisoformat(start)
    except ValueError:
        return None


def _paper(record: Any, number: int) -> Paper:
    where = f"bioRxiv API record {number}"
    if not isinstance(record, dict):
        raise ParseError(f"{where}: expected an object, got {type(record).__name__}")
    doi = find_doi(_required(record, "doi", where))
    if doi is None:
        raise ParseError(f"{where}: 'doi' is not a DOI: {record['doi']!r}")
    server = str(record.get("server") or "biorxiv").strip().lower()
    return Paper(
        title=plain_text(_required(record, "title", where)),
        abstract=_abstract(str(record.get("abstract") or "")),
        authors=_authors(str(record.get("authors") or "")),
        categories=_categories(record),
        announced=_date(record, where),
        doi=doi,
        version=_version(record),
        url=f"{_SERVERS.get(server, _SERVERS['biorxiv'])}/content/{doi}",
    )


def _required(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ParseError(f"{where}: {key!r} is missing or empty")
    return value


def _abstract(text: str) -> str:
    return _HEADING.sub(r"\1: ", plain_text(text))


def _authors(text: str) -> tuple[str, ...]:
    names = (surname_first_to_natural(name) for name in text.split(";"))
    return tuple(name for name in names if name)


def _categories(record: dict[str, Any]) -> tuple[str, ...]:
    category = str(record.get("category") or "").strip()
    return (category,) if category else ()


def _date(record: dict[str, Any], where: str) -> date:
    text = _required(record, "date", where)
    try:
        return iso_local_date(text)
    except ValueError as exc:
        raise ParseError(f"{where}: 'date' is not an ISO date: {text!r}") from exc


def _version(record: dict[str, Any]) -> int | None:
    version = str(record.get("version") or "").strip()
    return int(version) if version.isdigit() else None
