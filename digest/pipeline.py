"""The daily job as a recipe: ingest, rank, record, render, deliver. Every stage meets here.

``digest run`` calls :func:`run_once`; the scheduler (digest/schedule.py) calls
:func:`run_cycle` with the profiles that are due, so one cycle ingests once for all of
them. Time comes in as ``now``; nothing below reads the clock.

Editions are judged by announcement date, not by the wall clock: a profile's next edition
holds the papers announced after its previous edition, up to the latest announcement in
the store (on its first run, that latest announcement day only). An edition and its pending
deliveries are recorded in one transaction before anything is sent, and each message is
marked sent only once it is written or accepted, so a second run sends nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import quote

import jinja2

from digest import __version__
from digest.arxiv_calendar import quiet_reason
from digest.config import Config, Profile, field_problems, usable_cpus
from digest.deliver import (
    PermanentFailure,
    ServerUnavailable,
    SmtpSender,
    outbox_path,
    write_atomically,
    write_feeds,
    write_outbox,
)
from digest.errors import (
    DeliveryError,
    PaperNotFound,
    RankingError,
    SourceError,
    SubscriptionError,
)
from digest.fetch import DEFAULT_USER_AGENT, HttpClient
from digest.ingest import Progress, SourceOutcome, ingest_sources
from digest.lookup import look_up_papers
from digest.models import Edition, Paper, Ranked, two_letter_stars
from digest.parallel import RankRequest, rank_profiles
from digest.rank import Ranker, can_match
from digest.render import DigestContext, build_email, load_templates, render_feeds, render_html
from digest.store import ProfileRun, Store
from digest.subscriptions import recipients, unsubscribe_link, unsubscribe_secret

CORPUS_LIMIT = 20_000  # the most recent papers the word weights are learnt from

Stop = Callable[[], bool]  # asked between messages: True once a stop was requested


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class _Cycle:
    """What every profile of one cycle shares: the config and store, the templates, the one
    courier all its messages go through, its time, and where progress and stop requests go."""

    config: Config
    store: Store
    env: jinja2.Environment
    courier: _Courier
    now: datetime
    progress: Progress
    stop: Stop


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    profile: str
    edition: date | None
    papers: int
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    pending: int = 0
    note: str = ""
    feeds: tuple[Path, ...] = ()
    notices: int = 0  # "no new papers" notes sent
    stopped: bool = False  # a stop request ended the run before every message was sent


@dataclass(frozen=True, slots=True)
class RunReport:
    sources: list[SourceOutcome]
    profiles: list[ProfileOutcome]

    @property
    def ok(self) -> bool:
        """No source failed, and every message was delivered (none failed or left pending)."""
        return all(s.status != "error" for s in self.sources) and not any(
            p.failed or p.pending for p in self.profiles
        )


def http_client(config: Config) -> HttpClient:
    return HttpClient(
        user_agent=DEFAULT_USER_AGENT,
        timeout=config.http.timeout,
        retries=config.http.retries,
        max_bytes=int(config.http.max_mb * 1024 * 1024),
    )


def select_profiles(config: Config, name: str | None) -> dict[str, Profile]:
    if name is None:
        return dict(config.profiles)
    return {name: config.profile(name)}


def run_once(
    config: Config,
    store: Store,
    *,
    now: datetime,
    profile: str | None = None,
    dry_run: bool = False,
    client: HttpClient | None = None,
    smtp: SmtpSender | None = None,
    progress: Progress = lambda _message: None,
    stop: Stop = _never,
) -> RunReport:
    """Ingest every source, then make, record and deliver each profile's next edition.

    ``smtp`` replaces the sender made from ``config.delivery.smtp`` (for an injected sleep).
    """
    profiles = select_profiles(config, profile)
    return run_cycle(config, store, dict.fromkeys(profiles), now=now, dry_run=dry_run,
                     client=client, smtp=smtp, progress=progress, stop=stop)


def run_cycle(
    config: Config,
    store: Store,
    due: Mapping[str, datetime | None],
    *,
    now: datetime,
    dry_run: bool = False,
    client: HttpClient | None = None,
    smtp: SmtpSender | None = None,
    progress: Progress = lambda _message: None,
    stop: Stop = _never,
) -> RunReport:
    """Ingest once, then run each profile in ``due`` (name -> the scheduled time it serves,
    None for ``digest run``), recording every run that completes. The profiles with papers
    announced since their last edition are ranked first, on ``config.workers`` processes
    (ranking writes nothing; with none, the word weights are not even fitted), then all are
    recorded and delivered one after the other in the order of ``due``. Every message of the
    cycle, digests and notes, goes through one courier (one SMTP connection);
    ``smtp`` replaces the sender made from ``config.delivery.smtp``.

    Holds the store's run lock throughout (StoreLocked if another process has it). A run
    that ``stop`` cut short is not recorded, so a restart catches it up.
    """
    env = load_templates(config.templates_dir)
    client = client or http_client(config)
    with store.exclusive(), _Courier(config, smtp) as courier:  # one connection per cycle
        sources = ingest_sources(config, store, client, now=now, progress=progress)
        profiles = {name: config.profiles[name] for name in due}
        fetch_missing_seeds(config, store, client, profiles, now=now, progress=progress)
        if stop():
            return RunReport(sources, [])  # before ranking: a thousand profiles take a while
        plans = edition_plans(store, profiles, now=now)
        editions: dict[str, Edition | None] = dict.fromkeys(profiles)
        waiting = sum(plan is not None for plan in plans.values())
        try:  # the fit, too, may count the corpus's words on worker processes
            if waiting:  # nothing new (a weekend, a second cycle the same day): no fit at all
                ranker = Ranker.fit(store.corpus(limit=CORPUS_LIMIT), workers=config.workers)
                progress(f"ranking {waiting} profile(s) ...")
                editions = ranked_editions(ranker, plans, workers=config.workers)
        except RankingError:
            if stop():  # the stop signal reached the workers too (systemd sends it to all)
                return RunReport(sources, [])
            raise
        cycle = _Cycle(config, store, env, courier, now, progress, stop)
        outcomes = []
        for name, slot in due.items():
            if stop():
                break
            outcome = _run_profile(cycle, name, profiles[name], editions[name], dry_run=dry_run)
            if not dry_run and not outcome.stopped:
                store.record_profile_run(_profile_run(outcome, now, slot))
            outcomes.append(outcome)
    return RunReport(sources, outcomes)


def _profile_run(outcome: ProfileOutcome, now: datetime, slot: datetime | None) -> ProfileRun:
    return ProfileRun(
        profile=outcome.profile, ran_at=now, slot=slot, edition=outcome.edition,
        papers=outcome.papers, sent=outcome.sent, pending=outcome.pending,
        failed=len(outcome.failed), note=outcome.note,
    )


def _run_profile(
    cycle: _Cycle, name: str, settings: Profile, edition: Edition | None, *, dry_run: bool
) -> ProfileOutcome:
    config, store, now = cycle.config, cycle.store, cycle.now
    if dry_run:
        return _dry_run_outcome(config, name, recipients(store, name, settings), edition, store,
                                now)
    try:
        return _publish(cycle, name, settings, edition)
    except (DeliveryError, SubscriptionError) as error:
        # The edition is recorded with its deliveries pending; the next run retries them.
        # (A SubscriptionError here: the unsubscribe-link secret is missing.)
        return ProfileOutcome(name, edition.date if edition else None,
                              len(edition.papers) if edition else 0, failed=[str(error)],
                              pending=len(store.pending_deliveries(name)))


def latest_day(store: Store, now: datetime) -> date | None:
    """The latest announcement, ignoring dates past tomorrow (a typo must not block editions)."""
    return store.latest_announcement(not_after=now.date() + timedelta(days=1))


Plan = tuple[Edition, RankRequest]  # an edition without its papers, and the ranking for them


def edition_plans(
    store: Store, profiles: Mapping[str, Profile], *, now: datetime
) -> dict[str, Plan | None]:
    """Each profile's next edition without its papers, and the ranking that will choose
    them; None for a profile with nothing announced since its last edition.

    Besides the papers announced since the previous edition an edition takes late arrivals:
    papers dated on or before it but stored after it was made (a listing ingested a day
    late, Hugging Face papers added after the morning run), never those it already carried.
    Ranking the plans (:func:`ranked_editions`) is the only step that needs the word
    weights, so a caller fits them only when a plan is not None.
    """
    plans: dict[str, Plan | None] = {}
    shared: dict[tuple[str, ...], Sequence[Paper]] = {}
    for name, profile in profiles.items():
        plan = _edition_plan(store, name, profile, now=now)
        if plan is not None:
            edition, request = plan
            # Profiles of a cycle mostly rank the same papers: one list, kept once in memory
            # (and the ranker sees it is the list it has just vectorised).
            keys = tuple(paper.key for paper in request.candidates)
            plan = (edition, replace(request, candidates=shared.setdefault(
                keys, request.candidates)))
        plans[name] = plan
    return plans


def ranked_editions(
    ranker: Ranker, plans: Mapping[str, Plan | None], *, workers: int = 1
) -> dict[str, Edition | None]:
    """The planned editions with their papers, ranked on up to ``workers`` processes."""
    planned = {name: plan for name, plan in plans.items() if plan is not None}
    chosen = rank_profiles(ranker, [request for _, request in planned.values()],
                           workers=workers, select=True)
    editions: dict[str, Edition | None] = dict.fromkeys(plans)
    for (name, (edition, _)), papers in zip(planned.items(), chosen, strict=True):
        editions[name] = replace(edition, papers=tuple(papers))
    return editions


def _edition_plan(
    store: Store, name: str, profile: Profile, *, now: datetime
) -> Plan | None:
    """The next edition of ``name`` without its papers, and the ranking that chooses them;
    None when nothing was announced since the last edition."""
    latest = latest_day(store, now)
    previous = store.last_edition(name)
    if latest is None or (previous is not None and latest <= previous[0]):
        return None
    if previous is None:
        candidates = store.papers_announced(after=latest - timedelta(days=1), until=latest)
    else:
        candidates = store.papers_announced(after=previous[0], until=latest,
                                            stored_after=previous[1])
    received = store.received_keys(name, [paper.key for paper in candidates])
    fresh = [paper for paper in candidates if paper.key not in received]
    edition = Edition(
        profile=name,
        date=latest,
        since=previous[0] if previous else None,
        papers=(),
        interests=tuple(interest.name for interest in profile.interests),
    )
    # Enough to leave room for near-duplicates and each interest's share.
    return edition, RankRequest(profile, fresh, seeds=_seeds(store, profile),
                                feedback=store.feedback(name), limit=2 * profile.max_papers + 10)


def rank_day(
    store: Store, name: str, profile: Profile, *, day: date | None, now: datetime,
    ranker: Ranker | None = None, workers: int = 1, notes: Progress | None = None,
) -> tuple[date | None, list[Ranked]]:
    """All candidates announced on ``day`` (default: the latest announcement), ranked for
    profile ``name`` (its seeds and feedback labels count).

    ``ranker`` lets a caller ranking many profiles fit the word weights once; otherwise they
    are fitted here, on up to ``workers`` processes. ``notes`` hears of each keyword with a
    word no stored paper uses (it adds nothing to any score).
    """
    day = day or latest_day(store, now)
    if day is None:
        return None, []
    candidates = store.papers_announced(after=day - timedelta(days=1), until=day)
    ranker = ranker or Ranker.fit(store.corpus(limit=CORPUS_LIMIT), workers=workers)
    for keyword, words in (ranker.unused_words(profile).items() if notes else ()):
        notes(_unused_note(keyword, words))
    return day, ranker.rank(profile, candidates, seeds=_seeds(store, profile),
                            feedback=store.feedback(name))


def _unused_note(keyword: str, words: Sequence[str]) -> str:
    plain = [word for word in words if not word.endswith("*")]
    wild = [word.removesuffix("*") for word in words if word.endswith("*")]
    missing = []
    if plain:
        missing.append("uses " + ", ".join(f"“{word}”" for word in plain))
    if wild:
        missing.append("uses a word that begins with " + ", ".join(f"“{word}”" for word in wild))
    hint = (" Keywords match whole words: “math” does not find “mathematical”, “math*” does."
            if plain else "")
    return (f"no stored paper {' or '.join(missing)}, so the keyword “{keyword}” adds to no "
            f"paper's score.{hint}")


def _seeds(store: Store, profile: Profile) -> dict[str, Paper]:
    """The profile's seed papers the store holds: ingested, or looked up on arXiv earlier."""
    return store.known_papers([seed for i in profile.interests for seed in i.seeds])


