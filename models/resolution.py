"""Storage for resolution tracking, CSAT follow-ups, escalations, metrics and the weekly digest.

Every state change is a conditional UPDATE on the state the caller decided from, with a CaseEvent in the same
transaction, so of two daemons deciding from the same facts exactly one records the move. Escalation
emails and digest deliveries are claimed by inserting their unique row (``sending``) before anything is
sent: a row that exists is never sent again, except one marked ``failed`` (the server refused it), which
may be claimed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from models.db import insert_for as _insert
from models.db import reading
from models.outbox import audit
from models.tables import Author, Case, CaseEvent, DigestDelivery, Draft, Mention, Notification, Sentiment

_case = Case.__table__  # type: ignore[attr-defined]
_event = CaseEvent.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_author = Author.__table__  # type: ignore[attr-defined]
_sentiment = Sentiment.__table__  # type: ignore[attr-defined]
_draft = Draft.__table__  # type: ignore[attr-defined]
_notification = Notification.__table__  # type: ignore[attr-defined]
_delivery = DigestDelivery.__table__  # type: ignore[attr-defined]

SYSTEM_ACTORS = ("customer", "tracker", "outbox")


def _state_since() -> Any:
    """When the case entered its current state (the newest event into it; else when it was opened)."""
    newest = (select(func.max(_event.c.at))
              .where(_event.c.case_id == _case.c.id, _event.c.to_state == _case.c.state)
              .correlate(_case).scalar_subquery())
    return func.coalesce(newest, _case.c.opened_at)


@dataclass(frozen=True, slots=True)
class CaseState:
    """A case's facts as the state machine needs them."""

    case_id: int
    state: str
    state_since: datetime
    resolved_at: datetime | None
    first_response_at: datetime | None
    csat_requested_at: datetime | None
    csat: int | None


def _state_columns() -> list[Any]:
    return [_case.c.id, _case.c.state, _state_since().label("state_since"), _case.c.resolved_at,
            _case.c.first_response_at, _case.c.csat_requested_at, _case.c.csat]


def case_state(engine: Engine, *, case_id: int) -> CaseState | None:
    with reading(engine) as connection:
        row = connection.execute(select(*_state_columns()).where(_case.c.id == case_id)).first()
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
        _mention.c.id, _mention.c.text, _mention.c.language, _sentiment.c.label, _sentiment.c.score,
        _mention.c.created_at, _mention.c.is_complaint, *_state_columns(),
    ).join(_sentiment, _sentiment.c.mention_id == _mention.c.id)


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
    applied = select(_event.c.id).where(_event.c.case_id == _mention.c.case_id, _event.c.mention_id == _mention.c.id)
    with reading(engine) as connection:
        rows = connection.execute(
            _track_select()
            .join(_case, _case.c.id == _mention.c.case_id)
            .where(_mention.c.id != _case.c.root_mention_id, _mention.c.deleted_at.is_(None),
                   _mention.c.author_id == _case.c.author_id, ~applied.exists())
            .order_by(_mention.c.created_at, _mention.c.id)
            .limit(limit)
        )
        return _items(rows, attach=False)


def thread_posts_of_closed_cases(engine: Engine, *, limit: int) -> list[TrackItem]:
    """Posts by a case's author in the thread of their resolved or unresolved case that triage left out of
    cases (it joins only active ones): a late "thanks, it works" or a satisfaction answer. Newest case first."""
    root = _mention.alias("root")
    with reading(engine) as connection:
        rows = connection.execute(
            _track_select()
            .join(_case, and_(_case.c.author_id == _mention.c.author_id, _case.c.platform == _mention.c.platform,
                              _case.c.conversation_id == _mention.c.conversation_id,
                              _case.c.state.in_(("resolved", "unresolved"))))
            .join(root, root.c.id == _case.c.root_mention_id)
            .where(_mention.c.case_id.is_(None), _mention.c.triaged_at.is_not(None), _mention.c.deleted_at.is_(None),
                   _mention.c.created_at > root.c.created_at)
            .order_by(_mention.c.created_at, _mention.c.id, _case.c.id.desc())
            .limit(limit)
        )
        return _items(rows, attach=True)


