"""The one module that talks to the database (SQLite): papers, fetch state, editions, deliveries,
subscriptions.

Nothing else in the program opens the database file or writes SQL. The schema is versioned
with ``PRAGMA user_version`` and grown by the ordered migrations at the bottom of this file.
Every write that belongs together is one transaction, so a failure half-way (bad input, a
crash) leaves what was stored before untouched.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from digest.errors import StoreError, StoreLocked
from digest.models import FeedEntry, Paper, Ranked, Reason, normalise_title

Migration = Callable[[sqlite3.Connection], None]
# The oldest SQLite the schema works on: upserts need 3.24, the migration that merges
# addresses differing only in case uses window functions (3.25).
SQLITE_MIN = (3, 25, 0)
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


@dataclass(frozen=True, slots=True)
class UpsertStats:
    added: int
    merged: int


@dataclass(frozen=True, slots=True)
class SourceRun:
    source: str
    ran_at: datetime
    status: str  # ok | empty | not-modified | error
    papers: int
    message: str


@dataclass(frozen=True, slots=True)
class ProfileRun:
    """One run of a profile (by ``digest run`` or a scheduled cycle) and what it did."""

    profile: str
    ran_at: datetime
    slot: datetime | None  # the scheduled time it served; None for ``digest run``
    edition: date | None
    papers: int
    sent: int
    pending: int
    failed: int
    note: str


@dataclass(frozen=True, slots=True)
class Delivery:
    edition: date
    recipient: str
    status: str  # pending | sent | failed | cancelled
    attempts: int  # runs that tried it
    error: str | None  # the last failure (the server's reply), kept while pending
    message_id: str | None


class Store:
    """A handle on one SQLite file. Use ``Store.open(path)``; close it (or use ``with``)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        if sqlite3.sqlite_version_info < SQLITE_MIN:
            raise StoreError(
                f"{path}: this Python's SQLite is {sqlite3.sqlite_version}; the database "
                f"needs {'.'.join(map(str, SQLITE_MIN))} or later (use a Python built with a "
                "newer SQLite)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            _migrate(connection)
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"{path}: cannot open the database: {error}") from None
        return cls(connection, path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the run lock (a file beside the database) so two runs never interleave."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreLocked(
                    f"another digest run is using {self.path} (lock {lock_path}); "
                    "try again when it has finished"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- papers ---------------------------------------------------------------------------

    def upsert_papers(self, papers: Iterable[Paper], *, source: str, now: datetime) -> UpsertStats:
        """Store papers, merging each with an earlier sighting of the same work."""
        added = merged = 0
        stamp = _stamp(now)
        with self._transaction() as db:
            for paper in papers:
                existing_key, existing = self._find_same_work(paper)
                if existing is None:
                    stored = paper
                    _insert_paper(db, stored, stamp)
                    added += 1
                else:
                    stored = merge_papers(existing, paper)
                    _update_paper(db, existing_key, stored, stamp)
                    merged += 1
                db.execute(
                    "INSERT OR REPLACE INTO sightings (key, source, seen_at) VALUES (?, ?, ?)",
                    (stored.key, source, stamp),
                )
        return UpsertStats(added=added, merged=merged)

    def _find_same_work(self, paper: Paper) -> tuple[str, Paper | None]:
        """Look the paper up by key, then DOI, then normalised title (for non-arXiv items)."""
        row = self._db.execute("SELECT * FROM papers WHERE key = ?", (paper.key,)).fetchone()
        if row is None and paper.doi:
            row = self._db.execute("SELECT * FROM papers WHERE doi = ?", (paper.doi,)).fetchone()
        if row is None and paper.arxiv_id is None:
            row = self._db.execute(
                "SELECT * FROM papers WHERE title_norm = ? AND arxiv_id IS NULL",
                (normalise_title(paper.title),),
            ).fetchone()
        if row is None:
            return paper.key, None
        return row["key"], _paper_from_row(row)

    def latest_announcement(self, *, not_after: date | None = None) -> date | None:
        """The latest announcement date, ignoring dates after ``not_after`` (typos, clocks)."""
        row = self._db.execute(
            "SELECT MAX(announced) FROM papers WHERE announced <= ?",
            ((not_after or date.max).isoformat(),),
        ).fetchone()
        return date.fromisoformat(row[0]) if row[0] else None

    def announcement_days(self) -> list[date]:
        rows = self._db.execute("SELECT DISTINCT announced FROM papers ORDER BY announced")
        return [date.fromisoformat(row[0]) for row in rows]

    def papers_announced(
        self, *, after: date | None, until: date, stored_after: datetime | None = None
    ) -> list[Paper]:
        """Papers announced in (after, until], plus, with ``stored_after``, those announced
        earlier but first stored after that moment (late arrivals). In key order."""
        rows = self._db.execute(
            "SELECT * FROM papers WHERE announced <= ? AND (announced > ? OR first_seen > ?) "
            "ORDER BY key",
            (
                until.isoformat(),
                after.isoformat() if after else "",
                _stamp(stored_after) if stored_after else "9999",
            ),
        )
        return [_paper_from_row(row) for row in rows]

    def papers_by_arxiv_id(self, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for chunk in _chunks(list(arxiv_ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT * FROM papers WHERE arxiv_id IN ({marks})", chunk)
            found.update({row["arxiv_id"]: _paper_from_row(row) for row in rows})
        return found

    def known_papers(self, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
        """Papers by arXiv id: those ingested, else those looked up by id (seeds, feedback)."""
        found = self.papers_by_arxiv_id(arxiv_ids)
        rest = [arxiv_id for arxiv_id in arxiv_ids if arxiv_id not in found]
        for chunk in _chunks(rest, 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT * FROM looked_up_papers WHERE arxiv_id IN ({marks})", chunk
            )
            found.update({row["arxiv_id"]: _paper_from_row(row) for row in rows})
        return found

    def save_looked_up(self, papers: Iterable[Paper], *, now: datetime) -> None:
        """Keep papers fetched by id (seed papers, liked papers) so they are asked for once.

        They live apart from ``papers``: an old seed paper stored today must never turn up
        in an edition as a late arrival, nor count as an announcement.
        """
        stamp = _stamp(now)
        with self._transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO looked_up_papers ({_PAPER_COLUMNS}, fetched_at) "
                f"VALUES ({','.join('?' * 17)})",
                [(*_paper_values(paper), stamp) for paper in papers if paper.arxiv_id],
            )

    def corpus(self, *, limit: int) -> list[Paper]:
        """The ``limit`` most recently announced papers: the ranker learns word weights here."""
        rows = self._db.execute(
            "SELECT * FROM papers ORDER BY announced DESC, key LIMIT ?", (limit,)
        )
        return [_paper_from_row(row) for row in rows]

    def count_papers(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0])

    # --- fetch state ----------------------------------------------------------------------

    def http_validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._db.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", (url,)
        ).fetchone()
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def save_http_validators(
        self, url: str, etag: str | None, last_modified: str | None, *, now: datetime
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO http_cache (url, etag, last_modified, fetched_at) "
                "VALUES (?, ?, ?, ?)",
                (url, etag, last_modified, _stamp(now)),
            )

    def record_source_run(self, run: SourceRun) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO source_runs (source, ran_at, status, papers, message) "
                "VALUES (?, ?, ?, ?, ?)",
                (run.source, _stamp(run.ran_at), run.status, run.papers, run.message),
            )

    # --- editions and what each profile already received ----------------------------------

    def last_edition(self, profile: str) -> tuple[date, datetime] | None:
        """The date of the profile's latest edition and when it was made."""
        row = self._db.execute(
            "SELECT edition, created_at FROM editions WHERE profile = ? "
            "ORDER BY edition DESC LIMIT 1",
            (profile,),
        ).fetchone()
        if row is None:
            return None
        return date.fromisoformat(row[0]), datetime.fromisoformat(row[1])

    def received_keys(self, profile: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` an earlier edition of ``profile`` already carried."""
        received: set[str] = set()
        for chunk in _chunks(list(keys), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key FROM edition_papers WHERE profile = ? AND key IN ({marks})",
                [profile, *chunk],
            )
            received.update(row[0] for row in rows)
        return received

    def record_edition(
        self,
        profile: str,
        edition: date,
        *,
        since: date | None,
        papers: Sequence[Ranked],
        recipients: Sequence[str],
        now: datetime,
    ) -> None:
        """Record an edition, its ranked papers and one pending delivery per recipient.

        One transaction: afterwards the edition is either fully planned or not at all. The
        papers recorded here are what the profile "received": later editions skip them, and
        the profile's feed is built from them.
        """
        stamp = _stamp(now)
        try:
            with self._transaction() as db:
                self._insert_edition(db, profile, edition, since, papers, recipients, stamp)
        except sqlite3.IntegrityError:
            raise StoreError(
                f"edition {edition} of profile {profile!r} was already recorded by another run"
            ) from None

    @staticmethod
    def _insert_edition(
        db: sqlite3.Connection,
        profile: str,
        edition: date,
        since: date | None,
        papers: Sequence[Ranked],
        recipients: Sequence[str],
        stamp: str,
    ) -> None:
        db.execute(
            "INSERT INTO editions (profile, edition, since, created_at, papers) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                profile,
                edition.isoformat(),
                since.isoformat() if since else None,
                stamp,
                len(papers),
            ),
        )
        db.executemany(
            "INSERT INTO edition_papers (profile, edition, key, rank, score, interest, "
            "reasons, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    profile,
                    edition.isoformat(),
                    ranked.paper.key,
                    rank,
                    ranked.score,
                    ranked.interest,
                    _reasons_json(ranked.reasons),
                    stamp,
                )
                for rank, ranked in enumerate(papers)
            ],
        )
        db.executemany(
            "INSERT OR IGNORE INTO deliveries (profile, edition, recipient, status, "
            "created_at) VALUES (?, ?, ?, 'pending', ?)",
            [(profile, edition.isoformat(), recipient, stamp) for recipient in recipients],
        )

    def edition_papers(self, profile: str, edition: date) -> list[Ranked]:
        """The ranked papers of a recorded edition, in digest order (for pending sends)."""
        rows = self._db.execute(
            "SELECT p.*, e.score, e.interest, e.reasons FROM edition_papers e "
            "JOIN papers p ON p.key = e.key WHERE e.profile = ? AND e.edition = ? "
            "ORDER BY e.rank",
            (profile, edition.isoformat()),
        )
        return [_ranked_from_row(row) for row in rows]

    # --- deliveries -----------------------------------------------------------------------

    def pending_deliveries(self, profile: str) -> list[tuple[date, str]]:
        rows = self._db.execute(
            "SELECT edition, recipient FROM deliveries WHERE profile = ? AND status = 'pending' "
            "ORDER BY edition, recipient",
            (profile,),
        )
        return [(date.fromisoformat(row[0]), row[1]) for row in rows]

    def mark_delivery(
        self,
        profile: str,
        edition: date,
        recipient: str,
        *,
        status: str,
        now: datetime,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = ?, message_id = COALESCE(?, message_id), "
                "error = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE profile = ? AND edition = ? AND recipient = ?",
                (
                    status,
                    message_id,
                    error,
                    now.isoformat(),
                    profile,
                    edition.isoformat(),
                    recipient,
                ),
            )

    def deliveries(self, profile: str) -> list[Delivery]:
        """Every planned message of the profile, by edition and recipient."""
        rows = self._db.execute(
            "SELECT * FROM deliveries WHERE profile = ? ORDER BY edition, recipient", (profile,)
        )
        return [
            Delivery(date.fromisoformat(row["edition"]), row["recipient"], row["status"],
                     row["attempts"], row["error"], row["message_id"])
            for row in rows
        ]

    def delivery_status(self, profile: str, edition: date, recipient: str) -> str | None:
        """pending, sent, failed or cancelled; None when no such delivery was planned."""
        row = self._db.execute(
            "SELECT status FROM deliveries WHERE profile = ? AND edition = ? AND recipient = ?",
            (profile, edition.isoformat(), recipient),
        ).fetchone()
        return row[0] if row else None

    def cancel_unsubscribed(self, profile: str, *, now: datetime) -> int:
        """Cancel the pending messages of the profile's unsubscribed addresses; how many."""
        with self._transaction() as db:
            return _cancel_pending(db, profile, None, now)

    def delivery_counts(self, profile: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM deliveries WHERE profile = ? GROUP BY status",
            (profile,),
        )
        return {row[0]: row[1] for row in rows}

    # --- feedback -------------------------------------------------------------------------

    def set_feedback(self, profile: str, arxiv_id: str, label: int, *, now: datetime) -> None:
        """Label a known paper for ``profile``: +1 liked, -1 disliked; replaces an earlier one."""
        if label not in (1, -1):
            raise ValueError(f"a feedback label is +1 or -1, not {label!r}")
        if arxiv_id not in self.known_papers([arxiv_id]):
            raise StoreError(f"paper {arxiv_id} is not in the store; look it up first")
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO feedback (profile, arxiv_id, label, labelled_at) "
                "VALUES (?, ?, ?, ?)",
                (profile, arxiv_id, label, _stamp(now)),
            )

    def clear_feedback(self, profile: str, arxiv_id: str) -> bool:
        """Remove the profile's label for the paper; False if it had none."""
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM feedback WHERE profile = ? AND arxiv_id = ?", (profile, arxiv_id)
            )
        return cursor.rowcount > 0

    def feedback(self, profile: str) -> list[tuple[Paper, int]]:
        """The profile's labelled papers, oldest label first: (paper, +1 like / -1 dislike)."""
        rows = self._db.execute(
            "SELECT arxiv_id, label FROM feedback WHERE profile = ? "
            "ORDER BY labelled_at, arxiv_id",
            (profile,),
        ).fetchall()
        papers = self.known_papers([row["arxiv_id"] for row in rows])
        return [(papers[row["arxiv_id"]], row["label"]) for row in rows]

    # --- profile runs and "no new papers" notes -------------------------------------------

    def record_profile_run(self, run: ProfileRun) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO profile_runs (profile, ran_at, slot, edition, papers, sent, "
                "pending, failed, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.profile,
                    _stamp(run.ran_at),
                    _stamp(run.slot) if run.slot else None,
                    run.edition.isoformat() if run.edition else None,
                    run.papers,
                    run.sent,
                    run.pending,
                    run.failed,
                    run.note,
                ),
            )

    def last_profile_run(self, profile: str) -> ProfileRun | None:
        """The profile's latest recorded run (a run killed half-way left no record)."""
        row = self._db.execute(
            "SELECT * FROM profile_runs WHERE profile = ? ORDER BY ran_at DESC, id DESC LIMIT 1",
            (profile,),
        ).fetchone()
        if row is None:
            return None
        return ProfileRun(
            profile=row["profile"],
            ran_at=datetime.fromisoformat(row["ran_at"]),
            slot=datetime.fromisoformat(row["slot"]) if row["slot"] else None,
            edition=date.fromisoformat(row["edition"]) if row["edition"] else None,
            papers=row["papers"],
            sent=row["sent"],
            pending=row["pending"],
            failed=row["failed"],
            note=row["note"],
        )

    def record_notices(
        self, profile: str, day: date, recipients: Sequence[str], *, now: datetime
    ) -> None:
        """Plan one "no new papers" note per recipient for ``day``; a day gets at most one."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO notices (profile, day, recipient, status, created_at) "
                "VALUES (?, ?, ?, 'pending', ?)",
                [(profile, day.isoformat(), recipient, _stamp(now)) for recipient in recipients],
            )

    def pending_notices(self, profile: str, day: date) -> list[str]:
        rows = self._db.execute(
            "SELECT recipient FROM notices WHERE profile = ? AND day = ? AND status = 'pending' "
            "ORDER BY recipient",
            (profile, day.isoformat()),
        )
        return [row[0] for row in rows]

    def mark_notice(
        self,
        profile: str,
        day: date,
        recipient: str,
        *,
        status: str,
        now: datetime,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE notices SET status = ?, message_id = COALESCE(?, message_id), error = ?, "
                "updated_at = ? WHERE profile = ? AND day = ? AND recipient = ?",
                (status, message_id, error, _stamp(now), profile, day.isoformat(), recipient),
            )

    # --- subscriptions made with commands (the config's subscribers are not stored) --------

    def subscribe(self, profile: str, address: str, *, now: datetime) -> None:
        with self._transaction() as db:
            _set_subscription(db, profile, address, subscribed=True, stamp=_stamp(now))

    def unsubscribe(self, profiles: Sequence[str], address: str, *, now: datetime) -> int:
        """Unsubscribe ``address`` from ``profiles`` and cancel the messages still pending
        for it, in one transaction; returns how many were cancelled."""
        cancelled = 0
        with self._transaction() as db:
            for profile in profiles:
                _set_subscription(db, profile, address, subscribed=False, stamp=_stamp(now))
                cancelled += _cancel_pending(db, profile, address, now)
        return cancelled

    def subscriptions(self, profile: str) -> dict[str, bool]:
        """Address -> subscribed (True) or unsubscribed (False), as the commands left them."""
        rows = self._db.execute(
            "SELECT address, subscribed FROM subscriptions WHERE profile = ? ORDER BY address",
            (profile,),
        )
        return {row[0]: bool(row[1]) for row in rows}

    # --- settings -------------------------------------------------------------------------

    def setting(self, name: str, *, default: Callable[[], str]) -> str:
        """The stored value of ``name``; on first use, ``default()`` is stored and returned.

        INSERT OR IGNORE makes two processes asking at once agree on one value.
        """
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)", (name, default())
            )
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return str(row[0])

    # --- feeds ----------------------------------------------------------------------------

    def feed_entries(self, profile: str, *, since: datetime) -> list[FeedEntry]:
        """Papers ``profile`` received at or after ``since``, newest first, for its feed."""
        rows = self._db.execute(
            "SELECT p.*, e.score, e.interest, e.reasons, e.edition, e.added_at "
            "FROM edition_papers e JOIN papers p ON p.key = e.key "
            "WHERE e.profile = ? AND e.added_at >= ? "
            "ORDER BY e.added_at DESC, e.edition DESC, e.rank",
            (profile, _stamp(since)),
        )
        return [
            FeedEntry(
                ranked=_ranked_from_row(row),
                edition=date.fromisoformat(row["edition"]),
                published=datetime.fromisoformat(row["added_at"]),
            )
            for row in rows
        ]


def _stamp(moment: datetime) -> str:
    """Timestamps are stored in UTC so that they compare correctly as text."""
    if moment.tzinfo is None:
        raise ValueError(f"timezone-aware datetime required, got {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _set_subscription(
    db: sqlite3.Connection, profile: str, address: str, *, subscribed: bool, stamp: str
) -> None:
    db.execute(
        "INSERT INTO subscriptions (profile, address, subscribed, updated_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (profile, address) "
        "DO UPDATE SET subscribed = excluded.subscribed, updated_at = excluded.updated_at",
        (profile, address, int(subscribed), stamp),
    )


def _cancel_pending(
    db: sqlite3.Connection, profile: str, address: str | None, now: datetime
) -> int:
    """Mark 'cancelled' the pending messages of ``address`` (None: of every address that
    is unsubscribed from ``profile``)."""
    cursor = db.execute(
        "UPDATE deliveries SET status = 'cancelled', error = 'unsubscribed', updated_at = ? "
        "WHERE profile = ? AND status = 'pending' AND recipient IN ("
        "SELECT address FROM subscriptions WHERE profile = ? AND subscribed = 0 "
        "AND (? IS NULL OR address = ?))",
        (_stamp(now), profile, profile, address, address),
    )
    return cursor.rowcount


# --- merging two sightings of one paper -------------------------------------------------------


def merge_papers(old: Paper, new: Paper) -> Paper:
    """Combine two sightings: union of categories, highest upvotes, newest version's text.

    The announcement date stays the earliest one seen, so a paper listed again later (a
    replacement, a Hugging Face pick days after arXiv) does not count as news twice.
    """
    newer = new if (new.version or 0) > (old.version or 0) else old
    return replace(
        newer,
        title=newer.title or old.title or new.title,
        abstract=newer.abstract or old.abstract or new.abstract,
        authors=newer.authors or old.authors or new.authors,
        categories=tuple(dict.fromkeys((*old.categories, *new.categories))),
        announced=min(old.announced, new.announced),
        arxiv_id=old.arxiv_id or new.arxiv_id,
        version=max(old.version or 0, new.version or 0) or None,
        doi=old.doi or new.doi,
        url=old.url or new.url,
        pdf_url=newer.pdf_url or old.pdf_url or new.pdf_url,
        announce_type=old.announce_type or new.announce_type,
        upvotes=max(old.upvotes or 0, new.upvotes or 0) or None,
        journal_ref=old.journal_ref or new.journal_ref,
        comment=newer.comment or old.comment or new.comment,
    )


# --- rows -------------------------------------------------------------------------------------

_PAPER_COLUMNS = (
    "key, arxiv_id, version, doi, title, title_norm, abstract, authors, categories, announced, "
    "announce_type, url, pdf_url, upvotes, journal_ref, comment"
)


def _paper_values(paper: Paper) -> tuple[object, ...]:
    return (
        paper.key,
        paper.arxiv_id,
        paper.version,
        paper.doi,
        paper.title,
        normalise_title(paper.title),
        paper.abstract,
        json.dumps(list(paper.authors)),
        json.dumps(list(paper.categories)),
        paper.announced.isoformat(),
        paper.announce_type,
        paper.url,
        paper.pdf_url,
        paper.upvotes,
        paper.journal_ref,
        paper.comment,
    )


def _insert_paper(db: sqlite3.Connection, paper: Paper, stamp: str) -> None:
    db.execute(
        f"INSERT INTO papers ({_PAPER_COLUMNS}, first_seen, updated_at) "
        f"VALUES ({','.join('?' * 18)})",
        (*_paper_values(paper), stamp, stamp),
    )


def _update_paper(db: sqlite3.Connection, old_key: str, paper: Paper, stamp: str) -> None:
    """Rewrite a stored paper; if the merge changed its key (a DOI item that turned out to
    be on arXiv), move everything that refers to the old key along with it."""
    assignments = ", ".join(f"{column.strip()} = ?" for column in _PAPER_COLUMNS.split(","))
    db.execute(
        f"UPDATE papers SET {assignments}, updated_at = ? WHERE key = ?",
        (*_paper_values(paper), stamp, old_key),
    )
    if paper.key != old_key:
        for table in ("sightings", "edition_papers"):
            db.execute(f"UPDATE OR REPLACE {table} SET key = ? WHERE key = ?", (paper.key, old_key))


def _paper_from_row(row: sqlite3.Row) -> Paper:
    return Paper(
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(json.loads(row["authors"])),
        categories=tuple(json.loads(row["categories"])),
        announced=date.fromisoformat(row["announced"]),
        arxiv_id=row["arxiv_id"],
        version=row["version"],
        doi=row["doi"],
        url=row["url"],
        pdf_url=row["pdf_url"],
        announce_type=row["announce_type"],
        upvotes=row["upvotes"],
        journal_ref=row["journal_ref"],
        comment=row["comment"],
    )


def _reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([[reason.kind, reason.text, reason.weight] for reason in reasons])


def _ranked_from_row(row: sqlite3.Row) -> Ranked:
    return Ranked(
        paper=_paper_from_row(row),
        score=row["score"],
        interest=row["interest"],
        reasons=tuple(Reason(*reason) for reason in json.loads(row["reasons"])),
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- schema -----------------------------------------------------------------------------------


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the database is at schema version {version}, newer than this program knows "
            f"({len(MIGRATIONS)}); upgrade paper-digest or use another database file"
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@migration
def _create_tables(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE papers (
            key TEXT PRIMARY KEY, arxiv_id TEXT, version INTEGER, doi TEXT,
            title TEXT NOT NULL, title_norm TEXT NOT NULL, abstract TEXT NOT NULL,
            authors TEXT NOT NULL, categories TEXT NOT NULL, announced TEXT NOT NULL,
            announce_type TEXT, url TEXT, pdf_url TEXT, upvotes INTEGER,
            journal_ref TEXT, comment TEXT, first_seen TEXT NOT NULL, updated_at TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX papers_announced ON papers (announced)")
    db.execute("CREATE INDEX papers_arxiv_id ON papers (arxiv_id)")
    db.execute("CREATE INDEX papers_doi ON papers (doi)")
    db.execute("CREATE INDEX papers_title_norm ON papers (title_norm)")
    db.execute(
        "CREATE TABLE sightings (key TEXT NOT NULL, source TEXT NOT NULL, seen_at TEXT NOT NULL, "
        "PRIMARY KEY (key, source))"
    )
    db.execute(
        "CREATE TABLE http_cache (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, "
        "fetched_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE source_runs (id INTEGER PRIMARY KEY, source TEXT NOT NULL, "
        "ran_at TEXT NOT NULL, status TEXT NOT NULL, papers INTEGER NOT NULL, message TEXT)"
    )
    db.execute(
        "CREATE TABLE editions (profile TEXT NOT NULL, edition TEXT NOT NULL, since TEXT, "
        "created_at TEXT NOT NULL, papers INTEGER NOT NULL, PRIMARY KEY (profile, edition))"
    )
    db.execute(
        "CREATE TABLE edition_papers (profile TEXT NOT NULL, edition TEXT NOT NULL, "
        "key TEXT NOT NULL, rank INTEGER NOT NULL, score REAL NOT NULL, interest TEXT, "
        "reasons TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (profile, key))"
    )
    db.execute("CREATE INDEX edition_papers_edition ON edition_papers (profile, edition, rank)")
    db.execute(
        "CREATE TABLE deliveries (profile TEXT NOT NULL, edition TEXT NOT NULL, "
        "recipient TEXT NOT NULL, status TEXT NOT NULL, message_id TEXT, error TEXT, "
        "attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT, "
        "PRIMARY KEY (profile, edition, recipient))"
    )


@migration
def _looked_up_papers(db: sqlite3.Connection) -> None:
    """Papers fetched by arXiv id (seeds, feedback), kept apart from the listings' papers."""
    db.execute(
        """CREATE TABLE looked_up_papers (
            key TEXT PRIMARY KEY, arxiv_id TEXT NOT NULL UNIQUE, version INTEGER, doi TEXT,
            title TEXT NOT NULL, title_norm TEXT NOT NULL, abstract TEXT NOT NULL,
            authors TEXT NOT NULL, categories TEXT NOT NULL, announced TEXT NOT NULL,
            announce_type TEXT, url TEXT, pdf_url TEXT, upvotes INTEGER,
            journal_ref TEXT, comment TEXT, fetched_at TEXT NOT NULL)"""
    )


@migration
def _feedback(db: sqlite3.Connection) -> None:
    """One like (+1) or dislike (-1) per profile and paper; a new label replaces the old."""
    db.execute(
        "CREATE TABLE feedback (profile TEXT NOT NULL, arxiv_id TEXT NOT NULL, "
        "label INTEGER NOT NULL CHECK (label IN (-1, 1)), labelled_at TEXT NOT NULL, "
        "PRIMARY KEY (profile, arxiv_id))"
    )


@migration
def _add_profile_runs_and_notices(db: sqlite3.Connection) -> None:
    """What each profile run did (for ``digest status`` and the scheduler's catch-up), and
    the "no new papers" notes, one per profile, day and recipient."""
    db.execute(
        "CREATE TABLE profile_runs (id INTEGER PRIMARY KEY, profile TEXT NOT NULL, "
        "ran_at TEXT NOT NULL, slot TEXT, edition TEXT, papers INTEGER NOT NULL, "
        "sent INTEGER NOT NULL, pending INTEGER NOT NULL, failed INTEGER NOT NULL, "
        "note TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX profile_runs_profile ON profile_runs (profile, ran_at)")
    db.execute(
        "CREATE TABLE notices (profile TEXT NOT NULL, day TEXT NOT NULL, "
        "recipient TEXT NOT NULL, status TEXT NOT NULL, message_id TEXT, error TEXT, "
        "created_at TEXT NOT NULL, updated_at TEXT, PRIMARY KEY (profile, day, recipient))"
    )


@migration
def _subscriptions_and_settings(db: sqlite3.Connection) -> None:
    """Subscriptions made with ``digest subscribe``/``unsubscribe`` (an unsubscription
    overrides the config), and small named values such as the unsubscribe-token secret."""
    db.execute(
        "CREATE TABLE subscriptions (profile TEXT NOT NULL, address TEXT NOT NULL, "
        "subscribed INTEGER NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (profile, address))"
    )
    db.execute("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def _addresses_in_lower_case(db: sqlite3.Connection) -> None:
    """Addresses in lower case, as the config now normalises them (``Ada@example.org`` and
    ``ada@example.org`` are one reader). Rows that differed only in case become one: the
    latest subscription state, and of two messages of one edition or day to the reader, the
    one furthest along (sent, then pending, failed, cancelled). A pending message whose
    address changes case gets a new Message-ID (and outbox file name) when it is sent."""
    db.create_function("lower_address", 1, str.lower, deterministic=True)  # Unicode, as Python
    furthest = ("CASE status WHEN 'sent' THEN 0 WHEN 'pending' THEN 1 WHEN 'failed' THEN 2 "
                "ELSE 3 END")
    for table, group, column, order in (
        ("subscriptions", "profile", "address", "updated_at DESC"),
        ("deliveries", "profile, edition", "recipient", furthest),
        ("notices", "profile, day", "recipient", furthest),
    ):
        db.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, "
            f"row_number() OVER (PARTITION BY {group}, lower_address({column}) "
            f"ORDER BY {order}, rowid) AS place FROM {table}) WHERE place > 1)"
        )
        db.execute(f"UPDATE {table} SET {column} = lower_address({column}) "
                   f"WHERE {column} != lower_address({column})")
