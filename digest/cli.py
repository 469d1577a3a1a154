"""The ``digest`` command: parse options, call one library function, report the outcome.

Known errors (DigestError) become a one-line message and exit code 1; a bad command line
exits with 2 (click's convention). Only this module reads the wall clock.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import click

from digest import __version__
from digest.config import Config, Profile, load_config
from digest.errors import ConfigError, DigestError, SourceError
from digest.models import split_arxiv_id
from digest.store import Store

# digest.pipeline and digest.ingest are imported inside the commands that use them: they
# pull in scikit-learn (about 1.5 s), which `digest check` and `--help` do not need.


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _now() -> datetime:
    return datetime.now(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path),
    default=Path("config.yaml"), show_default=True, help="The configuration file.",
)
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """Personal daily paper digests: ingest listings, rank them against your profiles,
    and deliver an email and an RSS/Atom feed per profile.

    \b
    Start with:  digest -c examples/offline.yaml run
    """
    ctx.obj = config_path


@contextmanager
def _session(ctx: click.Context) -> Iterator[tuple[Config, Store]]:
    """Load the config and open the store, turning known errors into a clean exit."""
    try:
        config = load_config(ctx.obj)
        with Store.open(config.database) as store:
            try:
                yield config, store
            except sqlite3.Error as error:
                raise click.ClickException(
                    f"{config.database}: database error: {error} (is it damaged, read-only "
                    "or on a full disk?)"
                ) from None
    except DigestError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"{error.filename or ''}: {error.strerror or error}") from None


@cli.command()
@click.option("--profile", "profile", metavar="NAME", help="Only this profile.")
@click.option("--dry-run", is_flag=True, help="Ingest and rank, but record and send nothing.")
@click.pass_context
def run(ctx: click.Context, profile: str | None, dry_run: bool) -> None:
    """Ingest every source, then deliver each profile's new edition.

    Running it twice on the same day sends nothing twice.

    \b
    Example:  digest -c config.yaml run --profile nlp --dry-run
    """
    from digest.pipeline import describe_outcome, run_once

    with _session(ctx) as (config, store):
        report = run_once(config, store, now=_now(), profile=profile, dry_run=dry_run,
                          progress=_progress)
        for outcome in report.profiles:
            click.echo(describe_outcome(outcome, dry_run=dry_run))
            for path in outcome.feeds:
                click.echo(f"  feed: {path}")
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.pass_context
def ingest(ctx: click.Context) -> None:
    """Read every source into the store without ranking or sending.

    \b
    Example:  digest ingest
    """
    from digest.ingest import ingest_sources
    from digest.pipeline import http_client

    with _session(ctx) as (config, store):
        outcomes = ingest_sources(config, store, http_client(config), now=_now(),
                                  progress=_progress)
        click.echo(f"{store.count_papers()} papers stored; latest announcement: "
                   f"{store.latest_announcement() or 'none'}")
    if any(outcome.status == "error" for outcome in outcomes):
        sys.exit(1)


@cli.command()
@click.argument("profile")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Announcement date (default: the latest in the store).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0),
              help="How many papers to show; 0 shows all.")
@click.pass_context
def rank(ctx: click.Context, profile: str, day: datetime | None, as_json: bool,
         limit: int) -> None:
    """Show a day's candidates ranked for PROFILE, with scores and reasons.

    \b
    Example:  digest rank nlp --date 2024-11-28 --limit 0 --json
    """
    from digest.pipeline import rank_day, rank_json

    with _session(ctx) as (config, store):
        settings = config.profile(profile)
        _warn_missing_seeds(store, profile, settings)
        when: date | None = day.date() if day else None
        shown_day, ranked = rank_day(store, profile, settings, day=when, now=_now(),
                                     workers=config.workers, notes=_note)
    shown = ranked if limit == 0 else ranked[:limit]
    if as_json:
        click.echo(json.dumps(rank_json(profile, shown_day, shown), indent=2, ensure_ascii=False))
        return
    if shown_day is None:
        click.echo("The store has no papers yet; run 'digest ingest' first.")
        return
    click.echo(f"{profile}, papers announced {shown_day}: {len(ranked)} candidates")
    for position, item in enumerate(shown, start=1):
        click.echo(f"{position:3}. {item.score:6.3f}  {item.paper.arxiv_id or item.paper.key}  "
                   f"{item.paper.title}")
        for reason in item.reasons:
            click.echo(f"            {reason.weight:+.3f} {reason.text}")


@cli.command(name="preview")
@click.argument("profile")
@click.pass_context
def preview_command(ctx: click.Context, profile: str) -> None:
    """Write PROFILE's next digest as HTML (nothing is recorded or sent) and print its path.

    \b
    Example:  digest preview nlp
    """
    from digest.pipeline import preview

    with _session(ctx) as (config, store):
        _warn_missing_seeds(store, profile, config.profile(profile))
        click.echo(preview(config, store, profile, now=_now()))


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def _warn_missing_seeds(store: Store, name: str, profile: Profile) -> None:
    """Say which seeds do not count yet: rank and preview do not go online to fetch them."""
    from digest.pipeline import missing_seeds

    missing = missing_seeds(store, profile)
    if missing:
        _note(f"{len(missing)} seed paper(s) of {name} are not in the store and do not count "
              f"yet: {', '.join(missing)}. 'digest check' looks them up on arXiv (so does "
              "'digest run').")


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run every profile on its schedule until stopped (SIGTERM or Ctrl-C).

    Each profile with a cron `schedule` runs in its `timezone`; sources are read once per
    cycle. A run missed while stopped (within `catch_up_hours`) runs at start-up. SIGHUP or
    an edit of the config file reloads it; an invalid config is logged and the old one kept.
    The log (with timestamps) goes to standard error.

    \b
    Example:  digest -c config.yaml serve
    """
    import logging

    from digest.daemon import Daemon

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S%z")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        config = load_config(ctx.obj)
        Daemon(ctx.obj, config).serve()
    except DigestError as error:
        raise click.ClickException(str(error)) from None