def missing_seeds(store: Store, profile: Profile) -> list[str]:
    """Seed ids of the profile that the store does not hold (they cannot count yet)."""
    wanted = list(dict.fromkeys(seed for i in profile.interests for seed in i.seeds))
    found = store.known_papers(wanted)
    return [seed for seed in wanted if seed not in found]


def seed_uses(profiles: Mapping[str, Profile]) -> dict[str, list[tuple[str, int, int]]]:
    """Each seed id and where it is written: (profile, interest index, seed index)."""
    uses: dict[str, list[tuple[str, int, int]]] = {}
    for name, profile in profiles.items():
        for i, interest in enumerate(profile.interests):
            for j, seed in enumerate(interest.seeds):
                uses.setdefault(seed, []).append((name, i, j))
    return uses


def fetch_missing_seeds(
    config: Config,
    store: Store,
    client: HttpClient,
    profiles: Mapping[str, Profile],
    *,
    now: datetime,
    progress: Progress,
) -> None:
    """Look up the seed papers not yet stored (100 ids per request); report those arXiv lacks.

    A failure here only costs those seeds for this run: the digest still goes out.
    """
    uses = seed_uses(profiles)
    if not uses:
        return
    try:
        lookup = look_up_papers(store, client, config.arxiv_api_url, list(uses), now=now)
    except SourceError as error:
        progress(f"seed papers not in the store could not be looked up, so they do not count "
                 f"in this run: {error}")
        return
    if lookup.fetched:
        progress(f"looked up {lookup.fetched} seed paper(s) on arXiv")
    for seed, why in lookup.unknown.items():
        where = ", ".join(f"{profiles[name].interests[i].name!r} of {name}"
                          for name, i, _j in uses[seed])
        progress(f"seed {seed} (in {where}) does not count: {why}")


