"""What the approval console reads and writes: the queue page, a case's detail, and the desk's actions.

The queue page is filtered, ordered and paginated in SQL (deadline first, using ``ix_case_state_deadline``);
the caller ranks the page by urgency with ``responders.queue.rank_queue``. Claims, assignment, escalation,
resolution and reopening are conditional UPDATEs that write a CaseEvent and an audit row in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine

from models.cases import QUEUE_STATES, QueueRow
from models.db import reading
from models.outbox import audit
from models.tables import AuditEntry, Author, Case, CaseEvent, Draft, Mention, Sentiment

_author = Author.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_sentiment = Sentiment.__table__  # type: ignore[attr-defined]
_case = Case.__table__  # type: ignore[attr-defined]
_event = CaseEvent.__table__  # type: ignore[attr-defined]
_draft = Draft.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]

RESOLVABLE_STATES = ("open", "responded", "reopened", "unresolved")
REOPENABLE_STATES = ("resolved", "unresolved")


class ConsoleError(Exception):
    """A desk action that does not apply to the case as it is now."""


class CaseHeld(ConsoleError):
    """Someone else is editing the case."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"{holder} is editing this case")
        self.holder = holder


@dataclass(frozen=True, slots=True)
class QueueFilter:
    brand: str | None = None
    platform: str | None = None
    language: str | None = None
    assignee: str | None = None  # a name, or "" for unassigned
    states: tuple[str, ...] = QUEUE_STATES
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
        _case.c.id, _case.c.state, _case.c.brand, _case.c.category, _case.c.prior_complaints, _case.c.deadline_at,
        _mention.c.id.label("mention_id"), _mention.c.platform, _mention.c.text, _mention.c.url,
        _mention.c.language, _mention.c.created_at, _mention.c.reply_eligible,
        _author.c.handle, _author.c.name, _author.c.followers, _author.c.verified,
        func.coalesce(_sentiment.c.label, "unscored").label("label"),
        func.coalesce(_sentiment.c.score, 0.0).label("score"),
        func.coalesce(_sentiment.c.model, "none").label("model"),
        _draft.c.id.label("draft_id"), _draft.c.text.label("draft_text"),
        _draft.c.language.label("draft_language"), _draft.c.status.label("draft_status"), _draft.c.style_issues,
        _case.c.assignee, _case.c.editing_by, _case.c.editing_until,
    ]


def _conditions(filters: QueueFilter, now: datetime) -> list[Any]:
    where: list[Any] = [_case.c.state.in_(list(filters.states))]
    if filters.brand:
        where.append(_case.c.brand == filters.brand)
    if filters.platform:
        where.append(_case.c.platform == filters.platform)
    if filters.language:
        where.append(_case.c.language == filters.language)
    if filters.assignee is not None:
        where.append(_case.c.assignee.is_(None) if filters.assignee == "" else _case.c.assignee == filters.assignee)
    if filters.breached is True:
        where.append(_case.c.deadline_at < now)
    elif filters.breached is False:
        where.append(_case.c.deadline_at >= now)
    return where


