"""The one door for cases: the only writer of the ``case`` table and of ``case_event`` rows.

Every change of a case's state is ``models.case_states.transition`` applied here: the case row is locked (on
PostgreSQL; SQLite's writer holds the database), its facts are read, the pure machine decides, and the columns
``case_states.changes`` names are written with a CaseEvent (and, for a person's act, an audit row) in the same
transaction. ``apply_move_in`` runs inside a caller's transaction (the outbox records a sent reply and its
case's move together); ``apply_move`` opens its own. The other writes of a case (opening it, who owns and
edits it, when its thread is next followed, when it was asked for a rating) are here too, so no other module
writes a case at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from models import case_states
from models.audit import audit
from models.case_states import (
    SYSTEM_ACTORS,
    AgentReopened,
    AgentResolved,
    CaseFacts,
    Move,
    Transition,
)
from models.db import insert_for, writing
from models.tables import AUTHOR, CASE, CASE_EVENT, DRAFT, MENTION


class CaseError(Exception):
    """A case action that does not apply. ``kind``: ``missing`` (no such case), ``invalid`` (the request is
    incomplete, e.g. a note is required) or ``conflict`` (the case is not in a state the act applies to, or
    someone else holds it)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class CaseHeld(CaseError):
    """Someone else is editing the case."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"{holder} is editing this case", kind="conflict")
        self.holder = holder


@dataclass(frozen=True, slots=True)
class CaseState:
    """A case's id and its facts as the state machine needs them."""

    case_id: int
    state: str
    state_since: datetime
    resolved_at: datetime | None
    first_response_at: datetime | None
    csat_requested_at: datetime | None
    csat: int | None

    @property
    def facts(self) -> CaseFacts:
        return CaseFacts(state=self.state, state_since=self.state_since, resolved_at=self.resolved_at,
                         first_response_at=self.first_response_at, csat_requested_at=self.csat_requested_at,
                         csat=self.csat)


def state_since() -> Any:
    """When the case entered its current state (the newest event into it; else when it was opened)."""
    newest = (select(func.max(CASE_EVENT.c.at))
              .where(CASE_EVENT.c.case_id == CASE.c.id, CASE_EVENT.c.to_state == CASE.c.state)
              .correlate(CASE).scalar_subquery())
    return func.coalesce(newest, CASE.c.opened_at)


def state_columns() -> list[Any]:
    """The columns of a CaseState, in order, for a select over ``case``."""
    return [CASE.c.id, CASE.c.state, state_since().label("state_since"), CASE.c.resolved_at,
            CASE.c.first_response_at, CASE.c.csat_requested_at, CASE.c.csat]


def _lock(connection: Connection, case_id: int) -> CaseState:
    """The case's facts, with its row locked for the rest of the transaction; CaseError when it is missing."""
    locking = select(CASE.c.id).where(CASE.c.id == case_id)
    if connection.dialect.name == "postgresql":
        locking = locking.with_for_update()
    if connection.execute(locking).first() is None:
        raise CaseError(f"no case {case_id}", kind="missing")
    return CaseState(*connection.execute(select(*state_columns()).where(CASE.c.id == case_id)).one())


def _event(connection: Connection, case_id: int, change: Transition, now: datetime,
           mention_id: int | None = None) -> None:
    connection.execute(CASE_EVENT.insert().values(
        case_id=case_id, at=now, from_state=change.from_state, to_state=change.to_state, cause=change.cause[:200],
        actor=change.actor, mention_id=mention_id))


