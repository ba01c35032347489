"""The outbox's read-only queries: a case's drafts, and the replies waiting on the outbox (approved or held).

Nothing here writes; ``models.outbox`` is the one writer of drafts (and re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from models.db import reading
from models.tables import DRAFT, MENTION

EDITABLE = ("draft", "approved", "held", "failed")
"""Statuses whose text may still change (editing sends the draft back to ``draft``)."""


def _unleased(now: datetime) -> Any:
    return or_(DRAFT.c.lease_until.is_(None), DRAFT.c.lease_until < now)


def draft_for_case(engine: Engine, *, case_id: int) -> int | None:
    """The case's current draft (the newest reply or satisfaction follow-up not yet sent or rejected)."""
    with reading(engine) as connection:
        row = connection.execute(
            select(DRAFT.c.id).where(DRAFT.c.case_id == case_id, DRAFT.c.status.in_(EDITABLE))
            .order_by(DRAFT.c.id.desc()).limit(1)
        ).first()
        return row.id if row else None


def case_drafts(engine: Engine, *, case_id: int, kind: str) -> list[tuple[int, str]]:
    """(draft id, status) of a case's drafts of ``kind``, oldest first."""
    with reading(engine) as connection:
        return [(r.id, r.status) for r in connection.execute(
            select(DRAFT.c.id, DRAFT.c.status).where(DRAFT.c.case_id == case_id, DRAFT.c.kind == kind)
            .order_by(DRAFT.c.id))]


@dataclass(frozen=True, slots=True)
class WaitingReply:
    """An approved or held reply, with what decides whether the outbox can send it."""

    draft_id: int
    case_id: int
    status: str
    brand: str
    platform: str
    reply_eligible: bool | None
    eligibility_reason: str | None
    post_deleted: bool
    last_error: str | None


def waiting_replies(engine: Engine, *, now: datetime, limit: int = 500) -> list[WaitingReply]:
    """Held replies, and approved ones no sender holds a lease on, oldest approval first."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(DRAFT.c.id, DRAFT.c.case_id, DRAFT.c.status, MENTION.c.brand, MENTION.c.platform,
                   MENTION.c.reply_eligible, MENTION.c.eligibility_reason, MENTION.c.deleted_at.is_not(None),
                   DRAFT.c.last_error)
            .join(MENTION, MENTION.c.id == DRAFT.c.mention_id)
            .where(DRAFT.c.status.in_(("approved", "held")), or_(DRAFT.c.status == "held", _unleased(now)))
            .order_by(DRAFT.c.approved_at, DRAFT.c.id)
            .limit(limit)
        )
        return [WaitingReply(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class HeldReply:
    draft_id: int
    case_id: int
    kind: str
    platform: str
    brand: str
    reason: str
    approved_by: str | None


def held_replies(engine: Engine, *, limit: int | None = None) -> list[HeldReply]:
    """Every held reply with its reason, oldest approval first: what `closeloop post` and the digest report."""
    query = (select(DRAFT.c.id, DRAFT.c.case_id, DRAFT.c.kind, MENTION.c.platform, MENTION.c.brand,
                    DRAFT.c.last_error, DRAFT.c.approved_by)
             .join(MENTION, MENTION.c.id == DRAFT.c.mention_id)
             .where(DRAFT.c.status == "held").order_by(DRAFT.c.approved_at, DRAFT.c.id))
    with reading(engine) as connection:
        return [HeldReply(r[0], r[1], r[2], r[3], r[4], r[5] or "held", r[6])
                for r in connection.execute(query if limit is None else query.limit(limit))]
