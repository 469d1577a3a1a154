"""Load and validate ``config.yaml``: strict models, and errors with file, line and field path.

Every problem in a file is reported at once (a user fixing a config should not have to run
``digest check`` once per typo). Unknown keys are errors with a "did you mean" suggestion.
Relative paths in the file are resolved against the file's own folder.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterator, Sequence
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from apscheduler.triggers.cron import CronTrigger
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from digest.errors import ConfigError, ProfileNotFound
from digest.models import split_arxiv_id, wildcard_problem

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
ARXIV_API_URL = "https://export.arxiv.org/api/query"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CATEGORY_RE = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _address(address: str) -> str:
    """A normalised email address, or ValueError saying what is wrong with it.

    The whole address is put in lower case, the part before the @ too: the standard lets a
    server tell ``Ada@`` from ``ada@``, but mail providers do not, and readers type their
    address either way. As two addresses, an unsubscription typed in the other case would
    not stop the mail, and a reader listed both ways would get every digest twice.

    ``user@localhost`` is accepted although email-validator reserves it: a digest is often
    tried out against a mail server on the same machine.
    """
    local, _, domain = address.rpartition("@")
    on_localhost = domain.lower() == "localhost"
    checked = f"{local}@localhost.example" if on_localhost else address
    try:
        result = validate_email(checked, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as error:
        raise ValueError(f"{address!r}: {error}") from None
    return (f"{result.local_part}@localhost" if on_localhost else result.normalized).lower()


def _time_zone(name: str) -> str:
    """An IANA time zone name, or ValueError with the closest known names."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else " such as 'Europe/Berlin' or 'UTC'"
        raise ValueError(f"unknown time zone {name!r}; use an IANA name{hint}") from None
    return name