@cli.command(name="schedule")
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1),
              help="How many upcoming runs to list per profile.")
@click.pass_context
def schedule_command(ctx: click.Context, count: int) -> None:
    """List every profile's next run time, in the profile's own time zone.

    \b
    Example:  digest schedule --count 3
    """
    from digest.schedule import local_time, next_runs, profile_trigger

    try:
        config = load_config(ctx.obj)
    except DigestError as error:
        raise click.ClickException(str(error)) from None
    now = _now()
    for name, profile in config.profiles.items():
        trigger = profile_trigger(config, name)
        if trigger is None:
            click.echo(f"{name}: no schedule (only 'digest run')")
            continue
        runs = ", ".join(local_time(run) for run in next_runs(trigger, now, count))
        click.echo(f"{name}: '{profile.schedule}' in {config.time_zone(name)}: {runs}")


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show each profile's last run, its sent / pending / failed messages and its next run.

    \b
    Example:  digest status
    """
    from digest.schedule import describe_status, profile_status

    with _session(ctx) as (config, store):
        for item in profile_status(config, store, _now()):
            click.echo(describe_status(item, config))


@cli.command()
@click.argument("address")
@click.option("--profile", "profile", metavar="NAME", required=True,
              help="The profile to subscribe to.")
@click.pass_context
def subscribe(ctx: click.Context, address: str, profile: str) -> None:
    """Subscribe ADDRESS to a profile (again, if it had unsubscribed).

    \b
    Example:  digest subscribe ada@example.org --profile nlp
    """
    from digest.subscriptions import subscribe as add_subscriber

    with _session(ctx) as (config, store):
        normalised = add_subscriber(config, store, address, profile, now=_now())
    click.echo(f"subscribed {normalised} to {profile}")


@cli.command()
@click.argument("address")
@click.option("--profile", "profile", metavar="NAME",
              help="Only this profile (default: every profile).")
@click.pass_context
def unsubscribe(ctx: click.Context, address: str, profile: str | None) -> None:
    """Unsubscribe ADDRESS; it gets nothing more, even if the config lists it.

    Messages still pending for the address are cancelled.

    \b
    Example:  digest unsubscribe ada@example.org --profile nlp
    """
    from digest.subscriptions import unsubscribe as remove_subscriber

    with _session(ctx) as (config, store):
        normalised, profiles, cancelled = remove_subscriber(config, store, address, profile,
                                                            now=_now())
    noun = "message" if cancelled == 1 else "messages"
    click.echo(f"unsubscribed {normalised} from {', '.join(profiles)}; "
               f"{cancelled} pending {noun} cancelled")


@cli.command(name="subscribers")
@click.argument("profile")
@click.pass_context
def subscribers_command(ctx: click.Context, profile: str) -> None:
    """List PROFILE's addresses: where each comes from (config, command) and its state.

    \b
    Example:  digest subscribers nlp
    """
    from digest.subscriptions import subscribers

    with _session(ctx) as (config, store):
        found = subscribers(store, profile, config.profile(profile))
    for subscriber in found:
        state = "subscribed" if subscriber.active else "unsubscribed"
        click.echo(f"{subscriber.address}\t{subscriber.source}\t{state}")
    if not found:
        click.echo(f"{profile} has no subscribers", err=True)


@cli.command()
@click.option("--offline", is_flag=True,
              help="Check the file only; do not look seed papers up on arXiv.")
@click.pass_context
def check(ctx: click.Context, offline: bool) -> None:
    """Validate the config file and report every problem with its line.

    Seed papers not yet in the store are looked up on arXiv (and kept for later runs);
    an id arXiv does not know is an error. Keywords made only of stop words, which can
    never match, a '*' after two letters ('AI*', too short for a wildcard), and more
    `workers` than CPUs to run them are warned about.

    \b
    Example:  digest -c config.yaml check
              digest -c config.yaml check --offline
    """
    from digest.pipeline import (
        check_seeds,
        http_client,
        seed_uses,
        too_many_workers,
        unmatchable_keywords,
    )

    try:
        config = load_config(ctx.obj)
    except DigestError as error:
        raise click.ClickException(str(error)) from None
    for warning in unmatchable_keywords(config, ctx.obj) + too_many_workers(config, ctx.obj):
        click.echo(f"warning: {warning}", err=True)
    if not offline and seed_uses(config.profiles):
        with _session(ctx) as (config, store):
            try:
                problems = check_seeds(config, ctx.obj, store, http_client(config), now=_now())
            except SourceError as error:
                raise click.ClickException(
                    f"cannot look the seed papers up on arXiv: {error} "
                    "(run 'digest check --offline' to check the file only)"
                ) from None
        if problems:
            raise click.ClickException(str(ConfigError(str(ctx.obj), problems)))
    click.echo(f"{ctx.obj}: OK ({len(config.sources)} sources, {len(config.profiles)} profiles)")


@cli.command()
@click.argument("profile")
@click.argument("arxiv_id", required=False)
@click.option("--like", is_flag=True, help="PROFILE wants papers like this one.")
@click.option("--dislike", is_flag=True, help="PROFILE does not want papers like this one.")
@click.option("--clear", is_flag=True, help="Remove PROFILE's label for this paper.")
@click.option("--list", "list_labels", is_flag=True, help="Show PROFILE's labels.")
@click.pass_context
def feedback(ctx: click.Context, profile: str, arxiv_id: str | None, like: bool,
             dislike: bool, clear: bool, list_labels: bool) -> None:
    """Label a paper as liked or disliked for PROFILE, remove a label, or list them.

    A later label for the same paper replaces the earlier one. A paper that is not in the
    store is looked up on arXiv.

    \b
    Examples:  digest feedback nlp 2401.01234 --like
               digest feedback nlp hep-th/9901001v2 --dislike
               digest feedback nlp 2401.01234 --clear
               digest feedback nlp --list
    """
    from digest.pipeline import http_client, label_paper

    action = _one_action(arxiv_id, like=like, dislike=dislike, clear=clear, list=list_labels)
    with _session(ctx) as (config, store):
        config.profile(profile)  # ProfileNotFound for a name not in the config
        if action == "list":
            labels = store.feedback(profile)
            for paper, label in labels:
                click.echo(f"{'like' if label > 0 else 'dislike':8} {paper.arxiv_id:18} "
                           f"{paper.title}")
            if not labels:
                click.echo(f"{profile} has no labels yet")
            return
        paper_id = _arxiv_id(arxiv_id or "")
        if action == "clear":
            removed = store.clear_feedback(profile, paper_id)
            click.echo(f"{profile}: label for {paper_id} removed" if removed
                       else f"{profile}: {paper_id} had no label")
            return
        paper = label_paper(config, store, http_client(config), profile, paper_id,
                            1 if action == "like" else -1, now=_now())
        click.echo(f"{profile}: {action}d {paper_id} “{paper.title}”")


def _one_action(arxiv_id: str | None, **flags: bool) -> str:
    chosen = [name for name, given in flags.items() if given]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --like, --dislike, --clear or --list")
    action = chosen[0]
    if action == "list" and arxiv_id is not None:
        raise click.UsageError("--list shows every label; leave out ARXIV_ID")
    if action != "list" and arxiv_id is None:
        raise click.UsageError(f"--{action} needs ARXIV_ID")
    return action


def _arxiv_id(text: str) -> str:
    parsed = split_arxiv_id(text)
    if parsed is None:
        raise click.BadParameter(f"{text!r} is not an arXiv id such as '2401.01234'",
                                 param_hint="ARXIV_ID")
    return parsed[0]


def main() -> None:
    cli(prog_name="digest")
