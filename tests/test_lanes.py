"""The lanes, the hand-off and the undo window in the database (SQLite and PostgreSQL), and their console
answers to bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.lanes import lane_counts, lane_page, next_in_lane
from models.outbox import (
    HandoffError,
    approve_draft,
    claim_approved,
    edit_draft,
    mark_ready,
    release_drafts,
    undo_approval,
)
from models.queue import QueueFilter
from models.tables import AUDIT, CASE, DRAFT
from models.types import utcnow
from models.users import UserError, set_signature, user_signature
from tests.test_pipeline import POSTS, run, settings, write  # noqa: F401  (settings is a fixture)
from tests.web_support import add_users, client, login

LEASE = timedelta(minutes=2)


@pytest.fixture
def desk(engine: Engine, settings, tmp_path: Path) -> Engine:  # type: ignore[no-untyped-def]  # noqa: F811
    run(engine, settings, write(tmp_path / "m.jsonl", POSTS))
    return engine


def drafts(engine: Engine) -> list[tuple[int, int]]:
    with engine.connect() as connection:
        return [(r.id, r.case_id) for r in connection.execute(select(DRAFT.c.id, DRAFT.c.case_id)
                                                              .where(DRAFT.c.kind == "reply").order_by(DRAFT.c.id))]


def test_an_approval_waits_out_its_undo_window_and_an_undone_one_is_never_claimed(desk: Engine) -> None:
    (draft_id, _case), *_ = drafts(desk)
    now = utcnow()
    approve_draft(desk, draft_id=draft_id, approver="maria", now=now, send_after=now + timedelta(seconds=10))
    assert claim_approved(desk, owner="a", now=now + timedelta(seconds=9), lease=LEASE, limit=10) == []
    undo_approval(desk, draft_id=draft_id, actor="maria", now=now + timedelta(seconds=9))
    assert claim_approved(desk, owner="a", now=now + timedelta(minutes=5), lease=LEASE, limit=10) == []
    # Approved again; once the window passes the outbox claims it, and then it is too late to undo.
    approve_draft(desk, draft_id=draft_id, approver="maria", now=now, send_after=now + timedelta(seconds=10))
    claimed = claim_approved(desk, owner="a", now=now + timedelta(seconds=11), lease=LEASE, limit=10)
    assert [item.draft_id for item in claimed] == [draft_id]
    with pytest.raises(HandoffError, match="too late to undo"):
        undo_approval(desk, draft_id=draft_id, actor="maria", now=now + timedelta(seconds=5))
    release_drafts(desk, owner="a")
    with pytest.raises(HandoffError, match="too late to undo"):
        undo_approval(desk, draft_id=draft_id, actor="maria", now=now + timedelta(seconds=11))
    with desk.connect() as connection:
        actions = [r.action for r in connection.execute(select(AUDIT.c.action).where(AUDIT.c.draft_id == draft_id)
                                                        .order_by(AUDIT.c.id))]
    assert actions == ["approve", "undo_approve", "approve"]


def test_a_draft_marked_ready_moves_to_the_ready_lane_and_an_edit_takes_it_back(desk: Engine) -> None:
    now = utcnow()
    (draft_id, case_id), *_ = drafts(desk)
    before = lane_counts(desk, filters=QueueFilter(), now=now)
    mark_ready(desk, draft_id=draft_id, actor="aino", now=now)
    after = lane_counts(desk, filters=QueueFilter(), now=now)
    assert (after["ready"], after["needs"]) == (before["ready"] + 1, before["needs"] - 1)
    assert [r.case_id for r in lane_page(desk, lane="ready", filters=QueueFilter(), now=now, limit=50).rows] == [case_id]
    with pytest.raises(HandoffError, match="aino marked it ready already"):
        mark_ready(desk, draft_id=draft_id, actor="aino", now=now)
    edit_draft(desk, draft_id=draft_id, editor="maria", text="Hi Jane, sorry. – Maria", style_issues=[], now=now)
    assert lane_counts(desk, filters=QueueFilter(), now=now) == before


def test_next_in_lane_follows_the_lane_order_and_skips_cases_someone_else_edits(desk: Engine) -> None:
    now = utcnow()
    order = [r.case_id for r in lane_page(desk, lane="needs", filters=QueueFilter(), now=now, limit=50).rows]
    assert len(order) >= 2
    assert next_in_lane(desk, lane="needs", now=now, after=order[0]) == order[1]
    assert next_in_lane(desk, lane="needs", now=now, after=order[-1]) is None
    assert next_in_lane(desk, lane="needs", now=now, after=10**9) == order[0], "one that left the lane: the first"
    with desk.begin() as connection:
        connection.execute(CASE.update().where(CASE.c.id == order[1])
                           .values(editing_by="someone", editing_until=now + timedelta(minutes=5)))
    following = next_in_lane(desk, lane="needs", now=now, after=order[0], user="maria")
    assert following != order[1]


def test_a_signature_is_set_per_user_and_an_unknown_user_is_refused(desk: Engine) -> None:
    add_users(desk, ("approver",))
    assert user_signature(desk, name="approver") is None
    set_signature(desk, name="approver", signature="– Maria, Acme care", actor="cli", now=utcnow())
    assert user_signature(desk, name="approver") == "– Maria, Acme care"
    with pytest.raises(UserError, match="no user"):
        set_signature(desk, name="nobody", signature="x", actor="cli", now=utcnow())


@pytest.mark.parametrize(("form", "says"), [
    ({"for": "forever"}, "choose 30m"), ({"until": "yesterday"}, "not a date"),
    ({"until": "2001-01-01T10:00"}, "has passed"), ({"until": "2999-01-01T10:00"}, "30 days"),
])
def test_a_bad_snooze_is_one_plain_refusal(desk: Engine, settings, form: dict[str, str], says: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    add_users(desk, ("agent",))
    c = client(desk, settings)
    csrf = login(c, "agent")
    (_draft, case_id), *_ = drafts(desk)
    answer = c.post(f"/cases/{case_id}/snooze", data={**form, "csrf": csrf}, headers={"Accept": "application/json"})
    assert answer.status_code == 422 and says in answer.json()["error"]
    with desk.connect() as connection:
        assert connection.execute(select(CASE.c.snoozed_until, CASE.c.snooze_until_post)
                                  .where(CASE.c.id == case_id)).one() == (None, False)


def test_only_approvers_undo_and_an_agent_cannot_approve_by_marking_ready(desk: Engine, settings) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    add_users(desk, ("agent", "approver"))
    agent, approver = client(desk, settings), client(desk, settings)
    agent_csrf, approver_csrf = login(agent, "agent"), login(approver, "approver")
    (draft_id, case_id), *_ = drafts(desk)
    ready = agent.post(f"/cases/{case_id}/ready", data={"csrf": agent_csrf, "lane": "needs"})
    assert ready.status_code == 303 and "done=marked+ready" in ready.headers["location"]
    with desk.connect() as connection:
        row = connection.execute(select(DRAFT.c.status, DRAFT.c.ready_by).where(DRAFT.c.id == draft_id)).one()
    assert (row.status, row.ready_by) == ("draft", "agent")
    assert agent.post(f"/cases/{case_id}/undo", data={"csrf": agent_csrf}).status_code == 403
    assert approver.post(f"/cases/{case_id}/undo", data={"csrf": approver_csrf}).status_code == 409, "nothing to undo"


def test_closeloop_users_signature_sets_it_and_refuses_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from models.db import make_engine, prepare
    from tests.test_cli import LEXICON_CONFIG

    database = tmp_path / "desk.db"
    config = tmp_path / "config.toml"
    config.write_text(LEXICON_CONFIG.replace('url = "sqlite:///closeloop.db"', f'url = "sqlite:///{database}"'), "utf-8")
    engine = make_engine(f"sqlite:///{database}")
    prepare(engine)
    add_users(engine, ("approver",))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}

    def closeloop(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(Path(sys.executable).parent / "closeloop"), "--config", str(config), *args],
                              env=env, capture_output=True, text=True, timeout=120)

    done = closeloop("users", "signature", "approver", "– Maria,   Acme care")
    assert done.returncode == 0 and user_signature(engine, name="approver") == "– Maria, Acme care"
    refused = closeloop("users", "signature", "nobody", "– X")
    assert refused.returncode == 1 and refused.stderr.strip().splitlines() == ["closeloop: no user 'nobody'"]
    too_long = closeloop("users", "signature", "approver", "x" * 201)
    assert too_long.returncode == 2 and "at most 200" in too_long.stderr and "Traceback" not in too_long.stderr
    assert closeloop("users", "signature", "approver", "").returncode == 0
    assert user_signature(engine, name="approver") is None
    engine.dispose()
