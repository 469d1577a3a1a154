"""Read every configured source into the store: fetch bytes, parse them, merge the papers.

Each source is isolated: one that fails (network, bad XML, a misspelt category) is
reported with its name and reason, and the others still run. A source's papers are stored
in one transaction, and its HTTP validators (ETag, Last-Modified) are saved only after that
transaction, so a failure never leaves a half-read listing marked as seen.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from digest.config import (
    ArxivApiSource,
    ArxivRssSource,
    Config,
    FeedSource,
    FileSource,
    HfDailySource,
    Source,
)
from digest.errors import DigestError, ParseError, SourceError
from digest.fetch import FetchResult, HttpClient, HttpStatusError, Validators
from digest.models import Listing
from digest.sources import parse_listing
from digest.store import SourceRun, Store

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    source: str
    status: str  # ok | empty | not-modified | error
    added: int = 0
    merged: int = 0
    message: str = ""

    def describe(self) -> str:
        if self.status == "ok":
            text = f"{self.source}: {self.added} new, {self.merged} already known"
        elif self.status == "error":
            text = f"{self.source}: FAILED: {self.message}"
        else:
            text = f"{self.source}: {self.message}"
        return text


@dataclass(frozen=True, slots=True)
class _Document:
    """One downloaded or read document of a source, and how to remember we saw it."""

    origin: str  # URL or file path, for messages
    body: bytes | None  # None: not modified since last time
    validators: Validators | None = None


def ingest_sources(
    config: Config, store: Store, client: HttpClient, *, now: datetime, progress: Progress
) -> list[SourceOutcome]:
    outcomes = []
    for source in config.sources:
        if not source.enabled:
            continue
        progress(f"reading {source.name} ({source.type}) ...")
        outcome = _ingest_one(source, config, store, client, now=now)
        store.record_source_run(
            SourceRun(source.name, now, outcome.status, outcome.added, outcome.message)
        )
        progress(f"  {outcome.describe()}")
        outcomes.append(outcome)
    return outcomes


def _ingest_one(
    source: Source, config: Config, store: Store, client: HttpClient, *, now: datetime
) -> SourceOutcome:
    try:
        documents = list(_documents(source, config, store, client, now=now))
        listings = [
            (doc, _parse(source, doc.origin, doc.body, now))
            for doc in documents
            if doc.body is not None
        ]
    except DigestError as error:
        return SourceOutcome(source.name, "error", message=str(error))
    added = merged = 0
    for _doc, listing in listings:
        stats = store.upsert_papers(listing.papers, source=source.name, now=now)
        added += stats.added
        merged += stats.merged
    for doc in documents:
        if doc.validators is not None:
            store.save_http_validators(
                doc.origin, doc.validators.etag, doc.validators.last_modified, now=now
            )
    return _outcome(source, documents, [listing for _doc, listing in listings], added, merged)


def _outcome(
    source: Source, documents: list[_Document], listings: list[Listing], added: int, merged: int
) -> SourceOutcome:
    if documents and all(doc.body is None for doc in documents):
        return SourceOutcome(source.name, "not-modified", message="not modified since last run")
    if not any(listing.papers for listing in listings):
        days = sorted({listing.announced for listing in listings if listing.announced})
        when = f" on {days[-1].isoformat()}" if days else ""
        return SourceOutcome(source.name, "empty", message=f"no new papers announced{when}")
    warnings = [warning for listing in listings for warning in listing.warnings]
    skipped = sum(listing.skipped for listing in listings)
    notes = ([f"{skipped} skipped by announce type"] if skipped else []) + warnings[:3]
    return SourceOutcome(source.name, "ok", added, merged, "; ".join(notes))


def _parse(source: Source, origin: str, body: bytes, now: datetime) -> Listing:
    if isinstance(source, FileSource) and not body.strip():
        return Listing("empty", ())  # an empty local file is a day without papers
    announce_types = (
        frozenset(source.announce_types)
        if isinstance(source, ArxivRssSource | FileSource)
        else None
    )
    fmt = None if isinstance(source, FileSource) else _FORMATS[type(source)]
    try:
        return parse_listing(
            body, fmt=fmt, announce_types=announce_types, fallback_date=now.date()
        )
    except ParseError as error:
        raise ParseError(f"{origin}: {error}") from None


_FORMATS: dict[type, str] = {
    ArxivRssSource: "arxiv-rss",
    ArxivApiSource: "arxiv-api",
    HfDailySource: "hf-daily",
    FeedSource: "feed",
}


def _documents(
    source: Source, config: Config, store: Store, client: HttpClient, *, now: datetime
) -> Iterator[_Document]:
    if isinstance(source, FileSource):
        yield from _files(source, max_bytes=int(config.http.max_mb * 1024 * 1024))
    elif isinstance(source, ArxivRssSource):
        yield _get(client, store, source.url.rstrip("/") + "/" + "+".join(source.categories))
    elif isinstance(source, ArxivApiSource):
        yield _arxiv_api(client, source, now=now)
    elif isinstance(source, HfDailySource):
        for back in range(source.days):
            day = now.date() - timedelta(days=back)
            yield _get(client, store, f"{source.url}?date={day.isoformat()}")
    elif isinstance(source, FeedSource):
        yield _get(client, store, source.url)


def _get(client: HttpClient, store: Store, url: str) -> _Document:
    etag, last_modified = store.http_validators(url)
    result: FetchResult = client.get(url, validators=Validators(etag, last_modified))
    return _Document(url, result.body, result.validators)


def _arxiv_api(client: HttpClient, source: ArxivApiSource, *, now: datetime) -> _Document:
    params = {
        "search_query": source.query,
        "start": "0",
        "max_results": str(source.max_results),
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
    try:
        result = client.get(source.url, params=params)
    except HttpStatusError as error:
        # The API explains a bad query in an Atom error entry; show that, not just "HTTP 400".
        if error.body:
            parse_listing(error.body, fmt="arxiv-api", fallback_date=now.date())
        raise
    return _Document(source.url, result.body)


def _files(source: FileSource, *, max_bytes: int) -> Iterator[_Document]:
    for pattern in source.paths:
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise SourceError(f"no file matches {pattern}")
        for match in matches:
            path = Path(match)
            try:
                if path.stat().st_size > max_bytes:
                    raise SourceError(
                        f"{path} is larger than http.max_mb ({max_bytes // 2**20} MB); "
                        "raise http.max_mb in the config to read it"
                    )
                yield _Document(str(path), path.read_bytes())
            except OSError as error:
                raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
