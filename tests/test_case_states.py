"""The pure case state machine (models.case_states): every state against every move, from one table, and
what each move writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.case_states import (
    STATES,
    AgentReopened,
    AgentResolved,
    CaseFacts,
    Confirmed,
    CsatAnswer,
    Move,
    NewComplaint,
    Posted,
    ReplySent,
    RootDeleted,
    StaleCheck,
    TransitionRefused,
    Unhappy,
    changes,
    transition,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def case(state: str, *, since_days: float = 0, resolved_days_ago: float | None = None,
         answered: bool | None = None) -> CaseFacts:
    """A case in ``state``; answered (a first response on record) unless it is open or said otherwise."""
    answered = state != "open" if answered is None else answered
    return CaseFacts(state=state, state_since=NOW - since_days * DAY,
                     resolved_at=NOW - resolved_days_ago * DAY if resolved_days_ago is not None else None,
                     first_response_at=NOW - 2 * DAY if answered else None)


REPLY = ReplySent(NOW)
FOUND = ReplySent(NOW, found_on_platform=True)
RESOLVE = AgentResolved("Maria", "refunded by phone")
REOPEN = AgentReopened("Maria", "customer called back")
NEW_SOON = NewComplaint(at=NOW, window_days=14)
STALE = StaleCheck(NOW, after_days=5)

# (state, move) → (to state, resolution, cause, actor), or None when the move changes nothing. Every state
# meets every move; a state a row does not name for a move is in the "changes nothing" rows below.
MOVES: dict[tuple[str, Move], tuple[str, str | None, str, str] | None] = {
    ("open", REPLY): ("responded", None, "reply_sent", "outbox"),
    ("reopened", REPLY): ("responded", None, "reply_sent", "outbox"),
    ("open", FOUND): ("responded", None, "reply_found_on_platform", "outbox"),
    ("reopened", FOUND): ("responded", None, "reply_found_on_platform", "outbox"),
    ("open", Confirmed()): ("resolved", "confirmed", "customer_confirmed", "customer"),
    ("responded", Confirmed()): ("resolved", "confirmed", "customer_confirmed", "customer"),
    ("unresolved", Confirmed()): ("resolved", "confirmed", "customer_confirmed", "customer"),
    ("reopened", Confirmed()): ("resolved", "confirmed", "customer_confirmed", "customer"),
    ("responded", Unhappy()): ("reopened", None, "customer_negative_in_thread", "customer"),
    ("resolved", Unhappy()): ("reopened", None, "customer_negative_in_thread", "customer"),
    ("unresolved", Unhappy()): ("reopened", None, "customer_negative_in_thread", "customer"),
    ("resolved", NEW_SOON): ("reopened", None, "new_complaint_within_14d", "customer"),
    ("open", RESOLVE): ("resolved", "agent", "agent_resolved", "Maria"),
    ("responded", RESOLVE): ("resolved", "agent", "agent_resolved", "Maria"),
    ("unresolved", RESOLVE): ("resolved", "agent", "agent_resolved", "Maria"),
    ("reopened", RESOLVE): ("resolved", "agent", "agent_resolved", "Maria"),
    ("resolved", REOPEN): ("reopened", None, "agent_reopened", "Maria"),
    ("unresolved", REOPEN): ("reopened", None, "agent_reopened", "Maria"),
    ("withdrawn", REOPEN): ("reopened", None, "agent_reopened", "Maria"),
    ("resolved", CsatAnswer(5)): ("resolved", None, "csat_5", "customer"),
    ("resolved", CsatAnswer(2)): ("reopened", None, "low_csat_2", "customer"),
    ("responded", CsatAnswer(5)): ("resolved", "csat", "csat_5", "customer"),
    ("responded", CsatAnswer(2)): ("responded", None, "csat_2", "customer"),
    ("unresolved", CsatAnswer(5)): ("resolved", "csat", "csat_5", "customer"),
    ("unresolved", CsatAnswer(2)): ("unresolved", None, "csat_2", "customer"),
    ("open", RootDeleted()): ("withdrawn", None, "root_deleted", "customer"),
}
ALL_MOVES: list[Move] = [REPLY, FOUND, Confirmed(), Unhappy(), Posted("neutral"), NEW_SOON, RESOLVE, REOPEN,
                         CsatAnswer(5), CsatAnswer(2), RootDeleted()]
TABLE = [(state, move, MOVES.get((state, move))) for state in STATES for move in ALL_MOVES]


@pytest.mark.parametrize(("state", "move", "expected"), TABLE,
                         ids=[f"{state}-{type(move).__name__}-{i}" for i, (state, move, _e) in enumerate(TABLE)])
def test_every_state_meets_every_move_as_the_table_says(state: str, move: Move,
                                                        expected: tuple[str, str | None, str, str] | None) -> None:
    facts = case(state, resolved_days_ago=1 if state == "resolved" else None)
    change = transition(facts, move)
    if expected is None:
        assert change is None
        return
    assert change is not None
    assert (change.to_state, change.resolution, change.cause, change.actor) == expected
    assert change.from_state == state


@pytest.mark.parametrize(("facts", "move", "to_state"), [
    (case("responded", since_days=5), STALE, "unresolved"),
    (case("responded", since_days=4.9), STALE, None),
    (case("open", since_days=30), STALE, None),
    (case("unresolved", since_days=30), STALE, None),
    (case("resolved", resolved_days_ago=20), NEW_SOON, None),
    (case("resolved", resolved_days_ago=14), NEW_SOON, "reopened"),
    (case("open", answered=True), RootDeleted(), None),
    (case("responded"), RootDeleted(), None),
    (case("reopened"), RootDeleted(), None),
], ids=["stale-after-5d", "not-before", "open-never-stale", "unresolved-stays", "complaint-after-window",
        "complaint-on-the-window", "deleted-after-our-reply-stays", "deleted-responded-stays",
        "deleted-reopened-stays"])
def test_time_and_answers_decide_the_stale_the_reopen_and_the_withdrawal(facts: CaseFacts, move: Move,
                                                                          to_state: str | None) -> None:
    change = transition(facts, move)
    assert (change.to_state if change else None) == to_state


def test_an_agent_resolution_needs_a_note_and_a_csat_score_is_one_to_five() -> None:
    with pytest.raises(TransitionRefused):
        transition(case("responded"), AgentResolved("Maria", "  "))
    with pytest.raises(TransitionRefused):
        transition(case("resolved"), CsatAnswer(6))


# What each move writes besides the state: set (a value), cleared (None), or untouched (absent).
RESOLVED_BY_AGENT = {"resolution": "agent", "resolved_at": NOW, "resolved_by": "Maria",
                     "resolution_note": "refunded by phone", "editing_by": None, "editing_until": None}
REOPEN_CLEARS = {"resolution": None, "resolved_at": None, "resolved_by": None, "resolution_note": None,
                 "csat_requested_at": None, "followup_at": None}
WRITES: list[tuple[str, CaseFacts, Move, dict[str, object]]] = [
    ("first reply stamps the first response", case("open"), REPLY,
     {"state": "responded", "first_response_at": NOW}),
    ("a later reply on a resolved case stamps nothing", case("resolved"), REPLY, {}),
    ("a reply to a case resolved unanswered stamps the first response", case("resolved", answered=False), REPLY,
     {"first_response_at": NOW}),
    ("an agent resolution", case("responded"), RESOLVE, {"state": "resolved", **RESOLVED_BY_AGENT}),
    ("a reopen clears the resolution and the rating request", case("resolved"), REOPEN,
     {"state": "reopened", **REOPEN_CLEARS}),
    ("a reopen from unresolved clears the same", case("unresolved"), REOPEN, {"state": "reopened", **REOPEN_CLEARS}),
    ("a poor rating reopens and keeps the rating", case("resolved"), CsatAnswer(1),
     {"state": "reopened", "csat": 1, **REOPEN_CLEARS}),
    ("a good rating on a resolved case", case("resolved"), CsatAnswer(5), {"state": "resolved", "csat": 5}),
    ("a confirmation", case("responded"), Confirmed(),
     {"state": "resolved", "resolution": "confirmed", "resolved_at": NOW, "resolved_by": "customer",
      "resolution_note": None, "editing_by": None, "editing_until": None}),
    ("a withdrawal", case("open"), RootDeleted(), {"state": "withdrawn"}),
    ("a post that moves nothing writes nothing", case("responded"), Posted("neutral"), {}),
]


@pytest.mark.parametrize(("name", "facts", "move", "written"), WRITES, ids=[row[0] for row in WRITES])
def test_each_move_writes_what_the_table_says(name: str, facts: CaseFacts, move: Move,
                                              written: dict[str, object]) -> None:
    values = changes(facts, move, transition(facts, move), now=NOW)
    assert values == ({**written, "updated_at": NOW} if written else {})
