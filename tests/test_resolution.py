"""The case state machine, from a table of (state, signal) → (new state, resolution, cause)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import ResolutionSettings
from responders.resolution import (
    AgentReopened,
    AgentResolved,
    CaseFacts,
    CsatAnswer,
    CustomerPost,
    ReplySent,
    Signal,
    StaleCheck,
    TransitionRefused,
    is_confirmation,
    transition,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RULES = ResolutionSettings(unresolved_after_days=5, reopen_window_days=14)


def post(text: str, label: str = "neutral", *, in_thread: bool = True, days_after: float = 0, language: str = "en",
         complaint: bool = False) -> CustomerPost:
    return CustomerPost(label=label, score=0.9, text=text, language=language, in_thread=in_thread,
                        at=NOW + timedelta(days=days_after), is_complaint=complaint)


def case(state: str, *, since_days: float = 0, resolved_days_ago: float | None = None) -> CaseFacts:
    resolved = NOW - timedelta(days=resolved_days_ago) if resolved_days_ago is not None else None
    return CaseFacts(state=state, state_since=NOW - timedelta(days=since_days), resolved_at=resolved)


TABLE: list[tuple[str, CaseFacts, Signal, tuple[str, str | None, str] | None]] = [
    ("our reply moves open to responded", case("open"), ReplySent(NOW), ("responded", None, "reply_sent")),
    ("our reply moves reopened to responded", case("reopened"), ReplySent(NOW), ("responded", None, "reply_sent")),
    ("a second reply changes nothing", case("responded"), ReplySent(NOW), None),
    ("thanks in the thread resolves", case("responded"), post("thank you, it arrived!"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("positive sentiment resolves", case("responded"), post("lovely people", "positive"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("Danish thanks resolves", case("responded"), post("mange tak, den er kommet", language="da"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("Finnish fixed resolves", case("unresolved"), post("kiitos, toimii nyt", language="fi"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("Estonian thanks resolves", case("responded"), post("aitäh, sain kätte", language="et"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("Hebrew thanks resolves", case("responded"), post("תודה רבה, הגיע", language="he"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("Korean thanks resolves", case("responded"), post("감사합니다 잘 받았어요", language="ko"),
     ("resolved", "confirmed", "customer_confirmed")),
    ("'thanks but still nothing' resolves nothing", case("responded"), post("thanks but still nothing"), None),
    ("a neutral question resolves nothing", case("responded"), post("any news on my order?"), None),
    ("negative in the thread reopens a responded case", case("responded"), post("this is awful", "negative"),
     ("reopened", None, "customer_negative_in_thread")),
    ("negative in the thread reopens a resolved case", case("resolved", resolved_days_ago=30),
     post("broken again", "negative"), ("reopened", None, "customer_negative_in_thread")),
    ("negative while still open changes nothing", case("open"), post("hello??", "negative"), None),
    ("a new complaint within the window reopens", case("resolved", resolved_days_ago=3),
     post("new problem", "negative", in_thread=False, complaint=True), ("reopened", None, "new_complaint_within_14d")),
    ("a new complaint after the window does not", case("resolved", resolved_days_ago=20),
     post("new problem", "negative", in_thread=False, complaint=True), None),
    ("a new non-complaint does not", case("resolved", resolved_days_ago=1),
     post("nice weather", "positive", in_thread=False), None),
    ("an agent resolves with a note", case("responded"), AgentResolved("Maria", "refunded by phone"),
     ("resolved", "agent", "agent_resolved")),
    ("an agent resolves an open case", case("open"), AgentResolved("Maria", "fixed in store"),
     ("resolved", "agent", "agent_resolved")),
    ("an agent reopens a resolved case", case("resolved", resolved_days_ago=1), AgentReopened("Maria"),
     ("reopened", None, "agent_reopened")),
    ("an agent cannot reopen an open case", case("open"), AgentReopened("Maria"), None),
    ("a good CSAT resolves a responded case", case("responded"), CsatAnswer(4), ("resolved", "csat", "csat_4")),
    ("a CSAT on a resolved case is recorded", case("resolved"), CsatAnswer(5), ("resolved", None, "csat_5")),
    ("a poor CSAT reopens a resolved case", case("resolved"), CsatAnswer(1), ("reopened", None, "low_csat_1")),
    ("a poor CSAT on a responded case resolves nothing", case("responded"), CsatAnswer(2),
     ("responded", None, "csat_2")),
    ("a responded case goes stale after 5 days", case("responded", since_days=5), StaleCheck(NOW),
     ("unresolved", None, "no_confirmation_5d")),
    ("not before", case("responded", since_days=4.9), StaleCheck(NOW), None),
    ("an open case never goes stale", case("open", since_days=30), StaleCheck(NOW), None),
]


@pytest.mark.parametrize(("name", "facts", "signal", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_it_moves_cases_as_the_table_says(name: str, facts: CaseFacts, signal: Signal,
                                          expected: tuple[str, str | None, str] | None) -> None:
    move = transition(facts, signal, now=NOW, settings=RULES)
    if expected is None:
        assert move is None
        return
    assert move is not None
    assert (move.to_state, move.resolution, move.cause) == expected
    assert move.from_state == facts.state


def test_it_clears_the_resolution_when_a_resolved_case_reopens() -> None:
    move = transition(case("resolved", resolved_days_ago=1), post("again??", "negative"), now=NOW, settings=RULES)
    assert move is not None and move.clears_resolution


def test_an_agent_resolution_needs_a_note() -> None:
    with pytest.raises(TransitionRefused):
        transition(case("responded"), AgentResolved("Maria", "  "), now=NOW, settings=RULES)


def test_it_records_the_csat_score_and_the_note() -> None:
    assert transition(case("responded"), CsatAnswer(5), now=NOW, settings=RULES).csat == 5  # type: ignore[union-attr]
    move = transition(case("open"), AgentResolved("Maria", " replaced in store "), now=NOW, settings=RULES)
    assert move is not None and move.note == "replaced in store" and move.actor == "Maria"


@pytest.mark.parametrize(("text", "language", "label", "expected"), [
    ("thank you so much!", "en", "neutral", True),
    ("it arrived, cheers", "en", "neutral", True),
    ("still not working, thanks for nothing", "en", "neutral", False),
    ("thank you", "en", "negative", False),
    ("tak for hjælpen", "da", "neutral", True),
    ("virker ikke stadig", "da", "positive", False),
    ("עדיין לא הגיע, תודה", "he", "neutral", False),
    ("해결됐어요 감사해요", "ko", "neutral", True),
    ("where is my parcel", "en", "neutral", False),
])
def test_it_reads_confirmations_in_each_language(text: str, language: str, label: str, expected: bool) -> None:
    assert is_confirmation(text, language, label) is expected
