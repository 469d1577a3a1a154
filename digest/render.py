"""Pure rendering: an Edition becomes an email (plain text + HTML), feed entries become RSS/Atom.

No network and no file writes: the only I/O is Jinja reading templates. Everything taken from
a feed is escaped by Jinja's autoescape (HTML) or by the XML serializer (feeds); nothing here
marks feed text safe. Time is a parameter, and naive datetimes are refused.
"""

from __future__ import annotations

import email.policy
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from pathlib import Path
from typing import Any
from urllib.parse import quote

import css_inline
import jinja2
from feedgen.feed import FeedGenerator

from digest.errors import DigestError
from digest.models import Edition, FeedEntry, Paper, Ranked

OTHER_GROUP = "Other"  # heading for papers whose interest is None
ABSTRACT_WORDS = 60
AUTHORS_WHOLE = 5  # author lists up to this long are shown whole ...
AUTHORS_SHOWN = 3  # ... longer ones as the first few and "et al."
TEXT_WIDTH = 72

HTML_TEMPLATE = "email.html.j2"
TEXT_TEMPLATE = "email.txt.j2"
FEED_ENTRY_TEMPLATE = "feed_entry.html.j2"


@dataclass(frozen=True, slots=True)
class DigestContext:
    """What the templates and headers need to know about the profile besides its papers."""

    profile: str  # profile name
    title: str  # e.g. "Paper digest: vision-language"
    description: str  # shown in the header and as the feed description
    list_id: str  # e.g. "vision-language.digest.localhost" (no angle brackets)
    unsubscribe: str  # mailto: URL or https URL
    feed_link: str  # where the feed is published; "" when the config has no base_url
    generator: str  # e.g. "paper-digest 0.1.0"
    # This subscriber's signed https link (RFC 8058 one-click); "" without a base_url.
    one_click_unsubscribe: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """Papers shown under one interest heading; ``start`` is the number of the first one."""

    name: str
    start: int
    papers: tuple[Ranked, ...]


# --- templates ----------------------------------------------------------------------------