def _nothing_new(config: Config, store: Store, name: str, now: datetime) -> str:
    """Why a profile has no new edition: an empty store, arXiv's calendar, or a quiet day."""
    if store.count_papers() == 0:
        return "the store has no papers yet (check the sources)"
    last = store.last_profile_run(name)
    reads_arxiv = any(
        source.enabled and source.type in ("arxiv-rss", "arxiv-api") for source in config.sources
    )
    if last is not None and reads_arxiv:
        reason = quiet_reason(last.ran_at, now, config.arxiv_holidays)
        if reason:
            return f"no new papers ({reason})"
    return "nothing announced since the last edition"


def _dry_run_outcome(
    config: Config, name: str, addresses: Sequence[str], edition: Edition | None, store: Store,
    now: datetime,
) -> ProfileOutcome:
    if edition is None:
        return ProfileOutcome(name, None, 0, note=_nothing_new(config, store, name, now))
    return ProfileOutcome(
        name, edition.date, len(edition.papers),
        pending=len(addresses) if edition.papers else 0,
        note="dry run: nothing recorded or sent",
    )


def _publish(
    cycle: _Cycle, name: str, profile: Profile, edition: Edition | None
) -> ProfileOutcome:
    config, store, now, stop = cycle.config, cycle.store, cycle.now, cycle.stop
    note = ""
    if edition is None:
        note = _nothing_new(config, store, name, now)
    else:
        store.record_edition(
            name, edition.date, since=edition.since, papers=edition.papers,
            recipients=recipients(store, name, profile) if edition.papers else [], now=now,
        )
        if not edition.papers:
            note = f"no paper above min_score {profile.min_score}; no email"
    sent, failed, pending = _deliver_pending(cycle, name, profile)
    notices = 0
    if profile.notify_empty and not (edition and edition.papers) and not stop():
        notices, notice_failures, notes_pending = _send_notices(cycle, name, profile)
        failed.extend(notice_failures)
        pending += notes_pending
    feeds: tuple[Path, ...] = ()
    if profile.feed:
        try:
            feeds = _write_feed(config, store, cycle.env, name, now)
        except DeliveryError as error:
            failed.append(str(error))
    return ProfileOutcome(
        name, edition.date if edition else None, len(edition.papers) if edition else 0,
        sent=sent, failed=failed, pending=pending, note=note, feeds=feeds, notices=notices,
        stopped=stop(),
    )


