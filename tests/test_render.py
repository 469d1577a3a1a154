"""Tests for digest.render: email parts and headers, feeds, escaping, template overrides.

Golden files: tests/golden/ holds the expected email (whole message, text part, HTML part)
and RSS/Atom documents for one fixed edition, in the style of rss2email's tests. Per-run
values (the MIME boundary, the Message-ID) are scrubbed before comparing. After an intended
change to the templates or to digest/render.py, regenerate them and review the diff:

    DIGEST_REGENERATE_GOLDEN=1 /tmp/venv/bin/pytest tests/test_render.py

Every paper below is made up for these tests.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import feedparser
import jinja2
import lxml.html
import pytest

from digest.errors import DigestError
from digest.models import Edition, FeedEntry, Paper, Ranked, Reason
from digest.render import (
    DigestContext,
    build_email,
    group_papers,
    load_templates,
    render_feeds,
    render_html,
    render_text,
    short_authors,
    shorten_words,
)

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("DIGEST_REGENERATE_GOLDEN") == "1"

NOW = datetime(2024, 11, 28, 7, 30, tzinfo=UTC)
DAY = date(2024, 11, 28)
HOSTILE_TITLE = "<script>alert(1)</script> & <b>bold</b>"
MESSAGE_ID = "<20241128073000.vision-language.1@digest.localhost>"

CONTEXT = DigestContext(
    profile="vision-language",
    title="Paper digest: vision-language",
    description="Diffusion models and vision-language papers",
    list_id="vision-language.digest.localhost",
    unsubscribe="mailto:digest@localhost?subject=unsubscribe%20vision-language",
    feed_link="https://digest.example.org/feeds/vision-language.xml",
    generator="paper-digest 0.1.0",
)


def make_paper(number: int, title: str, **fields: object) -> Paper:
    values: dict[str, object] = {
        "abstract": f"Invented abstract number {number} about a method that does not exist.",
        "authors": (f"Author {number}A", f"Author {number}B"),
        "categories": ("cs.CV",),
        "announced": DAY,
        "arxiv_id": f"2411.{number:05d}",
    }
    values.update(fields)
    return Paper(title=title, **values)  # type: ignore[arg-type]


def reason(text: str, kind: str = "keyword", weight: float = 0.5) -> Reason:
    return Reason(kind=kind, text=text, weight=weight)


def sample_edition() -> Edition:
    """Three interest groups (one of them "Other"), given out of display order on purpose."""
    many_authors = tuple(f"Person {letter}" for letter in "ABCDEFG")
    long_abstract = " ".join(f"word{i}" for i in range(100))
    editing = make_paper(
        1, "Masked Denoising for Local Picture Edits", authors=many_authors,
        abstract=long_abstract, categories=("cs.CV", "cs.LG"), upvotes=42,
    )
    hostile = make_paper(2, HOSTILE_TITLE, categories=("cs.CL",))
    journal = make_paper(
        3, "A Journal Article Without an arXiv Identifier", arxiv_id=None,
        doi="10.1000/example.3", url="https://journal.example.org/articles/3",
    )
    old_style = make_paper(4, "An Old-Style Identifier Paper", arxiv_id="cs/0101001")
    papers = (
        Ranked(hostile, 0.71, "vision-language", (reason("matched: grounding, captions"),)),
        Ranked(editing, 0.93, "diffusion", (
            reason("matched: diffusion, image editing", weight=0.6),
            reason("similar to seed 2401.00001 (an invented seed)", kind="seed", weight=0.3),
        )),
        Ranked(journal, 0.40, None, (reason("author: Author 3A", kind="author"),)),
        Ranked(old_style, 0.35, "diffusion", ()),
    )
    return Edition(
        profile="vision-language", date=DAY, since=date(2024, 11, 27), papers=papers,
        interests=("diffusion", "vision-language"),
    )


def feed_entries() -> list[FeedEntry]:
    """Entries given oldest first so the test sees the renderer reorder them."""
    papers = sample_edition().papers
    return [
        FeedEntry(ranked=ranked, edition=DAY, published=NOW - timedelta(hours=len(papers) - i))
        for i, ranked in enumerate(papers)
    ]


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return load_templates()


@pytest.fixture(scope="module")
def html(env: jinja2.Environment) -> str:
    return render_html(sample_edition(), CONTEXT, env, now=NOW)


@pytest.fixture(scope="module")
def text(env: jinja2.Environment) -> str:
    return render_text(sample_edition(), CONTEXT, env, now=NOW)


@pytest.fixture(scope="module")
def message(env: jinja2.Environment) -> EmailMessage:
    return build_email(
        sample_edition(), CONTEXT, env, sender="Paper digest <digest@localhost>",
        recipient="reader@example.org", now=NOW, message_id=MESSAGE_ID,
    )


@pytest.fixture(scope="module")
def feeds() -> tuple[bytes, bytes]:
    return render_feeds(feed_entries(), CONTEXT, now=NOW)


# --- HTML ---------------------------------------------------------------------------------


def test_html_has_every_title_link_and_reason(html: str) -> None:
    document = lxml.html.fromstring(html)
    page_text = document.text_content()
    hrefs = set(document.xpath("//a/@href"))
    for ranked in sample_edition().papers:
        assert ranked.paper.title in page_text
        for reason_ in ranked.reasons:
            assert reason_.text in page_text
    assert {
        "https://arxiv.org/abs/2411.00001",
        "https://arxiv.org/pdf/2411.00001",
        "https://huggingface.co/papers/2411.00001",
        "https://journal.example.org/articles/3",
        CONTEXT.unsubscribe,
    } <= hrefs


def test_html_links_only_what_a_paper_has(html: str) -> None:
    hrefs = set(lxml.html.fromstring(html).xpath("//a/@href"))
    assert "https://arxiv.org/abs/cs/0101001" in hrefs
    assert not any("huggingface.co/papers/cs/" in href for href in hrefs)
    assert not any("doi.org" in href or "journal.example.org/pdf" in href for href in hrefs)


def test_html_groups_follow_interest_order_with_other_last(html: str) -> None:
    headings = [h2.text_content() for h2 in lxml.html.fromstring(html).xpath("//h2")]
    assert headings == ["diffusion", "vision-language", "Other"]


def test_html_shortens_authors_and_abstract_and_shows_upvotes(html: str) -> None:
    page_text = lxml.html.fromstring(html).text_content()
    assert "Person A, Person B, Person C et al." in page_text
    assert "Person D" not in page_text
    assert "word59 …" in page_text and "word60" not in page_text
    assert "42 upvotes" in page_text
    assert "score 0.93" in page_text


def test_html_css_is_inlined(html: str) -> None:
    document = lxml.html.fromstring(html)
    assert document.xpath("//h2[@style]") and document.xpath("//div[@class='container'][@style]")
    for style in document.xpath("//style"):
        assert style.text_content().strip().startswith("@media")


def test_html_escapes_hostile_title(html: str) -> None:
    assert "<script" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_html_refuses_non_web_links(env: jinja2.Environment) -> None:
    sneaky = make_paper(9, "Sneaky", arxiv_id=None, url="javascript:alert(1)")
    edition = Edition("p", DAY, None, (Ranked(sneaky, 1.0, None, ()),))
    assert "javascript:" not in render_html(edition, CONTEXT, env, now=NOW)


def test_empty_edition_says_so(env: jinja2.Environment) -> None:
    edition = Edition("vision-language", DAY, None, ())
    assert "No new papers" in render_html(edition, CONTEXT, env, now=NOW)
    assert "No new papers" in render_text(edition, CONTEXT, env, now=NOW)


# --- plain text ---------------------------------------------------------------------------


def test_text_has_same_content_as_plain_text(text: str) -> None:
    assert HOSTILE_TITLE in text
    assert "&lt;" not in text
    for ranked in sample_edition().papers:
        for reason_ in ranked.reasons:
            assert reason_.text in text
    assert "https://huggingface.co/papers/2411.00001" in text
    assert f"Unsubscribe: {CONTEXT.unsubscribe}" in text


def test_text_lines_are_wrapped(text: str) -> None:
    has_url = re.compile(r"\b(?:https?://|mailto:)")
    long_lines = [line for line in text.splitlines() if len(line) > 72 and not has_url.search(line)]
    assert long_lines == []


def test_text_groups_in_order(text: str) -> None:
    positions = [text.index(f"\n{name} (") for name in ("diffusion", "vision-language", "Other")]
    assert positions == sorted(positions)


# --- email message ------------------------------------------------------------------------


def test_email_headers(message: EmailMessage) -> None:
    assert message["Subject"] == "Paper digest · vision-language · 2024-11-28 · 4 papers"
    assert message["From"] == "Paper digest <digest@localhost>"
    assert message["To"] == "reader@example.org"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == MESSAGE_ID
    assert message["List-Id"] == "<vision-language.digest.localhost>"
    assert message["List-Unsubscribe"] == f"<{CONTEXT.unsubscribe}>"
    assert message["MIME-Version"] == "1.0"


def test_email_https_unsubscribe(env: jinja2.Environment) -> None:
    context = dataclasses.replace(CONTEXT, unsubscribe="https://example.org/u/1")
    message = build_email(
        sample_edition(), context, env, sender="digest@localhost", recipient="r@example.org",
        now=NOW, message_id=MESSAGE_ID,
    )
    assert message["List-Unsubscribe"] == "<https://example.org/u/1>"


def test_email_is_multipart_alternative_text_first(message: EmailMessage) -> None:
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)


def test_email_round_trips(message: EmailMessage, text: str, html: str) -> None:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == message["Subject"]
    # A long value is folded onto the next line; Python keeps the fold's space when parsing.
    assert parsed["List-Unsubscribe"].strip() == message["List-Unsubscribe"]
    plain, rich = parsed.iter_parts()
    assert plain.get_content() == text
    assert rich.get_content() == html
    assert not parsed.defects


# --- feeds --------------------------------------------------------------------------------


def test_feeds_parse(feeds: tuple[bytes, bytes]) -> None:
    for document, version in zip(feeds, ("rss20", "atom10"), strict=True):
        parsed = feedparser.parse(document)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == version
        assert parsed.feed.title == CONTEXT.title
        assert len(parsed.entries) == len(sample_edition().papers)


def test_feed_guids_are_arxiv_ids_and_newest_first(feeds: tuple[bytes, bytes]) -> None:
    expected = [entry.ranked.paper for entry in reversed(feed_entries())]
    expected_ids = [paper.key.replace(" ", "%20") for paper in expected]
    for document in feeds:
        parsed = feedparser.parse(document)
        assert [entry.id for entry in parsed.entries] == expected_ids
        published = [entry.published_parsed for entry in parsed.entries]
        assert published == sorted(published, reverse=True)
    assert b'<guid isPermaLink="false">arxiv:2411.00002</guid>' in feeds[0]
    assert b"<id>arxiv:2411.00002</id>" in feeds[1]


def test_feeds_carry_title_link_authors_categories(feeds: tuple[bytes, bytes]) -> None:
    for document in feeds:
        entry = next(e for e in feedparser.parse(document).entries if e.id == "arxiv:2411.00001")
        assert entry.title == "Masked Denoising for Local Picture Edits"
        assert entry.link == "https://arxiv.org/abs/2411.00001"
        assert [author.name for author in entry.authors] == ["Person A", "Person B", "Person C"]
        assert [tag.term for tag in entry.tags] == ["cs.CV", "cs.LG"]
        body = entry.content[0].value if "content" in entry else entry.description
        assert "similar to seed 2401.00001" in body and "huggingface.co/papers/2411.00001" in body


def test_feeds_escape_hostile_title(feeds: tuple[bytes, bytes]) -> None:
    for document in feeds:
        assert b"<script" not in document and b"<b>" not in document
        entry = next(e for e in feedparser.parse(document).entries if e.id == "arxiv:2411.00002")
        assert entry.title == HOSTILE_TITLE


def test_feed_last_build_date_is_now(feeds: tuple[bytes, bytes]) -> None:
    assert b"<lastBuildDate>Thu, 28 Nov 2024 07:30:00 +0000</lastBuildDate>" in feeds[0]
    assert b"<updated>2024-11-28T07:30:00+00:00</updated>" in feeds[1]


# --- templates ----------------------------------------------------------------------------


def test_user_templates_override_only_what_they_define(tmp_path: Path, html: str) -> None:
    (tmp_path / "email.txt.j2").write_text("Custom digest for {{ edition.profile }}\n")
    env = load_templates(tmp_path)
    custom = render_text(sample_edition(), CONTEXT, env, now=NOW)
    assert custom == "Custom digest for vision-language\n"
    assert render_html(sample_edition(), CONTEXT, env, now=NOW) == html


def test_missing_templates_dir_is_a_digest_error(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="templates_dir"):
        load_templates(tmp_path / "nowhere")


def test_broken_user_template_is_a_digest_error(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("{{ edition.no_such_field }}\n")
    env = load_templates(tmp_path)
    with pytest.raises(DigestError, match=r"email\.txt\.j2"):
        render_text(sample_edition(), CONTEXT, env, now=NOW)


# --- time ---------------------------------------------------------------------------------

NAIVE = datetime(2024, 11, 28, 7, 30)


def _render_html_naive(env: jinja2.Environment) -> object:
    return render_html(sample_edition(), CONTEXT, env, now=NAIVE)


def _render_text_naive(env: jinja2.Environment) -> object:
    return render_text(sample_edition(), CONTEXT, env, now=NAIVE)


def _build_email_naive(env: jinja2.Environment) -> object:
    return build_email(
        sample_edition(), CONTEXT, env, sender="d@localhost", recipient="r@localhost",
        now=NAIVE, message_id=MESSAGE_ID,
    )


def _render_feeds_naive_now(env: jinja2.Environment) -> object:
    return render_feeds(feed_entries(), CONTEXT, now=NAIVE)


def _render_feeds_naive_published(env: jinja2.Environment) -> object:
    entry = FeedEntry(sample_edition().papers[0], DAY, NAIVE)
    return render_feeds([entry], CONTEXT, now=NOW)


@pytest.mark.parametrize(
    "call",
    [
        _render_html_naive,
        _render_text_naive,
        _build_email_naive,
        _render_feeds_naive_now,
        _render_feeds_naive_published,
    ],
)
def test_naive_datetimes_are_refused(
    env: jinja2.Environment, call: Callable[[jinja2.Environment], object]
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(env)


# --- small helpers ------------------------------------------------------------------------


def test_shorten_words_cuts_at_a_word_boundary() -> None:
    assert shorten_words("one  two\nthree", limit=5) == "one two three"
    assert shorten_words("one two, three four", limit=2) == "one two …"


def test_short_authors() -> None:
    assert short_authors(("A", "B", "C", "D", "E")) == "A, B, C, D, E"
    assert short_authors(("A", "B", "C", "D", "E", "F")) == "A, B, C et al."
    assert short_authors(()) == ""


def test_group_papers_numbers_across_groups() -> None:
    groups = group_papers(sample_edition())
    assert [(group.name, group.start, len(group.papers)) for group in groups] == [
        ("diffusion", 1, 2), ("vision-language", 3, 1), ("Other", 4, 1),
    ]


# --- golden files -------------------------------------------------------------------------


def _scrub_message(raw: str) -> str:
    """Replace the parts of a message that change from run to run."""
    for boundary in re.findall(r'boundary="([^"]+)"', raw):
        raw = raw.replace(boundary, "BOUNDARY")
    return re.sub(r"(?m)^Message-ID: .*$", "Message-ID: <SCRUBBED>", raw)


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    assert path.is_file(), f"{path} missing; run with DIGEST_REGENERATE_GOLDEN=1 to create it"
    assert actual == path.read_bytes().decode("utf-8"), f"{name} differs from the golden file"


def test_golden_email_message(message: EmailMessage) -> None:
    assert_golden("email.eml", _scrub_message(message.as_bytes().decode("ascii")))


def test_golden_email_text(text: str) -> None:
    assert_golden("email.txt", text)


def test_golden_email_html(html: str) -> None:
    assert_golden("email.html", html)


def test_golden_feeds(feeds: tuple[bytes, bytes]) -> None:
    rss, atom = feeds
    assert_golden("feed.rss.xml", rss.decode("utf-8"))
    assert_golden("feed.atom.xml", atom.decode("utf-8"))


def test_without_a_published_feed_the_email_links_no_feed() -> None:
    context = dataclasses.replace(CONTEXT, feed_link="")
    env = load_templates()
    html = render_html(sample_edition(), context, env, now=NOW)
    text = render_text(sample_edition(), context, env, now=NOW)
    assert ">Feed<" not in html and "Feed:" not in text
    rss, atom = render_feeds(feed_entries(), context, now=NOW)
    assert feedparser.parse(rss).feed.link == f"urn:paper-digest:{CONTEXT.list_id}"
    assert not feedparser.parse(atom).bozo
