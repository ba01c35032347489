"""The one door for cases (models.cases) on SQLite and PostgreSQL: every move of the state machine's table
applied to a stored case, the console's HTTP path and the tracker leaving the same case behind, the
reopen → resolve → satisfaction follow-up path, and complaints their author deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.case_queries import case_state
from models.case_states import (
    Confirmed,
    CsatAnswer,
    Move,
    ReplySent,
    RootDeleted,
    StaleCheck,
    Unhappy,
)
from models.cases import apply_move, claim_threads_to_follow
from models.mentions import ParsedAuthor, ParsedMention, mark_deleted, store_batch
from models.outbox import case_drafts
from models.queue import open_queue
from models.reports import case_records
from models.sentiments import ScoreRecord, mentions_to_score, record_sentiments
from models.tables import CASE, CASE_EVENT, DRAFT, MENTION
from models.triage import mentions_to_triage, record_triage
from models.types import utcnow
from monitor.config import Settings
from responders.metrics import week_metrics
from responders.tracker import agent_reopen, agent_resolve, draft_csat_followups, track_pending
from tests.test_case_states import TABLE
from tests.web_support import add_users, client, fill, lexicon_settings, login, post

EARLIER = timedelta(days=8)


@pytest.fixture
def settings() -> Settings:
    return lexicon_settings()


def new_case(engine: Engine, n: int, *, at: datetime) -> int:
    """A stored complaint by customer ``n``, scored and triaged into an open case (storage steps only)."""
    store_batch(engine, brand="Acme", source_id=None, mentions=[ParsedMention(
        platform="x", canonical_id=f"c{n}", platform_id=f"c{n}", text=f"@acme order {n} never arrived",
        author=ParsedAuthor(handle=f"cust{n}", id=f"u{n}", name=f"Customer {n}"), created_at=at,
        conversation_id=f"c{n}")])
    [pending] = mentions_to_score(engine, limit=10)
    record_sentiments(engine, scores=[ScoreRecord(pending.mention_id, "en", "negative", 0.9, "test")])
    [item] = mentions_to_triage(engine, limit=10)
    case_id, opened = record_triage(engine, item=item, complaint=True, category="delivery",
                                    deadline=at + timedelta(hours=1), repeat_window=timedelta(days=7), now=at)
    assert opened and case_id is not None
    return case_id


def drive(engine: Engine, case_id: int, state: str, *, since: datetime) -> None:
    """Bring an open case into ``state`` through the door, the way production does, starting at ``since``."""
    steps: dict[str, list[Move]] = {
        "open": [], "responded": [ReplySent(since)], "resolved": [ReplySent(since), Confirmed()],
        "unresolved": [ReplySent(since), StaleCheck(since + timedelta(days=6), after_days=5)],
        "reopened": [ReplySent(since), Unhappy()], "withdrawn": [RootDeleted()],
    }
    for n, move in enumerate(steps[state]):
        applied = apply_move(engine, case_id=case_id, move=move, now=since + timedelta(days=n * 6))
        assert applied.recorded, (state, move, applied)
    assert _case(engine, case_id)["state"] == state


def _case(engine: Engine, case_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(connection.execute(select(CASE).where(CASE.c.id == case_id)).one()._mapping)


def _events(engine: Engine, case_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            select(CASE_EVENT.c.from_state, CASE_EVENT.c.to_state, CASE_EVENT.c.cause, CASE_EVENT.c.actor)
            .where(CASE_EVENT.c.case_id == case_id).order_by(CASE_EVENT.c.id))]


def stored(engine: Engine, case_id: int) -> dict[str, Any]:
    """What a move leaves behind, with times as set or not (the two paths record at different moments)."""
    row = _case(engine, case_id)
    kept = {k: row[k] for k in ("state", "resolution", "resolved_by", "resolution_note", "csat", "editing_by")}
    stamped = {k: row[k] is not None for k in ("resolved_at", "csat_requested_at", "followup_at", "first_response_at")}
    return {**kept, **stamped, "events": _events(engine, case_id)}


@pytest.mark.parametrize(("state", "move", "expected"), TABLE,
                         ids=[f"{state}-{type(move).__name__}-{i}" for i, (state, move, _e) in enumerate(TABLE)])
def test_the_door_applies_every_row_of_the_table_to_a_stored_case(
        engine: Engine, state: str, move: Move, expected: tuple[str, str | None, str, str] | None) -> None:
    now = utcnow()
    case_id = new_case(engine, 1, at=now - EARLIER)
    drive(engine, case_id, state, since=now - timedelta(days=7))
    before = _events(engine, case_id)
    applied = apply_move(engine, case_id=case_id, move=move, now=now)
    row, events = _case(engine, case_id), _events(engine, case_id)
    if expected is None:
        assert (applied.kind, row["state"], events) == ("unchanged", state, before)
        return
    to_state, resolution, cause, actor = expected
    assert applied.recorded and row["state"] == to_state
    if to_state == "resolved" and state != "resolved":
        assert (row["resolution"], row["resolved_by"]) == (resolution, actor)
    if to_state == "reopened":
        assert (row["resolution"], row["resolved_at"], row["csat_requested_at"]) == (None, None, None)
    assert events == [*before, (state, to_state, cause, actor)]


AGENT_ROWS = [(state, act) for state in ("open", "responded", "resolved", "unresolved", "reopened", "withdrawn")
              for act in ("resolve", "reopen")]


@pytest.mark.parametrize(("state", "act"), AGENT_ROWS, ids=[f"{s}-{a}" for s, a in AGENT_ROWS])
def test_the_console_over_http_and_the_tracker_leave_the_same_case(
        engine: Engine, settings: Settings, state: str, act: str) -> None:
    now = utcnow()
    by_console, by_tracker = new_case(engine, 1, at=now - EARLIER), new_case(engine, 2, at=now - EARLIER)
    claim_threads_to_follow(engine, now=now - EARLIER, every=timedelta(days=30), platforms=["x"], limit=10)
    for case_id in (by_console, by_tracker):
        drive(engine, case_id, state, since=now - timedelta(days=7))
    if state == "resolved":
        assert draft_csat_followups(engine, settings, now=now - timedelta(hours=1)) == 2
    add_users(engine, ("agent",))
    desk = client(engine, settings)
    csrf = login(desk, "agent")

    if act == "resolve":
        answer = desk.post(f"/cases/{by_console}/resolve", data={"note": "refund issued", "csrf": csrf})
        done = agent_resolve(engine, settings, case_id=by_tracker, agent="agent", note="refund issued", now=utcnow())
    else:
        answer = desk.post(f"/cases/{by_console}/reopen", data={"csrf": csrf})
        done = agent_reopen(engine, settings, case_id=by_tracker, agent="agent", reason="", now=utcnow())

    assert answer.status_code == (303 if done else 409), answer.text
    assert stored(engine, by_console) == stored(engine, by_tracker)
    if done and act == "reopen":
        after = stored(engine, by_console)
        assert (after["resolved_by"], after["resolution_note"], after["csat_requested_at"], after["followup_at"]) \
            == (None, None, False, False), "a reopened case keeps nothing of its resolution"


def test_a_case_reopened_from_the_console_is_asked_for_a_rating_again_when_resolved_again(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    now = utcnow()
    fill(engine, settings, [post("100", "@acme my order never arrived, I want a refund", now=now, minutes_ago=50)],
         tmp_path / "p.jsonl", now=now)
    [case_id] = [row.case_id for row in open_queue(engine)]
    add_users(engine, ("agent",))
    desk = client(engine, settings)
    csrf = login(desk, "agent")

    assert desk.post(f"/cases/{case_id}/resolve", data={"note": "refund issued", "csrf": csrf}).status_code == 303
    assert draft_csat_followups(engine, settings, now=utcnow()) == 1
    assert _case(engine, case_id)["csat_requested_at"] is not None
    assert desk.post(f"/cases/{case_id}/reopen", data={"csrf": csrf}).status_code == 303
    reopened = _case(engine, case_id)
    assert (reopened["state"], reopened["resolved_by"], reopened["csat_requested_at"]) == ("reopened", None, None)
    assert [status for _id, status in case_drafts(engine, case_id=case_id, kind="csat")] == ["rejected"], \
        "the unsent rating request is withdrawn: the case is not fixed"
    assert draft_csat_followups(engine, settings, now=utcnow()) == 0, "a reopened case is asked for nothing"

    assert desk.post(f"/cases/{case_id}/resolve", data={"note": "replaced in store", "csrf": csrf}).status_code == 303
    assert draft_csat_followups(engine, settings, now=utcnow()) == 1, "resolved again: asked again"
    row = _case(engine, case_id)
    assert (row["resolved_by"], row["resolution_note"]) == ("agent", "replaced in store")
    assert row["csat_requested_at"] is not None
    assert [status for _id, status in case_drafts(engine, case_id=case_id, kind="csat")] == ["draft"]
    assert draft_csat_followups(engine, settings, now=utcnow()) == 0, "once per resolution"
    assert [e[2] for e in _events(engine, case_id)] == ["complaint", "agent_resolved", "agent_reopened",
                                                        "agent_resolved"]


def test_a_complaint_deleted_before_we_answered_leaves_the_queue_and_counts_apart(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    now = utcnow()
    fill(engine, settings, [
        post("100", "@acme my order never arrived, I want a refund", now=now, minutes_ago=50),
        post("200", "@acme the app is broken, this is awful", now=now, handle="sam", name="Sam", minutes_ago=40),
    ], tmp_path / "p.jsonl", now=now)
    queue = {row.author_handle: row.case_id for row in open_queue(engine)}
    jane, sam = queue["jane_doe"], queue["sam"]
    apply_move(engine, case_id=sam, move=ReplySent(now), now=now)

    assert mark_deleted(engine, platform="x", canonical_ids=["100", "200"]) == 2
    assert track_pending(engine, settings, now=now) == 1, "only the unanswered one is withdrawn"
    assert track_pending(engine, settings, now=now) == 0
    assert [row.case_id for row in open_queue(engine)] == [], "jane's left the queue; sam's was answered"
    assert (_case(engine, jane)["state"], _case(engine, sam)["state"]) == ("withdrawn", "responded")
    assert _events(engine, jane)[-1] == ("open", "withdrawn", "root_deleted", "customer")

    records = case_records(engine, posted_from=now - timedelta(days=1), posted_to=now + timedelta(days=1))
    week = week_metrics(records, [], target_minutes=60)
    assert (week.complaints, week.withdrawn, week.resolved, week.within_target_rate) == (2, 1, 0, 1.0), \
        "withdrawn apart: the one complaint that stood was answered in time"

    # A later complaint from that customer is a complaint like any other: it opens a case of its own.
    fill(engine, settings, [post("101", "@acme still no refund for my order, terrible", now=now, minutes_ago=5)],
         tmp_path / "q.jsonl", now=now)
    [again] = open_queue(engine)
    assert again.author_handle == "jane_doe" and again.case_id != jane and again.prior_complaints == 1


def test_a_move_decided_from_an_old_state_or_a_post_applied_twice_writes_nothing(engine: Engine) -> None:
    now = utcnow()
    case_id = new_case(engine, 1, at=now - EARLIER)
    assert apply_move(engine, case_id=case_id, move=ReplySent(now), now=now).recorded
    stale = apply_move(engine, case_id=case_id, move=Confirmed(), now=now, expect_state="open")
    assert stale.kind == "stale" and _case(engine, case_id)["state"] == "responded"
    with engine.connect() as connection:
        root = connection.execute(select(CASE.c.root_mention_id).where(CASE.c.id == case_id)).scalar_one()
    assert apply_move(engine, case_id=case_id, move=Confirmed(), now=now, mention_id=root).kind == "duplicate", \
        "the root's complaint event already names it"
    state = case_state(engine, case_id=case_id)
    assert state is not None and state.state == "responded"


def test_a_resolved_case_awaiting_a_rating_is_followed_until_rated_or_asked_too_long_ago(
        engine: Engine, settings: Settings) -> None:
    now = utcnow()
    waiting, rated, active = (new_case(engine, n, at=now - EARLIER) for n in (1, 2, 3))
    for case_id in (waiting, rated):
        drive(engine, case_id, "resolved", since=now - EARLIER)
    assert draft_csat_followups(engine, settings, now=now - timedelta(hours=1)) == 2
    assert apply_move(engine, case_id=rated, move=CsatAnswer(5), now=now).recorded

    def followed(asked_since: datetime | None) -> set[int]:
        with engine.begin() as connection:
            connection.execute(CASE.update().values(followup_at=None))
        return {t.case_id for t in claim_threads_to_follow(engine, now=now, every=timedelta(minutes=10),
                                                           platforms=["x"], limit=10,
                                                           rating_asked_since=asked_since)}

    assert followed(now - timedelta(days=14)) == {waiting, active}
    assert followed(now) == {active}, "a rating asked for before the window is no longer waited for"
    assert followed(None) == {active}


def test_an_answer_to_our_reply_joins_its_case_thread_when_the_platform_names_no_root(engine: Engine) -> None:
    now = utcnow()
    case_id = new_case(engine, 1, at=now - timedelta(hours=2))
    with engine.begin() as connection:
        mention_id = connection.execute(select(CASE.c.root_mention_id).where(CASE.c.id == case_id)).scalar_one()
        connection.execute(DRAFT.insert().values(
            case_id=case_id, mention_id=mention_id, kind="csat", status="sent", language="en", category="csat",
            text="How did we do?", quote="", agent="Maria", platform_reply_id="our-1", created_at=now, updated_at=now))
    answer = ParsedMention(platform="x", canonical_id="a1", platform_id="a1", text="5/5 thanks",
                           author=ParsedAuthor(handle="cust1", id="u1"), created_at=now,
                           in_reply_to_id="our-1", conversation_id="a1")
    stranger = replace(answer, canonical_id="a2", platform_id="a2", in_reply_to_id="elsewhere", conversation_id="a2")
    store_batch(engine, brand="Acme", source_id=None, mentions=[answer, stranger])
    with engine.connect() as connection:
        threads = dict(connection.execute(select(MENTION.c.platform_id, MENTION.c.conversation_id)
                                          .where(MENTION.c.platform_id.in_(["a1", "a2"]))).all())
    assert threads == {"a1": "c1", "a2": "a2"}