def _deliver_pending(cycle: _Cycle, name: str, profile: Profile) -> tuple[int, list[str], int]:
    """Send every pending message of the profile (this edition's, and any left from before).

    Returns (sent, problems, still pending). A message goes only while it is still pending
    (an unsubscription cancels it) and is marked sent only once written or accepted. A
    transient failure keeps it pending for the next run, a permanent one marks it failed;
    when the server can take no message at all, the rest of the batch waits too. A stop
    request ends the batch after the message in flight; the rest stay pending.
    """
    store, now, progress = cycle.store, cycle.now, cycle.progress
    cancelled = store.cancel_unsubscribed(name, now=now)
    if cancelled:
        progress(f"  {cancelled} pending message(s) cancelled: the address unsubscribed")
    pending = store.pending_deliveries(name)
    if not pending:
        return 0, [], 0
    letters = _Letters(cycle, name, profile)
    sent, failed = 0, []
    for edition_date, recipient in pending:
        if cycle.stop():
            progress("  stop requested: the remaining messages stay pending")
            break
        if store.delivery_status(name, edition_date, recipient) != "pending":
            continue  # cancelled by an unsubscription while this batch ran
        message, message_id = letters.message(edition_date, recipient)
        status, where, error = _attempt(cycle.courier, message, name, edition_date, recipient)
        if status == "failed":
            store.mark_delivery(name, edition_date, recipient, status="failed", now=now,
                                error=str(error))
            failed.append(str(error))
            continue
        if status == "pending":
            # Transient (4xx, dropped connection, retries used up): pending for next run.
            store.mark_delivery(name, edition_date, recipient, status="pending", now=now,
                                error=str(error))
            progress(f"  not delivered to {recipient}, will retry next run: {error}")
            if isinstance(error, ServerUnavailable):
                failed.append(str(error))
                break
            continue
        store.mark_delivery(name, edition_date, recipient, status="sent", now=now,
                            message_id=message_id)
        progress(f"  sent to {recipient} ({where})")
        sent += 1
    return sent, failed, len(store.pending_deliveries(name))