def queue_page(engine: Engine, *, filters: QueueFilter, now: datetime, limit: int, offset: int = 0) -> QueuePage:
    """One page of the queue, earliest deadline first, with the total matching. Ranking by urgency
    within the page is the caller's (it depends on the clock and the settings)."""
    where = _conditions(filters, now)
    ids = (select(_case.c.id).where(*where).order_by(_case.c.deadline_at, _case.c.id).limit(limit).offset(offset)
           .subquery())
    query = (
        select(*_queue_columns())
        .join(ids, ids.c.id == _case.c.id)
        .join(_mention, _mention.c.id == _case.c.root_mention_id)
        .join(_author, _author.c.id == _case.c.author_id)
        .outerjoin(_sentiment, _sentiment.c.mention_id == _mention.c.id)
        .outerjoin(_draft, and_(_draft.c.mention_id == _mention.c.id, _draft.c.kind == "reply"))
        .order_by(_case.c.deadline_at, _case.c.id)
    )
    with reading(engine) as connection:
        rows = list(connection.execute(query))
        total = connection.execute(select(func.count()).select_from(_case).where(*where)).scalar_one()
    return QueuePage(
        rows=[QueueRow(*row[:25]) for row in rows],
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


def case_detail(engine: Engine, *, case_id: int, history_limit: int = 20, thread_limit: int = 100) -> CaseDetail | None:
    """A case with its root post, current draft (the newest: the reply, or later the satisfaction follow-up),
    thread, events, and the customer's history: earlier cases and posts by the same author, on any platform
    (same author row, or the same handle ignoring case)."""
    query = (
        select(*_queue_columns(), _case.c.author_id, _author.c.key, _case.c.opened_at, _case.c.resolution,
               _case.c.resolution_note, _case.c.resolved_by, _case.c.conversation_id.label("case_conversation"))
        .join(_mention, _mention.c.id == _case.c.root_mention_id)
        .join(_author, _author.c.id == _case.c.author_id)
        .outerjoin(_sentiment, _sentiment.c.mention_id == _mention.c.id)
        .outerjoin(_draft, and_(_draft.c.mention_id == _mention.c.id, _draft.c.kind == "reply"))
        .where(_case.c.id == case_id)
    )
    with reading(engine) as connection:
        row = connection.execute(query).first()
        if row is None:
            return None
        base = QueueRow(*row[:25])
        draft = connection.execute(
            select(_draft.c.id, _draft.c.status, _draft.c.text, _draft.c.quote, _draft.c.language, _draft.c.agent,
                   _draft.c.style_issues, _draft.c.text_hash, _draft.c.approved_by, _draft.c.approved_at,
                   _draft.c.sent_at, _draft.c.last_error)
            .where(_draft.c.case_id == case_id).order_by(_draft.c.id.desc()).limit(1)
        ).first()
        post_columns = (_mention.c.id, _mention.c.platform, _mention.c.text, _mention.c.url, _mention.c.created_at,
                        _author.c.handle, _author.c.name)
        in_thread = _mention.c.case_id == case_id
        if row.case_conversation:
            in_thread = or_(in_thread, and_(_mention.c.platform == base.platform,
                                            _mention.c.conversation_id == row.case_conversation))
        thread = [
            PostView(*r, is_root=r[0] == base.mention_id)
            for r in connection.execute(
                select(*post_columns).join(_author, _author.c.id == _mention.c.author_id)
                .where(in_thread).order_by(_mention.c.created_at, _mention.c.id).limit(thread_limit)
            )
        ]
        same_person = select(_author.c.id).where(
            or_(_author.c.id == row.author_id, func.lower(_author.c.handle) == base.author_handle.lower())
        )
        author_ids = [r.id for r in connection.execute(same_person)]
        history_cases = [
            EarlierCase(*r)
            for r in connection.execute(
                select(_case.c.id, _case.c.platform, _case.c.state, _case.c.opened_at, _mention.c.text)
                .join(_mention, _mention.c.id == _case.c.root_mention_id)
                .where(_case.c.author_id.in_(author_ids), _case.c.id != case_id)
                .order_by(_case.c.opened_at.desc()).limit(history_limit)
            )
        ]
        thread_ids = {p.mention_id for p in thread}
        history_mentions = [
            PostView(*r)
            for r in connection.execute(
                select(*post_columns).join(_author, _author.c.id == _mention.c.author_id)
                .where(_mention.c.author_id.in_(author_ids))
                .order_by(_mention.c.created_at.desc()).limit(history_limit + len(thread_ids))
            )
            if r[0] not in thread_ids
        ][:history_limit]
        events = [
            EventView(*r)
            for r in connection.execute(
                select(_event.c.at, _event.c.from_state, _event.c.to_state, _event.c.cause, _event.c.actor)
                .where(_event.c.case_id == case_id).order_by(_event.c.at, _event.c.id)
            )
        ]
    return CaseDetail(
        row=base, claim=Claim(row.assignee, row.editing_by, row.editing_until), author_id=row.author_id,
        author_key=row.key, opened_at=row.opened_at, resolution=row.resolution, resolution_note=row.resolution_note,
        resolved_by=row.resolved_by,
        draft=None if draft is None else DraftView(
            draft.id, draft.status, draft.text, draft.quote, draft.language, draft.agent, draft.style_issues or [],
            draft.text_hash, draft.approved_by, draft.approved_at, draft.sent_at, draft.last_error),
        thread=thread, history_cases=history_cases, history_mentions=history_mentions, events=events,
    )


def claim_case(engine: Engine, *, case_id: int, user: str, now: datetime, hold: timedelta) -> None:
    """Hold the case for ``user`` until ``now + hold`` (renewing their own hold). Raises CaseHeld when
    someone else's hold has not run out: of two people claiming at once, exactly one wins."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(_case).where(
                _case.c.id == case_id,
                or_(_case.c.editing_by.is_(None), _case.c.editing_until < now, _case.c.editing_by == user),
            ).values(editing_by=user, editing_until=now + hold)
        ).rowcount
        if changed == 1:
            return
        row = connection.execute(select(_case.c.editing_by).where(_case.c.id == case_id)).first()
        if row is None:
            raise ConsoleError(f"no case {case_id}")
        raise CaseHeld(row.editing_by or "someone")


def release_case(engine: Engine, *, case_id: int, user: str) -> bool:
    """Give up ``user``'s hold; False when they did not hold it."""
    with engine.begin() as connection:
        return connection.execute(
            update(_case).where(_case.c.id == case_id, _case.c.editing_by == user)
            .values(editing_by=None, editing_until=None)
        ).rowcount == 1


def _state(connection: Any, case_id: int) -> str:
    row = connection.execute(select(_case.c.state).where(_case.c.id == case_id)).first()
    if row is None:
        raise ConsoleError(f"no case {case_id}")
    return str(row.state)


def assign_case(engine: Engine, *, case_id: int, assignee: str | None, actor: str, now: datetime,
                address: str | None = None) -> None:
    """Set (or clear, with None) who owns the case. Audited."""
    with engine.begin() as connection:
        _state(connection, case_id)
        connection.execute(update(_case).where(_case.c.id == case_id).values(assignee=assignee, updated_at=now))
        audit(connection, actor=actor, action="assign", now=now, case_id=case_id, detail=assignee or "(nobody)",
              address=address)


def escalate_case(engine: Engine, *, case_id: int, note: str, actor: str, now: datetime,
                  address: str | None = None) -> None:
    """Flag the case for a supervisor, with a note (required). The state does not change."""
    if not note.strip():
        raise ConsoleError("an escalation needs a note for the supervisor")
    with engine.begin() as connection:
        state = _state(connection, case_id)
        connection.execute(_event.insert().values(case_id=case_id, at=now, from_state=state, to_state=state,
                                                  cause="escalated", actor=actor))
        connection.execute(update(_case).where(_case.c.id == case_id).values(updated_at=now))
        audit(connection, actor=actor, action="escalate", now=now, case_id=case_id, detail=note, address=address)


def resolve_case(engine: Engine, *, case_id: int, note: str, actor: str, now: datetime,
                 address: str | None = None) -> None:
    """An agent marks the case resolved (resolution ``agent``); the note saying how is required."""
    if not note.strip():
        raise ConsoleError("a resolution note is required")
    with engine.begin() as connection:
        state = _state(connection, case_id)
        changed = connection.execute(
            update(_case).where(_case.c.id == case_id, _case.c.state == state, _case.c.state.in_(RESOLVABLE_STATES))
            .values(state="resolved", resolution="agent", resolution_note=note, resolved_by=actor, resolved_at=now,
                    editing_by=None, editing_until=None, updated_at=now)
        ).rowcount
        if changed != 1:
            raise ConsoleError(f"case {case_id} is {state}; it cannot be resolved")
        connection.execute(_event.insert().values(case_id=case_id, at=now, from_state=state, to_state="resolved",
                                                  cause="agent_resolved", actor=actor))
        audit(connection, actor=actor, action="resolve", now=now, case_id=case_id, detail=note, address=address)


def reopen_case(engine: Engine, *, case_id: int, actor: str, now: datetime, address: str | None = None) -> None:
    """A resolved or unresolved case goes back to the queue as ``reopened``."""
    with engine.begin() as connection:
        state = _state(connection, case_id)
        changed = connection.execute(
            update(_case).where(_case.c.id == case_id, _case.c.state == state, _case.c.state.in_(REOPENABLE_STATES))
            .values(state="reopened", resolution=None, resolved_at=None, updated_at=now)
        ).rowcount
        if changed != 1:
            raise ConsoleError(f"case {case_id} is {state}; only a resolved or unresolved case can be reopened")
        connection.execute(_event.insert().values(case_id=case_id, at=now, from_state=state, to_state="reopened",
                                                  cause="agent_reopened", actor=actor))
        audit(connection, actor=actor, action="reopen", now=now, case_id=case_id, address=address)


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    case_id: int | None
    draft_id: int | None
    text_hash: str | None
    detail: str | None
    address: str | None


def audit_page(engine: Engine, *, limit: int, before_id: int | None = None,
               actions: Sequence[str] | None = None) -> list[AuditView]:
    """The newest audit rows first (keyset pagination on id)."""
    query = select(_audit.c.id, _audit.c.at, _audit.c.actor, _audit.c.action, _audit.c.case_id, _audit.c.draft_id,
                   _audit.c.text_hash, _audit.c.detail, _audit.c.address).order_by(_audit.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(_audit.c.id < before_id)
    if actions:
        query = query.where(_audit.c.action.in_(list(actions)))
    with reading(engine) as connection:
        return [AuditView(*row) for row in connection.execute(query)]
