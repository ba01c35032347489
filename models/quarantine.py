"""Quarantine: mentions that failed in a pipeline stage, set aside so that one poisoned post stops only itself.

A quarantined mention keeps its stage (``score``, ``triage``, ``draft`` or ``track``), the error and when it
happened; no stage hands it out again, so a batch is never retried forever for one bad row. The counts are
shown by the console, ``closeloop check`` and ``/metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from models.db import reading, writing
from models.tables import AUTHOR, MENTION
from models.types import utcnow

STAGES = ("score", "triage", "draft", "track")
ERROR_LIMIT = 1000


def _printable(error: str) -> str:
    """The error as text any database stores: no NUL, no lone surrogate (the post's own poison may be in it)."""
    safe = error.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return safe[:ERROR_LIMIT]


def quarantine_mention(engine: Engine, *, mention_id: int, stage: str, error: str,
                       now: datetime | None = None) -> bool:
    """Set the mention aside with its stage and error; False when it was quarantined already."""
    if stage not in STAGES:
        raise ValueError(f"unknown pipeline stage {stage!r} (expected one of {', '.join(STAGES)})")
    with writing(engine) as connection:
        return connection.execute(
            update(MENTION).where(MENTION.c.id == mention_id, MENTION.c.quarantined_at.is_(None))
            .values(quarantined_at=now or utcnow(), quarantine_stage=stage, quarantine_error=_printable(error))
        ).rowcount == 1


def quarantine_counts(engine: Engine) -> dict[str, int]:
    """Quarantined mentions per stage, every stage present (0 where none): what /metrics and check report."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(MENTION.c.quarantine_stage, func.count()).where(MENTION.c.quarantined_at.is_not(None))
            .group_by(MENTION.c.quarantine_stage))
        found = {str(stage): int(count) for stage, count in rows}
    return {stage: found.get(stage, 0) for stage in STAGES} | found


@dataclass(frozen=True, slots=True)
class QuarantinedMention:
    mention_id: int
    platform: str
    brand: str
    canonical_id: str
    author_handle: str
    text: str
    url: str | None
    created_at: datetime
    quarantined_at: datetime
    stage: str
    error: str


def quarantined_mentions(engine: Engine, *, limit: int = 100) -> list[QuarantinedMention]:
    """The most recently quarantined mentions first, with their stage and error."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(MENTION.c.id, MENTION.c.platform, MENTION.c.brand, MENTION.c.canonical_id, AUTHOR.c.handle,
                   MENTION.c.text, MENTION.c.url, MENTION.c.created_at, MENTION.c.quarantined_at,
                   MENTION.c.quarantine_stage, MENTION.c.quarantine_error)
            .join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
            .where(MENTION.c.quarantined_at.is_not(None))
            .order_by(MENTION.c.quarantined_at.desc(), MENTION.c.id.desc())
            .limit(limit)
        )
        return [QuarantinedMention(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9] or "", r[10] or "")
                for r in rows]
