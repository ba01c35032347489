"""Reads of the cases that have work waiting: posts to apply, cases to draft, to sweep, to ask for a rating.

Read-only; the work's result is written through ``models.cases`` (the door) or ``models.outbox``. Quarantined
mentions are never handed out again (see ``models.quarantine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from models.case_states import QUIET, WAITING
from models.cases import CaseState, state_columns, state_since
from models.db import reading
from models.tables import AUTHOR, CASE, CASE_EVENT, DRAFT, MENTION, SENTIMENT


def case_state(engine: Engine, *, case_id: int) -> CaseState | None:
    with reading(engine) as connection:
        row = connection.execute(select(*state_columns()).where(CASE.c.id == case_id)).first()
        return CaseState(*row) if row else None


@dataclass(frozen=True, slots=True)
class TrackItem:
    """A later post by a case's author, not yet applied to the case."""

    mention_id: int
    text: str
    language: str | None
    label: str
    score: float
    created_at: datetime
    is_complaint: bool
    attach: bool
    case: CaseState


def _track_select() -> Select[Any]:
    return select(
        MENTION.c.id, MENTION.c.text, MENTION.c.language, SENTIMENT.c.label, SENTIMENT.c.score,
        MENTION.c.created_at, MENTION.c.is_complaint, *state_columns(),
    ).join(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)


def _items(rows: Any, *, attach: bool) -> list[TrackItem]:
    items: dict[int, TrackItem] = {}
    for row in rows:
        if row[0] in items:
            continue
        items[row[0]] = TrackItem(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), attach,
                                  CaseState(*row[7:]))
    return list(items.values())


def mentions_to_track(engine: Engine, *, limit: int) -> list[TrackItem]:
    """Posts that joined a case after its root and have no CaseEvent of their own yet, oldest first.

    The marker that a post was applied is a CaseEvent naming it (a transition, or a no-change note), written
    in the same transaction as its effect, so each post is applied exactly once.
    """
    applied = select(CASE_EVENT.c.id).where(CASE_EVENT.c.case_id == MENTION.c.case_id,
                                            CASE_EVENT.c.mention_id == MENTION.c.id)
    with reading(engine) as connection:
        rows = connection.execute(
            _track_select()
            .join(CASE, CASE.c.id == MENTION.c.case_id)
            .where(MENTION.c.id != CASE.c.root_mention_id, MENTION.c.deleted_at.is_(None),
                   MENTION.c.quarantined_at.is_(None), MENTION.c.author_id == CASE.c.author_id, ~applied.exists())
            .order_by(MENTION.c.created_at, MENTION.c.id)
            .limit(limit)
        )
        return _items(rows, attach=False)


def thread_posts_of_closed_cases(engine: Engine, *, limit: int) -> list[TrackItem]:
    """Posts by a case's author in the thread of their resolved or unresolved case that triage left out of
    cases (it joins only active ones): a late "thanks, it works" or a satisfaction answer. Newest case first."""
    root = MENTION.alias("root")
    with reading(engine) as connection:
        rows = connection.execute(
            _track_select()
            .join(CASE, and_(CASE.c.author_id == MENTION.c.author_id, CASE.c.platform == MENTION.c.platform,
                             CASE.c.conversation_id == MENTION.c.conversation_id,
                             CASE.c.state.in_(QUIET)))
            .join(root, root.c.id == CASE.c.root_mention_id)
            .where(MENTION.c.case_id.is_(None), MENTION.c.triaged_at.is_not(None), MENTION.c.deleted_at.is_(None),
                   MENTION.c.quarantined_at.is_(None), MENTION.c.created_at > root.c.created_at)
            .order_by(MENTION.c.created_at, MENTION.c.id, CASE.c.id.desc())
            .limit(limit)
        )
        return _items(rows, attach=True)


@dataclass(frozen=True, slots=True)
class LaterComplaint:
    """A complaint that opened a new case after the same author's case was resolved."""

    case: CaseState
    mention_id: int
    created_at: datetime
    same_thread: bool


def resolved_cases_with_new_complaints(engine: Engine, *, limit: int) -> list[LaterComplaint]:
    """Resolved cases whose author opened another case after the resolution, with the earliest such
    complaint. Whether it falls inside the reopen window is the state machine's call."""
    newer = CASE.alias("newer")
    root = MENTION.alias("root")
    with reading(engine) as connection:
        rows = connection.execute(
            select(root.c.id, root.c.created_at, (newer.c.conversation_id == CASE.c.conversation_id).label("same"),
                   *state_columns())
            .join(newer, and_(newer.c.author_id == CASE.c.author_id, newer.c.id != CASE.c.id))
            .join(root, root.c.id == newer.c.root_mention_id)
            .where(CASE.c.state == "resolved", root.c.created_at > CASE.c.resolved_at)
            .order_by(CASE.c.id, root.c.created_at)
            .limit(limit)
        )
        found: dict[int, LaterComplaint] = {}
        for row in rows:
            state = CaseState(*row[3:])
            found.setdefault(state.case_id, LaterComplaint(state, row[0], row[1], bool(row[2])))
        return list(found.values())


