"""Schedules as pure functions of a given ``now``: next runs across DST, catch-up, calendar,
and the pipeline's "no new papers" notes and run records on a real SQLite file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from loopback_http import LoopbackServer

from digest.arxiv_calendar import mailing_expected, mailings_between, quiet_reason
from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.pipeline import run_once
from digest.schedule import (
    WallClockCronTrigger,
    catch_up,
    due_with,
    missed_slot,
    next_runs,
    profile_status,
)
from digest.store import ProfileRun, Store

REPO = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
WEEKEND_RSS = "BuiVannn_All-News-AI__cs_CL_2026-08-01_weekend_empty.xml"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(expression: str, zone: ZoneInfo, now: datetime, count: int) -> list[datetime]:
    trigger = WallClockCronTrigger.from_crontab(expression, timezone=zone)
    return [fire.astimezone(UTC) for fire in next_runs(trigger, now, count)]


# --- next fire times across daylight-saving changes ------------------------------------------


def test_weekday_mornings_keep_their_local_time_when_europe_leaves_summer_time() -> None:
    # Clocks go back on Sunday 25 October 2026: 07:30 is 05:30 UTC before, 06:30 after.
    assert fires("30 7 * * mon-fri", BERLIN, utc(2026, 10, 22, 12), 3) == [
        utc(2026, 10, 23, 5, 30), utc(2026, 10, 26, 6, 30), utc(2026, 10, 27, 6, 30)]


def test_a_time_in_the_spring_gap_runs_once_just_after_it() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026 (02:00 -> 03:00): one run, at 03:30
    # summer time (01:30 UTC); the next day's 02:30 is 00:30 UTC.
    assert fires("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), 3) == [
        utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]


def test_a_time_in_the_repeated_autumn_hour_runs_once() -> None:
    # 01:30 happens twice in New York on 1 November 2026 (EDT, then EST). Plain
    # APScheduler 3 fires at both; the schedule runs at the first only.
    plain = CronTrigger.from_crontab("30 1 * * *", timezone=NEW_YORK)
    first = plain.get_next_fire_time(None, utc(2026, 10, 31, 12))
    assert first is not None
    second = plain.get_next_fire_time(first, first)
    assert second is not None and second.astimezone(UTC) == utc(2026, 11, 1, 6, 30)
    assert fires("30 1 * * *", NEW_YORK, utc(2026, 10, 31, 12), 3) == [
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)]
    # Asked from inside the repeated hour, the next run is the next day's.
    assert fires("30 1 * * *", NEW_YORK, utc(2026, 11, 1, 6, 0), 1) == [utc(2026, 11, 2, 6, 30)]


def test_southern_hemisphere_and_zones_without_dst() -> None:
    # Sydney moves to summer time on Sunday 4 October 2026 (+10 -> +11).
    assert fires("30 7 * * mon-fri", SYDNEY, utc(2026, 10, 1, 0), 3) == [
        utc(2026, 10, 1, 21, 30), utc(2026, 10, 4, 20, 30), utc(2026, 10, 5, 20, 30)]
    assert fires("0 9 * * *", KOLKATA, utc(2026, 3, 28, 0), 2) == [
        utc(2026, 3, 28, 3, 30), utc(2026, 3, 29, 3, 30)]


# --- catch-up ------------------------------------------------------------------------------


def test_slots_missed_while_down_give_one_run_for_the_latest() -> None:
    trigger = WallClockCronTrigger.from_crontab("0 */2 * * *", timezone=UTC)
    last = utc(2026, 11, 20, 2, 5)
    now = utc(2026, 11, 20, 9, 10)
    assert missed_slot(trigger, last, now, timedelta(hours=6)) == utc(2026, 11, 20, 8)
    # Beyond the grace period nothing is caught up.
    assert missed_slot(trigger, last, now, timedelta(minutes=30)) is None
    # A run after the latest slot served it.
    assert missed_slot(trigger, utc(2026, 11, 20, 8, 1), now, timedelta(hours=6)) is None
    # Never run: the latest slot within the grace period.
    assert missed_slot(trigger, None, now, timedelta(hours=2)) == utc(2026, 11, 20, 8)


def test_catch_up_across_the_repeated_hour_does_not_run_twice() -> None:
    trigger = WallClockCronTrigger.from_crontab("30 1 * * *", timezone=NEW_YORK)
    ran = utc(2026, 11, 1, 5, 31)  # 01:31 EDT, the first 01:30
    restarted = utc(2026, 11, 1, 6, 40)  # 01:40 EST, after the second 01:30
    assert missed_slot(trigger, ran, restarted, timedelta(hours=6)) is None


LISTINGS = '{name: listings, type: file, paths: ["listings/*.jsonl"]}'


def write_config(folder: Path, profiles: str, top: str = "", sources: str = LISTINGS) -> Config:
    shutil.copytree(REPO / "examples" / "listings", folder / "listings", dirs_exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(f"""
{top}
sources: [{sources}]
profiles:
{profiles}
""", encoding="utf-8")
    return load_config(path)


PROFILE = """
    interests: [{name: All, keywords: [model, learning, retrieval, benchmark]}]
    min_score: 0.0001
    subscribers: [a@example.org, b@example.org]