def open_case_in(connection: Connection, *, brand: str, platform: str, author_id: int, root_mention_id: int,
                 conversation_id: str | None, category: str, language: str | None, prior_complaints: int,
                 deadline: datetime, now: datetime, lane: str = "complaint") -> int:
    """Open a case (state ``open`` and its opening event), in the caller's transaction. ``lane``: "complaint"
    (a problem to answer, the default) or "praise" (a thank-you to send; never an apology)."""
    opened = case_states.opening()
    case_id = int(connection.execute(
        insert_for(connection, CASE).returning(CASE.c.id),
        {"brand": brand, "platform": platform, "author_id": author_id, "root_mention_id": root_mention_id,
         "conversation_id": conversation_id, "state": opened.to_state, "category": category, "language": language,
         "prior_complaints": prior_complaints, "opened_at": now, "deadline_at": deadline, "updated_at": now,
         "lane": lane},
    ).scalar_one())
    _event(connection, case_id, opened, now, root_mention_id)
    return case_id


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a move did. ``kind``: ``recorded`` (an event was written: a transition or a note),
    ``unchanged`` (the move changes nothing; at most a stamp such as the first response time was written),
    ``stale`` (the case is no longer in the state the caller decided from: another process got there first)
    or ``duplicate`` (the post was applied to the case already)."""

    kind: str
    transition: Transition | None = None

    @property
    def recorded(self) -> bool:
        return self.kind == "recorded"


_AUDIT_ACTIONS = {AgentResolved: "resolve", AgentReopened: "reopen"}


def apply_move_in(connection: Connection, *, case_id: int, move: Move, now: datetime,
                  expect_state: str | None = None, mention_id: int | None = None, attach_mention: bool = False,
                  note_unchanged: str | None = None, address: str | None = None) -> Applied:
    """Apply ``move`` to the case inside the caller's transaction.

    ``expect_state``: the state the caller decided from; another state now gives ``stale``, writing nothing.
    ``mention_id``: the post the move comes from, named in the event; a post already applied to the case gives
    ``duplicate``. ``attach_mention`` also files that post under the case (it must belong to no case yet).
    ``note_unchanged``: the cause of a note event to write when the move changes nothing (so a customer's post
    is always marked applied). Raises CaseError (missing) and case_states.TransitionRefused.
    """
    case = _lock(connection, case_id)
    if expect_state is not None and case.state != expect_state:
        return Applied("stale")
    if mention_id is not None:
        applied = select(CASE_EVENT.c.id).where(CASE_EVENT.c.case_id == case_id, CASE_EVENT.c.mention_id == mention_id)
        if connection.execute(applied).first() is not None:
            return Applied("duplicate")
        if attach_mention:
            owner = select(MENTION.c.case_id).where(MENTION.c.id == mention_id)
            if connection.dialect.name == "postgresql":
                owner = owner.with_for_update()
            if connection.execute(owner).scalar() is not None:
                return Applied("duplicate")
    change = case_states.transition(case.facts, move)
    actor = change.actor if change is not None else None
    if change is None and note_unchanged is not None:
        change = case_states.note(case.facts, note_unchanged, "customer")
    values = case_states.changes(case.facts, move, change, now=now)
    if values:
        connection.execute(update(CASE).where(CASE.c.id == case_id).values(**values))
    if change is None:
        return Applied("unchanged")
    if change.clears_resolution:
        _withdraw_rating_requests(connection, case_id, now)
    if attach_mention and mention_id is not None:
        connection.execute(update(MENTION).where(MENTION.c.id == mention_id).values(case_id=case_id))
        author = connection.execute(select(MENTION.c.author_id).where(MENTION.c.id == mention_id)).scalar()
        if author is not None:
            wake_on_post_in(connection, case_id=case_id, author_id=int(author), now=now)
    _event(connection, case_id, change, now, mention_id)
    if actor is not None and actor not in SYSTEM_ACTORS:
        action = _AUDIT_ACTIONS.get(type(move), f"case_{change.to_state}")
        audit(connection, actor=actor, action=action, now=now, case_id=case_id, detail=change.note, address=address)
    return Applied("recorded", change)


WITHDRAWN_RATING = "the case reopened before the rating request was sent"


def _withdraw_rating_requests(connection: Connection, case_id: int, now: datetime) -> None:
    """A reopened case is not fixed: its unsent "glad this is sorted, how did we do?" must never go out. The
    outbox claims a draft by a conditional UPDATE on its status, so one already sending is left to finish."""
    connection.execute(update(DRAFT).where(DRAFT.c.case_id == case_id, DRAFT.c.kind == "csat",
                                           DRAFT.c.status.in_(("draft", "approved", "held")))
                       .values(status="rejected", last_error=WITHDRAWN_RATING, updated_at=now))


def apply_move(engine: Engine, *, case_id: int, move: Move, now: datetime, expect_state: str | None = None,
               mention_id: int | None = None, attach_mention: bool = False, note_unchanged: str | None = None,
               address: str | None = None) -> Applied:
    """``apply_move_in`` in a transaction of its own."""
    with writing(engine) as connection:
        return apply_move_in(connection, case_id=case_id, move=move, now=now, expect_state=expect_state,
                             mention_id=mention_id, attach_mention=attach_mention, note_unchanged=note_unchanged,
                             address=address)


def resolve_case(engine: Engine, *, case_id: int, note: str, actor: str, now: datetime,
                 address: str | None = None) -> Transition:
    """An agent marks the case resolved, saying how (TransitionRefused without a note; CaseError conflict when
    the case is already resolved or withdrawn)."""
    applied = apply_move(engine, case_id=case_id, move=AgentResolved(agent=actor, note=note), now=now,
                         address=address)
    if applied.transition is None:
        raise CaseError(f"case {case_id} cannot be resolved in its state", kind="conflict")
    return applied.transition


def reopen_case(engine: Engine, *, case_id: int, actor: str, now: datetime, reason: str = "",
                address: str | None = None) -> Transition:
    """An agent puts a resolved, unresolved or withdrawn case back in the queue (CaseError conflict otherwise)."""
    applied = apply_move(engine, case_id=case_id, move=AgentReopened(agent=actor, reason=reason), now=now,
                         address=address)
    if applied.transition is None:
        raise CaseError(f"case {case_id}: only a resolved, unresolved or withdrawn case can be reopened",
                        kind="conflict")
    return applied.transition


def escalate_case(engine: Engine, *, case_id: int, note: str, actor: str, now: datetime,
                  address: str | None = None) -> None:
    """Flag the case for a supervisor with a note (required): an ``escalated`` event; the state does not change."""
    if not note.strip():
        raise CaseError("an escalation needs a note for the supervisor", kind="invalid")
    with writing(engine) as connection:
        case = _lock(connection, case_id)
        _event(connection, case_id, case_states.note(case.facts, "escalated", actor), now)
        connection.execute(update(CASE).where(CASE.c.id == case_id).values(updated_at=now))
        audit(connection, actor=actor, action="escalate", now=now, case_id=case_id, detail=note, address=address)


def assign_case(engine: Engine, *, case_id: int, assignee: str | None, actor: str, now: datetime,
                address: str | None = None) -> None:
    """Set (or clear, with None) who owns the case. Audited."""
    with writing(engine) as connection:
        _lock(connection, case_id)
        connection.execute(update(CASE).where(CASE.c.id == case_id).values(assignee=assignee, updated_at=now))
        audit(connection, actor=actor, action="assign", now=now, case_id=case_id, detail=assignee or "(nobody)",
              address=address)


def claim_case(engine: Engine, *, case_id: int, user: str, now: datetime, hold: timedelta) -> None:
    """Hold the case for ``user`` until ``now + hold`` (renewing their own hold). Raises CaseHeld when
    someone else's hold has not run out: of two people claiming at once, exactly one wins."""
    with writing(engine) as connection:
        changed = connection.execute(
            update(CASE).where(
                CASE.c.id == case_id,
                or_(CASE.c.editing_by.is_(None), CASE.c.editing_until < now, CASE.c.editing_by == user),
            ).values(editing_by=user, editing_until=now + hold)
        ).rowcount
        if changed == 1:
            return
        row = connection.execute(select(CASE.c.editing_by).where(CASE.c.id == case_id)).first()
        if row is None:
            raise CaseError(f"no case {case_id}", kind="missing")
        raise CaseHeld(row.editing_by or "someone")


