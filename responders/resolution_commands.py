"""`closeloop digest`: preview or send the weekly digest. Registered on the CLI by ``register``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def cmd_digest(args: argparse.Namespace) -> int:
    from models.db import make_engine, prepare
    from models.types import utcnow
    from monitor.config import ConfigError, load_settings
    from responders.digest import build_digest, preview_html, send_weekly_digest
    from responders.mailer import SmtpMailer
    from responders.metrics import iso_week, parse_week, previous_week

    settings = load_settings(args.config)
    now = utcnow()
    week = args.week or previous_week(iso_week(now, settings.app.timezone))
    try:
        parse_week(week)
    except ValueError as exc:
        raise ConfigError(f"--week: {exc}") from None
    if not args.preview and not args.send:
        print("closeloop digest: say --preview FILE, --send, or both", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url(), echo=settings.database.echo)
    prepare(engine)
    if args.preview:
        Path(args.preview).write_text(preview_html(build_digest(engine, settings, week=week, now=now)), "utf-8")
        print(f"digest {week} written to {args.preview}")
    if args.send:
        if not settings.digest.recipients:
            raise ConfigError("digest.recipients: no one to send the digest to")
        sent = send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=week, now=now)
        print(f"digest {week} sent to {sent} recipient(s); the others already had it or were refused")
    return 0


def register(commands: Any) -> None:
    """Add `closeloop digest` to the CLI's subcommands."""
    digest = commands.add_parser("digest", help="preview or send the weekly digest for management")
    digest.add_argument("--week", help="ISO week like 2026-W47 (default: last week, in app.timezone)")
    digest.add_argument("--preview", metavar="FILE", help="write the digest as a self-contained HTML file")
    digest.add_argument("--send", action="store_true",
                        help="email it to digest.recipients (each recipient gets each week once)")
    digest.set_defaults(func=cmd_digest)
