"""Listing sources: one module per format, each turning downloaded bytes into a Listing.

The parsers here are pure (bytes in, Listing out, ParseError when the bytes are not a
listing we can read); downloading lives elsewhere. ``parse_listing`` picks the parser by
sniffing the content with ``detect_format``.
"""

from digest.sources.arxiv_api import parse_arxiv_api
from digest.sources.arxiv_rss import parse_arxiv_rss
from digest.sources.biorxiv import parse_biorxiv_api
from digest.sources.detect import FORMATS, detect_format, parse_listing
from digest.sources.feed import parse_feed
from digest.sources.hf_daily import parse_hf_daily
from digest.sources.jsonl import parse_jsonl
from digest.sources.text import html_to_text

__all__ = [
    "FORMATS",
    "detect_format",
    "html_to_text",
    "parse_arxiv_api",
    "parse_arxiv_rss",
    "parse_biorxiv_api",
    "parse_feed",
    "parse_hf_daily",
    "parse_jsonl",
    "parse_listing",
]
