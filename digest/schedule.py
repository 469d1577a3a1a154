"""When each profile runs: cron triggers in the profile's time zone, catch-up and status.

Pure functions of the config, the store and a given ``now`` (APScheduler's own tests call
``trigger.get_next_fire_time(None, now)`` in the same way); the daemon that reads the clock
and runs the cycles is digest/daemon.py.

Daylight saving: a wall-clock time that does not exist (02:30 on the spring-forward night
in Europe) runs once, at the first instant after the gap (03:30); one that happens twice
(01:30 on the fall-back night in the US) runs once, the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from digest.config import Config
from digest.store import ProfileRun, Store

_TICK = timedelta(microseconds=1)


class WallClockCronTrigger(CronTrigger):
    """A CronTrigger that fires once per wall-clock slot across a daylight-saving change.

    APScheduler 3's CronTrigger fires twice for a time in the hour that repeats when the
    clocks go back; this one skips the repeat (the second, ``fold=1`` instant).
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and _repeated_wall_time(fire, self.timezone):
            fire = super().get_next_fire_time(None, fire.astimezone(UTC) + _TICK)
        return fire


def _repeated_wall_time(moment: datetime, zone: tzinfo) -> bool:
    """Whether ``moment`` is the second occurrence of its wall-clock time in ``zone``."""
    local = moment.astimezone(UTC).astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def profile_trigger(config: Config, name: str) -> WallClockCronTrigger | None:
    """The profile's schedule in its time zone, or None when it has no ``schedule``."""
    expression = config.profiles[name].schedule
    if expression is None:
        return None
    trigger = WallClockCronTrigger.from_crontab(expression, timezone=config.time_zone(name))
    assert isinstance(trigger, WallClockCronTrigger)  # from_crontab builds ``cls``
    return trigger


def next_runs(trigger: CronTrigger, now: datetime, count: int = 1) -> list[datetime]:
    """The next ``count`` fire times at or after ``now``, in the trigger's time zone."""
    runs: list[datetime] = []
    previous: datetime | None = None
    moment = now
    while len(runs) < count:
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            break
        runs.append(fire)
        previous, moment = fire, fire + _TICK
    return runs


def missed_slot(
    trigger: CronTrigger, last_run: datetime | None, now: datetime, grace: timedelta
) -> datetime | None:
    """The latest scheduled time in the last ``grace`` before ``now`` that no run served.

    A run at or after a slot serves it (``last_run`` is when the profile last ran). Several
    missed slots give one catch-up run, never one per slot: the latest is returned.
    """
    start = now - grace
    if last_run is not None and last_run >= start:
        start = last_run + _TICK
    latest = None
    for fire in _fire_times(trigger, start, now):
        latest = fire
    return latest


def _fire_times(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in [start, end]."""
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + _TICK)
    return fires


def catch_up(config: Config, store: Store, now: datetime) -> dict[str, datetime]:
    """Profiles whose last slot within ``catch_up_hours`` went unserved, with that slot."""
    grace = timedelta(hours=config.catch_up_hours)
    missed: dict[str, datetime] = {}
    for name in config.profiles:
        trigger = profile_trigger(config, name)
        if trigger is None:
            continue
        last = store.last_profile_run(name)
        slot = missed_slot(trigger, last.ran_at if last else None, now, grace)
        if slot is not None:
            missed[name] = slot
    return missed


def due_with(config: Config, slot: datetime) -> list[str]:
    """Every scheduled profile that fires at ``slot``: they share one cycle (one ingest)."""
    due = []
    for name in config.profiles:
        trigger = profile_trigger(config, name)
        fire = trigger.get_next_fire_time(None, slot) if trigger is not None else None
        # Compared in UTC: PEP 495 makes == false across zones for a time in a DST fold or gap.
        if fire is not None and fire.astimezone(UTC) == slot.astimezone(UTC):
            due.append(name)
    return due


def local_time(moment: datetime) -> str:
    """``2026-11-23 07:30 CET (+0100)``: how schedules and status show a time."""
    return moment.strftime("%Y-%m-%d %H:%M %Z (%z)")


@dataclass(frozen=True, slots=True)
class ProfileStatus:
    profile: str
    schedule: str | None
    zone: str
    last_run: ProfileRun | None
    counts: dict[str, int]
    next_run: datetime | None


def profile_status(config: Config, store: Store, now: datetime) -> list[ProfileStatus]:
    """For each profile: its last run, its delivery counts, and its next scheduled run."""
    statuses = []
    for name, profile in config.profiles.items():
        trigger = profile_trigger(config, name)
        upcoming = next_runs(trigger, now) if trigger else []
        statuses.append(ProfileStatus(
            profile=name, schedule=profile.schedule, zone=str(config.time_zone(name)),
            last_run=store.last_profile_run(name), counts=store.delivery_counts(name),
            next_run=upcoming[0] if upcoming else None,
        ))
    return statuses


def describe_status(status: ProfileStatus, config: Config) -> str:
    zone = config.time_zone(status.profile)
    last = status.last_run
    if last is None:
        ran = "never run"
    else:
        edition = f"edition {last.edition}, {last.papers} papers" if last.edition else last.note
        ran = (f"last run {local_time(last.ran_at.astimezone(zone))}: {edition}; "
               f"{last.sent} sent, {last.pending} pending, {last.failed} failed")
    counts = status.counts
    total = (f"all editions: {counts.get('sent', 0)} sent, {counts.get('pending', 0)} pending, "
             f"{counts.get('failed', 0)} failed")
    if counts.get("cancelled"):  # pending when the address unsubscribed
        total += f", {counts['cancelled']} cancelled"
    upcoming = (f"next run {local_time(status.next_run)}" if status.next_run
                else "no schedule (only 'digest run')")
    return f"{status.profile}: {ran}\n  {total}\n  {upcoming}"