"""


def test_catch_up_uses_each_profiles_last_recorded_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"""
  early:
    schedule: "0 7 * * *"
    timezone: Europe/Berlin{PROFILE}
  late:
    schedule: "0 7 * * *"
    timezone: America/New_York{PROFILE}
  manual:{PROFILE}""", top="catch_up_hours: 3")
    now = utc(2026, 11, 20, 8, 0)  # 09:00 in Berlin, 03:00 in New York
    with Store.open(config.database) as store:
        assert catch_up(config, store, now) == {"early": utc(2026, 11, 20, 6)}
        store.record_profile_run(ProfileRun("early", utc(2026, 11, 20, 6, 2), None, None,
                                            0, 0, 0, 0, ""))
        assert catch_up(config, store, now) == {}
    assert due_with(config, utc(2026, 11, 20, 6)) == ["early"]


# --- the arXiv calendar ----------------------------------------------------------------------


def test_arxiv_mailings_are_monday_to_friday_announced_the_evening_before() -> None:
    assert [mailing_expected(date(2026, 11, 16) + timedelta(days=n)) for n in range(7)] == [
        True, True, True, True, True, False, False]
    assert not mailing_expected(date(2026, 11, 26), holidays=[date(2026, 11, 26)])
    # Thursday 19 Nov 20:00 EST (01:00 UTC Friday) announces Friday's mailing.
    assert mailings_between(utc(2026, 11, 20, 0, 59), utc(2026, 11, 20, 1, 0)) == [
        date(2026, 11, 20)]
    assert mailings_between(utc(2026, 11, 20, 1, 0), utc(2026, 11, 23, 0, 59)) == []


def test_a_quiet_weekend_or_holiday_is_explained() -> None:
    friday_morning, monday_morning = utc(2026, 11, 20, 7), utc(2026, 11, 23, 7)
    saturday, sunday = utc(2026, 11, 21, 7), utc(2026, 11, 22, 7)
    assert quiet_reason(saturday, sunday) == (
        "weekend: arXiv does not announce on Friday and Saturday evenings")
    assert quiet_reason(friday_morning, monday_morning) is None
    thanksgiving = date(2026, 11, 26)
    assert quiet_reason(utc(2026, 11, 25, 7), utc(2026, 11, 26, 7), [thanksgiving]) == (
        "arXiv holiday: no announcement since the last run")
    assert quiet_reason(utc(2026, 11, 24, 7), utc(2026, 11, 24, 8)) == (
        "no arXiv announcement since the last run")


# --- config ----------------------------------------------------------------------------------


def test_bad_schedule_and_time_zones_are_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(tmp_path, f"""
  p:
    schedule: "30 7 * *"
    timezone: Europe/Berln{PROFILE}""", top="timezone: Mars/Olympus")
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].endswith("timezone: unknown time zone 'Mars/Olympus'; use an IANA name "
                                "such as 'Europe/Berlin' or 'UTC'")
    assert "profiles.p.schedule: '30 7 * *' is not a cron schedule" in problems[1]
    assert problems[2].endswith("profiles.p.timezone: unknown time zone 'Europe/Berln'; use an "
                                "IANA name; did you mean 'Europe/Berlin'?")


# --- the pipeline: run records, "no new papers" notes, status --------------------------------


def test_an_empty_cycle_sends_one_note_per_day_where_the_profile_asks(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"""
  noted:
    notify_empty: true
    timezone: Asia/Kolkata{PROFILE}
  quiet:{PROFILE}""")
    monday = utc(2026, 11, 23, 4)

    def run(now: datetime) -> dict[str, tuple[int, int]]:
        with Store.open(config.database) as store:
            report = run_once(config, store, now=now)
        assert report.ok
        return {p.profile: (p.sent, p.notices) for p in report.profiles}

    assert run(monday) == {"noted": (2, 0), "quiet": (2, 0)}
    # Same day, nothing new: today's digest already went out, so no contradicting note.
    assert run(monday + timedelta(hours=1)) == {"noted": (0, 0), "quiet": (0, 0)}
    tuesday = utc(2026, 11, 24, 4)
    assert run(tuesday) == {"noted": (0, 2), "quiet": (0, 0)}
    assert run(tuesday + timedelta(hours=2)) == {"noted": (0, 0), "quiet": (0, 0)}
    # 19:00 UTC Tuesday is already Wednesday in Kolkata: a new day, one new note.
    assert run(utc(2026, 11, 24, 19)) == {"noted": (0, 2), "quiet": (0, 0)}
    notes = sorted(path.name for path in (config.outbox / "noted").glob("*no-papers*"))
    assert notes == ["2026-11-24-no-papers--a_at_example.org.eml",
                     "2026-11-24-no-papers--b_at_example.org.eml",
                     "2026-11-25-no-papers--a_at_example.org.eml",
                     "2026-11-25-no-papers--b_at_example.org.eml"]


def test_status_reports_the_last_run_counts_and_next_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"""
  daily:
    schedule: "30 7 * * mon-fri"
    timezone: Europe/Berlin{PROFILE}""")
    now = utc(2026, 11, 20, 6, 30)  # Friday 07:30 in Berlin
    with Store.open(config.database) as store:
        run_once(config, store, now=now)
        [status] = profile_status(config, store, now + timedelta(minutes=5))
    assert status.last_run is not None and status.last_run.ran_at == now
    assert (status.last_run.edition, status.last_run.sent) == (date(2026, 11, 20), 2)
    assert status.counts == {"sent": 2}
    assert status.next_run == datetime(2026, 11, 23, 7, 30, tzinfo=BERLIN)

    result = subprocess.run([sys.executable, "-m", "digest", "-c", "config.yaml", "status"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("daily: last run 2026-11-20 07:30 CET (+0100): edition "
                                    "2026-11-20,")
    assert "all editions: 2 sent, 0 pending, 0 failed" in result.stdout
    assert "next run" in result.stdout


def test_schedule_command_lists_next_runs_in_each_zone(tmp_path: Path) -> None:
    write_config(tmp_path, f"""
  berlin:
    schedule: "30 7 * * *"
    timezone: Europe/Berlin{PROFILE}
  tokyo:
    schedule: "0 8 * * mon-fri"
    timezone: Asia/Tokyo{PROFILE}
  manual:{PROFILE}""")
    result = subprocess.run(
        [sys.executable, "-m", "digest", "-c", "config.yaml", "schedule", "--count", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("berlin: '30 7 * * *' in Europe/Berlin: ")
    assert lines[0].count(" 07:30 ") == 2
    assert lines[1].startswith("tokyo: '0 8 * * mon-fri' in Asia/Tokyo: ")
    assert lines[1].count(" 08:00 JST (+0900)") == 2
    assert lines[2] == "manual: no schedule (only 'digest run')"


# --- the daemon's job, run on its own with a given clock -------------------------------------


def test_profiles_due_at_the_same_moment_share_one_cycle_and_one_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from digest.daemon import Daemon

    config = write_config(tmp_path, f"""
  berlin:
    schedule: "30 7 * * *"
    timezone: Europe/Berlin{PROFILE}
  london:
    schedule: "30 6 * * *"
    timezone: Europe/London{PROFILE}
  later:
    schedule: "0 9 * * *"{PROFILE}""")
    now = utc(2026, 11, 20, 6, 30, 2)  # 07:30 in Berlin, 06:30 in London
    daemon = Daemon(tmp_path / "config.yaml", config, clock=lambda: now)
    caplog.set_level("INFO", logger="digest.serve")
    daemon.fire("berlin")
    assert caplog.text.count("reading listings") == 1
    assert "cycle for berlin, london" in caplog.text
    caplog.clear()
    daemon.fire("london")  # its own job, a moment later: the slot is served already
    assert "london: already ran at 2026-11-20 06:30 GMT (+0000)" in caplog.text
    assert "reading listings" not in caplog.text
    with Store.open(config.database) as store:
        assert [store.last_profile_run(name) is not None
                for name in ("berlin", "london", "later")] == [True, True, False]
        assert store.delivery_counts("berlin") == store.delivery_counts("london") == {"sent": 2}


def test_a_weekend_without_an_arxiv_announcement_is_logged_as_such_not_as_an_error(
    tmp_path: Path, http_server: LoopbackServer, shared_fixtures: Path
) -> None:
    weekend = shared_fixtures / "arxiv_rss_new" / WEEKEND_RSS
    http_server.serve("/rss/cs.CL", weekend.read_bytes())
    url = http_server.url("/rss/")
    arxiv = f'{{name: arxiv, type: arxiv-rss, categories: [cs.CL], url: "{url}"}}'
    config = write_config(tmp_path, f"""
  daily:{PROFILE}""", sources=f"{LISTINGS}, {arxiv}")
    friday, saturday = utc(2026, 11, 20, 7), utc(2026, 11, 21, 7)
    with Store.open(config.database) as store:
        assert run_once(config, store, now=friday).profiles[0].sent == 2
        report = run_once(config, store, now=saturday)
    assert report.ok
    assert [source.status for source in report.sources] == ["ok", "empty"]
    outcome = report.profiles[0]
    assert (outcome.sent, outcome.failed, outcome.pending) == (0, [], 0)
    assert outcome.note == (
        "no new papers (weekend: arXiv does not announce on Friday and Saturday evenings)")


def test_a_database_from_before_profile_runs_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    from digest.store import MIGRATIONS

    path = tmp_path / "digest.sqlite"
    Store.open(path).close()
    with sqlite3.connect(path) as db:  # as the previous release left it
        # This migration's tables go, and those of every later one.
        for table in ("profile_runs", "notices", "subscriptions", "settings"):
            db.execute(f"DROP TABLE {table}")
        before = [step.__name__ for step in MIGRATIONS].index("_add_profile_runs_and_notices")
        db.execute(f"PRAGMA user_version = {before}")
    with Store.open(path) as store:
        assert store.last_profile_run("p") is None
        run = ProfileRun("p", utc(2026, 11, 20, 7), None, date(2026, 11, 20), 3, 2, 0, 0, "")
        store.record_profile_run(run)
        assert store.last_profile_run("p") == run
