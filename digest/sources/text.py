"""Turn the raw strings found in listings into clean values: plain text, names, dates, XML trees.

Shared by the parsers in this package; nothing here does I/O.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

from digest.errors import ParseError

# --- plain text -------------------------------------------------------------------------

# Elements whose content is never text a reader should see.
_HIDDEN = frozenset(["script", "style", "template", "noscript", "head", "title", "iframe"])
# Elements that separate words, so "<p>a</p><p>b</p>" reads "a b" and not "ab".
# fmt: off
_BREAKS = frozenset([
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
    "pre", "section", "table", "td", "th", "tr", "ul",
])
# fmt: on
# A closing tag, a bare tag, a tag with name=value attributes, or an entity: signs of HTML.
# "a<b and b>c" matches none of them, so such a title stays as written.
_HTML_HINT = re.compile(
    r"</[a-z][a-z0-9]*\s*>"
    r"|<[a-z][a-z0-9]*(?:\s+[a-z][\w:-]*\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))*\s*/?>"
    r"|&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);",
    re.IGNORECASE,
)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, dropping tags and hidden elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
        elif tag in _BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


# C0/C1 control characters other than whitespace: invalid in XML 1.0 feeds, unsafe in email.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def collapse_whitespace(text: str) -> str:
    """Join runs of whitespace (line breaks, no-break spaces) into one space; drop controls."""
    return " ".join(_CONTROL.sub("", text).split())


def html_to_text(fragment: str) -> str:
    """The visible text of an HTML fragment: tags dropped, entities decoded, spaces collapsed.

    Script and style content is dropped entirely, so hostile markup cannot survive as markup.
    """
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    return collapse_whitespace("".join(extractor.parts))


def looks_like_html(text: str) -> bool:
    """True when ``text`` contains a tag or an entity (many feeds put HTML in plain fields)."""
    return _HTML_HINT.search(text) is not None


def plain_text(text: str, *, html: bool | None = None) -> str:
    """Plain text of a field that may hold HTML; ``html=None`` guesses from its content."""
    if html is None:
        html = looks_like_html(text)
    return html_to_text(text) if html else collapse_whitespace(text)


# Characters in U+00C2..U+00F4 followed by U+0080..U+00BF: UTF-8 bytes decoded as Latin-1.
_MOJIBAKE_HINT = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1 ("JosÃ©" -> "José"); else return it as is.

    The current arXiv API serves some author names this way. The repair is only applied
    when the whole string round-trips, which ordinary text practically never does.
    """
    if _MOJIBAKE_HINT.search(text) is None:
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# --- author names -----------------------------------------------------------------------

# fmt: off
_TEX_LETTERS = {
    "l": "ł", "L": "Ł", "o": "ø", "O": "Ø", "ss": "ß", "aa": "å", "AA": "Å",
    "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "dh": "ð", "DH": "Ð", "th": "þ", "TH": "Þ",
    "i": "i", "j": "j",
}
_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "v": "\u030c", "u": "\u0306", "H": "\u030b", "c": "\u0327", "k": "\u0328",
    "r": "\u030a", "d": "\u0323",
}
# fmt: on
# Names on arXiv run macros into the word ("Gu\dhmundur") or end them with a space inside
# it ("Bj\o rn"); a space before a capital is a real one ("Pawe\l Nowak").
_TEX_LETTER_RE = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|dh|DH|th|TH|[lLoOij])(?: (?=[a-z]))?")
# \'e  \'{e}  \v{c}  \v c  (letter accents need braces or a space so \vec is left alone)
_TEX_ACCENT_RE = re.compile(
    r"\\(?:(?P<sym>['`^\"~=.])\s*(?:\{(?P<a>[A-Za-z])\}|(?P<b>[A-Za-z]))"
    r"|(?P<word>[vuHckrd])(?:\{(?P<c>[A-Za-z])\}|\s+(?P<d>[A-Za-z])))"
)


def _apply_accent(match: re.Match[str]) -> str:
    accent = _TEX_ACCENTS[match.group("sym") or match.group("word")]
    base = next(g for g in match.group("a", "b", "c", "d") if g)
    return unicodedata.normalize("NFC", base + accent)


def tex_to_unicode(text: str) -> str:
    """Replace TeX accents in a name with Unicode: ``Vavry\\v{c}uk`` -> ``Vavryčuk``."""
    if "\\" not in text:
        return text
    text = _TEX_LETTER_RE.sub(lambda m: _TEX_LETTERS[m.group(1)], text)
    text = _TEX_ACCENT_RE.sub(_apply_accent, text)
    return text.replace("{", "").replace("}", "")


_PAREN_TOKEN = re.compile(r"[(),]|[^(),]+")


def _split_outside_parentheses(text: str) -> list[str]:
    """Split on commas that are not inside parentheses, dropping the parenthesised parts."""
    if "(" not in text:
        return text.split(",")
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for token in _PAREN_TOKEN.findall(text):
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and token == ",":
            pieces.append("".join(current))
            current = []
        elif depth == 0:
            current.append(token)
    pieces.append("".join(current))
    return pieces


_AND = re.compile(r"\s+and\s+|^and\s+", re.IGNORECASE)


def split_author_list(text: str) -> tuple[str, ...]:
    """Names in "A, B (Affiliation, City), C and D": affiliations dropped, TeX accents decoded."""
    names: list[str] = []
    for piece in _split_outside_parentheses(text):
        names.extend(_AND.split(piece))
    cleaned = (collapse_whitespace(tex_to_unicode(name)) for name in names)
    return tuple(name for name in cleaned if name)


def surname_first_to_natural(name: str) -> str:
    """Turn "Genin, G. M." into "G. M. Genin"; names without exactly one comma stay as they are."""
    parts = [part.strip() for part in name.split(",")]
    if len(parts) != 2 or not all(parts):
        return name.strip()
    return f"{parts[1]} {parts[0]}"


# --- dates ------------------------------------------------------------------------------


def rfc822_local_date(text: str) -> date:
    """The calendar date of an RFC 822 timestamp in its own stated offset, not in UTC."""
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an RFC 822 date: {text!r}") from exc
    return moment.date()


def iso_datetime(text: str) -> datetime:
    """An ISO 8601 date or timestamp as an aware datetime; no offset means UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso_local_date(text: str) -> date:
    """The date part of an ISO 8601 date or timestamp, as written (local to its offset)."""
    return iso_datetime(text).date()


def iso_utc_date(text: str) -> date:
    """The UTC calendar date of an ISO 8601 timestamp."""
    return iso_datetime(text).astimezone(UTC).date()


# --- XML --------------------------------------------------------------------------------


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse ``data`` with ElementTree; malformed XML becomes a ParseError naming the place.

    Entity declarations are refused: listings never need them, and they are the way
    "billion laughs" documents blow up memory.
    """
    if b"<!ENTITY" in data:
        raise ParseError(f"{what}: refusing an XML document that declares entities")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise ParseError(
            f"{what} is not well-formed XML: {reason} at line {line}, column {column + 1}"
        ) from exc
