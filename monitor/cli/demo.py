"""`closeloop demo`: the bundled demo ingested into a fresh SQLite database, its queue, a simulated past week
of case histories, the radar's replayed outage, and the one command that opens the desk on that database."""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from monitor.cli.common import EXIT_OK, EXIT_SKIPPED, CliError, open_database
from monitor.cli.ingest import DEMO_DIR, ingest_file

DEMO_USER = "demo"


def _demo_shift(path: Path) -> timedelta:
    """Move the demo's timestamps so its newest post was written three minutes ago."""
    from models.types import utcnow
    from monitor.sources.replay import parse_timestamp

    newest = max(
        parse_timestamp(json.loads(line)["created_at"]) for line in path.read_text("utf-8").splitlines() if line.strip()
    )
    return (utcnow() - timedelta(minutes=3)) - newest


def demo_config(database: Path) -> Path:
    """A config file beside ``database``: the bundled demo config with its database and replay file named by
    absolute path, so ``closeloop --config <it>`` works from any folder."""
    text = (DEMO_DIR / "demo.toml").read_text("utf-8")
    replaced = {'url = "sqlite:///closeloop.db"': f"url = {json.dumps(f'sqlite:///{database}')}",
                'path = "demo.jsonl"': f"path = {json.dumps(str(DEMO_DIR / 'demo.jsonl'))}"}
    for old, new in replaced.items():
        if old not in text:
            raise CliError(f"{DEMO_DIR / 'demo.toml'}: expected the line {old!r}")
        text = text.replace(old, new, 1)
    target = database.with_suffix(".toml")
    target.write_text(f"# Written by `closeloop demo` for the demo database {database}.\n{text}", "utf-8")
    return target


def _command() -> str:
    """How this closeloop was started, as a shell word or two: ``closeloop`` when that is the one on PATH."""
    script = Path(sys.argv[0])
    if script.name == "closeloop":
        found = shutil.which("closeloop")
        if found and Path(found).resolve() == script.resolve():
            return "closeloop"
        return shlex.quote(str(script.resolve()))
    return f"{shlex.quote(sys.executable)} -m monitor.cli"


def _demo_account(engine: Any) -> str:
    """The demo database's one console account (an admin: every page), with a fresh random password."""
    from models.types import utcnow
    from models.users import create_user
    from responders.web.auth import hash_password

    password = secrets.token_urlsafe(12)
    create_user(engine, name=DEMO_USER, password_hash=hash_password(password), role="admin", now=utcnow(),
                actor="demo", address="cli")
    return password


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    from models.types import utcnow
    from monitor.config import load_settings
    from monitor.render import render_queue
    from responders.demo_history import demo_history
    from responders.queue import load_queue

    # The demo brings its own config; --config swaps it, --defaults does not apply.
    settings = load_settings(args.config or DEMO_DIR / "demo.toml")
    database = Path(args.db).resolve()
    if not database.parent.is_dir():
        raise CliError(f"--db: the folder {database.parent} does not exist")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": f"sqlite:///{database}"})}
    )
    console = Console()
    console.print(f"closeloop demo: a fresh SQLite database at {database}", style="bold")
    data = DEMO_DIR / "demo.jsonl"
    status = ingest_file(settings, data, brand=None, console=console, shift=_demo_shift(data))
    if status not in (EXIT_OK, EXIT_SKIPPED):
        return status
    engine = open_database(settings)
    console.print("\nLast week (simulated, ended before now): replies sent, confirmations, a reopen, a stale case:",
                  style="bold")
    for line in demo_history(engine, settings, now=utcnow()):
        console.print(line, markup=False, highlight=False)
    render_queue(console, load_queue(engine, settings))
    from monitor.radar.demo import show_radar_demo

    show_radar_demo(settings, database, console, config=DEMO_DIR / "demo.toml")
    password = _demo_account(engine)
    if args.config:
        opener = f"CLOSELOOP_DATABASE_URL=sqlite:///{shlex.quote(str(database))} {_command()} " \
                 f"--config {shlex.quote(str(args.config))} serve"
    else:
        opener = f"{_command()} --config {shlex.quote(str(demo_config(database)))} serve"
    console.print(Text(
        f"\nOpen the desk on this demo's database, then sign in at http://{settings.console.host}:"
        f"{settings.console.port}/ as {DEMO_USER} with the password {password}:\n  {opener}"), soft_wrap=True)
    return EXIT_OK


def register(commands: Any) -> None:
    demo = commands.add_parser("demo", help="ingest the bundled demo into a fresh SQLite database and show the queue")
    demo.add_argument("--db", default="closeloop-demo.db", help="where to create the demo database")
    demo.set_defaults(func=cmd_demo)