class _Letters:
    """Each pending message, built from its recorded edition (loaded once per edition)."""

    def __init__(self, cycle: _Cycle, name: str, profile: Profile) -> None:
        config = cycle.config
        self._config, self._store, self._env = config, cycle.store, cycle.env
        self._name, self._profile, self._now = name, profile, cycle.now
        self._context = digest_context(config, name, profile)
        self._secret = unsubscribe_secret(config, cycle.store) if config.base_url else None
        self._editions: dict[date, Edition] = {}

    def message(self, edition_date: date, recipient: str) -> tuple[EmailMessage, str]:
        """The message for ``recipient`` and its (deterministic) Message-ID."""
        if edition_date not in self._editions:
            self._editions[edition_date] = recorded_edition(
                self._store, self._name, self._profile, edition_date)
        message_id = make_message_id(self._config, self._name, edition_date, recipient)
        return self._build(self._editions[edition_date], recipient, message_id), message_id

    def note(self, day: date, since: date | None, recipient: str) -> tuple[EmailMessage, str]:
        """The "no new papers" note for ``day``, with the same unsubscribe headers."""
        note = Edition(profile=self._name, date=day, since=since, papers=(),
                       interests=tuple(interest.name for interest in self._profile.interests))
        message_id = make_message_id(self._config, f"{self._name}.no-papers", day, recipient)
        return self._build(note, recipient, message_id), message_id

    def _build(self, edition: Edition, recipient: str, message_id: str) -> EmailMessage:
        context = self._context
        if self._config.base_url and self._secret:
            link = unsubscribe_link(self._config.base_url, self._secret, self._name, recipient)
            context = replace(context, one_click_unsubscribe=link)
        return build_email(edition, context, self._env, sender=self._config.sender,
                           recipient=recipient, now=self._now, message_id=message_id)


