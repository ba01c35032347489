"""The hand-off between agents and approvers: a draft marked ready for approval, and an approval undone.

An agent marks a draft ``ready`` (it stays a ``draft``; ``ready_by``/``ready_at`` say who handed it over and
when, and editing it takes that back). An approval made from the console carries ``send_after``: until then
the outbox claims nothing (``models.outbox.claim_approved``) and the approver may undo it, which returns the
draft to ``draft``. Both are conditional UPDATEs: an undo and the outbox's claim cannot both win, so a reply
undone is never posted and a reply posted is never undone. Both are written to the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from models.audit import audit
from models.db import writing
from models.tables import DRAFT


class HandoffError(Exception):
    """A hand-off that no longer applies (the draft moved on, the undo window closed)."""


def mark_ready(engine: Engine, *, draft_id: int, actor: str, now: datetime, address: str | None = None) -> None:
    """Hand a draft to the approvers. Refused unless it is a ``draft`` (or ``failed``) not yet handed over."""
    with writing(engine) as connection:
        row = connection.execute(select(DRAFT.c.case_id, DRAFT.c.status, DRAFT.c.ready_by)
                                 .where(DRAFT.c.id == draft_id)).first()
        if row is None:
            raise HandoffError(f"no draft {draft_id}")
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status.in_(("draft", "failed")),
                                DRAFT.c.ready_at.is_(None))
            .values(ready_by=actor, ready_at=now, updated_at=now)
        ).rowcount == 1
        if not changed:
            why = f"{row.ready_by} marked it ready already" if row.ready_by else f"it is {row.status}"
            raise HandoffError(f"draft {draft_id} cannot be marked ready: {why}")
        audit(connection, actor=actor, action="ready", now=now, case_id=row.case_id, draft_id=draft_id)


def undo_approval(engine: Engine, *, draft_id: int, actor: str, now: datetime, address: str | None = None) -> None:
    """approved (or held) → draft, while its undo window is open and no outbox has claimed it."""
    with writing(engine) as connection:
        row = connection.execute(select(DRAFT.c.case_id, DRAFT.c.status).where(DRAFT.c.id == draft_id)).first()
        if row is None:
            raise HandoffError(f"no draft {draft_id}")
        changed = connection.execute(
            update(DRAFT).where(
                DRAFT.c.id == draft_id, DRAFT.c.status.in_(("approved", "held")), DRAFT.c.send_after > now,
                or_(DRAFT.c.lease_until.is_(None), DRAFT.c.lease_until < now))
            .values(status="draft", text_hash=None, approved_by=None, approved_at=None, send_after=None,
                    last_error=None, lease_owner=None, lease_until=None, updated_at=now)
        ).rowcount == 1
        if not changed:
            raise HandoffError(f"too late to undo: the reply for case {row.case_id} is {row.status} and on its way")
        audit(connection, actor=actor, action="undo_approve", now=now, case_id=row.case_id, draft_id=draft_id,
              address=address)
