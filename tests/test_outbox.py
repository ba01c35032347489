"""The outbox state machine: approve, edit, reject, claim, send, reconcile — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.outbox import (
    OutboxError,
    approve_draft,
    claim_approved,
    claim_for_reconciliation,
    draft_for_case,
    edit_draft,
    mark_sending,
    record_reply_sent,
    record_reply_unknown,
    reject_draft,
    text_hash,
)
from models.tables import AuditEntry, Case, CaseEvent, Draft
from tests.test_pipeline import POSTS, run, settings, write  # noqa: F401  (settings is a fixture)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


@pytest.fixture
def drafts(engine: Engine, settings, tmp_path: Path) -> list[int]:  # type: ignore[no-untyped-def]  # noqa: F811
    run(engine, settings, write(tmp_path / "m.jsonl", POSTS))
    with engine.connect() as connection:
        return [row.id for row in connection.execute(select(Draft.id).order_by(Draft.id))]  # type: ignore[call-overload]


def draft(engine: Engine, draft_id: int):  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return connection.execute(select(Draft.__table__).where(Draft.__table__.c.id == draft_id)).one()  # type: ignore[attr-defined]


def test_approval_records_the_hash_of_the_text_and_the_approver(engine: Engine, drafts: list[int]) -> None:
    digest = approve_draft(engine, draft_id=drafts[0], approver="maria", now=NOW)
    row = draft(engine, drafts[0])
    assert (row.status, row.approved_by, row.text_hash) == ("approved", "maria", digest)
    assert digest == text_hash(row.text)
    with pytest.raises(OutboxError, match="only a draft can be approved"):
        approve_draft(engine, draft_id=drafts[0], approver="maria", now=NOW)


def test_editing_an_approved_draft_sends_it_back_to_draft(engine: Engine, drafts: list[int]) -> None:
    approve_draft(engine, draft_id=drafts[0], approver="maria", now=NOW)
    edit_draft(engine, draft_id=drafts[0], editor="aino", text="Hi Jane, so sorry. – Maria", style_issues=[], now=NOW)
    row = draft(engine, drafts[0])
    assert (row.status, row.text_hash, row.approved_by) == ("draft", None, None)
    assert claim_approved(engine, owner="a", now=NOW, lease=LEASE, limit=10) == []


def test_a_rejection_needs_a_reason(engine: Engine, drafts: list[int]) -> None:
    with pytest.raises(OutboxError, match="needs a reason"):
        reject_draft(engine, draft_id=drafts[0], actor="maria", reason="  ", now=NOW)
    reject_draft(engine, draft_id=drafts[0], actor="maria", reason="praise, not a complaint", now=NOW)
    assert draft(engine, drafts[0]).status == "rejected"
    assert draft_for_case(engine, case_id=draft(engine, drafts[0]).case_id) is None


def test_sending_is_claimed_once_and_a_sent_reply_responds_the_case(engine: Engine, drafts: list[int]) -> None:
    approve_draft(engine, draft_id=drafts[0], approver="maria", now=NOW)
    [item] = claim_approved(engine, owner="a", now=NOW, lease=LEASE, limit=10)
    assert claim_approved(engine, owner="b", now=NOW, lease=LEASE, limit=10) == [], "leased to a"
    assert not mark_sending(engine, draft_id=item.draft_id, owner="b", now=NOW, lease=LEASE)
    assert mark_sending(engine, draft_id=item.draft_id, owner="a", now=NOW, lease=LEASE)
    assert not mark_sending(engine, draft_id=item.draft_id, owner="a", now=NOW, lease=LEASE), "only from approved"
    assert record_reply_sent(engine, draft_id=item.draft_id, platform_reply_id="999", now=NOW + timedelta(minutes=1))
    assert not record_reply_sent(engine, draft_id=item.draft_id, platform_reply_id="1000", now=NOW), "sent once"
    row = draft(engine, item.draft_id)
    assert (row.status, row.platform_reply_id, row.attempts) == ("sent", "999", 1)
    with engine.connect() as connection:
        case = connection.execute(select(Case.state, Case.first_response_at).where(Case.id == item.case_id)).one()  # type: ignore[call-overload]
        events = connection.execute(select(CaseEvent.to_state, CaseEvent.cause).where(CaseEvent.case_id == item.case_id)
                                    .order_by(CaseEvent.id)).all()  # type: ignore[call-overload]
        actions = [r.action for r in connection.execute(select(AuditEntry.action).order_by(AuditEntry.id))]  # type: ignore[call-overload]
    assert case.state == "responded" and case.first_response_at == NOW + timedelta(minutes=1)
    assert [tuple(e) for e in events] == [("open", "complaint"), ("responded", "reply_sent")]
    assert actions == ["approve", "send"]


def test_a_stranded_send_settles_then_is_reconciled_by_its_own_node_or_by_others_after_the_lease(
        engine: Engine, drafts: list[int]) -> None:
    approve_draft(engine, draft_id=drafts[0], approver="maria", now=NOW)
    claim_approved(engine, owner="a", now=NOW, lease=LEASE, limit=10)
    assert mark_sending(engine, draft_id=drafts[0], owner="a", now=NOW, lease=LEASE)
    # node a dies here; it left the row in `sending`
    assert claim_for_reconciliation(engine, owner="b", now=NOW + timedelta(minutes=1), lease=LEASE, limit=10) == []
    assert claim_for_reconciliation(engine, owner="a", now=NOW, lease=LEASE, limit=10) == [], "not before it settles"
    assert [i.draft_id for i in claim_for_reconciliation(engine, owner="a", now=NOW + timedelta(minutes=1), lease=LEASE,
                                                         limit=10)] == [drafts[0]]
    later = claim_for_reconciliation(engine, owner="b", now=NOW + timedelta(minutes=10), lease=LEASE, limit=10)
    assert [i.draft_id for i in later] == [drafts[0]]
    assert claim_approved(engine, owner="c", now=NOW + timedelta(minutes=10), lease=LEASE, limit=10) == [], \
        "a row whose outcome is unknown is never simply sent again"


def test_an_unknown_outcome_is_reconciled_never_resent_blindly(engine: Engine, drafts: list[int]) -> None:
    approve_draft(engine, draft_id=drafts[0], approver="maria", now=NOW)
    claim_approved(engine, owner="a", now=NOW, lease=LEASE, limit=10)
    mark_sending(engine, draft_id=drafts[0], owner="a", now=NOW, lease=LEASE)
    record_reply_unknown(engine, draft_id=drafts[0], error="timeout", now=NOW)
    assert draft(engine, drafts[0]).status == "unknown"
    assert claim_approved(engine, owner="a", now=NOW + timedelta(hours=1), lease=LEASE, limit=10) == []
    assert claim_for_reconciliation(engine, owner="a", now=NOW + timedelta(seconds=30), lease=LEASE, limit=10) == [], \
        "an unknown outcome settles before it is looked up"
    assert len(claim_for_reconciliation(engine, owner="a", now=NOW + timedelta(minutes=2), lease=LEASE, limit=10)) == 1


def test_racing_senders_claim_disjoint_drafts(engine: Engine, drafts: list[int]) -> None:
    for draft_id in drafts:
        approve_draft(engine, draft_id=draft_id, approver="maria", now=NOW)
    won: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    def send(owner: str) -> None:
        for item in claim_approved(engine, owner=owner, now=NOW, lease=LEASE, limit=1):
            if mark_sending(engine, draft_id=item.draft_id, owner=owner, now=NOW, lease=LEASE):
                won[owner].append(item.draft_id)

    threads = [threading.Thread(target=send, args=(o,)) for o in won for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [d for ids in won.values() for d in ids]
    assert sorted(sent) == sorted(set(sent)) and set(sent) <= set(drafts)
