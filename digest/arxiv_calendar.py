"""When arXiv announces new papers, so a quiet day is explained rather than reported as a fault.

arXiv announces new submissions Sunday to Thursday at 20:00 US Eastern time; each
announcement is the listing (the "mailing") dated the following day, Monday to Friday.
Holidays are announced by arXiv a year at a time; the config's ``arxiv_holidays`` lists the
mailing dates that will not appear. Pure functions of the given times.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
ANNOUNCED_AT = time(20, 0)  # US Eastern, the evening before the mailing date


def mailing_expected(day: date, holidays: Collection[date] = ()) -> bool:
    """Whether arXiv publishes a mailing dated ``day`` (Monday to Friday, not a holiday)."""
    return day.weekday() < 5 and day not in holidays


def announcement_time(mailing: date) -> datetime:
    """When the mailing dated ``mailing`` is announced: 20:00 US Eastern the day before."""
    return datetime.combine(mailing - timedelta(days=1), ANNOUNCED_AT, tzinfo=EASTERN)


def mailings_between(
    start: datetime, end: datetime, holidays: Collection[date] = ()
) -> list[date]:
    """The mailings announced after ``start`` and at or before ``end``."""
    return [day for day in _announcement_slots(start, end) if mailing_expected(day, holidays)]


def quiet_reason(
    since: datetime, now: datetime, holidays: Collection[date] = ()
) -> str | None:
    """Why no new arXiv papers are expected between ``since`` and ``now``; None if some are."""
    slots = _announcement_slots(since, now)
    if any(mailing_expected(day, holidays) for day in slots):
        return None
    if any(day.weekday() < 5 for day in slots):
        return "arXiv holiday: no announcement since the last run"
    if slots:
        return "weekend: arXiv does not announce on Friday and Saturday evenings"
    return "no arXiv announcement since the last run"


def _announcement_slots(start: datetime, end: datetime) -> list[date]:
    """Every date whose announcement time (weekends included) falls in (start, end]."""
    day = start.astimezone(EASTERN).date()
    last = end.astimezone(EASTERN).date() + timedelta(days=1)
    found = []
    while day <= last:
        if start < announcement_time(day) <= end:
            found.append(day)
        day += timedelta(days=1)
    return found
