"""Resolution tracking over a real database: posts applied once, CSAT drafted once, stale and reopened cases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.outbox import approve_draft, claim_approved, mark_sending, record_reply_sent
from models.reports import case_history
from models.tables import Case, Draft, Mention
from monitor.config import Settings
from responders.resolution import TransitionRefused
from responders.tracker import agent_resolve, sweep_stale, track_pending
from tests.resolution_fixtures import lexicon_settings
from tests.test_pipeline import NOW, post, run, write


@pytest.fixture
def settings() -> Settings:
    return lexicon_settings()


def send_reply(engine: Engine, case_id: int, *, at: Any = NOW, kind: str = "reply") -> None:
    with engine.connect() as connection:
        draft_id = connection.execute(select(Draft.id).where(Draft.case_id == case_id, Draft.kind == kind,  # type: ignore[arg-type]
                                                             Draft.status == "draft")).scalar_one()
    approve_draft(engine, draft_id=draft_id, approver="lead", now=at)
    for item in claim_approved(engine, owner="t", now=at, lease=timedelta(minutes=2), limit=10):
        assert mark_sending(engine, draft_id=item.draft_id, owner="t", now=at, lease=timedelta(minutes=2))
        assert record_reply_sent(engine, draft_id=item.draft_id, platform_reply_id=f"r-{item.draft_id}", now=at)


def case_row(engine: Engine, case_id: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Case).where(Case.id == case_id)).one()  # type: ignore[arg-type]


def case_of(engine: Engine, text_start: str) -> int:
    with engine.connect() as connection:
        return connection.execute(select(Case.id).join(Mention, Mention.id == Case.root_mention_id)  # type: ignore[arg-type]
                                  .where(Mention.text.startswith(text_start))).scalar_one()  # type: ignore[attr-defined]


ROOTS = [
    post("200", "@acme my order never arrived, I want a refund", minutes_ago=50),
    post("300", "@acme the app crashes every time I log in, terrible", handle="sam", name="Sam Lee", minutes_ago=40),
]


def test_a_thank_you_resolves_the_case_asks_for_csat_once_and_reads_the_answer(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    jane = case_of(engine, "@acme my order")
    send_reply(engine, jane)
    assert case_row(engine, jane).state == "responded"

    run(engine, settings, write(tmp_path / "b.jsonl", [
        post("201", "@acme thank you, it arrived!", minutes_ago=-20, conversation="200", reply_to="200")]))
    later = NOW + timedelta(minutes=30)
    assert track_pending(engine, settings, now=later) == 2, "one post applied, one CSAT follow-up drafted"
    row = case_row(engine, jane)
    assert (row.state, row.resolution, row.resolved_by) == ("resolved", "confirmed", "customer")
    assert row.csat_requested_at == later
    with engine.connect() as connection:
        csat = connection.execute(select(Draft).where(Draft.case_id == jane, Draft.kind == "csat")).one()  # type: ignore[arg-type]
        followup = connection.execute(select(Mention.id).where(Mention.canonical_id == "201")).scalar_one()  # type: ignore[call-overload]
    assert csat.status == "draft" and csat.mention_id == followup, "queued for approval, replying to the thanks"
    assert "Jane" in csat.text and csat.style_issues == []
    assert track_pending(engine, settings, now=later) == 0, "each post is applied once, each case asked once"

    send_reply(engine, jane, at=later, kind="csat")
    run(engine, settings, write(tmp_path / "c.jsonl", [
        post("202", "5", minutes_ago=-60, conversation="200", reply_to="r-1")]))
    assert track_pending(engine, settings, now=NOW + timedelta(hours=2)) == 1
    assert case_row(engine, jane).csat == 5
    causes = [(e.from_state, e.to_state, e.cause) for e in case_history(engine, case_id=jane)]
    assert causes == [(None, "open", "complaint"), ("open", "responded", "reply_sent"),
                      ("responded", "resolved", "customer_confirmed"), ("resolved", "resolved", "csat_5")]


def test_a_negative_post_in_the_thread_reopens_and_a_neutral_one_is_only_noted(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    sam = case_of(engine, "@acme the app")
    send_reply(engine, sam)
    run(engine, settings, write(tmp_path / "b.jsonl", [
        post("301", "@acme sent you a DM", handle="sam", name="Sam Lee", minutes_ago=-5, conversation="300"),
        post("302", "@acme still crashing, this is awful and useless", handle="sam", name="Sam Lee",
             minutes_ago=-10, conversation="300")]))
    assert track_pending(engine, settings, now=NOW + timedelta(minutes=15)) == 2
    assert case_row(engine, sam).state == "reopened"
    assert [e.cause for e in case_history(engine, case_id=sam)][-2:] == ["customer_post_neutral",
                                                                         "customer_negative_in_thread"]


def test_stale_cases_become_unresolved_and_a_new_complaint_reopens_a_resolved_one(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    jane, sam = case_of(engine, "@acme my order"), case_of(engine, "@acme the app")
    send_reply(engine, jane)
    send_reply(engine, sam)
    days = settings.resolution.unresolved_after_days
    assert sweep_stale(engine, settings, now=NOW + timedelta(days=days, minutes=-1)) == 0
    with pytest.raises(TransitionRefused):
        agent_resolve(engine, settings, case_id=jane, agent="Maria Jensen", note="", now=NOW + timedelta(hours=1))
    assert agent_resolve(engine, settings, case_id=jane, agent="Maria Jensen", note="Refunded by phone",
                         now=NOW + timedelta(hours=1))
    assert (case_row(engine, jane).resolution, case_row(engine, jane).resolution_note) == ("agent", "Refunded by phone")
    assert sweep_stale(engine, settings, now=NOW + timedelta(days=days)) == 1
    assert sweep_stale(engine, settings, now=NOW + timedelta(days=days)) == 0
    assert case_row(engine, sam).state == "unresolved"

    run(engine, settings, write(tmp_path / "b.jsonl", [
        post("210", "@acme and now my second order is broken, terrible", minutes_ago=-60 * 24 * 3)]))
    assert sweep_stale(engine, settings, now=NOW + timedelta(days=days)) == 1
    row = case_row(engine, jane)
    assert (row.state, row.resolution, row.resolved_at) == ("reopened", None, None)
    assert case_history(engine, case_id=jane)[-1].cause == "new_complaint_within_14d"
