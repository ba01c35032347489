"""What the health endpoints and /metrics read from the database: a few indexed aggregates, no scans of
mentions. Each function is one short read transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case as when
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from models.db import reading
from models.tables import Case, Draft, Mention, Source

_case = Case.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_draft = Draft.__table__  # type: ignore[attr-defined]
_source = Source.__table__  # type: ignore[attr-defined]
UNANSWERED = ("open", "reopened")


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
    """Cases waiting for a first response (open or reopened), when the oldest of their posts was written
    (the one-hour clock starts at the post, not when we saw it), and how many are past their deadline."""
    with reading(engine) as connection:
        row = connection.execute(
            select(func.count(), func.min(_mention.c.created_at),
                   func.coalesce(func.sum(when((_case.c.deadline_at < now, 1), else_=0)), 0))
            .select_from(_case.outerjoin(_mention, _mention.c.id == _case.c.root_mention_id))
            .where(_case.c.state.in_(UNANSWERED))
        ).one()
    oldest = row[1]
    if isinstance(oldest, str):  # an aggregate loses the column type on SQLite
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return QueueState(int(row[0]), oldest, int(row[2]))


def drafts_by_status(engine: Engine) -> dict[str, int]:
    with reading(engine) as connection:
        rows = connection.execute(select(_draft.c.status, func.count()).group_by(_draft.c.status))
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
            select(_source.c.name, _source.c.next_poll_at, _source.c.lease_owner, _source.c.lease_until)
            .where(_source.c.enabled.is_(True), _source.c.disabled_reason.is_(None))
        )
        return [SourceSchedule(*row) for row in rows]
