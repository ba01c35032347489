"""Sentiments: the score of each mention and the model that produced it, with the language it was read in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine

from models.db import insert_for, reading, writing
from models.tables import MENTION, SENTIMENT
from models.types import utcnow


@dataclass(frozen=True, slots=True)
class ToScore:
    mention_id: int
    text: str
    lang_hint: str | None


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    mention_id: int
    language: str | None
    label: str
    score: float
    model: str


def mentions_to_score(engine: Engine, *, limit: int) -> list[ToScore]:
    """Mentions without a sentiment, oldest first; quarantined ones are never handed out again."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(MENTION.c.id, MENTION.c.text, MENTION.c.lang_hint)
            .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
            .where(SENTIMENT.c.mention_id.is_(None), MENTION.c.quarantined_at.is_(None))
            .order_by(MENTION.c.id)
            .limit(limit)
        )
        return [ToScore(row.id, row.text, row.lang_hint) for row in rows]


def record_sentiments(engine: Engine, *, scores: Sequence[ScoreRecord], now: datetime | None = None) -> None:
    """Store scores and detected languages; a mention scored meanwhile by another worker keeps its first score."""
    if not scores:
        return
    now = now or utcnow()
    ordered = sorted(scores, key=lambda s: s.mention_id)  # one lock order for concurrent scorers
    with writing(engine) as connection:
        connection.execute(
            insert_for(connection, SENTIMENT).on_conflict_do_nothing(index_elements=["mention_id"]),
            [{"mention_id": s.mention_id, "label": s.label, "score": s.score, "model": s.model, "scored_at": now}
             for s in ordered],
        )
        connection.execute(
            update(MENTION).where(MENTION.c.id == bindparam("b_id")).values(language=bindparam("b_language")),
            [{"b_id": s.mention_id, "b_language": s.language} for s in ordered],
        )