def builtin_templates_dir() -> Path:
    """The templates shipped with the program: in the wheel, or at the source checkout's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / HTML_TEMPLATE).is_file():
            return candidate
    raise DigestError(f"built-in templates not found next to {here}; reinstall paper-digest")


def load_templates(templates_dir: Path | None = None) -> jinja2.Environment:
    """A Jinja environment where templates in ``templates_dir`` override the built-in ones."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise DigestError(
                f"templates_dir {templates_dir} is not a directory; fix the templates_dir "
                "setting or remove it to use the built-in templates"
            )
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    loaders.append(jinja2.FileSystemLoader(builtin_templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        shorten_words=shorten_words,
        short_authors=short_authors,
        paper_links=paper_links,
        web_url=web_url,
        score=format_score,
        long_date=long_date,
        wrap=wrap,
    )
    return env


def _autoescape(name: str | None) -> bool:
    # Escape unless the template is plain text; unknown names err on the safe side.
    return name is None or not name.removesuffix(".j2").endswith(".txt")


def _render(env: jinja2.Environment, name: str, variables: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(variables)
    except jinja2.TemplateError as exc:
        raise DigestError(f"template {name}: {exc}") from exc


# --- filters the templates use ------------------------------------------------------------


def shorten_words(text: str, limit: int = ABSTRACT_WORDS) -> str:
    """Collapse whitespace and cut after ``limit`` words, ending with an ellipsis if cut."""
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(",;:.-") + " …"


def shown_authors(authors: Sequence[str]) -> tuple[str, ...]:
    """All authors of a short list; only the first few of a long one."""
    return tuple(authors if len(authors) <= AUTHORS_WHOLE else authors[:AUTHORS_SHOWN])


def short_authors(authors: Sequence[str]) -> str:
    """The shown authors joined by commas, with "et al." when some were left out."""
    shown = shown_authors(authors)
    joined = ", ".join(shown)
    return joined if len(shown) == len(authors) else f"{joined} et al."


def web_url(url: str | None) -> str | None:
    """``url`` if it is http(s); None otherwise, so a feed cannot smuggle in javascript: links."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def paper_links(paper: Paper) -> tuple[tuple[str, str], ...]:
    """(label, URL) pairs for the web links a paper has, in display order."""
    candidates = (
        ("arXiv" if paper.arxiv_id else "Article", web_url(paper.abs_url)),
        ("PDF", web_url(paper.pdf_link)),
        ("Hugging Face", web_url(paper.hf_url)),
    )
    return tuple((label, url) for label, url in candidates if url)


def format_score(score: float) -> str:
    return f"{score:.2f}"


def long_date(day: date) -> str:
    return f"{day:%A} {day.isoformat()}"


def wrap(text: str, indent: int = 0, prefix: str = "") -> str:
    """Fill ``text`` to TEXT_WIDTH with a hanging indent; ``prefix`` starts the first line."""
    first = prefix.ljust(indent) if len(prefix) < indent else f"{prefix} " if prefix else ""
    return textwrap.fill(
        " ".join(text.split()),
        width=TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=" " * indent,
        break_long_words=False,  # keep URLs and identifiers whole
        break_on_hyphens=False,
    )


# --- email --------------------------------------------------------------------------------


def group_papers(edition: Edition) -> tuple[Group, ...]:
    """Papers by interest in ``edition.interests`` order, unknown interests next, Other last."""
    by_interest: dict[str | None, list[Ranked]] = {}
    for ranked in edition.papers:
        by_interest.setdefault(ranked.interest, []).append(ranked)
    order = dict.fromkeys([*edition.interests, *by_interest])
    order.pop(None, None)
    groups: list[Group] = []
    start = 1
    for interest in [*order, None]:
        papers = by_interest.get(interest)
        if papers:
            groups.append(Group(interest or OTHER_GROUP, start, tuple(papers)))
            start += len(papers)
    return tuple(groups)


def _email_variables(edition: Edition, context: DigestContext, now: datetime) -> dict[str, Any]:
    _require_aware(now, "now")
    return {
        "edition": edition,
        "context": context,
        "groups": group_papers(edition),
        "count": len(edition.papers),
        "now": now,
    }


def render_html(
    edition: Edition, context: DigestContext, env: jinja2.Environment, *, now: datetime
) -> str:
    """The HTML part, with the <style> rules inlined (only @media rules stay in <style>)."""
    page = _render(env, HTML_TEMPLATE, _email_variables(edition, context, now))
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return inliner.inline(page).rstrip() + "\n"  # a MIME text part ends with a newline anyway


def render_text(
    edition: Edition, context: DigestContext, env: jinja2.Environment, *, now: datetime
) -> str:
    """The plain-text part."""
    return _render(env, TEXT_TEMPLATE, _email_variables(edition, context, now))


def email_subject(edition: Edition) -> str:
    count = len(edition.papers)
    noun = "paper" if count == 1 else "papers"
    return f"Paper digest · {edition.profile} · {edition.date.isoformat()} · {count} {noun}"


def list_unsubscribe(*addresses: str) -> str:
    """The List-Unsubscribe header value (RFC 2369) for mailto: or http(s) addresses."""
    for address in addresses:
        if not address.startswith(("mailto:", "https://", "http://")):
            raise ValueError(f"unsubscribe must be a mailto: or https:// URL, got {address!r}")
    return ", ".join(f"<{address}>" for address in addresses)


ONE_CLICK = "List-Unsubscribe=One-Click"  # the List-Unsubscribe-Post value RFC 8058 requires


class _UrlListHeader(UnstructuredHeader):
    """A header of ``<URL>`` items, folded between the items and never encoded.

    The default policy turns a header word longer than a line (a one-click URL with its
    token) into RFC 2047 encoded-words, which mail clients do not decode in
    List-Unsubscribe; a long line (RFC 5322 allows 998 characters) is the lesser evil.
    """

    def fold(self, *, policy: Policy) -> str:
        items = re.findall(r"<[^>]*>", str(self)) or [str(self)]
        return f"{self.name}: " + f",{policy.linesep} ".join(items) + policy.linesep


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _UrlListHeader)
EMAIL_POLICY = email.policy.default.clone(header_factory=_HEADERS)


def _unsubscribe_headers(message: EmailMessage, context: DigestContext) -> None:
    """One-click first when there is one (RFC 8058 needs an https URL), mailto as fallback."""
    one_click = context.one_click_unsubscribe
    if not one_click:
        message["List-Unsubscribe"] = list_unsubscribe(context.unsubscribe)
        return
    message["List-Unsubscribe"] = list_unsubscribe(one_click, context.unsubscribe)
    if one_click.startswith("https://"):
        message["List-Unsubscribe-Post"] = ONE_CLICK


def build_email(
    edition: Edition,
    context: DigestContext,
    env: jinja2.Environment,
    *,
    sender: str,
    recipient: str,
    now: datetime,
    message_id: str,
) -> EmailMessage:
    """A multipart/alternative message: text/plain first, then text/html, both UTF-8."""
    _require_aware(now, "now")
    message = EmailMessage(policy=EMAIL_POLICY)
    message["Subject"] = email_subject(edition)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = now
    message["Message-ID"] = message_id
    message["List-Id"] = f"<{context.list_id}>"
    _unsubscribe_headers(message, context)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    text = render_text(edition, context, env, now=now)
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    html = render_html(edition, context, env, now=now)
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


# --- feeds --------------------------------------------------------------------------------


def feed_guid(paper: Paper) -> tuple[str, bool]:
    """(guid, is_permalink): the paper key, ``arxiv:2411.00001`` for arXiv papers.

    feedgen uses one value as both the RSS guid and the Atom id, and an Atom id must be an
    IRI: the bare id ``2411.00001`` is not, ``arxiv:2411.00001`` (arXiv's own prefixed
    form) is. Other keys (``doi:…``, ``title:…``) are percent-encoded to stay IRIs.
    """
    return quote(paper.key, safe=":/.;-_~()"), False


def render_feeds(
    entries: Sequence[FeedEntry],
    context: DigestContext,
    *,
    now: datetime,
    env: jinja2.Environment | None = None,
) -> tuple[bytes, bytes]:
    """(RSS 2.0, Atom) documents holding ``entries`` newest first; ``env`` defaults to built-ins."""
    _require_aware(now, "now")
    for entry in entries:
        _require_aware(entry.published, f"published of {entry.ranked.paper.key}")
    env = env if env is not None else load_templates()
    feed = _new_feed(context, now)
    newest_first = sorted(entries, key=lambda e: (e.published, e.ranked.score), reverse=True)
    for entry in newest_first:
        _add_feed_entry(feed, entry, context, env)
    return feed.rss_str(pretty=True), feed.atom_str(pretty=True)


def _new_feed(context: DigestContext, now: datetime) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)  # dc:creator: RSS <author> needs emails
    # Without a published base_url the feed has no address of its own; a URN names it.
    link = context.feed_link or f"urn:paper-digest:{context.list_id}"
    feed.id(link)
    feed.title(context.title)
    feed.description(context.description or context.title)
    feed.link(href=link, rel="alternate")
    feed.generator(context.generator)
    feed.updated(now)
    feed.lastBuildDate(now)
    return feed


def _add_feed_entry(
    feed: FeedGenerator, entry: FeedEntry, context: DigestContext, env: jinja2.Environment
) -> None:
    paper = entry.ranked.paper
    item = feed.add_entry(order="append")
    guid, permalink = feed_guid(paper)
    item.guid(guid, permalink=permalink)
    item.title(paper.title)
    link = web_url(paper.abs_url)
    if link:
        item.link(href=link)
    variables = {"entry": entry, "ranked": entry.ranked, "paper": paper, "context": context}
    item.content(_render(env, FEED_ENTRY_TEMPLATE, variables), type="html")
    item.published(entry.published)
    item.updated(entry.published)
    names = shown_authors(paper.authors)
    if names:
        item.author([{"name": name} for name in names])
        item.dc.dc_creator(list(names))
    for category in paper.categories:
        item.category(term=category)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {moment!r}")
