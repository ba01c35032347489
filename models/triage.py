"""Triage's storage: scored mentions waiting to be sorted, and the result of sorting one.

A triaged mention is marked once (``triaged_at``); a complaint joins its author's active case in the same
thread or opens a case through the door (``models.cases.open_case_in``), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from models.case_states import ACTIVE, STATES
from models.cases import open_case_in, wake_on_post_in
from models.db import reading, writing
from models.tables import AUTHOR, CASE, MENTION, SENTIMENT
from models.types import utcnow


@dataclass(frozen=True, slots=True)
class ToTriage:
    mention_id: int
    platform: str
    brand: str
    text: str
    language: str | None
    created_at: datetime
    conversation_id: str | None
    in_reply_to_id: str | None
    author_id: int
    author_handle: str
    author_followers: int | None
    author_verified: bool
    label: str
    score: float


def mentions_to_triage(engine: Engine, *, limit: int) -> list[ToTriage]:
    """Scored mentions not yet triaged, oldest post first (so a thread's first complaint opens its case).
    Deleted and quarantined mentions are left out."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(
                MENTION.c.id, MENTION.c.platform, MENTION.c.brand, MENTION.c.text, MENTION.c.language,
                MENTION.c.created_at, MENTION.c.conversation_id, MENTION.c.in_reply_to_id, MENTION.c.author_id,
                AUTHOR.c.handle, AUTHOR.c.followers, AUTHOR.c.verified, SENTIMENT.c.label, SENTIMENT.c.score,
            )
            .join(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
            .join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
            .where(MENTION.c.triaged_at.is_(None), MENTION.c.deleted_at.is_(None), MENTION.c.quarantined_at.is_(None))
            .order_by(MENTION.c.created_at, MENTION.c.id)
            .limit(limit)
        )
        return [
            ToTriage(r.id, r.platform, r.brand, r.text, r.language, r.created_at, r.conversation_id,
                     r.in_reply_to_id, r.author_id, r.handle, r.followers, bool(r.verified), r.label, r.score)
            for r in rows
        ]


def count_prior_complaints(connection: Connection, *, author_id: int, before: datetime, since: datetime) -> int:
    """Complaint cases this author opened between ``since`` and ``before`` (a thank-you in the praise lane is
    no earlier complaint)."""
    return int(
        connection.execute(
            select(func.count())
            .select_from(CASE)
            .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
            .where(CASE.c.author_id == author_id, CASE.c.lane == "complaint", MENTION.c.created_at >= since,
                   MENTION.c.created_at < before)
        ).scalar_one()
    )


def _thread_case(connection: Connection, item: ToTriage, states: Sequence[str] = ACTIVE) -> int | None:
    """The author's case in the same thread in one of ``states`` (by default an active one), if any."""
    keys = [k for k in (item.conversation_id, item.in_reply_to_id) if k]
    if not keys:
        return None
    thread = select(MENTION.c.case_id).where(
        MENTION.c.platform == item.platform,
        MENTION.c.case_id.is_not(None),
        (MENTION.c.conversation_id.in_(keys)) | (MENTION.c.platform_id.in_(keys)),
    )
    row = connection.execute(
        select(CASE.c.id)
        .where(CASE.c.id.in_(thread), CASE.c.author_id == item.author_id, CASE.c.state.in_(states))
        .order_by(CASE.c.id.desc())
        .limit(1)
    ).first()
    return row.id if row else None


def record_triage(
    engine: Engine,
    *,
    item: ToTriage,
    complaint: bool,
    category: str,
    deadline: datetime,
    repeat_window: timedelta,
    now: datetime | None = None,
    lane: str = "complaint",
) -> tuple[int | None, bool]:
    """Record the triage of one mention; a complaint joins the author's case in its thread or opens one.

    Returns (case id, whether it was opened now). A post in the thread of the author's active case joins that
    case whatever its sentiment (a "thanks, fixed!" is how a case gets resolved); any other post that is no
    complaint stays out of cases. Only the first triage of a mention counts: a concurrent second one finds
    it already triaged and changes nothing. ``lane="praise"`` opens a praise-lane case for a post that is no
    complaint (a thank-you to draft), unless the post joins its author's case in the thread.
    """
    now = now or utcnow()
    with writing(engine) as connection:
        claimed = connection.execute(
            update(MENTION)
            .where(MENTION.c.id == item.mention_id, MENTION.c.triaged_at.is_(None))
            .values(triaged_at=now, is_complaint=complaint)
        )
        if claimed.rowcount != 1:
            return None, False
        case_id = _thread_case(connection, item)
        praise = lane == "praise" and not complaint
        if case_id is None and praise and _thread_case(connection, item, STATES) is not None:
            # thanks in the thread of the author's finished case ("5/5, thank you"): an answer to our follow-up,
            # which the tracker reads there (a rating, a confirmation); never a thank-you case of its own
            praise = False
        if case_id is None and not complaint and not praise:
            return None, False
        opened = case_id is None
        if case_id is None:
            prior = count_prior_complaints(
                connection, author_id=item.author_id, before=item.created_at, since=item.created_at - repeat_window
            )
            case_id = open_case_in(
                connection, brand=item.brand, platform=item.platform, author_id=item.author_id,
                root_mention_id=item.mention_id, conversation_id=item.conversation_id, category=category,
                language=item.language, prior_complaints=prior, deadline=deadline, now=now,
                lane="praise" if praise else "complaint")
        connection.execute(update(MENTION).where(MENTION.c.id == item.mention_id).values(case_id=case_id))
        if not opened:
            wake_on_post_in(connection, case_id=case_id, author_id=item.author_id, now=now)
        return int(case_id), opened
