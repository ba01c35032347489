"""Helpers for the radar's storage and scenario tests: settings, mentions through the real pipeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from models.mentions import store_batch
from monitor.config import Settings, load_settings
from monitor.pipeline import process_pending
from monitor.scoring import build_scorer
from monitor.sources.replay import parse_replay_record

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "monitor" / "demo" / "radar_week.jsonl"


def radar_settings(*, smtp_port: int | None = None, recipients: Sequence[str] = (), **radar: Any) -> Settings:
    """The shipped config.toml, scored by the lexicon, mailing radar alerts to ``recipients`` on ``smtp_port``."""
    base = load_settings(REPO / "config.toml", env={})
    update: dict[str, Any] = {
        "scoring": base.scoring.model_copy(update={"backend": "lexicon"}),
        "radar": base.radar.model_copy(update={"recipients": tuple(recipients), **radar}),
    }
    if smtp_port is not None:
        update["smtp"] = base.smtp.model_copy(update={"host": "127.0.0.1", "port": smtp_port})
    return base.model_copy(update=update)


def scenario_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SCENARIO.read_text("utf-8").splitlines() if line.strip()]


def post(serial: int, at: datetime, text: str, *, author: str | None = None, platform: str = "x",
         followers: int = 100, url: str | None = None) -> dict[str, Any]:
    handle = author or f"person{serial}"
    return {"platform": platform, "id": f"{serial}", "text": text, "created_at": at.isoformat(),
            "author": {"id": f"u-{handle}", "handle": handle, "name": handle.title(), "followers": followers},
            "url": url if url is not None else f"https://x.com/{handle}/status/{serial}", "lang": None}


def ingest(engine: Engine, settings: Settings, records: Sequence[dict[str, Any]]) -> None:
    """Store the records as a poll would, then score, triage and draft them."""
    if records:
        store_batch(engine, mentions=[parse_replay_record(r) for r in records], brand="Acme", source_id=None)
    process_pending(engine, settings, build_scorer(settings.scoring))