class _Courier:
    """The configured delivery method behind one ``deliver`` call; ``with`` it per cycle."""

    def __init__(self, config: Config, smtp: SmtpSender | None = None) -> None:
        self._config = config
        self._smtp: SmtpSender | None = None
        if config.delivery.method == "smtp" and config.delivery.smtp is not None:
            self._smtp = smtp or SmtpSender(config.delivery.smtp)

    def __enter__(self) -> _Courier:
        return self  # the SMTP connection opens with the first message

    def __exit__(self, *exc: object) -> None:
        if self._smtp is not None:
            self._smtp.close()

    def deliver(
        self, message: EmailMessage, profile: str, edition: date, recipient: str,
        *, kind: str = "",
    ) -> str:
        if self._smtp is not None:
            self._smtp.send(message, recipient)
            return "smtp"
        label = edition.isoformat() + (f"-{kind}" if kind else "")
        path = outbox_path(self._config.outbox, profile, label, recipient)
        return str(write_outbox(message, path))


def _send_notices(cycle: _Cycle, name: str, profile: Profile) -> tuple[int, list[str], int]:
    """Send the profile's "no new papers" note for today (its own time zone), at most once:
    how many were sent, the failures, and how many are left pending.

    The notes go to the digest's recipients (an unsubscribed address gets none) and are
    planned in the store before sending, like editions, so a second cycle on the same day
    (or a restart) sends only those not yet accepted.
    """
    store, now, progress = cycle.store, cycle.now, cycle.progress
    zone = cycle.config.time_zone(name)
    day = now.astimezone(zone).date()
    last = store.last_edition(name)
    if last is not None and last[1].astimezone(zone).date() == day and store.edition_papers(
        name, last[0]
    ):
        return 0, [], 0  # today's digest went out already; "no new papers" would contradict it
    active = recipients(store, name, profile)
    store.record_notices(name, day, active, now=now)
    planned = store.pending_notices(name, day)
    for gone in set(planned) - set(active):  # unsubscribed since the note was planned
        store.mark_notice(name, day, gone, status="cancelled", now=now)
    addresses = [address for address in planned if address in active]
    if not addresses:
        return 0, [], 0
    letters = _Letters(cycle, name, profile)
    sent, refused, failed = 0, 0, []
    for recipient in addresses:
        if cycle.stop():
            break
        message, message_id = letters.note(day, last[0] if last else None, recipient)
        status, _, error = _attempt(cycle.courier, message, name, day, recipient,
                                    kind="no-papers")
        store.mark_notice(name, day, recipient, status=status, now=now,
                          message_id=message_id if status == "sent" else None,
                          error=None if error is None else str(error))
        if status == "sent":
            sent += 1
            progress(f"  'no new papers' note sent to {recipient}")
        elif status == "failed":
            refused += 1
            failed.append(f"note to {recipient}: {error}")
        else:
            progress(f"  note not delivered to {recipient}, will retry later today: {error}")
            if isinstance(error, ServerUnavailable):
                failed.append(str(error))
                break  # no message can go out now; the rest wait for the next cycle today
    return sent, failed, len(addresses) - sent - refused


def _attempt(
    courier: _Courier, message: EmailMessage, name: str, day: date, recipient: str,
    *, kind: str = "",
) -> tuple[str, str, DeliveryError | None]:
    """Deliver one digest or note: ('sent', where, None), ('failed', '', the refusal) or
    ('pending', '', the transient failure)."""
    try:
        where = courier.deliver(message, name, day, recipient, kind=kind)
    except PermanentFailure as error:
        return "failed", "", error
    except DeliveryError as error:
        return "pending", "", error
    return "sent", where, None