def record_transition(
    engine: Engine,
    *,
    case_id: int,
    from_state: str,
    to_state: str,
    cause: str,
    actor: str,
    now: datetime,
    mention_id: int | None = None,
    resolution: str | None = None,
    note: str | None = None,
    csat: int | None = None,
    clears_resolution: bool = False,
    attach_mention: bool = False,
) -> bool:
    """Move a case from ``from_state`` to ``to_state`` (equal for a note or a score) and record why.

    False, changing nothing, when the case is no longer in ``from_state`` or the post is already applied
    (another process got there first). ``attach_mention`` also files the post under the case.
    """
    with engine.begin() as connection:
        if mention_id is not None and connection.execute(
            select(_event.c.id).where(_event.c.case_id == case_id, _event.c.mention_id == mention_id)
        ).first():
            return False
        values: dict[str, Any] = {"state": to_state, "updated_at": now}
        if to_state == "resolved" and from_state != "resolved":
            values.update(resolution=resolution, resolved_at=now, resolved_by=actor, resolution_note=note)
        if clears_resolution:
            values.update(resolution=None, resolved_at=None, resolved_by=None, csat_requested_at=None)
        if to_state == "reopened":
            values["followup_at"] = None
        if csat is not None:
            values["csat"] = csat
        changed = connection.execute(
            update(_case).where(_case.c.id == case_id, _case.c.state == from_state).values(**values)
        )
        if changed.rowcount != 1:
            return False
        if attach_mention and mention_id is not None:
            attached = connection.execute(
                update(_mention).where(_mention.c.id == mention_id, _mention.c.case_id.is_(None)).values(case_id=case_id)
            )
            if attached.rowcount != 1:
                connection.rollback()
                return False
        connection.execute(_event.insert().values(case_id=case_id, at=now, from_state=from_state, to_state=to_state,
                                                  cause=cause[:200], actor=actor, mention_id=mention_id))
        if actor not in SYSTEM_ACTORS:
            audit(connection, actor=actor, action=f"case_{to_state}"[:50], now=now, case_id=case_id,
                  detail=note or cause)
        return True


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """A complaint that opened a new case soon after the same author's case was resolved."""

    case: CaseState
    mention_id: int
    created_at: datetime
    same_thread: bool


def resolved_cases_with_new_complaints(engine: Engine, *, limit: int) -> list[NewComplaint]:
    """Resolved cases whose author opened another case after the resolution, with the earliest such
    complaint. Whether it falls inside the reopen window is the state machine's call."""
    newer = _case.alias("newer")
    root = _mention.alias("root")
    with reading(engine) as connection:
        rows = connection.execute(
            select(root.c.id, root.c.created_at, (newer.c.conversation_id == _case.c.conversation_id).label("same"),
                   *_state_columns())
            .join(newer, and_(newer.c.author_id == _case.c.author_id, newer.c.id != _case.c.id))
            .join(root, root.c.id == newer.c.root_mention_id)
            .where(_case.c.state == "resolved", root.c.created_at > _case.c.resolved_at)
            .order_by(_case.c.id, root.c.created_at)
            .limit(limit)
        )
        found: dict[int, NewComplaint] = {}
        for row in rows:
            state = CaseState(*row[3:])
            found.setdefault(state.case_id, NewComplaint(state, row[0], row[1], bool(row[2])))
        return list(found.values())