def _cron(expression: str) -> str:
    """A five-field cron expression (minute hour day month weekday), or a ValueError."""
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as error:
        raise ValueError(
            f"{expression!r} is not a cron schedule (minute hour day month weekday, "
            f"e.g. '30 7 * * mon-fri'): {error}"
        ) from None
    return expression


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus() -> int:
    """How many CPUs this process may use: those its affinity mask allows, and no more than
    its cgroup's CPU quota (a container started with ``--cpus 2`` on a 64-CPU host)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    try:
        quota = cgroup_cpu_quota(CGROUP_CPU_MAX.read_text(encoding="ascii"))
    except OSError:  # no cgroup v2 here
        quota = None
    return min(cpus, quota) if quota else cpus


def cgroup_cpu_quota(cpu_max: str) -> int | None:
    """The CPUs a cgroup v2 ``cpu.max`` line allows, rounded up ("150000 100000" -> 2), or
    None for no quota ("max 100000") or a line that is not of that form."""
    match = re.fullmatch(r"\s*(\d+)\s+(\d+)\s*", cpu_max)
    if match is None or int(match[2]) == 0:
        return None
    return max(1, math.ceil(int(match[1]) / int(match[2])))


def normalise_address(address: str) -> str:
    """``address`` as the config stores subscribers (so the two compare equal); ValueError
    saying what is wrong otherwise. For commands that take an address on the command line."""
    return _address(address)


def _require_unique(what: str, names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{what} names must be unique: {', '.join(duplicates)}")


# --- sources --------------------------------------------------------------------------------


class _SourceBase(_Strict):
    name: str
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use lower-case letters, digits, '-' and '_' (it keys stored state)")
        return value


class _AnnounceTypes(_Strict):
    announce_types: list[Literal["new", "cross", "replace", "replace-cross"]] = ["new", "cross"]


class ArxivRssSource(_SourceBase, _AnnounceTypes):
    """rss.arxiv.org feed for one or more categories or archives (cs.CL, cs, astro-ph.GA, ...)."""

    type: Literal["arxiv-rss"]
    categories: list[str] = Field(min_length=1)
    url: str = "https://rss.arxiv.org/rss/"

    @field_validator("categories")
    @classmethod
    def _categories_look_right(cls, value: list[str]) -> list[str]:
        for category in value:
            if not _CATEGORY_RE.match(category):
                raise ValueError(f"{category!r} is not an arXiv category such as 'cs.CL' or 'math'")
        return value


class ArxivApiSource(_SourceBase):
    """export.arxiv.org/api/query with a search query (``cat:cs.CL AND abs:retrieval``)."""

    type: Literal["arxiv-api"]
    query: str
    max_results: int = Field(default=100, ge=1, le=2000)
    url: str = ARXIV_API_URL


class HfDailySource(_SourceBase):
    """Hugging Face Daily Papers for the current day (and ``days - 1`` days before it)."""

    type: Literal["hf-daily"]
    days: int = Field(default=1, ge=1, le=14)
    url: str = "https://huggingface.co/api/daily_papers"


class FeedSource(_SourceBase):
    """Any RSS 0.9x / 1.0 / 2.0 or Atom feed (journals, bioRxiv)."""

    type: Literal["feed"]
    url: str


class FileSource(_SourceBase, _AnnounceTypes):
    """Local files or globs in any supported format, detected by content."""

    type: Literal["file"]
    paths: list[str] = Field(min_length=1)


Source = Annotated[
    ArxivRssSource | ArxivApiSource | HfDailySource | FeedSource | FileSource,
    Field(discriminator="type"),
]
SOURCE_TYPES = ("arxiv-rss", "arxiv-api", "hf-daily", "feed", "file")


# --- profiles -------------------------------------------------------------------------------


class Interest(_Strict):
    name: str
    keywords: list[str] = []
    seeds: list[str] = []
    weight: float = Field(default=1.0, gt=0)

    @field_validator("keywords")
    @classmethod
    def _keywords_not_blank(cls, value: list[str]) -> list[str]:
        cleaned = [keyword.strip().strip('"').strip() for keyword in value]
        if any(not keyword for keyword in cleaned):
            raise ValueError("a keyword is empty")
        return _check_wildcards(cleaned)

    @field_validator("seeds")
    @classmethod
    def _seeds_are_arxiv_ids(cls, value: list[str]) -> list[str]:
        ids = []
        for seed in value:
            parsed = split_arxiv_id(str(seed))
            if parsed is None:
                raise ValueError(f"{seed!r} is not an arXiv id such as '2401.01234'")
            ids.append(parsed[0])
        return ids  # one per seed as written, so that check's messages name the right line

    @model_validator(mode="after")
    def _has_something_to_match(self) -> Interest:
        if not self.keywords and not self.seeds:
            raise ValueError(f"interest {self.name!r} needs keywords or seeds (or both)")
        return self


def _check_wildcards(terms: list[str]) -> list[str]:
    for term in terms:
        problem = wildcard_problem(term)
        if problem:
            raise ValueError(problem)
    return terms


class Categories(_Strict):
    only: list[str] = []  # keep only papers in at least one of these
    boost: dict[str, float] = {}  # added to the score of papers in these


class Profile(_Strict):
    title: str | None = None
    description: str = ""
    interests: list[Interest] = Field(min_length=1)
    exclude: list[str] = []
    authors: list[str] = []
    author_boost: float = Field(default=0.2, ge=0)
    categories: Categories = Categories()
    max_papers: int = Field(default=25, ge=1, le=500)
    min_score: float = Field(default=0.05, ge=0)
    upvote_weight: float = Field(default=0.0, ge=0)
    subscribers: list[str] = []
    feed: bool = True
    schedule: str | None = None  # cron; None: only ``digest run`` makes its editions
    timezone: str | None = None  # None: the top-level ``timezone``
    notify_empty: bool = False  # send a short note when a scheduled cycle has nothing new

    @field_validator("exclude")
    @classmethod
    def _exclude_terms(cls, value: list[str]) -> list[str]:
        return _check_wildcards(value)

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, value: str | None) -> str | None:
        return None if value is None else _cron(value)

    @field_validator("timezone")
    @classmethod
    def _profile_time_zone(cls, value: str | None) -> str | None:
        return None if value is None else _time_zone(value)

    @field_validator("subscribers")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(_address(address) for address in value))  # each once

    @model_validator(mode="after")
    def _interest_names_unique(self) -> Profile:
        _require_unique("interest", [interest.name for interest in self.interests])
        return self


# --- delivery and the whole file ------------------------------------------------------------


class Smtp(_Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username_env: str | None = None  # names of environment variables, never the secrets
    password_env: str | None = None
    timeout: float = Field(default=30, gt=0)
    retries: int = Field(default=3, ge=0, le=10)  # per message, for 4xx, drops and timeouts
    backoff: float = Field(default=2, ge=0, le=600)  # first wait in seconds, doubled each time
    rate_limit: float | None = Field(default=None, gt=0)  # messages per second


class Delivery(_Strict):
    method: Literal["outbox", "smtp"] = "outbox"
    smtp: Smtp | None = None

    @model_validator(mode="after")
    def _smtp_needs_settings(self) -> Delivery:
        if self.method == "smtp" and self.smtp is None:
            raise ValueError("method 'smtp' needs an 'smtp:' section with at least 'host'")
        return self


class Http(_Strict):
    timeout: float = Field(default=30, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    max_mb: float = Field(default=50, gt=0)


class Config(_Strict):
    database: Path = Path("digest.sqlite")
    outbox: Path = Path("outbox")
    feeds_dir: Path = Path("feeds")
    preview_dir: Path = Path("preview")
    templates_dir: Path | None = None
    base_url: str | None = None
    unsubscribe_secret_env: str | None = None  # names the variable, never the secret itself
    sender: str = "Paper Digest <digest@localhost>"
    feed_days: int = Field(default=30, ge=1)
    timezone: str = "UTC"  # of the profiles' schedules, unless a profile names its own
    catch_up_hours: float = Field(default=6, ge=0)  # run a slot missed while down, this late
    arxiv_holidays: list[date] = []  # mailing dates (Mon-Fri) on which arXiv announces nothing
    delivery: Delivery = Delivery()
    http: Http = Http()
    arxiv_api_url: str = ARXIV_API_URL  # where seed and feedback papers are looked up by id
    workers: int = Field(default_factory=usable_cpus, ge=1)  # processes ranking profiles
    sources: list[Source] = Field(min_length=1)
    profiles: dict[str, Profile] = Field(min_length=1)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_web(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL like 'https://example.org/digest'")
        return value

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        _address(parseaddr(value)[1] or value)
        return value

    @field_validator("timezone")
    @classmethod
    def _default_time_zone(cls, value: str) -> str:
        return _time_zone(value)

    @field_validator("profiles")
    @classmethod
    def _profile_names_are_slugs(cls, value: dict[str, Profile]) -> dict[str, Profile]:
        for name in value:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"profile name {name!r}: use lower-case letters, digits, '-' and '_' "
                    "(it names files and feeds)"
                )
        return value

    @model_validator(mode="after")
    def _source_names_unique(self) -> Config:
        _require_unique("source", [source.name for source in self.sources])
        return self

    def time_zone(self, profile: str) -> ZoneInfo:
        """The zone of ``profile``'s schedule: its own ``timezone`` or the top-level one."""
        return ZoneInfo(self.profiles[profile].timezone or self.timezone)

    def profile(self, name: str) -> Profile:
        """The profile called ``name``; ProfileNotFound naming the known ones otherwise."""
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise ProfileNotFound(f"no profile named {name!r} in the config (profiles: {known})")
        return self.profiles[name]

    def resolve_paths(self, base: Path) -> Config:
        """Return a copy whose relative paths are relative to ``base`` (the config's folder)."""

        def resolve(path: Path) -> Path:
            path = path.expanduser()
            return path if path.is_absolute() else base / path

        updates: dict[str, Any] = {
            name: resolve(getattr(self, name))
            for name in ("database", "outbox", "feeds_dir", "preview_dir")
        }
        if self.templates_dir is not None:
            updates["templates_dir"] = resolve(self.templates_dir)
        sources = [
            source.model_copy(update={"paths": [str(resolve(Path(p))) for p in source.paths]})
            if isinstance(source, FileSource)
            else source
            for source in self.sources
        ]
        return self.model_copy(update={**updates, "sources": sources})