def _write_feed(
    config: Config, store: Store, env: jinja2.Environment, name: str, now: datetime
) -> tuple[Path, ...]:
    entries = store.feed_entries(name, since=now - timedelta(days=config.feed_days))
    context = digest_context(config, name, config.profiles[name])
    rss, atom = render_feeds(entries, context, now=now, env=env)
    return write_feeds(config.feeds_dir, name, rss, atom)


def preview(config: Config, store: Store, name: str, *, now: datetime) -> Path:
    """Write the HTML of the profile's next edition (or its last one) and return the path."""
    profile = config.profile(name)
    plans = edition_plans(store, {name: profile}, now=now)
    edition = None
    if plans[name] is not None:  # the last edition, if nothing is new: no fit needed
        ranker = Ranker.fit(store.corpus(limit=CORPUS_LIMIT), workers=config.workers)
        edition = ranked_editions(ranker, plans)[name]
    if edition is None:
        last = store.last_edition(name)
        if last is None:
            raise DeliveryError("the store has no papers yet; run 'digest ingest' first")
        edition = recorded_edition(store, name, profile, last[0])
    env = load_templates(config.templates_dir)
    html = render_html(edition, digest_context(config, name, profile), env, now=now)
    path = config.preview_dir / f"{name}-{edition.date.isoformat()}.html"
    try:
        return write_atomically(path, html.encode("utf-8"))
    except OSError as error:
        raise DeliveryError(f"cannot write the preview {path}: {error}") from None


def recorded_edition(store: Store, name: str, profile: Profile, day: date) -> Edition:
    """An edition as it was recorded, in its recorded order (for pending sends, previews)."""
    return Edition(
        profile=name, date=day, since=None, papers=tuple(store.edition_papers(name, day)),
        interests=tuple(interest.name for interest in profile.interests),
    )


def digest_context(config: Config, name: str, profile: Profile) -> DigestContext:
    domain = _sender_domain(config)
    sender_address = parseaddr(config.sender)[1]
    base = (config.base_url or "").rstrip("/")
    return DigestContext(
        profile=name,
        title=profile.title or f"Paper digest: {name}",
        description=profile.description or f"New papers for the {name} profile",
        list_id=f"{name}.{domain}",
        unsubscribe=f"mailto:{sender_address}?subject={quote(f'unsubscribe {name}')}",
        feed_link=f"{base}/feeds/{name}.atom.xml" if base else "",
        generator=f"paper-digest {__version__}",
    )


def make_message_id(config: Config, profile: str, edition: date, recipient: str) -> str:
    """Deterministic, so a resend of the same edition to the same person is recognisable."""
    digest = hashlib.sha256(f"{profile}\0{edition}\0{recipient}".encode()).hexdigest()[:16]
    return f"<{profile}.{edition.isoformat()}.{digest}@{_sender_domain(config)}>"


def _sender_domain(config: Config) -> str:
    address = parseaddr(config.sender)[1]
    return address.rpartition("@")[2] or "localhost"


def describe_outcome(outcome: ProfileOutcome, *, dry_run: bool = False) -> str:
    if outcome.edition is None:
        head = f"{outcome.profile}: {outcome.note}"
    else:
        head = f"{outcome.profile}: edition {outcome.edition.isoformat()}, {outcome.papers} papers"
    parts = [head]
    if dry_run and outcome.edition is not None:
        parts.append(f"would send {outcome.pending}")
    elif not dry_run:
        parts.append(f"{outcome.sent} sent")
        if outcome.pending:
            parts.append(f"{outcome.pending} still pending")
        if outcome.failed:
            parts.append(f"{len(outcome.failed)} failed: " + "; ".join(outcome.failed))
        if outcome.notices:
            parts.append(f"'no new papers' note sent to {outcome.notices}")
        if outcome.stopped:
            parts.append("stopped before the end: the rest stays pending")
        if outcome.note and outcome.edition is not None:
            parts.append(outcome.note)
    return ", ".join(parts)


