"""The response queue: open cases ranked by urgency at the moment of asking, with their drafts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from models.queue import QueueRow, open_queue
from models.types import utcnow
from monitor.config import Settings
from monitor.urgency import Urgency, UrgencyInput, rank


@dataclass(frozen=True, slots=True)
class QueueItem:
    row: QueueRow
    urgency: Urgency

    def to_json(self) -> dict[str, Any]:
        row = self.row
        return {
            "case_id": row.case_id,
            "state": row.state,
            "brand": row.brand,
            "category": row.category,
            "mention_id": row.mention_id,
            "platform": row.platform,
            "url": row.url,
            "author_handle": row.author_handle,
            "author_name": row.author_name,
            "followers": row.followers,
            "text": row.text,
            "language": row.language,
            "created_at": row.created_at.isoformat(),
            "reply_eligible": row.reply_eligible,
            "sentiment": {"label": row.label, "score": round(row.score, 4), "model": row.model},
            "urgency": {"score": round(self.urgency.score, 2), "reasons": list(self.urgency.reasons)},
            "deadline": self.urgency.deadline.isoformat(),
            "minutes_left": round(self.urgency.minutes_left, 1),
            "draft": None
            if row.draft_id is None
            else {
                "id": row.draft_id,
                "text": row.draft_text,
                "language": row.draft_language,
                "status": row.draft_status,
                "style_issues": row.draft_issues or [],
                "error": row.draft_error,
            },
        }


def rank_queue(rows: list[QueueRow], settings: Settings, *, now: datetime) -> list[QueueItem]:
    """Most urgent first; ties go to the earlier deadline, then the older case."""
    items = score_rows(rows, settings, now=now)
    items.sort(key=lambda item: (-item.urgency.score, item.row.deadline_at, item.row.case_id))
    return items


def score_rows(rows: list[QueueRow], settings: Settings, *, now: datetime) -> list[QueueItem]:
    """Each row with its urgency at ``now``, in the order given (the console's lanes are ordered in SQL)."""
    return [
        QueueItem(
            row,
            rank(
                UrgencyInput(
                    text=row.text,
                    language=row.language,
                    sentiment_label=row.label,
                    sentiment_score=row.score,
                    followers=row.followers,
                    verified=row.verified,
                    created_at=row.created_at,
                    prior_complaints=row.prior_complaints,
                ),
                now=now,
                target_minutes=settings.app.response_target_minutes,
                severity_words=settings.ranking.severity_words,
                repeat_window_days=settings.ranking.repeat_window_days,
            ),
        )
        for row in rows
    ]


def load_queue(engine: Engine, settings: Settings, *, now: datetime | None = None, limit: int | None = None) -> list[QueueItem]:
    items = rank_queue(open_queue(engine), settings, now=now or utcnow())
    return items if limit is None else items[:limit]