def snooze_case(engine: Engine, *, case_id: int, until: datetime | None, until_post: bool, actor: str,
                now: datetime, address: str | None = None) -> None:
    """Take the case out of the needs-action lane until ``until`` or (``until_post``) the customer's next post
    in its thread; either wakes on that post. ``until=None, until_post=False`` wakes it now. Audited."""
    with writing(engine) as connection:
        _lock(connection, case_id)
        connection.execute(update(CASE).where(CASE.c.id == case_id)
                           .values(snoozed_until=until, snooze_until_post=until_post, updated_at=now))
        what = ("until the customer posts" if until_post else "") + (
            f"{' or ' if until_post else 'until '}{until:%Y-%m-%d %H:%M} UTC" if until else "")
        audit(connection, actor=actor, action="snooze" if what else "wake", now=now, case_id=case_id,
              detail=what or None, address=address)


def wake_on_post_in(connection: Connection, *, case_id: int, author_id: int, now: datetime) -> bool:
    """The case's customer posted in its thread: a snoozed case comes back to the needs-action lane."""
    return connection.execute(
        update(CASE).where(CASE.c.id == case_id, CASE.c.author_id == author_id,
                           or_(CASE.c.snooze_until_post.is_(True), CASE.c.snoozed_until.is_not(None)))
        .values(snoozed_until=None, snooze_until_post=False, updated_at=now)
    ).rowcount == 1


