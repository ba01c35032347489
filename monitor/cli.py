"""The `closeloop` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text
from sqlalchemy.engine import Engine

from models.db import (
    DatabaseUnsafe,
    SchemaBehind,
    current_revision,
    head_revision,
    make_engine,
    prepare,
    upgrade,
)
from models.types import utcnow
from monitor.config import ConfigError, Settings, documented_keys, load_settings
from monitor.logs import REDACT, configure_logging, credential_names
from monitor.sources.replay import ReplaySource, parse_timestamp

if TYPE_CHECKING:
    from monitor.daemon import Daemon

log = logging.getLogger("closeloop.cli")
DEMO_DIR = Path(__file__).parent / "demo"
PROGRESS_MIN_LINES = 2_000
ROLES = ("poll", "score", "post", "web", "digest")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    REDACT.watch(credential_names(settings))  # the variables this config names are secrets too
    return settings


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url(), echo=settings.database.echo)
    prepare(engine)
    return engine


def _ingest_file(settings: Settings, path: Path, *, brand: str | None, console: Console, shift: timedelta = timedelta(0)) -> int:
    from monitor.pipeline import IngestReport, fetch_and_store, process_pending
    from monitor.radar.tick import radar_tick
    from monitor.render import render_report
    from monitor.scoring import build_scorer

    if not path.is_file():
        console.print(f"closeloop: {path}: no such file", style="red")
        return 2
    engine = _engine(settings)
    source = ReplaySource(name=path.name, path=path, shift=shift)
    brand_name = settings.brand(brand).name
    report = IngestReport()
    total = source.count_lines()
    if total >= PROGRESS_MIN_LINES:
        with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("ingest", total=total)
            fetch_and_store(engine, source, brand=brand_name, source_id=None, report=report,
                            on_progress=lambda n: progress.advance(task, n))
    else:
        fetch_and_store(engine, source, brand=brand_name, source_id=None, report=report)
    scorer = build_scorer(settings.scoring)
    process_pending(engine, settings, scorer, report=report)
    radar_tick(engine, settings, now=None)  # a replay is judged on its own clock: see monitor.radar.tick
    render_report(console, report, source=str(path))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        settings.brand(args.brand)
    except KeyError:
        raise ConfigError(f"--brand: no brand called {args.brand!r} in the config") from None
    return _ingest_file(settings, Path(args.file), brand=args.brand, console=Console(stderr=False))


def cmd_queue(args: argparse.Namespace) -> int:
    from responders.queue import load_queue

    settings = _settings(args)
    items = load_queue(_engine(settings), settings, limit=args.limit)
    if args.json:
        json.dump([item.to_json() for item in items], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    from monitor.render import render_queue

    render_queue(Console(), items)
    return 0


def _demo_shift(path: Path) -> timedelta:
    """Move the demo's timestamps so its newest post was written three minutes ago."""
    newest = max(
        parse_timestamp(json.loads(line)["created_at"]) for line in path.read_text("utf-8").splitlines() if line.strip()
    )
    return (utcnow() - timedelta(minutes=3)) - newest


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.render import render_queue
    from responders.queue import load_queue

    settings = load_settings(args.config or DEMO_DIR / "demo.toml")
    database = Path(args.db).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": f"sqlite:///{database}"})}
    )
    console = Console()
    console.print(f"closeloop demo: a fresh SQLite database at {database}", style="bold")
    data = DEMO_DIR / "demo.jsonl"
    status = _ingest_file(settings, data, brand=None, console=console, shift=_demo_shift(data))
    if status:
        return status
    engine = _engine(settings)
    render_queue(console, load_queue(engine, settings))
    from responders.demo_history import demo_history

    console.print("\nCase histories (a simulated week: replies sent, confirmations, a reopen, a stale case):",
                  style="bold")
    for line in demo_history(engine, settings, now=utcnow()):
        console.print(line, markup=False, highlight=False)
    from monitor.radar.demo import show_radar_demo

    show_radar_demo(settings, database, console, config=DEMO_DIR / "demo.toml")
    prefix = f"CLOSELOOP_DATABASE_URL=sqlite:///{database} closeloop --config {DEMO_DIR / 'demo.toml'}"
    console.print(Text(
        "\nAnswer these complaints in the console:\n"
        f"  {prefix} users add you --role approver\n"
        f"  {prefix} serve        # then open http://{settings.console.host}:{settings.console.port}\n"
        f"The queue as JSON:\n  {prefix} queue --json"), soft_wrap=True)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = make_engine(settings.database_url())
    if args.action == "upgrade":
        upgrade(engine)
        print(f"database at revision {current_revision(engine)}")
        return 0
    current, head = current_revision(engine), head_revision()
    print(f"database revision: {current or 'none'}; this closeloop needs: {head}")
    return 0 if current == head else 1


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.keys:
        for key, help_text in documented_keys().items():
            print(f"{key}\t{help_text}")
        return 0
    # A config holds no secrets by design; a value that equals one anyway is masked like in the logs.
    print(REDACT(json.dumps(settings.model_dump(mode="json"), indent=2, ensure_ascii=False)))
    return 0