# --- loading with positions -----------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves unquoted scalars as text (only ``null``/``~`` stay special).

    ``seeds: [2401.10000]`` would otherwise become the float 2401.1 and lose the id, and
    ``keywords: [NO, on]`` (nitric oxide, a preposition) would become booleans. The models
    convert text to numbers and booleans wherever those are expected.
    """


_AS_TEXT = {"tag:yaml.org,2002:" + kind for kind in ("float", "int", "bool", "timestamp")}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _AS_TEXT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_config(path: Path) -> Config:
    """Read, validate and resolve ``path``; raise ConfigError listing every problem."""
    text = _read(path)
    root = _compose(path, text)
    found = [(line, f"{path}:{line}: {message}") for line, message in _duplicate_keys(root)]
    data = _construct(path, text) if root is not None else None
    if not isinstance(data, dict):
        problem = f"{path}:1: expected a mapping with 'sources' and 'profiles'"
        raise ConfigError(str(path), [problem])
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        found += [_describe(path, root, item) for item in error.errors()]
        raise _by_line(path, found) from None
    config = config.resolve_paths(path.resolve().parent)
    if config.templates_dir is not None and not config.templates_dir.is_dir():
        line = _line_of(root, ("templates_dir",))
        problem = f"templates_dir: {config.templates_dir} is not a folder"
        found.append((line, f"{path}:{line}: {problem}"))
    if found:
        raise _by_line(path, found)
    return config


def field_problems(path: Path, problems: Sequence[tuple[Sequence[str | int], str]]) -> list[str]:
    """``file:line: field.path: message`` for problems found after loading (``digest check``)."""
    try:
        root = _compose(path, _read(path))
    except ConfigError:  # the file changed since it was loaded: lines are unknown
        root = None
    return [
        f"{path}:{_line_of(root, loc)}: {_dotted(loc)}: {message}" for loc, message in problems
    ]


def _by_line(path: Path, found: list[tuple[int, str]]) -> ConfigError:
    return ConfigError(str(path), [text for _line, text in sorted(found, key=lambda f: f[0])])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), ["file not found (pass -c/--config, or copy config.yaml here)"]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot read: {error}"]) from None


def _compose(path: Path, text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(str(path), [f"{path}:{line}: YAML syntax error: {problem}"]) from None


def _construct(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except (yaml.YAMLError, TypeError) as error:
        # TypeError: a list or mapping used as a key (``? [a, b]``), which no field allows.
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(str(path), [f"{path}:{line}: cannot read this YAML: {problem}"]) from None


def _duplicate_keys(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """PyYAML keeps the last of two equal keys silently; a user almost never means that."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in seen:
                yield key.start_mark.line + 1, f"duplicate key {key.value!r}"
            seen.add(key.value)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