def release_case(engine: Engine, *, case_id: int, user: str) -> bool:
    """Give up ``user``'s hold; False when they did not hold it."""
    with writing(engine) as connection:
        return connection.execute(
            update(CASE).where(CASE.c.id == case_id, CASE.c.editing_by == user)
            .values(editing_by=None, editing_until=None)
        ).rowcount == 1


def mark_csat_requested_in(connection: Connection, *, case_id: int, now: datetime) -> None:
    """Record that the case was asked for a rating (once per resolution; a reopen clears it)."""
    connection.execute(update(CASE).where(CASE.c.id == case_id, CASE.c.csat_requested_at.is_(None))
                       .values(csat_requested_at=now, updated_at=now))


@dataclass(frozen=True, slots=True)
class ThreadToFollow:
    case_id: int
    platform: str
    brand: str
    conversation_id: str | None
    root_platform_id: str
    root_canonical_id: str
    author_handle: str
    author_key: str
    since: datetime
    root_raw: dict[str, Any] | None


def claim_threads_to_follow(engine: Engine, *, now: datetime, every: timedelta, platforms: Sequence[str],
                            limit: int, rating_asked_since: datetime | None = None) -> list[ThreadToFollow]:
    """Cases whose thread is due a look for the customer's later posts: active cases, and resolved cases that
    asked for a rating at or after ``rating_asked_since`` and have none yet (the answer is a reply in the
    thread, which on some platforms only the thread shows). Claiming moves each case's ``followup_at`` one
    interval on, so two daemons never follow the same thread in the same interval."""
    if not platforms:
        return []
    newest = (select(func.max(MENTION.c.created_at)).where(MENTION.c.case_id == CASE.c.id)
              .correlate(CASE).scalar_subquery())
    followed: ColumnElement[bool] = CASE.c.state.in_(case_states.ACTIVE)
    if rating_asked_since is not None:
        followed = followed | ((CASE.c.state == "resolved") & CASE.c.csat.is_(None)
                               & (CASE.c.csat_requested_at >= rating_asked_since))
    with writing(engine) as connection:
        query = (
            select(CASE.c.id)
            .where(followed, CASE.c.platform.in_(list(platforms)),
                   (CASE.c.followup_at.is_(None)) | (CASE.c.followup_at <= now))
            .order_by(CASE.c.followup_at, CASE.c.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in connection.execute(query)]
        if not ids:
            return []
        connection.execute(update(CASE).where(CASE.c.id.in_(ids)).values(followup_at=now + every))
        rows = connection.execute(
            select(CASE.c.id, CASE.c.platform, CASE.c.brand, CASE.c.conversation_id, MENTION.c.platform_id,
                   MENTION.c.canonical_id, AUTHOR.c.handle, AUTHOR.c.key, newest.label("since"), MENTION.c.raw)
            .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
            .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
            .where(CASE.c.id.in_(ids))
            .order_by(CASE.c.id)
        )
        return [ThreadToFollow(*row) for row in rows]  # type: ignore[call-arg]


def postpone_followup(engine: Engine, *, case_id: int, until: datetime) -> None:
    with writing(engine) as connection:
        connection.execute(update(CASE).where(CASE.c.id == case_id).values(followup_at=until))