def _roles(value: str | None, settings: Settings) -> tuple[str, ...]:
    if not value:
        return tuple(settings.daemon.roles)
    roles = tuple(r.strip() for r in value.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ConfigError(f"--roles: unknown role(s) {', '.join(unknown)} (expected {', '.join(ROLES)})")
    return roles


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon

    settings = _settings(args)
    if args.node_id:
        settings = settings.model_copy(
            update={"daemon": settings.daemon.model_copy(update={"node_id": args.node_id})})
    daemon = Daemon(settings, _engine(settings), roles=_roles(args.roles, settings))
    if args.once:
        return _run_once(daemon)
    if not daemon.run_forever():
        # A step outlived stop_timeout_seconds: its claims are released and its leases cover the rest.
        # Leave now rather than wait on its thread; the exit is still a clean one for the supervisor.
        logging.shutdown()
        os._exit(0)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from models.maintenance import BackupUnsupported, backup

    settings = _settings(args)
    engine = make_engine(settings.database_url())
    try:
        report = backup(engine, Path(args.path))
    except BackupUnsupported as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 2
    print(f"backup written to {report.path} ({report.size} bytes, integrity_check {report.integrity})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from models.maintenance import check

    settings = _settings(args)
    findings = check(make_engine(settings.database_url()), full=args.full)
    for finding in findings:
        line = f"{'ok  ' if finding.ok else 'FAIL'} {finding.what}"
        print(line if finding.ok else f"{line}: {finding.fix}")
    failed = [f for f in findings if not f.ok]
    if failed:
        print(f"closeloop: {len(failed)} problem(s) found", file=sys.stderr)
        return 1
    return 0


def _run_once(daemon: Daemon) -> int:
    """Every role's step until nothing is left: for cron, and for trying a config."""
    from monitor.daemon import Poller
    from monitor.pipeline import process_pending
    from monitor.scoring import build_scorer
    from responders.mailer import SmtpMailer
    from responders.outbox import Outbox
    from responders.posters.registry import build_posters

    settings, engine = daemon.settings, daemon.engine
    if "poll" in daemon.roles:
        poller = Poller(engine, settings, daemon.owner)
        for name, reason in poller.unavailable.items():
            print(f"skipped source {name}: {reason}", file=sys.stderr)
        while poller.tick():
            pass
        poller.follow_threads()
        poller.release()
    if "score" in daemon.roles:
        from responders.tracker import track_pending

        process_pending(engine, settings, build_scorer(settings.scoring))
        track_pending(engine, settings, now=utcnow())
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
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from models.sources import enable_source, list_sources

    settings = _settings(args)
    engine = _engine(settings)
    if args.enable:
        if not enable_source(engine, name=args.enable):
            print(f"closeloop: no source called {args.enable!r}", file=sys.stderr)
            return 1
        print(f"source {args.enable} enabled; it polls on the next tick")
        return 0
    from monitor.render import render_sources

    render_sources(Console(), list_sources(engine))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from models.outbox import OutboxError, approve_draft, draft_for_case

    settings = _settings(args)
    engine = _engine(settings)
    draft_id = draft_for_case(engine, case_id=args.case_id)
    if draft_id is None:
        print(f"closeloop: case {args.case_id} has no draft waiting for approval", file=sys.stderr)
        return 1
    approver = args.as_name or os.environ.get("USER") or "cli"
    try:
        digest = approve_draft(engine, draft_id=draft_id, approver=approver, now=utcnow(), address="cli")
    except OutboxError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 1
    print(f"draft {draft_id} of case {args.case_id} approved by {approver} (text sha256 {digest[:12]}…); "
          "`closeloop post` or the daemon sends it")
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon

    settings = _settings(args)
    daemon = Daemon(settings, _engine(settings), roles=("post",))
    return _run_once(daemon)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="closeloop", description="A social-media care desk that closes the loop.")
    parser.add_argument("--config", help="config file (default: $CLOSELOOP_CONFIG, else ./config.toml)")
    parser.add_argument("--log-level", default=os.environ.get("CLOSELOOP_LOG_LEVEL", "WARNING"),
                        help="DEBUG, INFO, WARNING (default) or ERROR")
    parser.add_argument("--log-format", choices=["text", "json"], default=os.environ.get("CLOSELOOP_LOG_FORMAT", "text"),
                        help="one event per line as text (default) or JSON (for a log shipper)")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="run the whole pipeline once over a replay JSONL file")
    ingest.add_argument("file", help="a JSONL file in the replay format")
    ingest.add_argument("--brand", help="the brand these mentions are about (default: the first brand)")
    ingest.set_defaults(func=cmd_ingest)

    queue = commands.add_parser("queue", help="the open queue, most urgent first")
    queue.add_argument("--json", action="store_true", help="print a JSON array")
    queue.add_argument("--limit", type=int, help="show at most this many cases")
    queue.set_defaults(func=cmd_queue)

    demo = commands.add_parser("demo", help="ingest the bundled demo into a fresh SQLite database and show the queue")
    demo.add_argument("--db", default="closeloop-demo.db", help="where to create the demo database")
    demo.set_defaults(func=cmd_demo)

    run = commands.add_parser("run", help="the daemon: poll, score, draft and post on a schedule")
    run.add_argument("--roles", help="comma-separated subset of poll,score,post,web,digest (default: daemon.roles)")
    run.add_argument("--node-id", help="this daemon's name in leases (default: daemon.node_id)")
    run.add_argument("--once", action="store_true", help="run every step until nothing is left, then exit")
    run.set_defaults(func=cmd_run)

    sources = commands.add_parser("sources", help="each source's state, last poll, last error, next poll")
    sources.add_argument("--enable", metavar="NAME", help="clear a source's permanent error")
    sources.set_defaults(func=cmd_sources)

    approve = commands.add_parser("approve", help="approve a case's draft for posting")
    approve.add_argument("case_id", type=int)
    approve.add_argument("--as", dest="as_name", help="the approver's name (default: $USER)")
    approve.set_defaults(func=cmd_approve)

    post = commands.add_parser("post", help="send approved replies now (reconciling unknown ones first)")
    post.set_defaults(func=cmd_post)

    db = commands.add_parser("db", help="schema migrations")
    db.add_argument("action", choices=["upgrade", "status"])
    db.set_defaults(func=cmd_db)

    backup_cmd = commands.add_parser("backup", help="a consistent online copy of the SQLite database to PATH")
    backup_cmd.add_argument("path", help="the backup file (replaced atomically when it exists)")
    backup_cmd.set_defaults(func=cmd_backup)

    check_cmd = commands.add_parser("check", help="verify the database: integrity, SQLite settings, schema at head")
    check_cmd.add_argument("--full", action="store_true", help="PRAGMA integrity_check instead of quick_check")
    check_cmd.set_defaults(func=cmd_check)

    config = commands.add_parser("config", help="print the effective configuration")
    config.add_argument("--keys", action="store_true", help="list every key with its help line")
    config.set_defaults(func=cmd_config)
    # Subcommands contributed by responders/: the console (serve, users) and the digest.
    from monitor.radar.commands import register as register_alerts
    from responders.resolution_commands import register as register_digest
    from responders.web.commands import register as register_web

    register_web(commands)
    register_digest(commands)
    register_alerts(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"closeloop: bad configuration:\n{exc}", file=sys.stderr)
        return 2
    except (SchemaBehind, DatabaseUnsafe) as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
