"""What the health endpoints and /metrics read from the database: a few indexed aggregates, no scans of
mentions. Each function is one short read transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case as when
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from models.case_states import WAITING
from models.db import reading
from models.tables import CASE, DRAFT, MENTION, SOURCE


def database_reachable(engine: Engine) -> str | None:
    """None when a trivial query answers, else the reason (without the URL, which may hold a password)."""
    try:
        with reading(engine) as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure is the answer
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


@dataclass(frozen=True, slots=True)
class QueueState:
    unanswered: int
    oldest_posted_at: datetime | None
    past_deadline: int


def queue_state(engine: Engine, *, now: datetime) -> QueueState:
    """Complaint cases waiting for a first response (open or reopened; a thank-you for praise is off the clock), when the oldest of their posts was written
    (the one-hour clock starts at the post, not when we saw it), and how many are past their deadline."""
    with reading(engine) as connection:
        row = connection.execute(
            select(func.count(), func.min(MENTION.c.created_at),
                   func.coalesce(func.sum(when((CASE.c.deadline_at < now, 1), else_=0)), 0))
            .select_from(CASE.outerjoin(MENTION, MENTION.c.id == CASE.c.root_mention_id))
            .where(CASE.c.state.in_(WAITING), CASE.c.lane == "complaint")
        ).one()
    oldest = row[1]
    if isinstance(oldest, str):  # an aggregate loses the column type on SQLite
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return QueueState(int(row[0]), oldest, int(row[2]))


def drafts_by_status(engine: Engine) -> dict[str, int]:
    with reading(engine) as connection:
        rows = connection.execute(select(DRAFT.c.status, func.count()).group_by(DRAFT.c.status))
        return {status: int(count) for status, count in rows}


@dataclass(frozen=True, slots=True)
class SourceSchedule:
    name: str
    next_poll_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None


def active_sources(engine: Engine) -> list[SourceSchedule]:
    """Enabled sources without a permanent error: the ones that should be polled."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(SOURCE.c.name, SOURCE.c.next_poll_at, SOURCE.c.lease_owner, SOURCE.c.lease_until)
            .where(SOURCE.c.enabled.is_(True), SOURCE.c.disabled_reason.is_(None))
        )
        return [SourceSchedule(*row) for row in rows]