def rank_json(profile: str, day: date | None, ranked: Sequence[Ranked]) -> dict[str, object]:
    return {
        "profile": profile,
        "date": day.isoformat() if day else None,
        "papers": [
            {
                "id": r.paper.arxiv_id or r.paper.key,
                "title": r.paper.title,
                "score": round(r.score, 6),
                "interest": r.interest,
                "reasons": [
                    {"kind": x.kind, "text": x.text, "weight": round(x.weight, 6)}
                    for x in r.reasons
                ],
                "authors": list(r.paper.authors),
                "categories": list(r.paper.categories),
                "announced": r.paper.announced.isoformat(),
                "url": r.paper.abs_url,
            }
            for r in ranked
        ],
    }


# --- what `digest check` looks at beyond the file, and feedback --------------------------------


def check_seeds(
    config: Config, config_path: Path, store: Store, client: HttpClient, *, now: datetime
) -> list[str]:
    """One ``file:line: field: message`` per seed that arXiv does not know.

    Seeds are looked up in the store, then on arXiv (and kept, so the next run need not
    ask). A network failure raises SourceError (FetchError, or ParseError for a garbled
    answer).
    """
    uses = seed_uses(config.profiles)
    if not uses:
        return []
    lookup = look_up_papers(store, client, config.arxiv_api_url, list(uses), now=now)
    return field_problems(config_path, [
        (("profiles", name, "interests", i, "seeds", j),
         f"seed {seed} of interest {config.profiles[name].interests[i].name!r}: {why}")
        for seed, why in lookup.unknown.items()
        for name, i, j in uses[seed]
    ])


def too_many_workers(config: Config, config_path: Path) -> list[str]:
    """A warning when ``workers`` is more than the CPUs this process may use."""
    cpus = usable_cpus()
    if config.workers <= cpus:
        return []
    return field_problems(config_path, [(
        ("workers",), f"{config.workers} workers but this process may use {cpus} CPU(s); "
        "the extra workers only take turns on them (and each holds its own memory)")])


def unmatchable_keywords(config: Config, config_path: Path) -> list[str]:
    """Keywords the ranker can never match (every word is a stop word or a single letter),
    and keywords and exclude terms with a "*" too early to be a wildcard ("AI*")."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name, profile in config.profiles.items():
        terms = [(("profiles", name, "interests", i, "keywords", j), keyword)
                 for i, interest in enumerate(profile.interests)
                 for j, keyword in enumerate(interest.keywords)]
        for path, keyword in terms:
            if not can_match(keyword):
                problems.append((path, f"{keyword!r} can never match: every word of it is an "
                                 "English stop word (or a single letter), which the ranker "
                                 "ignores; use a more specific word or phrase"))
        for path, term in [*terms, *((("profiles", name, "exclude", k), term)
                                     for k, term in enumerate(profile.exclude))]:
            for word in two_letter_stars(term):
                problems.append((path, f"{term!r}: a '*' makes a wildcard only after 3 or more "
                                 f"letters; after {word!r} it is punctuation, so only the "
                                 f"word {word!r} itself matches"))
    return field_problems(config_path, problems)


def label_paper(
    config: Config,
    store: Store,
    client: HttpClient,
    profile: str,
    arxiv_id: str,
    label: int,
    *,
    now: datetime,
) -> Paper:
    """Record that ``profile`` likes (+1) or dislikes (-1) a paper, looking it up if needed."""
    config.profile(profile)  # ProfileNotFound for a name not in the config
    try:
        lookup = look_up_papers(store, client, config.arxiv_api_url, [arxiv_id], now=now)
    except SourceError as error:
        raise PaperNotFound(
            f"{arxiv_id} is not in the store and could not be looked up on arXiv: {error}"
        ) from None
    if arxiv_id in lookup.unknown:
        raise PaperNotFound(f"{arxiv_id}: {lookup.unknown[arxiv_id]}")
    store.set_feedback(profile, arxiv_id, label, now=now)
    return lookup.papers[arxiv_id]
