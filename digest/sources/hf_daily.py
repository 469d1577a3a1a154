"""Parse Hugging Face Daily Papers (huggingface.co/api/daily_papers): a JSON list of items.

Each item holds a ``paper`` object whose ``id`` is the arXiv id; ``upvotes`` is kept as the
community's vote. A paper's announcement date is the day it was put on the daily page
(``submittedOnDailyAt``), falling back to its arXiv publication date.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from digest.errors import ParseError
from digest.models import Listing, Paper, split_arxiv_id
from digest.sources.text import collapse_whitespace, iso_utc_date

FORMAT = "hf-daily"
_DATE_FIELDS = ("submittedOnDailyAt", "publishedAt")


def parse_hf_daily(data: bytes) -> Listing:
    """Papers in a daily_papers response; Listing.announced is set when all share one day."""
    items = _load_list(data)
    papers = tuple(_paper(item, number) for number, item in enumerate(items, start=1))
    days = {paper.announced for paper in papers}
    announced = days.pop() if len(days) == 1 else None
    return Listing(FORMAT, papers, announced)


def _load_list(data: bytes) -> list[Any]:
    try:
        items = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"Hugging Face daily papers: not valid JSON: {exc}") from exc
    if not isinstance(items, list):
        kind = type(items).__name__
        if isinstance(items, dict) and "error" in items:
            kind += f" saying {items['error']!r}"
        raise ParseError(f"Hugging Face daily papers: expected a JSON list of items, got a {kind}")
    return items


def _paper(item: Any, number: int) -> Paper:
    where = f"Hugging Face daily papers, item {number}"
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise ParseError(f"{where}: expected an object with a 'paper' object")
    paper: dict[str, Any] = item["paper"]
    paper_id = _string(paper, "id", where)
    split = split_arxiv_id(paper_id)
    return Paper(
        title=collapse_whitespace(_string(paper, "title", where, fallback=item)),
        abstract=collapse_whitespace(_optional_string(paper.get("summary") or item.get("summary"))),
        authors=_authors(paper, where),
        categories=(),
        announced=_announced(paper, item, where),
        arxiv_id=split[0] if split else None,
        version=split[1] if split else None,
        url=None if split else f"https://huggingface.co/papers/{paper_id}",
        upvotes=_upvotes(paper, where),
    )


def _string(
    obj: dict[str, Any], key: str, where: str, fallback: dict[str, Any] | None = None
) -> str:
    value = obj.get(key)
    if value is None and fallback is not None:
        value = fallback.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ParseError(f"{where}: paper.{key} is missing or not a string")
    return value.strip()


def _optional_string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _authors(paper: dict[str, Any], where: str) -> tuple[str, ...]:
    authors = paper.get("authors", [])
    if not isinstance(authors, list):
        raise ParseError(f"{where}: paper.authors is not a list")
    names = (author.get("name") for author in authors if isinstance(author, dict))
    return tuple(collapse_whitespace(name) for name in names if isinstance(name, str) and name)


def _announced(paper: dict[str, Any], item: dict[str, Any], where: str) -> date:
    for source, key in [(paper, field) for field in _DATE_FIELDS] + [(item, "publishedAt")]:
        text = source.get(key)
        if isinstance(text, str) and text:
            try:
                return iso_utc_date(text)
            except ValueError as exc:
                raise ParseError(f"{where}: {key} is not a timestamp: {text!r}") from exc
    raise ParseError(f"{where}: paper has neither submittedOnDailyAt nor publishedAt")


def _upvotes(paper: dict[str, Any], where: str) -> int | None:
    upvotes = paper.get("upvotes")
    if upvotes is None:
        return None
    if isinstance(upvotes, bool) or not isinstance(upvotes, int):
        raise ParseError(f"{where}: paper.upvotes is not a whole number: {upvotes!r}")
    return upvotes
