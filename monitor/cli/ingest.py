"""`closeloop ingest` and `closeloop demo`: the whole pipeline once over a replay file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli.common import EXIT_OK, EXIT_SKIPPED, CliError, open_database, settings_for

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Settings

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
PROGRESS_MIN_LINES = 2_000


def line_ranges(numbers: Iterable[int]) -> str:
    """``1, 3-5, 9``: every number, runs folded into ranges."""
    ordered = sorted(set(numbers))
    runs: list[str] = []
    start = previous = None
    for number in [*ordered, None]:
        if start is not None and number == (previous or 0) + 1:
            previous = number
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(runs)


def _skipped_lines(bad: Iterable[Any]) -> str:
    numbers = [int(b.position.split()[-1]) for b in bad if b.position.startswith("line ")
               and b.position.split()[-1].isdigit()]
    return line_ranges(numbers)


def ingest_file(settings: Settings, path: Path, *, brand: str | None, console: Console,
                shift: timedelta = timedelta(0)) -> int:
    """Store, score, triage and draft every good line of ``path``; EXIT_SKIPPED when some were skipped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.text import Text

    from monitor.pipeline import IngestReport, fetch_and_store, process_pending
    from monitor.radar.tick import radar_tick
    from monitor.render import render_report
    from monitor.scoring import build_scorer
    from monitor.sources.replay import ReplaySource

    if not path.is_file():
        raise CliError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    engine = open_database(settings)
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
    if report.bad:
        console.print(Text(f"closeloop: {len(report.bad)} line(s) of {path} skipped: lines "
                           f"{_skipped_lines(report.bad) or '?'}; the rest went in", style="yellow"), soft_wrap=True)
        return EXIT_SKIPPED
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from rich.console import Console

    settings = settings_for(args)
    try:
        settings.brand(args.brand)
    except KeyError:
        raise CliError(f"--brand: no brand called {args.brand!r} in the config") from None
    return ingest_file(settings, Path(args.file), brand=args.brand, console=Console(stderr=False))


def _demo_shift(path: Path) -> timedelta:
    """Move the demo's timestamps so its newest post was written three minutes ago."""
    from models.types import utcnow
    from monitor.sources.replay import parse_timestamp

    newest = max(
        parse_timestamp(json.loads(line)["created_at"]) for line in path.read_text("utf-8").splitlines() if line.strip()
    )
    return (utcnow() - timedelta(minutes=3)) - newest


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
    render_queue(console, load_queue(engine, settings))
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
    return EXIT_OK


def register(commands: Any) -> None:
    ingest = commands.add_parser("ingest", help="run the whole pipeline once over a replay JSONL file")
    ingest.add_argument("file", help="a JSONL file in the replay format")
    ingest.add_argument("--brand", help="the brand these mentions are about (default: the first brand)")
    ingest.set_defaults(func=cmd_ingest)

    demo = commands.add_parser("demo", help="ingest the bundled demo into a fresh SQLite database and show the queue")
    demo.add_argument("--db", default="closeloop-demo.db", help="where to create the demo database")
    demo.set_defaults(func=cmd_demo)