def responded_cases_since(engine: Engine, *, before: datetime, limit: int) -> list[CaseState]:
    """Responded cases that have been responded since ``before`` or earlier."""
    since = _state_since()
    with reading(engine) as connection:
        rows = connection.execute(
            select(*_state_columns()).where(_case.c.state == "responded", since <= before).order_by(_case.c.id).limit(limit)
        )
        return [CaseState(*row) for row in rows]


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
    """Resolved cases not yet asked for a rating (a case resolved by its CSAT answer needs none)."""
    latest = (select(_mention.c.id).where(_mention.c.case_id == _case.c.id, _mention.c.author_id == _case.c.author_id,
                                          _mention.c.deleted_at.is_(None))
              .order_by(_mention.c.created_at.desc(), _mention.c.id.desc()).limit(1).correlate(_case).scalar_subquery())
    agent = (select(_draft.c.agent).where(_draft.c.case_id == _case.c.id, _draft.c.kind == "reply")
             .order_by(_draft.c.id).limit(1).correlate(_case).scalar_subquery())
    with reading(engine) as connection:
        rows = connection.execute(
            select(_case.c.id, latest.label("mention_id"), _case.c.platform, _case.c.brand, _case.c.language,
                   _author.c.handle, _author.c.name, agent.label("agent"))
            .join(_author, _author.c.id == _case.c.author_id)
            .where(_case.c.state == "resolved", _case.c.csat_requested_at.is_(None), _case.c.csat.is_(None),
                   _case.c.resolution != "csat")
            .order_by(_case.c.id)
            .limit(limit)
        )
        return [CsatTarget(*row) for row in rows if row.mention_id is not None]


def record_csat_draft(engine: Engine, *, case_id: int, mention_id: int, language: str, text: str, agent: str,
                      style_issues: Sequence[dict[str, str]], now: datetime) -> bool:
    """Queue a satisfaction follow-up (status ``draft``: a person approves it) and mark the case as asked.
    False when the post already has one; the case is marked asked either way, so it is never drafted twice."""
    with engine.begin() as connection:
        inserted = connection.execute(
            _insert(connection, _draft).values(
                case_id=case_id, mention_id=mention_id, kind="csat", status="draft", language=language,
                category="csat", text=text, quote="", agent=agent, style_issues=list(style_issues),
                created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["mention_id", "kind"]).returning(_draft.c.id)
        ).first()
        connection.execute(update(_case).where(_case.c.id == case_id, _case.c.csat_requested_at.is_(None))
                           .values(csat_requested_at=now, updated_at=now))
        return inserted is not None


@dataclass(frozen=True, slots=True)
class EscalationItem:
    case_id: int
    reason: str
    brand: str
    platform: str
    state: str
    author_handle: str
    text: str
    url: str | None
    posted_at: datetime
    deadline_at: datetime


def _escalation_select(reason: str) -> Select[Any]:
    taken = select(_notification.c.id).where(_notification.c.case_id == _case.c.id, _notification.c.reason == reason,
                                             _notification.c.status != "failed")
    return (
        select(_case.c.id, literal(reason), _case.c.brand, _case.c.platform, _case.c.state, _author.c.handle,
               _mention.c.text, _mention.c.url, _mention.c.created_at, _case.c.deadline_at)
        .join(_mention, _mention.c.id == _case.c.root_mention_id)
        .join(_author, _author.c.id == _case.c.author_id)
        .where(~taken.exists())
    )


def cases_to_escalate(engine: Engine, *, now: datetime, warn_before: timedelta, resolution_target: timedelta,
                      limit: int) -> list[EscalationItem]:
    """Unanswered open cases within ``warn_before`` of their response deadline (or past it), and cases not
    resolved ``resolution_target`` after the post, that have not been escalated for that reason yet."""
    nearing = _escalation_select("response_deadline").where(
        _case.c.state == "open", _case.c.first_response_at.is_(None), _case.c.deadline_at <= now + warn_before)
    overdue = _escalation_select("resolution_target").where(
        _case.c.state != "resolved", _mention.c.created_at <= now - resolution_target)
    with reading(engine) as connection:
        items = [EscalationItem(*row) for query in (nearing, overdue)
                 for row in connection.execute(query.order_by(_case.c.id).limit(limit))]
        return items