def responded_cases_since(engine: Engine, *, before: datetime, limit: int) -> list[CaseState]:
    """Responded complaint cases that have been responded since ``before`` or earlier (a thank-you for praise
    never goes stale)."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(*state_columns()).where(CASE.c.state == "responded", CASE.c.lane == "complaint",
                                           state_since() <= before)
            .order_by(CASE.c.id).limit(limit)
        )
        return [CaseState(*row) for row in rows]


def cases_with_deleted_roots(engine: Engine, *, limit: int) -> list[CaseState]:
    """Unanswered open cases whose complaint its author deleted (the door withdraws them)."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(*state_columns()).join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
            .where(CASE.c.state == "open", CASE.c.first_response_at.is_(None), MENTION.c.deleted_at.is_not(None))
            .order_by(CASE.c.id).limit(limit)
        )
        return [CaseState(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ToDraft:
    case_id: int
    mention_id: int
    platform: str
    brand: str
    text: str
    language: str | None
    author_handle: str
    author_name: str | None
    author_id: int = 0
    created_at: datetime | None = None
    lane: str = "complaint"
    label: str | None = None
    score: float = 0.0


def cases_to_draft(engine: Engine, *, limit: int) -> list[ToDraft]:
    """Cases waiting for a reply whose root mention has no reply draft yet (and is not quarantined), with the
    case's lane and the root post's sentiment (None: not scored)."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(CASE.c.id, MENTION.c.id.label("mention_id"), MENTION.c.platform, CASE.c.brand,
                   MENTION.c.text, MENTION.c.language, AUTHOR.c.handle, AUTHOR.c.name, CASE.c.author_id,
                   MENTION.c.created_at, CASE.c.lane, SENTIMENT.c.label, SENTIMENT.c.score)
            .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
            .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
            .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
            .outerjoin(DRAFT, and_(DRAFT.c.mention_id == MENTION.c.id, DRAFT.c.kind == "reply"))
            .where(CASE.c.state.in_(WAITING), DRAFT.c.id.is_(None), MENTION.c.quarantined_at.is_(None))
            .order_by(CASE.c.id)
            .limit(limit)
        )
        return [ToDraft(r.id, r.mention_id, r.platform, r.brand, r.text, r.language, r.handle, r.name, r.author_id,
                        r.created_at, r.lane or "complaint", r.label, float(r.score or 0.0)) for r in rows]


@dataclass(frozen=True, slots=True)
class CsatTarget:
    """A resolved case to ask for a rating, and the customer's latest post in it (the one we reply to)."""

    case_id: int
    mention_id: int
    platform: str
    brand: str
    language: str | None
    author_handle: str
    author_name: str | None
    agent: str | None


def cases_needing_csat(engine: Engine, *, limit: int) -> list[CsatTarget]:
    """Resolved cases not yet asked for a rating since their resolution (a case resolved by its CSAT answer,
    or one that already gave a rating, needs none)."""
    latest = (select(MENTION.c.id).where(MENTION.c.case_id == CASE.c.id, MENTION.c.author_id == CASE.c.author_id,
                                         MENTION.c.deleted_at.is_(None), MENTION.c.quarantined_at.is_(None))
              .order_by(MENTION.c.created_at.desc(), MENTION.c.id.desc()).limit(1).correlate(CASE).scalar_subquery())
    agent = (select(DRAFT.c.agent).where(DRAFT.c.case_id == CASE.c.id, DRAFT.c.kind == "reply")
             .order_by(DRAFT.c.id).limit(1).correlate(CASE).scalar_subquery())
    with reading(engine) as connection:
        rows = connection.execute(
            select(CASE.c.id, latest.label("mention_id"), CASE.c.platform, CASE.c.brand, CASE.c.language,
                   AUTHOR.c.handle, AUTHOR.c.name, agent.label("agent"))
            .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
            .where(CASE.c.state == "resolved", CASE.c.lane == "complaint", CASE.c.csat_requested_at.is_(None),
                   CASE.c.csat.is_(None), CASE.c.resolution != "csat")
            .order_by(CASE.c.id)
            .limit(limit)
        )
        return [CsatTarget(*row) for row in rows if row.mention_id is not None]