def _describe(path: Path, root: yaml.Node | None, item: Any) -> tuple[int, str]:
    """Turn one pydantic error into ``(line, "file:line: field.path: message")``."""
    loc = _yaml_loc(root, tuple(item["loc"]))
    if item["type"] == "union_tag_invalid":
        loc = (*loc, "type")
    line = _line_of(root, loc)
    field = _dotted(loc) or "(top level)"
    if item["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}{_suggestion(str(loc[-1]), _allowed_keys(root, loc))}"
    elif item["type"] == "missing":
        message = "required key is missing"
    elif item["type"] == "union_tag_invalid":
        message = f"unknown source type; use one of {', '.join(SOURCE_TYPES)}"
    elif item["type"] == "union_tag_not_found":
        message = f"'type' is missing; use one of {', '.join(SOURCE_TYPES)}"
    else:
        message = str(item["msg"]).removeprefix("Value error, ")
    return line, f"{path}:{line}: {field}: {message}"


def _yaml_loc(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the parts pydantic adds that are not in the file (union tags, ``[key]`` markers)."""
    kept: list[Any] = []
    node = root
    for part in loc:
        child = _child(node, part)
        if child is None and isinstance(part, str) and (part in SOURCE_TYPES or part == "[key]"):
            continue
        kept.append(part)
        node = child
    return tuple(kept)


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def _line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int:
    """The line of the deepest node on ``loc`` that exists (the key itself for a mapping key)."""
    node = root
    line = 1 if root is None else root.start_mark.line + 1
    for part in loc:
        key_node = _key_node(node, part)
        child = _child(node, part)
        if child is None:
            break
        line = (key_node or child).start_mark.line + 1
        node = child
    return line


def _key_node(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            if key.value == str(part):
                return key
    return None


def _allowed_keys(root: yaml.Node | None, loc: tuple[Any, ...]) -> list[str]:
    model = _model_at(root, loc[:-1])
    return list(model.model_fields) if model is not None else []


def _model_at(root: yaml.Node | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Walk the model tree along ``loc`` to find which model the unknown key was written in."""
    model: type[BaseModel] | None = Config
    items: type[BaseModel] | None = None  # set while the next part indexes a list or dict
    node = root
    for part in loc:
        node = _child(node, part)
        if items is not None:
            model = _source_model(node) if items is _SourceItems else items
            items = None
        elif model is not None and (model, part) in _ITEMS:
            items = _ITEMS[(model, part)]
        elif model is not None:
            model = _CONTAINERS.get((model, part))
        if model is None:
            return None
    return None if items is not None else model


class _SourceItems(BaseModel):
    """Marker for the ``sources`` list, whose items' model depends on their ``type`` key."""


_SOURCE_MODELS: dict[str, type[BaseModel]] = {
    "arxiv-rss": ArxivRssSource,
    "arxiv-api": ArxivApiSource,
    "hf-daily": HfDailySource,
    "feed": FeedSource,
    "file": FileSource,
}
_CONTAINERS: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (Config, "delivery"): Delivery,
    (Config, "http"): Http,
    (Delivery, "smtp"): Smtp,
    (Profile, "categories"): Categories,
}
_ITEMS: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (Config, "profiles"): Profile,
    (Config, "sources"): _SourceItems,
    (Profile, "interests"): Interest,
}


def _source_model(node: yaml.Node | None) -> type[BaseModel] | None:
    type_node = _child(node, "type")
    return _SOURCE_MODELS.get(type_node.value) if isinstance(type_node, yaml.ScalarNode) else None


def _dotted(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _suggestion(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; allowed keys: {', '.join(candidates)}" if candidates else ""
