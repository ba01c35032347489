"""The case state machine: pure, language-free, and the only place case states are named.

=============  =============================================================================================
state          meaning
=============  =============================================================================================
open           a complaint waiting for our first reply
responded      we replied; waiting for the customer to confirm it is fixed
resolved       fixed: ``resolution`` says how (``confirmed`` by the customer, by an ``agent``, or by ``csat``)
unresolved     responded, but no confirmation came within the stale window ("responded but unresolved")
reopened       the customer says it is not fixed (or complained again soon after), or an agent reopened it
withdrawn      the customer deleted the complaint before we answered: it leaves the queue, unresolved
=============  =============================================================================================

``transition(case, move)`` decides the move a signal makes, and ``changes`` says which case columns the move
writes. Neither reads a database, a clock or a language: the tracker turns a customer's words into a move
(``responders.resolution``), and ``models.cases`` (the door) applies the result. ``None`` means the move
changes nothing.

What a move writes besides ``state`` and ``updated_at``:

=========================================  ===============================================================
move                                       columns
=========================================  ===============================================================
into ``resolved`` (from another state)     resolution, resolved_at, resolved_by (the actor),
                                           resolution_note; the console's editing hold is released
into ``reopened``                          resolution, resolved_at, resolved_by, resolution_note and
                                           csat_requested_at cleared (a later resolution asks again);
                                           followup_at cleared (the thread is followed at once)
a CSAT answer                              csat
our reply sent, the first one              first_response_at (also when the state does not change)
=========================================  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STATES = ("open", "responded", "resolved", "unresolved", "reopened", "withdrawn")
"""Every state a case can be in."""
WAITING = ("open", "reopened")
"""Waiting for our reply: the queue."""
ACTIVE = ("open", "responded", "reopened")
"""In progress: their threads are followed and a post in the thread joins the case."""
FINISHED = ("resolved", "withdrawn")
"""No longer anyone's work (an unresolved case still is: it is reported as responded but unresolved)."""
QUIET = ("resolved", "unresolved")
"""Answered and no longer followed, but a late post of the customer in the thread still applies."""
REOPENABLE = ("resolved", "unresolved", "withdrawn")
"""The states an agent may reopen."""
RESOLVABLE = tuple(state for state in STATES if state not in FINISHED)
"""The states an agent may resolve."""
RESOLUTIONS = ("confirmed", "agent", "csat")
LOW_CSAT = 2
"""A satisfaction answer this low on a resolved case reopens it: the customer says it is not fixed."""
SYSTEM_ACTORS = ("customer", "tracker", "outbox")
"""Actors that are not people on the team (their moves are not written to the audit log)."""


class TransitionRefused(ValueError):
    """A move that may not be applied as given (an agent resolution without a note, a CSAT score out of range)."""


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the state machine needs to know about a case."""

    state: str
    state_since: datetime
    resolved_at: datetime | None = None
    first_response_at: datetime | None = None
    csat_requested_at: datetime | None = None
    csat: int | None = None


@dataclass(frozen=True, slots=True)
class ReplySent:
    """Our reply was published (``found_on_platform``: reconciliation found it there after a lost outcome)."""

    at: datetime
    found_on_platform: bool = False


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The customer says, in the case's thread, that it is fixed (or thanks us)."""


@dataclass(frozen=True, slots=True)
class Unhappy:
    """The customer writes negatively in the case's thread."""


@dataclass(frozen=True, slots=True)
class Posted:
    """The customer wrote something in the thread that moves nothing (a question, a DM notice)."""

    label: str = "neutral"


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """The customer complained again outside the thread at ``at``; within ``window_days`` of the resolution
    it reopens the resolved case."""

    at: datetime
    window_days: int


@dataclass(frozen=True, slots=True)
class AgentResolved:
    agent: str
    note: str


@dataclass(frozen=True, slots=True)
class AgentReopened:
    agent: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CsatAnswer:
    score: int


@dataclass(frozen=True, slots=True)
class StaleCheck:
    """The sweep at ``now``: a case responded ``after_days`` ago without confirmation goes unresolved."""

    now: datetime
    after_days: int


@dataclass(frozen=True, slots=True)
class RootDeleted:
    """The customer deleted the post that opened the case."""


Move = (ReplySent | Confirmed | Unhappy | Posted | NewComplaint | AgentResolved | AgentReopened | CsatAnswer
        | StaleCheck | RootDeleted)


@dataclass(frozen=True, slots=True)
class Transition:
    """What to record: the move (``to_state`` may equal ``from_state`` for a note or a CSAT score on a
    resolved case), its cause and who made it, and what it carries. ``from_state`` is None only when a case
    opens. ``clears_resolution``: a reopen, which empties the resolution (see ``changes``)."""

    from_state: str | None
    to_state: str
    cause: str
    actor: str | None
    resolution: str | None = None
    note: str | None = None
    csat: int | None = None
    clears_resolution: bool = False


def opening() -> Transition:
    """A complaint opens a case (triage's move: there is no state before it)."""
    return Transition(None, "open", "complaint", None)


