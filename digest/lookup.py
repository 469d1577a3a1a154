"""Papers by arXiv id: from the store, else from the arXiv API, asked once and then kept.

Seed papers and liked papers are often old, so no listing brings them in. Those the store
lacks are fetched with the API's ``id_list`` (many ids per request; the HTTP client spaces
requests to arXiv) and saved apart from the listings' papers, so later runs do not ask
again and an old paper never passes for news. Ids arXiv does not know are not remembered:
its API now and then answers an empty feed for a paper it has, and a typo fixed in the
config should not stay wrong.

The API says it does not know an id in one of two ways: the id is missing from an otherwise
normal answer, or the whole answer is an error entry (an id it cannot parse). In the second
case the batch is split in halves until each refused id stands alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.errors import ApiRefusal, ParseError
from digest.fetch import HttpClient, HttpStatusError
from digest.models import Paper
from digest.sources.arxiv_api import parse_arxiv_api
from digest.store import Store

BATCH_SIZE = 100  # ids per request; a URL of 100 old-style ids stays under 2 kB
NOT_ON_ARXIV = "arXiv has no paper with this id"


@dataclass(frozen=True, slots=True)
class Lookup:
    papers: dict[str, Paper]  # every id found, in the store or on arXiv
    unknown: dict[str, str]  # id -> what arXiv said about it
    fetched: int  # how many of ``papers`` came from arXiv this time


def look_up_papers(
    store: Store, client: HttpClient, api_url: str, arxiv_ids: Sequence[str], *, now: datetime
) -> Lookup:
    """Find each id in the store, then ask arXiv for the rest and keep what it returns.

    A network failure raises FetchError (nothing is saved); an unknown id does not.
    """
    wanted = list(dict.fromkeys(arxiv_ids))
    known = store.known_papers(wanted)
    missing = [arxiv_id for arxiv_id in wanted if arxiv_id not in known]
    fetched, unknown = fetch_by_id(client, api_url, missing)
    if fetched:
        store.save_looked_up(fetched.values(), now=now)
    return Lookup({**known, **fetched}, unknown, len(fetched))


def fetch_by_id(
    client: HttpClient, api_url: str, arxiv_ids: Sequence[str]
) -> tuple[dict[str, Paper], dict[str, str]]:
    """Ask the arXiv API for papers by id (without version), ``BATCH_SIZE`` per request.

    Returns the papers found, by id, and the ids arXiv does not know with its reason.
    """
    found: dict[str, Paper] = {}
    unknown: dict[str, str] = {}
    ids = list(arxiv_ids)
    for start in range(0, len(ids), BATCH_SIZE):
        _fetch_batch(client, api_url, ids[start : start + BATCH_SIZE], found, unknown)
    return found, unknown


def _fetch_batch(
    client: HttpClient,
    api_url: str,
    ids: list[str],
    found: dict[str, Paper],
    unknown: dict[str, str],
) -> None:
    try:
        papers = _ask(client, api_url, ids)
    except ApiRefusal as refusal:
        if len(ids) == 1:
            unknown[ids[0]] = str(refusal)
            return
        half = len(ids) // 2
        _fetch_batch(client, api_url, ids[:half], found, unknown)
        _fetch_batch(client, api_url, ids[half:], found, unknown)
        return
    for arxiv_id in ids:
        if arxiv_id in papers:
            found[arxiv_id] = papers[arxiv_id]
        else:
            unknown[arxiv_id] = NOT_ON_ARXIV


def _ask(client: HttpClient, api_url: str, ids: list[str]) -> dict[str, Paper]:
    params = {"id_list": ",".join(ids), "start": "0", "max_results": str(len(ids))}
    try:
        result = client.get(api_url, params=params)
    except HttpStatusError as error:
        # arXiv answers an id it cannot parse with HTTP 400 and an error entry: read it.
        refusal = _refusal(error.body)
        if refusal is not None:
            raise refusal from None
        raise
    listing = parse_arxiv_api(result.body or b"")
    return {paper.arxiv_id: paper for paper in listing.papers if paper.arxiv_id}


def _refusal(body: bytes) -> ApiRefusal | None:
    """The API's error entry in an error response, if that is what the body holds."""
    try:
        parse_arxiv_api(body)
    except ApiRefusal as refusal:
        return refusal
    except ParseError:
        return None  # an HTML error page, say: the HTTP status is the whole story
    return None
