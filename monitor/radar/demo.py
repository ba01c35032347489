"""The crisis radar's part of `closeloop demo`: the bundled week and its login outage, replayed into a
database of its own beside the demo's (so the demo's queue stays readable), ending three minutes ago."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.text import Text

from models.alerts import list_spikes, spike_posts
from models.db import make_engine, prepare
from models.types import utcnow
from monitor.config import Settings
from monitor.pipeline import fetch_and_store, score_pending, triage_pending
from monitor.radar.present import TOP_POSTS, spike_lines
from monitor.radar.tick import radar_tick
from monitor.render import clean
from monitor.scoring import build_scorer
from monitor.sources.replay import ReplaySource, parse_timestamp

SCENARIO = Path(__file__).resolve().parent.parent / "demo" / "radar_week.jsonl"


def radar_database(database: Path) -> Path:
    return database.with_name(f"{database.stem}-radar{database.suffix or '.db'}")


def show_radar_demo(settings: Settings, database: Path, console: Console, *, config: Path) -> Path:
    """Replay the scenario (scored and triaged, not drafted: the radar needs no drafts), print the alert it
    raises, and return the database it used."""
    target = radar_database(database)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": f"sqlite:///{target}"})})
    engine = make_engine(settings.database_url())
    prepare(engine)
    lines = [line for line in SCENARIO.read_text("utf-8").splitlines() if line.strip()]
    newest = max(parse_timestamp(json.loads(line)["created_at"]) for line in lines)
    shift = (utcnow() - timedelta(minutes=3)) - newest
    fetch_and_store(engine, ReplaySource(name=SCENARIO.name, path=SCENARIO, shift=shift),
                    brand=settings.brand(None).name, source_id=None)
    scorer = build_scorer(settings.scoring)
    while score_pending(engine, scorer):
        pass
    while triage_pending(engine, settings, now=utcnow())[0]:
        pass
    radar_tick(engine, settings, now=None)
    console.print(f"\nCrisis radar: a replayed week of {len(lines)} mentions ending in a login outage "
                  f"(in {target}):", style="bold")
    spikes = list_spikes(engine)
    if not spikes:
        console.print("no open spike")
    for spike in spikes:
        for line in spike_lines(spike, spike_posts(engine, spike_id=spike.id, limit=TOP_POSTS),
                                timezone=settings.app.timezone):
            console.print(Text(clean(line)), soft_wrap=True)
    console.print(Text(f"The alerts as JSON:\n  CLOSELOOP_DATABASE_URL=sqlite:///{target} closeloop --config {config} "
                       "alerts --json"), soft_wrap=True)
    engine.dispose()
    return target


__all__ = ["SCENARIO", "radar_database", "show_radar_demo"]