def note(case: CaseFacts, cause: str, actor: str | None) -> Transition:
    """An event that records something without moving the case (an escalation, a post that changes nothing)."""
    return Transition(case.state, case.state, cause, actor)


def _reopen(case: CaseFacts, cause: str, actor: str, *, note: str | None = None,
            csat: int | None = None) -> Transition:
    return Transition(case.state, "reopened", cause, actor, note=note, csat=csat, clears_resolution=True)


def _resolve(case: CaseFacts, resolution: str, cause: str, actor: str, *, note: str | None = None,
             csat: int | None = None) -> Transition:
    return Transition(case.state, "resolved", cause, actor, resolution=resolution, note=note, csat=csat)


def _csat(case: CaseFacts, score: int) -> Transition | None:
    if not 1 <= score <= 5:
        raise TransitionRefused(f"a CSAT score is 1 to 5, not {score}")
    state = case.state
    if state == "resolved":
        if score <= LOW_CSAT:
            return _reopen(case, f"low_csat_{score}", "customer", csat=score)
        return Transition(state, state, f"csat_{score}", "customer", csat=score)
    if state in ("responded", "unresolved"):
        if score <= LOW_CSAT:
            return Transition(state, state, f"csat_{score}", "customer", csat=score)
        return _resolve(case, "csat", f"csat_{score}", "customer", csat=score)
    return None


def transition(case: CaseFacts, move: Move) -> Transition | None:
    """The transition ``move`` makes from ``case``'s state, or None when it changes nothing.

    Raises TransitionRefused for an agent resolution without a note or a CSAT score outside 1..5.
    """
    state = case.state
    if isinstance(move, ReplySent):
        if state in WAITING:
            return Transition(state, "responded", "reply_found_on_platform" if move.found_on_platform
                              else "reply_sent", "outbox")
        return None
    if isinstance(move, Confirmed):
        if state in ("open", "responded", "unresolved", "reopened"):
            return _resolve(case, "confirmed", "customer_confirmed", "customer")
        return None
    if isinstance(move, Unhappy):
        if state in ("responded", "resolved", "unresolved"):
            return _reopen(case, "customer_negative_in_thread", "customer")
        return None
    if isinstance(move, Posted):
        return None
    if isinstance(move, NewComplaint):
        if state != "resolved" or case.resolved_at is None:
            return None
        if move.at - case.resolved_at > timedelta(days=move.window_days):
            return None
        return _reopen(case, f"new_complaint_within_{move.window_days}d", "customer")
    if isinstance(move, AgentResolved):
        if not move.note.strip():
            raise TransitionRefused("an agent resolution needs a note saying what fixed it")
        if state not in RESOLVABLE:
            return None
        return _resolve(case, "agent", "agent_resolved", move.agent, note=move.note.strip())
    if isinstance(move, AgentReopened):
        if state in REOPENABLE:
            return _reopen(case, "agent_reopened", move.agent, note=move.reason.strip() or None)
        return None
    if isinstance(move, CsatAnswer):
        return _csat(case, move.score)
    if isinstance(move, StaleCheck):
        if state == "responded" and move.now - case.state_since >= timedelta(days=move.after_days):
            return Transition(state, "unresolved", f"no_confirmation_{move.after_days}d", "tracker")
        return None
    if isinstance(move, RootDeleted):
        if state == "open" and case.first_response_at is None:
            return Transition(state, "withdrawn", "root_deleted", "customer")
        return None
    raise TypeError(f"unknown move {move!r}")


def changes(case: CaseFacts, move: Move, change: Transition | None, *, now: datetime) -> dict[str, Any]:
    """The case columns to write for ``move`` (which made ``change``) at ``now``; empty when nothing is written.

    See the module's table. ``state`` is included whenever there is a transition, even a note's same state.
    """
    values: dict[str, Any] = {}
    if change is not None:
        values["state"] = change.to_state
        if change.to_state == "resolved" and change.from_state != "resolved":
            values.update(resolution=change.resolution, resolved_at=now, resolved_by=change.actor,
                          resolution_note=change.note, editing_by=None, editing_until=None)
        if change.to_state == "reopened":
            values.update(resolution=None, resolved_at=None, resolved_by=None, resolution_note=None,
                          csat_requested_at=None, followup_at=None)
        if change.csat is not None:
            values["csat"] = change.csat
    if isinstance(move, ReplySent) and case.first_response_at is None:
        values["first_response_at"] = move.at
    if values:
        values["updated_at"] = now
    return values


__all__ = [
    "ACTIVE", "FINISHED", "LOW_CSAT", "QUIET", "REOPENABLE", "RESOLUTIONS", "RESOLVABLE", "STATES", "SYSTEM_ACTORS",
    "WAITING", "AgentReopened",
    "AgentResolved", "CaseFacts", "Confirmed", "CsatAnswer", "Move", "NewComplaint", "Posted", "ReplySent",
    "RootDeleted", "StaleCheck", "Transition", "TransitionRefused", "Unhappy", "changes", "note", "opening",
    "transition",
]