def _claim(connection: Connection, table: Any, keys: dict[str, Any], values: dict[str, Any]) -> bool:
    inserted = connection.execute(
        _insert(connection, table).values(**keys, **values).on_conflict_do_nothing(index_elements=list(keys))
        .returning(table.c.id)
    ).first()
    if inserted is not None:
        return True
    retried = connection.execute(
        update(table).where(*(table.c[k] == v for k, v in keys.items()), table.c.status == "failed")
        .values(status="sending", created_at=values["created_at"])
    )
    return retried.rowcount == 1


def claim_notification(engine: Engine, *, case_id: int, reason: str, recipient: str, now: datetime) -> bool:
    """Claim the one escalation email for (case, reason) before sending it; False when it is taken."""
    with engine.begin() as connection:
        return _claim(connection, _notification, {"case_id": case_id, "reason": reason},
                      {"recipient": recipient, "status": "sending", "created_at": now})


def mark_notification(engine: Engine, *, case_id: int, reason: str, sent: bool, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(_notification).where(_notification.c.case_id == case_id, _notification.c.reason == reason,
                                        _notification.c.status == "sending")
            .values(status="sent" if sent else "failed", sent_at=now if sent else None)
        )


def claim_digest_delivery(engine: Engine, *, week: str, recipient: str, now: datetime) -> bool:
    """Claim one week's digest for one recipient before sending it; False when it is taken."""
    with engine.begin() as connection:
        return _claim(connection, _delivery, {"week": week, "recipient": recipient},
                      {"status": "sending", "created_at": now})


def mark_digest_delivery(engine: Engine, *, week: str, recipient: str, sent: bool, now: datetime,
                         message_id: str | None = None, error: str | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(_delivery).where(_delivery.c.week == week, _delivery.c.recipient == recipient,
                                    _delivery.c.status == "sending")
            .values(status="sent" if sent else "failed", sent_at=now if sent else None, message_id=message_id,
                    last_error=error)
        )


