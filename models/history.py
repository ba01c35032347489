"""A customer's history, read-only: their earlier posts and cases, on any platform, for drafting.

The same person is the same author row or the same handle ignoring case and a leading "@" (as the case page
shows it: ``models.queue.case_detail``). Only what came before the post being answered counts, and never the
post itself; deleted and quarantined posts are left out. Plain rows: the drafter turns them into its own
``EarlierContact`` (models never import responders).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine

from models.db import reading
from models.tables import AUTHOR, CASE, MENTION

HISTORY_LIMIT = 20


@dataclass(frozen=True, slots=True)
class EarlierPost:
    """One earlier post by the customer and the case it opened or joined (``case_state`` None: no case)."""

    mention_id: int
    platform: str
    text: str
    language: str | None
    created_at: datetime
    case_id: int | None
    case_state: str | None
    case_category: str | None
    case_lane: str | None


def _handle_key(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


def customer_history(engine: Engine, *, author_id: int, handle: str, before: datetime, mention_id: int,
                     case_id: int | None = None, limit: int = HISTORY_LIMIT) -> list[EarlierPost]:
    """The customer's posts before ``before`` (newest first, at most ``limit``), leaving out ``mention_id`` and
    the posts of ``case_id`` (the case being answered: its own thread is not history). Praise-lane cases count
    as posts without a case: a thank-you is no earlier complaint."""
    key = _handle_key(handle)
    with reading(engine) as connection:
        same_person = select(AUTHOR.c.id).where(
            or_(AUTHOR.c.id == author_id, func.lower(func.ltrim(AUTHOR.c.handle, "@")) == key)
        )
        author_ids = [r.id for r in connection.execute(same_person)]
        query = (
            select(MENTION.c.id, MENTION.c.platform, MENTION.c.text, MENTION.c.language, MENTION.c.created_at,
                   CASE.c.id.label("case_id"), CASE.c.state, CASE.c.category, CASE.c.lane)
            .outerjoin(CASE, CASE.c.id == MENTION.c.case_id)
            .where(MENTION.c.author_id.in_(author_ids), MENTION.c.id != mention_id, MENTION.c.created_at < before,
                   MENTION.c.deleted_at.is_(None), MENTION.c.quarantined_at.is_(None))
            .order_by(MENTION.c.created_at.desc(), MENTION.c.id.desc())
            .limit(limit)
        )
        if case_id is not None:
            query = query.where(or_(MENTION.c.case_id.is_(None), MENTION.c.case_id != case_id))
        rows = connection.execute(query).all()
    return [
        EarlierPost(r.id, r.platform, r.text, r.language, r.created_at, r.case_id,
                    r.state if r.lane != "praise" else None, r.category if r.lane != "praise" else None, r.lane)
        for r in rows
    ]


__all__ = ["HISTORY_LIMIT", "EarlierPost", "customer_history"]
