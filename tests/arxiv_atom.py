"""arXiv API answers for tests, shaped like the real ones in ../shared/fixtures/arxiv_api.

The texts are invented here; only the layout (Atom with arxiv: and opensearch: elements, and
the error entry arXiv sends with HTTP 400) follows the recorded responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qs, urlsplit

_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
    "  <id>https://arxiv.org/api/test</id>\n  <title>arXiv Query: test</title>\n"
    "  <updated>2026-11-20T00:00:00Z</updated>\n"
    "  <opensearch:totalResults>{count}</opensearch:totalResults>\n"
)


@dataclass(frozen=True, slots=True)
class Entry:
    arxiv_id: str  # with version, as the API gives it
    title: str
    abstract: str
    published: str = "2020-05-22T17:34:13Z"
    category: str = "cs.CL"

    def xml(self) -> str:
        return (
            f"  <entry>\n    <id>http://arxiv.org/abs/{self.arxiv_id}</id>\n"
            f"    <title>{escape(self.title)}</title>\n"
            f"    <updated>{self.published}</updated>\n"
            f'    <link href="https://arxiv.org/abs/{self.arxiv_id}" rel="alternate" '
            'type="text/html"/>\n'
            f"    <summary>{escape(self.abstract)}</summary>\n"
            f'    <category term="{self.category}" scheme="http://arxiv.org/schemas/atom"/>\n'
            f"    <published>{self.published}</published>\n"
            f'    <arxiv:primary_category term="{self.category}"/>\n'
            "    <author>\n      <name>Grace Hopper</name>\n    </author>\n  </entry>\n"
        )


def api_feed(*entries: Entry) -> bytes:
    """A normal answer; no entries is how arXiv answers an id it has no paper for."""
    body = _HEAD.format(count=len(entries)) + "".join(entry.xml() for entry in entries)
    return (body + "</feed>\n").encode("utf-8")


def api_error(message: str) -> bytes:
    """The error entry arXiv sends (with HTTP 400) for an id it cannot parse."""
    anchor = message.replace(" ", "_")
    entry = (
        f"  <entry>\n    <id>https://arxiv.org/api/errors#{anchor}</id>\n"
        "    <title>Error</title>\n    <updated>2026-11-20T00:00:00Z</updated>\n"
        f"    <summary>{escape(message)}</summary>\n"
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n  </entry>\n"
    )
    return (_HEAD.format(count=1) + entry + "</feed>\n").encode("utf-8")


def id_list(path: str) -> list[str]:
    """The ids a request asked for, from its path with query string."""
    return parse_qs(urlsplit(path).query)["id_list"][0].split(",")
