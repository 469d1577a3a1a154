"""``digest serve``: APScheduler 3 runs each profile on its schedule; one cycle ingests once.

The only module besides cli.py that reads the clock. Each profile has a cron job in its
own time zone; a job runs a cycle for its profile and every other profile due at the same
moment (their own jobs then find the slot served and skip). Cycles run one at a time on a
single worker thread; the main thread waits for signals and for changes of the config file.

- Start-up: a slot missed while the daemon was down (within ``catch_up_hours``) runs once.
- SIGTERM / Ctrl-C: the message in flight is finished, the rest stay pending, and the
  interrupted profile is not recorded as run, so the next start catches it up. A wait
  between SMTP attempts (backoff, rate limit) ends at once and leaves its message pending.
- SIGHUP or a changed config file: the config is reloaded; an invalid one is logged and the
  running config kept.
- Another ``digest`` process holding the store's lock: the cycle waits for it, retrying.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from digest.config import Config, load_config
from digest.deliver import SmtpSender, TransientFailure
from digest.errors import ConfigError, DigestError, StoreLocked
from digest.pipeline import describe_outcome, run_cycle
from digest.schedule import catch_up, due_with, local_time, missed_slot, profile_trigger
from digest.store import Store

log = logging.getLogger("digest.serve")

Clock = Callable[[], datetime]
LOCK_RETRY_SECONDS = 2.0
LOCK_GIVE_UP = timedelta(hours=1)  # a cycle waiting longer than this is skipped
CONFIG_POLL_SECONDS = 2.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """Run with ``Daemon(config_path, config).serve()``; returns when stopped."""

    def __init__(self, config_path: Path, config: Config, *, clock: Clock = _utc_now) -> None:
        _require_schedules(config_path, config)
        self._path = config_path
        self._config = config
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload = False
        self._received: str | None = None  # the stop signal's name, logged by the main loop
        self._stamp = _file_stamp(config_path)
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=UTC
        )

    # --- the main thread ------------------------------------------------------------------

    def serve(self) -> None:
        self._install_signal_handlers()
        now = self._clock()
        log.info("digest serve: config %s, database %s", self._path, self._config.database)
        with Store.open(self._config.database) as store:
            missed = catch_up(self._config, store, now)
        if missed:
            slots = ", ".join(f"{name} ({local_time(slot)})" for name, slot in missed.items())
            log.info("catching up the runs missed while stopped: %s", slots)
            self._scheduler.add_job(self.cycle, args=(dict(missed),), id="catch-up",
                                    misfire_grace_time=None)  # however late it starts
        self._schedule_profiles()
        self._scheduler.start()
        while not self._stop.is_set():
            self._wake.wait(CONFIG_POLL_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                log.info("%s received", self._received)
                break
            if self._reload or _file_stamp(self._path) != self._stamp:
                self._reload = False
                self._reload_config()
        log.info("stopping: finishing the message in flight")
        self._scheduler.shutdown(wait=True)
        log.info("stopped")

    def _install_signal_handlers(self) -> None:
        # Handlers only set flags: logging from a signal handler could interleave with a
        # log line the main thread is writing.
        def stop(signum: int, _frame: FrameType | None) -> None:
            self._received = signal.Signals(signum).name
            self._stop.set()
            self._wake.set()

        def reload(_signum: int, _frame: FrameType | None) -> None:
            self._reload = True
            self._wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _reload_config(self) -> None:
        self._stamp = _file_stamp(self._path)
        try:
            config = load_config(self._path)
            _require_schedules(self._path, config)
        except DigestError as error:
            log.error("config reload failed; still running the previous config:\n%s", error)
            return
        self._config = config
        log.info("config reloaded from %s", self._path)
        self._schedule_profiles()

    def _schedule_profiles(self) -> None:
        for job in self._scheduler.get_jobs():
            if job.id.startswith("profile:"):
                job.remove()
        grace = max(1, int(self._config.catch_up_hours * 3600))
        now = self._clock()
        for name in self._config.profiles:
            trigger = profile_trigger(self._config, name)
            if trigger is None:
                log.info("%s: no schedule (runs only with 'digest run')", name)
                continue
            self._scheduler.add_job(
                self.fire, trigger, args=(name,), id=f"profile:{name}",
                misfire_grace_time=grace, coalesce=True, max_instances=1,
            )
            fire = trigger.get_next_fire_time(None, now)
            log.info("%s: '%s' in %s, next run %s", name, self._config.profiles[name].schedule,
                     trigger.timezone, local_time(fire) if fire else "never")

    # --- the worker thread ------------------------------------------------------------------

    def fire(self, name: str) -> None:
        """A profile's job: run it with every other profile due at the same slot."""
        config, now = self._config, self._clock()
        trigger = profile_trigger(config, name) if name in config.profiles else None
        if trigger is None:
            return  # removed by a reload after this run was submitted
        slot = missed_slot(trigger, None, now, timedelta(hours=config.catch_up_hours)) or now
        with Store.open(config.database) as store:
            due = {}
            for other in due_with(config, slot) or [name]:
                last = store.last_profile_run(other)
                if last is not None and last.ran_at >= slot:
                    ran = last.ran_at.astimezone(config.time_zone(other))
                    log.info("%s: already ran at %s for this slot", other, local_time(ran))
                    continue
                due[other] = slot
        if due:
            self.cycle(due)

    def cycle(self, due: Mapping[str, datetime]) -> None:
        """One cycle: wait for the store's lock if another process has it, then run."""
        config = self._config
        due = {name: slot for name, slot in due.items() if name in config.profiles}
        started = self._clock()
        waiting = False
        while not self._stop.is_set():
            now = self._clock()
            log.info("cycle for %s", ", ".join(due))
            try:
                with Store.open(config.database) as store:
                    report = run_cycle(config, store, due, now=now, progress=log.info,
                                       smtp=self._smtp_sender(config), stop=self._stop.is_set)
            except StoreLocked as error:
                if now - started > LOCK_GIVE_UP:
                    log.error("skipping this cycle: %s (waited since %s)", error,
                              local_time(started))
                    return
                if not waiting:
                    log.info("waiting: %s", error)
                    waiting = True
                self._stop.wait(LOCK_RETRY_SECONDS)
                continue
            except DigestError as error:
                log.error("cycle failed: %s", error)
                return
            except Exception:  # one bad cycle must not end the daemon
                log.exception("cycle failed unexpectedly")
                return
            for outcome in report.profiles:
                log.info("%s", describe_outcome(outcome))
            self._log_next_runs(config, due)
            return

    def _smtp_sender(self, config: Config) -> SmtpSender | None:
        """The cycle's SMTP sender, whose waits between attempts a stop request cuts short."""
        if config.delivery.method != "smtp" or config.delivery.smtp is None:
            return None
        return SmtpSender(config.delivery.smtp, sleep=self._pause_unless_stopped)

    def _pause_unless_stopped(self, seconds: float) -> None:
        """Sleep like time.sleep; on a stop request, give up the message (it stays pending)."""
        if self._stop.wait(seconds):
            raise TransientFailure("stop requested while waiting to retry")

    def _log_next_runs(self, config: Config, profiles: Mapping[str, object]) -> None:
        now = self._clock()
        for name in profiles:
            trigger = profile_trigger(config, name)
            fire = trigger.get_next_fire_time(None, now) if trigger else None
            if fire is not None:
                log.info("%s: next run %s", name, local_time(fire))


def _require_schedules(path: Path, config: Config) -> None:
    if not any(profile.schedule for profile in config.profiles.values()):
        raise ConfigError(str(path), [
            "no profile has a 'schedule' (cron, e.g. schedule: \"30 7 * * mon-fri\"), so "
            "'digest serve' has nothing to run"
        ])


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size
