"""The queue's lanes: what needs action now, what waits on an approver, on the outbox, on the customer.

Each lane is a condition on a case and its reply draft, so a lane is filtered, counted, ordered and paged in
SQL, across all pages: breached cases first (the longest overdue first), then the time left against the
response target (the deadline), then, between equal deadlines, repeat complainers and then reach. Nothing is
re-ranked within a page.

=============  ===========================================================================================
lane           cases
=============  ===========================================================================================
needs          waiting for our reply (open, reopened), complaints, not snoozed, whose draft is not handed
               to the approvers nor approved (no draft, a draft, a failed, held or rejected one)
ready          waiting, with a draft an agent marked ready for approval
sending        waiting, with an approved reply the outbox has yet to post (or is posting)
awaiting       we replied; waiting for the customer (``responded``)
unresolved     responded, but the customer never confirmed within the stale window (``unresolved``)
praise         waiting praise to thank (off the response clock), not handed over, approved or snoozed
snoozed        waiting, snoozed until a time or the customer's next post
=============  ===========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.engine import Engine

from models.case_states import WAITING
from models.db import reading
from models.queue import Claim, QueueFilter, QueueRow, _conditions, _queue_columns
from models.tables import AUTHOR, CASE, DRAFT, MENTION, SENTIMENT

LANES = ("needs", "ready", "sending", "awaiting", "unresolved", "praise", "snoozed")
LANE_LABELS = {
    "needs": "Needs reply", "ready": "Ready for approval", "sending": "Approved, sending",
    "awaiting": "Sent, awaiting customer", "unresolved": "Unresolved", "praise": "Praise", "snoozed": "Snoozed",
}
SCAN_LIMIT = 2000  # how far "next case" looks down a lane


def _status() -> Any:
    return func.coalesce(DRAFT.c.status, "")


def _awake(now: datetime) -> Any:
    return and_(or_(CASE.c.snoozed_until.is_(None), CASE.c.snoozed_until <= now),
                CASE.c.snooze_until_post.is_(False))


def lane_condition(lane: str, now: datetime) -> Any:
    """The SQL condition for ``lane`` (one of LANES) on CASE joined with its root reply DRAFT."""
    waiting = CASE.c.state.in_(WAITING)
    ready = and_(_status().in_(("draft", "failed")), DRAFT.c.ready_at.is_not(None))
    sending = _status().in_(("approved", "sending", "unknown"))
    settled = and_(waiting, not_(ready), not_(sending), _awake(now))
    conditions = {
        "needs": and_(settled, CASE.c.lane != "praise"),
        "ready": and_(waiting, ready),
        "sending": and_(waiting, sending),
        "awaiting": CASE.c.state == "responded",
        "unresolved": CASE.c.state == "unresolved",
        "praise": and_(settled, CASE.c.lane == "praise"),
        "snoozed": and_(waiting, not_(_awake(now))),
    }
    return conditions[lane]


def _cases() -> Any:
    return (CASE.outerjoin(DRAFT, and_(DRAFT.c.mention_id == CASE.c.root_mention_id, DRAFT.c.kind == "reply"))
            .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id))


def _order(now: datetime) -> list[Any]:
    breached = case((CASE.c.deadline_at < now, 0), else_=1)
    return [breached, CASE.c.deadline_at, CASE.c.prior_complaints.desc(),
            func.coalesce(AUTHOR.c.followers, 0).desc(), CASE.c.id]


def _where(filters: QueueFilter, lane: str | None, now: datetime) -> list[Any]:
    if lane is None:
        return _conditions(filters, now)
    return [*_conditions(replace(filters, states=()), now), lane_condition(lane, now)]


@dataclass(frozen=True, slots=True)
class LaneExtras:
    ready_by: str | None
    send_after: datetime | None
    snoozed_until: datetime | None
    snooze_until_post: bool


@dataclass(frozen=True, slots=True)
class LanePage:
    rows: list[QueueRow]
    claims: dict[int, Claim]
    extras: dict[int, LaneExtras]
    total: int


def lane_page(engine: Engine, *, lane: str | None, filters: QueueFilter, now: datetime, limit: int,
              offset: int = 0) -> LanePage:
    """One page of a lane (or, with ``lane=None``, of ``filters.states``), in the lane's global order."""
    where = _where(filters, lane, now)
    order = _order(now)
    ids = select(CASE.c.id).select_from(_cases()).where(*where).order_by(*order).limit(limit).offset(offset).subquery()
    query = (
        select(*_queue_columns(), DRAFT.c.ready_by, DRAFT.c.send_after, CASE.c.snoozed_until,
               CASE.c.snooze_until_post)
        .join(ids, ids.c.id == CASE.c.id)
        .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
        .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
        .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
        .outerjoin(DRAFT, and_(DRAFT.c.mention_id == MENTION.c.id, DRAFT.c.kind == "reply"))
        .order_by(*order)
    )
    with reading(engine) as connection:
        rows = list(connection.execute(query))
        total = connection.execute(select(func.count()).select_from(_cases()).where(*where)).scalar_one()
    return LanePage(
        rows=[QueueRow(*row[:26]) for row in rows],
        claims={row.id: Claim(row.assignee, row.editing_by, row.editing_until) for row in rows},
        extras={row.id: LaneExtras(row.ready_by, row.send_after, row.snoozed_until, bool(row.snooze_until_post))
                for row in rows},
        total=int(total),
    )


def lane_counts(engine: Engine, *, filters: QueueFilter, now: datetime) -> dict[str, int]:
    """How many cases each lane holds under ``filters`` (their state aside)."""
    base = _conditions(replace(filters, states=()), now)
    columns = [func.coalesce(func.sum(case((lane_condition(lane, now), 1), else_=0)), 0).label(lane)
               for lane in LANES]
    with reading(engine) as connection:
        row = connection.execute(select(*columns).select_from(_cases()).where(*base)).one()
    return {lane: int(row[i]) for i, lane in enumerate(LANES)}


def next_in_lane(engine: Engine, *, lane: str, now: datetime, after: int | None = None, user: str | None = None,
                 filters: QueueFilter | None = None) -> int | None:
    """The case to open next in ``lane``: the one after ``after`` in the lane's order (the first when
    ``after`` has left the lane), skipping cases someone other than ``user`` is editing; None when none."""
    where = _where(filters or QueueFilter(), lane, now)
    if user is not None:
        where.append(or_(CASE.c.editing_by.is_(None), CASE.c.editing_until < now, CASE.c.editing_by == user))
    query = select(CASE.c.id).select_from(_cases()).where(*where).order_by(*_order(now)).limit(SCAN_LIMIT)
    with reading(engine) as connection:
        ids = [int(row.id) for row in connection.execute(query)]
    if after in ids:
        rest = ids[ids.index(after) + 1:]
        return rest[0] if rest else None
    return ids[0] if ids else None
