"""The queue and a case as the desk sees them: read-only queries for the console, the CLI and the JSON queue.

The queue page is filtered, ordered and paginated in SQL (deadline first, using ``ix_case_state_deadline``);
the console's lanes (``models.lanes``) build on these columns and conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from models.case_states import WAITING
from models.db import reading
from models.tables import AUTHOR, CASE, CASE_EVENT, DRAFT, MENTION, SENTIMENT


@dataclass(frozen=True, slots=True)
class QueueRow:
    case_id: int
    state: str
    brand: str
    category: str
    prior_complaints: int
    deadline_at: datetime
    mention_id: int
    platform: str
    text: str
    url: str | None
    language: str | None
    created_at: datetime
    reply_eligible: bool | None
    author_handle: str
    author_name: str | None
    followers: int | None
    verified: bool
    label: str
    score: float
    model: str
    draft_id: int | None
    draft_text: str | None
    draft_language: str | None
    draft_status: str | None
    draft_issues: list[dict[str, str]] | None
    draft_error: str | None = None  # why a held reply waits (or why a send failed)


def open_queue(engine: Engine, *, limit: int | None = None) -> list[QueueRow]:
    """Cases waiting for a reply, with what the ranker and the desk need. Unordered: urgency is computed
    at read time, because the clock is part of it."""
    query = (
        select(
            CASE.c.id, CASE.c.state, CASE.c.brand, CASE.c.category, CASE.c.prior_complaints, CASE.c.deadline_at,
            MENTION.c.id.label("mention_id"), MENTION.c.platform, MENTION.c.text, MENTION.c.url,
            MENTION.c.language, MENTION.c.created_at, MENTION.c.reply_eligible,
            AUTHOR.c.handle, AUTHOR.c.name, AUTHOR.c.followers, AUTHOR.c.verified,
            SENTIMENT.c.label, SENTIMENT.c.score, SENTIMENT.c.model,
            DRAFT.c.id.label("draft_id"), DRAFT.c.text.label("draft_text"),
            DRAFT.c.language.label("draft_language"), DRAFT.c.status.label("draft_status"),
            DRAFT.c.style_issues, DRAFT.c.last_error,
        )
        .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
        .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
        .join(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
        .outerjoin(DRAFT, and_(DRAFT.c.mention_id == MENTION.c.id, DRAFT.c.kind == "reply"))
        .where(CASE.c.state.in_(WAITING))
        .order_by(CASE.c.deadline_at)
    )
    if limit is not None:
        query = query.limit(limit)
    with reading(engine) as connection:
        return [QueueRow(*row) for row in connection.execute(query)]  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class QueueFilter:
    brand: str | None = None
    platform: str | None = None
    language: str | None = None
    assignee: str | None = None  # a name, or "" for unassigned
    states: tuple[str, ...] = WAITING
    breached: bool | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    assignee: str | None
    editing_by: str | None
    editing_until: datetime | None


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    claims: dict[int, Claim]
    total: int


def _queue_columns() -> list[Any]:
    return [
        CASE.c.id, CASE.c.state, CASE.c.brand, CASE.c.category, CASE.c.prior_complaints, CASE.c.deadline_at,
        MENTION.c.id.label("mention_id"), MENTION.c.platform, MENTION.c.text, MENTION.c.url,
        MENTION.c.language, MENTION.c.created_at, MENTION.c.reply_eligible,
        AUTHOR.c.handle, AUTHOR.c.name, AUTHOR.c.followers, AUTHOR.c.verified,
        func.coalesce(SENTIMENT.c.label, "unscored").label("label"),
        func.coalesce(SENTIMENT.c.score, 0.0).label("score"),
        func.coalesce(SENTIMENT.c.model, "none").label("model"),
        DRAFT.c.id.label("draft_id"), DRAFT.c.text.label("draft_text"),
        DRAFT.c.language.label("draft_language"), DRAFT.c.status.label("draft_status"), DRAFT.c.style_issues,
        DRAFT.c.last_error.label("draft_error"), CASE.c.assignee, CASE.c.editing_by, CASE.c.editing_until,
    ]


def _conditions(filters: QueueFilter, now: datetime) -> list[Any]:
    where: list[Any] = [CASE.c.state.in_(list(filters.states))] if filters.states else []
    if filters.brand:
        where.append(CASE.c.brand == filters.brand)
    if filters.platform:
        where.append(CASE.c.platform == filters.platform)
    if filters.language:
        where.append(CASE.c.language == filters.language)
    if filters.assignee is not None:
        where.append(CASE.c.assignee.is_(None) if filters.assignee == "" else CASE.c.assignee == filters.assignee)
    if filters.breached is True:
        where.append(CASE.c.deadline_at < now)
    elif filters.breached is False:
        where.append(CASE.c.deadline_at >= now)
    return where


def queue_page(engine: Engine, *, filters: QueueFilter, now: datetime, limit: int, offset: int = 0) -> QueuePage:
    """One page of the queue, earliest deadline first, with the total matching. Ranking by urgency
    within the page is the caller's (it depends on the clock and the settings)."""
    where = _conditions(filters, now)
    ids = (select(CASE.c.id).where(*where).order_by(CASE.c.deadline_at, CASE.c.id).limit(limit).offset(offset)
           .subquery())
    query = (
        select(*_queue_columns())
        .join(ids, ids.c.id == CASE.c.id)
        .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
        .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
        .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
        .outerjoin(DRAFT, and_(DRAFT.c.mention_id == MENTION.c.id, DRAFT.c.kind == "reply"))
        .order_by(CASE.c.deadline_at, CASE.c.id)
    )
    with reading(engine) as connection:
        rows = list(connection.execute(query))
        total = connection.execute(select(func.count()).select_from(CASE).where(*where)).scalar_one()
    return QueuePage(
        rows=[QueueRow(*row[:26]) for row in rows],
        claims={row.id: Claim(row.assignee, row.editing_by, row.editing_until) for row in rows},
        total=int(total),
    )


