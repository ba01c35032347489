"""`closeloop ingest`: the whole pipeline once over a replay file (`closeloop demo` runs it on the bundled one)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli.common import EXIT_OK, EXIT_SKIPPED, CliError, open_database, settings_for

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Settings

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"


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
    from rich.text import Text

    from monitor.pipeline import IngestReport, fetch_and_store, process_pending
    from monitor.progress import stage_progress
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
    scorer = build_scorer(settings.scoring)
    with stage_progress(console, read_total=source.count_lines()) as stages:
        stages.advance("read", 0)
        fetch_and_store(engine, source, brand=brand_name, source_id=None, report=report,
                        on_progress=lambda n: stages.advance("read", n))
        process_pending(engine, settings, scorer, report=report, on_stage=stages.advance)
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


def register(commands: Any) -> None:
    ingest = commands.add_parser("ingest", help="run the whole pipeline once over a replay JSONL file")
    ingest.add_argument("file", help="a JSONL file in the replay format")
    ingest.add_argument("--brand", help="the brand these mentions are about (default: the first brand)")
    ingest.set_defaults(func=cmd_ingest)
