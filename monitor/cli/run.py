"""`closeloop run`: the daemon, or every step once (`--once`) for cron and for trying a config."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from monitor.cli.common import EXIT_OK, CliError, open_database, settings_for

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.daemon import Daemon

ROLES = ("poll", "score", "post", "web", "digest")


def _roles(value: str | None, settings: Settings) -> tuple[str, ...]:
    if not value:
        return tuple(settings.daemon.roles)
    roles = tuple(r.strip() for r in value.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise CliError(f"--roles: unknown role(s) {', '.join(unknown) or '(none given)'} "
                       f"(expected some of {', '.join(ROLES)})")
    return roles


def cmd_run(args: argparse.Namespace) -> int:
    """The daemon until SIGTERM or SIGINT. ``args.stop`` is the event those signals set; monitor.cli.main
    installs it before anything slow, so a stop during start-up is a clean one too."""
    from monitor.daemon import Daemon

    stop: threading.Event | None = getattr(args, "stop", None)
    settings = settings_for(args)
    if args.node_id:
        settings = settings.model_copy(
            update={"daemon": settings.daemon.model_copy(update={"node_id": args.node_id})})
    roles = _roles(args.roles, settings)
    daemon = Daemon(settings, open_database(settings), roles=roles)
    if args.once:
        return run_once(daemon)
    if not daemon.run_forever(stop):
        # A step outlived stop_timeout_seconds: its claims are released and its leases cover the rest.
        # Leave now rather than wait on its thread; the exit is still a clean one for the supervisor.
        logging.shutdown()
        os._exit(EXIT_OK)
    return EXIT_OK


def run_once(daemon: Daemon) -> int:
    """Every role's step until nothing is left: for cron, and for trying a config."""
    from rich.console import Console

    from models.types import utcnow
    from monitor.pipeline import process_pending
    from monitor.poller import Poller
    from monitor.progress import stage_progress
    from monitor.scoring import build_scorer
    from responders.mailer import SmtpMailer
    from responders.outbox import Outbox
    from responders.posters.registry import build_posters

    settings, engine = daemon.settings, daemon.engine
    with stage_progress(Console()) as stages:
        if "poll" in daemon.roles:
            poller = Poller(engine, settings, daemon.owner)
            for name, reason in poller.unavailable.items():
                print(f"skipped source {name}: {reason}", file=sys.stderr)
            stages.advance("read", 0)
            while new := poller.tick():
                stages.advance("read", new)
            stages.advance("read", poller.follow_threads())
            poller.release()
        if "score" in daemon.roles:
            from monitor.radar.tick import radar_tick
            from responders.tracker import track_pending

            process_pending(engine, settings, build_scorer(settings.scoring), on_stage=stages.advance)
            track_pending(engine, settings, now=utcnow())
            radar_tick(engine, settings, now=utcnow())
    if "post" in daemon.roles:
        outbox = Outbox(engine, build_posters(settings, os.environ), daemon.owner,
                        lease=timedelta(seconds=settings.daemon.send_lease_seconds),
                        settle=timedelta(seconds=settings.daemon.reconcile_settle_seconds))
        outbox.reconcile()
        while outbox.send_approved():
            pass
    if "digest" in daemon.roles:
        daemon.mailer = SmtpMailer(settings.smtp)
        daemon.sweep_step()
        daemon.digest_step()
    return EXIT_OK


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="the daemon: poll, score, draft and post on a schedule")
    run.add_argument("--roles", help="comma-separated subset of poll,score,post,web,digest (default: daemon.roles)")
    run.add_argument("--node-id", help="this daemon's name in leases (default: daemon.node_id)")
    run.add_argument("--once", action="store_true", help="run every step until nothing is left, then exit")
    run.set_defaults(func=cmd_run)