def digest_deliveries(engine: Engine, *, week: str) -> dict[str, str]:
    with reading(engine) as connection:
        return {r.recipient: r.status for r in connection.execute(
            select(_delivery.c.recipient, _delivery.c.status).where(_delivery.c.week == week))}


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One case as the metrics see it: plain values, no session."""

    case_id: int
    brand: str
    platform: str
    agent: str | None
    state: str
    resolution: str | None
    category: str
    posted_at: datetime
    deadline_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    csat: int | None
    csat_requested_at: datetime | None
    reopens: int
    escalations: int
    replies_sent: int
    author_handle: str
    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class MentionRecord:
    created_at: datetime
    brand: str
    platform: str
    label: str
    is_complaint: bool


def _case_records(where: Any) -> Select[Any]:
    def count(query: Any) -> Any:
        return query.correlate(_case).scalar_subquery()

    reopens = count(select(func.count()).select_from(_event)
                    .where(_event.c.case_id == _case.c.id, _event.c.to_state == "reopened",
                           _event.c.from_state != "reopened"))
    escalations = count(select(func.count()).select_from(_notification)
                        .where(_notification.c.case_id == _case.c.id, _notification.c.status == "sent"))
    replies = count(select(func.count()).select_from(_draft)
                    .where(_draft.c.case_id == _case.c.id, _draft.c.kind == "reply", _draft.c.status == "sent"))
    agent = count(select(_draft.c.agent).where(_draft.c.case_id == _case.c.id, _draft.c.kind == "reply")
                  .order_by(_draft.c.id).limit(1))
    return (
        select(_case.c.id, _case.c.brand, _case.c.platform, func.coalesce(agent, _case.c.assignee), _case.c.state,
               _case.c.resolution, _case.c.category, _mention.c.created_at, _case.c.deadline_at,
               _case.c.first_response_at, _case.c.resolved_at, _case.c.csat, _case.c.csat_requested_at,
               reopens, escalations, replies, _author.c.handle, _mention.c.text, _mention.c.url)
        .join(_mention, _mention.c.id == _case.c.root_mention_id)
        .join(_author, _author.c.id == _case.c.author_id)
        .where(where)
        .order_by(_mention.c.created_at, _case.c.id)
    )


def case_records(engine: Engine, *, posted_from: datetime, posted_to: datetime) -> list[CaseRecord]:
    """Cases whose complaint was posted in [posted_from, posted_to)."""
    with reading(engine) as connection:
        rows = connection.execute(_case_records(and_(_mention.c.created_at >= posted_from,
                                                     _mention.c.created_at < posted_to)))
        return [CaseRecord(*row) for row in rows]


def open_case_records(engine: Engine, *, posted_before: datetime) -> list[CaseRecord]:
    """Every case not resolved whose complaint was posted before ``posted_before``."""
    with reading(engine) as connection:
        rows = connection.execute(_case_records(and_(_case.c.state != "resolved",
                                                     _mention.c.created_at < posted_before)))
        return [CaseRecord(*row) for row in rows]


def mention_records(engine: Engine, *, posted_from: datetime, posted_to: datetime,
                    exclude_handles: Sequence[str] = ()) -> list[MentionRecord]:
    """Mentions posted in [posted_from, posted_to) with their sentiment (``unscored`` before scoring)."""
    query = (
        select(_mention.c.created_at, _mention.c.brand, _mention.c.platform,
               func.coalesce(_sentiment.c.label, "unscored"), func.coalesce(_mention.c.is_complaint, False))
        .outerjoin(_sentiment, _sentiment.c.mention_id == _mention.c.id)
        .join(_author, _author.c.id == _mention.c.author_id)
        .where(_mention.c.created_at >= posted_from, _mention.c.created_at < posted_to,
               _mention.c.deleted_at.is_(None))
    )
    if exclude_handles:
        query = query.where(func.lower(_author.c.handle).not_in([h.lower() for h in exclude_handles]))
    with reading(engine) as connection:
        return [MentionRecord(r[0], r[1], r[2], r[3], bool(r[4])) for r in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    from_state: str | None
    to_state: str
    cause: str
    actor: str | None
    mention_id: int | None


def case_history(engine: Engine, *, case_id: int) -> list[HistoryEntry]:
    """A case's recorded events, oldest first."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(_event.c.at, _event.c.from_state, _event.c.to_state, _event.c.cause, _event.c.actor,
                   _event.c.mention_id).where(_event.c.case_id == case_id).order_by(_event.c.at, _event.c.id))
        return [HistoryEntry(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class CaseThread:
    """Where a case's conversation is, and who the customer is: what a follow-up post needs."""

    case_id: int
    platform: str
    brand: str
    state: str
    conversation_id: str | None
    root_platform_id: str | None
    root_canonical_id: str
    author_handle: str
    author_key: str
    author_name: str | None
    language: str | None


def case_threads(engine: Engine, *, states: Sequence[str] = ("open",)) -> list[CaseThread]:
    """Cases in ``states`` with their thread and customer, oldest first."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(_case.c.id, _case.c.platform, _case.c.brand, _case.c.state, _case.c.conversation_id,
                   _mention.c.platform_id, _mention.c.canonical_id, _author.c.handle, _author.c.key, _author.c.name,
                   _case.c.language)
            .join(_mention, _mention.c.id == _case.c.root_mention_id)
            .join(_author, _author.c.id == _case.c.author_id)
            .where(_case.c.state.in_(list(states)))
            .order_by(_case.c.id)
        )
        return [CaseThread(*row) for row in rows]


def case_drafts(engine: Engine, *, case_id: int, kind: str) -> list[tuple[int, str]]:
    """(draft id, status) of a case's drafts of ``kind``, oldest first."""
    with reading(engine) as connection:
        return [(r.id, r.status) for r in connection.execute(
            select(_draft.c.id, _draft.c.status).where(_draft.c.case_id == case_id, _draft.c.kind == kind)
            .order_by(_draft.c.id))]
