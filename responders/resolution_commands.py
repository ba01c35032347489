"""`closeloop digest`: preview or send the weekly digest. Registered on the CLI by ``register``."""

from __future__ import annotations

import argparse
from typing import Any

from monitor.cli.common import EXIT_BAD_INPUT, EXIT_OK, CliError, open_database, output_file, settings_for

# A digest compares its week with those before it; weeks outside these years name no data closeloop holds
# and, near year 1 or 9999, dates the calendar cannot hold.
WEEK_YEARS = (2000, 9998)


def _week(value: str) -> str:
    from responders.metrics import parse_week

    try:
        year, _number = parse_week(value)
    except ValueError as exc:
        raise CliError(f"--week: {exc}") from None
    if not WEEK_YEARS[0] <= year <= WEEK_YEARS[1]:
        raise CliError(f"--week: {value} is outside the years {WEEK_YEARS[0]}–{WEEK_YEARS[1]}")
    return value


def _latest_week_with_data(engine: Any, settings: Any, *, week: str, now: Any) -> str:
    """``week`` when something was posted in it; else the week of the newest post (a preview of an empty
    week helps no one: after a first ingest or the demo, the data is this week's). Says so when it moves."""
    from models.reports import latest_post_at
    from responders.metrics import iso_week, week_bounds

    timezone = settings.app.timezone
    start, end = week_bounds(week, timezone)
    in_week = latest_post_at(engine, before=end)
    if in_week is not None and in_week >= start:
        return week
    newest = latest_post_at(engine, before=max(now, end))
    if newest is None:
        return week
    latest = iso_week(newest, timezone)
    print(f"no posts in {week}; previewing {latest}, the latest week with posts (--week picks another)")
    return latest


def cmd_digest(args: argparse.Namespace) -> int:
    from models.types import utcnow
    from monitor.config import ConfigError
    from responders.digest import build_digest, preview_html, send_weekly_digest
    from responders.mailer import SmtpMailer
    from responders.metrics import iso_week, previous_week

    settings = settings_for(args)
    now = utcnow()
    week = _week(args.week) if args.week else previous_week(iso_week(now, settings.app.timezone))
    if not args.preview and not args.send:
        raise CliError("digest: say --preview FILE, --send, or both", EXIT_BAD_INPUT)
    preview = output_file(args.preview, "--preview") if args.preview else None
    if args.send and not settings.digest.recipients:
        raise ConfigError("digest.recipients: no one to send the digest to")
    engine = open_database(settings)
    if preview is not None and not args.week and not args.send:
        week = _latest_week_with_data(engine, settings, week=week, now=now)
    if preview is not None:
        preview.write_text(preview_html(build_digest(engine, settings, week=week, now=now)), "utf-8")
        print(f"digest {week} written to {preview}")
    if args.send:
        sent = send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=week, now=now)
        print(f"digest {week} sent to {sent} recipient(s); the others already had it or were refused")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add `closeloop digest` to the CLI's subcommands."""
    digest = commands.add_parser("digest", help="preview or send the weekly digest for management")
    digest.add_argument("--week", help="ISO week like 2026-W47 (default: last week, in app.timezone)")
    digest.add_argument("--preview", metavar="FILE", help="write the digest as a self-contained HTML file")
    digest.add_argument("--send", action="store_true",
                        help="email it to digest.recipients (each recipient gets each week once)")
    digest.set_defaults(func=cmd_digest)