@dataclass(frozen=True, slots=True)
class PostView:
    mention_id: int
    platform: str
    text: str
    url: str | None
    created_at: datetime
    author_handle: str
    author_name: str | None
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class EarlierCase:
    case_id: int
    platform: str
    state: str
    opened_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class EventView:
    at: datetime
    from_state: str | None
    to_state: str
    cause: str
    actor: str | None


@dataclass(frozen=True, slots=True)
class DraftView:
    id: int
    status: str
    text: str
    quote: str
    language: str
    agent: str
    style_issues: list[dict[str, str]]
    text_hash: str | None
    approved_by: str | None
    approved_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    ready_by: str | None = None
    ready_at: datetime | None = None
    send_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    row: QueueRow
    claim: Claim
    author_id: int
    author_key: str
    opened_at: datetime
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    draft: DraftView | None
    thread: list[PostView] = field(default_factory=list)
    history_cases: list[EarlierCase] = field(default_factory=list)
    history_mentions: list[PostView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    snoozed_until: datetime | None = None
    snooze_until_post: bool = False


def case_detail(engine: Engine, *, case_id: int, history_limit: int = 20, thread_limit: int = 100) -> CaseDetail | None:
    """A case with its root post, current draft (the newest: the reply, or later the satisfaction follow-up),
    thread, events, and the customer's history: earlier cases and posts by the same author, on any platform
    (same author row, or the same handle ignoring case)."""
    query = (
        select(*_queue_columns(), CASE.c.author_id, AUTHOR.c.key, CASE.c.opened_at, CASE.c.resolution,
               CASE.c.resolution_note, CASE.c.resolved_by, CASE.c.conversation_id.label("case_conversation"),
               CASE.c.snoozed_until, CASE.c.snooze_until_post)
        .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
        .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
        .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
        .outerjoin(DRAFT, and_(DRAFT.c.mention_id == MENTION.c.id, DRAFT.c.kind == "reply"))
        .where(CASE.c.id == case_id)
    )
    with reading(engine) as connection:
        row = connection.execute(query).first()
        if row is None:
            return None
        base = QueueRow(*row[:26])
        draft = connection.execute(
            select(DRAFT.c.id, DRAFT.c.status, DRAFT.c.text, DRAFT.c.quote, DRAFT.c.language, DRAFT.c.agent,
                   DRAFT.c.style_issues, DRAFT.c.text_hash, DRAFT.c.approved_by, DRAFT.c.approved_at,
                   DRAFT.c.sent_at, DRAFT.c.last_error, DRAFT.c.ready_by, DRAFT.c.ready_at, DRAFT.c.send_after)
            .where(DRAFT.c.case_id == case_id).order_by(DRAFT.c.id.desc()).limit(1)
        ).first()
        post_columns = (MENTION.c.id, MENTION.c.platform, MENTION.c.text, MENTION.c.url, MENTION.c.created_at,
                        AUTHOR.c.handle, AUTHOR.c.name)
        in_thread = MENTION.c.case_id == case_id
        if row.case_conversation:
            in_thread = or_(in_thread, and_(MENTION.c.platform == base.platform,
                                            MENTION.c.conversation_id == row.case_conversation))
        thread = [
            PostView(*r, is_root=r[0] == base.mention_id)
            for r in connection.execute(
                select(*post_columns).join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
                .where(in_thread).order_by(MENTION.c.created_at, MENTION.c.id).limit(thread_limit)
            )
        ]
        same_person = select(AUTHOR.c.id).where(
            or_(AUTHOR.c.id == row.author_id, func.lower(AUTHOR.c.handle) == base.author_handle.lower())
        )
        author_ids = [r.id for r in connection.execute(same_person)]
        history_cases = [
            EarlierCase(*r)
            for r in connection.execute(
                select(CASE.c.id, CASE.c.platform, CASE.c.state, CASE.c.opened_at, MENTION.c.text)
                .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
                .where(CASE.c.author_id.in_(author_ids), CASE.c.id != case_id)
                .order_by(CASE.c.opened_at.desc()).limit(history_limit)
            )
        ]
        thread_ids = {p.mention_id for p in thread}
        history_mentions = [
            PostView(*r)
            for r in connection.execute(
                select(*post_columns).join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
                .where(MENTION.c.author_id.in_(author_ids))
                .order_by(MENTION.c.created_at.desc()).limit(history_limit + len(thread_ids))
            )
            if r[0] not in thread_ids
        ][:history_limit]
        events = [
            EventView(*r)
            for r in connection.execute(
                select(CASE_EVENT.c.at, CASE_EVENT.c.from_state, CASE_EVENT.c.to_state, CASE_EVENT.c.cause, CASE_EVENT.c.actor)
                .where(CASE_EVENT.c.case_id == case_id).order_by(CASE_EVENT.c.at, CASE_EVENT.c.id)
            )
        ]
    return CaseDetail(
        row=base, claim=Claim(row.assignee, row.editing_by, row.editing_until), author_id=row.author_id,
        author_key=row.key, opened_at=row.opened_at, resolution=row.resolution, resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
        draft=None if draft is None else DraftView(
            draft.id, draft.status, draft.text, draft.quote, draft.language, draft.agent, draft.style_issues or [],
            draft.text_hash, draft.approved_by, draft.approved_at, draft.sent_at, draft.last_error, draft.ready_by,
            draft.ready_at, draft.send_after),
        thread=thread, history_cases=history_cases, history_mentions=history_mentions, events=events,
        snoozed_until=row.snoozed_until, snooze_until_post=bool(row.snooze_until_post),
    )


