"""The outbox: drafts from approval to a public reply, posted exactly once.

``draft → approved(text_hash, approver) → sending → sent(platform id) | unknown | failed``, and ``rejected``.
``sending`` is committed before the platform is called; a row found in ``sending`` or ``unknown`` later is
reconciled against the platform before anything is sent again. Every transition is a conditional UPDATE on
the expected state, so of two daemons racing for a row exactly one wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection, Engine

from models.db import reading
from models.tables import AuditEntry, Author, Case, CaseEvent, Draft, Mention

_draft = Draft.__table__  # type: ignore[attr-defined]
_case = Case.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_author = Author.__table__  # type: ignore[attr-defined]
_event = CaseEvent.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]


class OutboxError(Exception):
    """An outbox action that does not apply to the draft's current state."""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audit(connection: Connection, *, actor: str, action: str, now: datetime, case_id: int | None = None,
          draft_id: int | None = None, text: str | None = None, detail: str | None = None,
          address: str | None = None) -> None:
    connection.execute(_audit.insert().values(
        at=now, actor=actor, action=action, case_id=case_id, draft_id=draft_id,
        text_hash=text_hash(text) if text is not None else None, detail=detail, address=address,
    ))


def _draft_row(connection: Connection, draft_id: int) -> Any:
    row = connection.execute(select(_draft).where(_draft.c.id == draft_id)).first()
    if row is None:
        raise OutboxError(f"no draft {draft_id}")
    return row


def approve_draft(engine: Engine, *, draft_id: int, approver: str, now: datetime, text: str | None = None,
                  style_issues: Sequence[dict[str, str]] | None = None, address: str | None = None) -> str:
    """Approve a draft (optionally with edited ``text``); returns the hash of the approved text.

    The text approved is the text sent: the hash is recorded now and checked before posting.
    """
    with engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        if row.status not in ("draft", "failed"):
            raise OutboxError(f"draft {draft_id} is {row.status}; only a draft can be approved")
        final = row.text if text is None else text
        digest = text_hash(final)
        values: dict[str, Any] = {"status": "approved", "text": final, "text_hash": digest, "approved_by": approver,
                                  "approved_at": now, "updated_at": now, "last_error": None}
        if style_issues is not None:
            values["style_issues"] = list(style_issues)
        changed = connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status == row.status).values(**values)
        )
        if changed.rowcount != 1:
            raise OutboxError(f"draft {draft_id} changed while it was being approved")
        audit(connection, actor=approver, action="approve", now=now, case_id=row.case_id, draft_id=draft_id,
              text=final, address=address)
        return digest


def edit_draft(engine: Engine, *, draft_id: int, editor: str, text: str, style_issues: Sequence[dict[str, str]],
               now: datetime, address: str | None = None) -> None:
    """Replace a draft's text. Editing an approved draft sends it back to ``draft``: it needs approval again."""
    with engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        if row.status not in ("draft", "approved", "failed"):
            raise OutboxError(f"draft {draft_id} is {row.status}; it can no longer be edited")
        changed = connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status == row.status).values(
                text=text, style_issues=list(style_issues), status="draft", text_hash=None, approved_by=None,
                approved_at=None, updated_at=now)
        )
        if changed.rowcount != 1:
            raise OutboxError(f"draft {draft_id} changed while it was being edited")
        audit(connection, actor=editor, action="edit", now=now, case_id=row.case_id, draft_id=draft_id, text=text,
              address=address)


def reject_draft(engine: Engine, *, draft_id: int, actor: str, reason: str, now: datetime,
                 address: str | None = None) -> None:
    if not reason.strip():
        raise OutboxError("a rejection needs a reason")
    with engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        changed = connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status.in_(("draft", "approved", "failed")))
            .values(status="rejected", last_error=reason, updated_at=now)
        )
        if changed.rowcount != 1:
            raise OutboxError(f"draft {draft_id} is {row.status}; it can no longer be rejected")
        audit(connection, actor=actor, action="reject", now=now, case_id=row.case_id, draft_id=draft_id,
              detail=reason, address=address)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    draft_id: int
    case_id: int
    status: str
    text: str
    text_hash: str | None
    approved_at: datetime | None
    attempts: int
    platform: str
    brand: str
    mention_platform_id: str
    mention_canonical_id: str
    conversation_id: str | None
    author_handle: str
    raw: dict[str, Any] | None


def _items(connection: Connection, ids: Sequence[int]) -> list[OutboxItem]:
    rows = connection.execute(
        select(_draft.c.id, _draft.c.case_id, _draft.c.status, _draft.c.text, _draft.c.text_hash,
               _draft.c.approved_at, _draft.c.attempts, _mention.c.platform, _mention.c.brand, _mention.c.platform_id,
               _mention.c.canonical_id, _mention.c.conversation_id, _author.c.handle, _mention.c.raw)
        .join(_mention, _mention.c.id == _draft.c.mention_id)
        .join(_author, _author.c.id == _mention.c.author_id)
        .where(_draft.c.id.in_(list(ids)))
        .order_by(_draft.c.id)
    )
    return [OutboxItem(*row) for row in rows]  # type: ignore[call-arg]


def _claim(engine: Engine, *, where: Any, owner: str, now: datetime, lease: timedelta, limit: int,
           platforms: Sequence[str] | None) -> list[OutboxItem]:
    with engine.begin() as connection:
        query = select(_draft.c.id).where(where).order_by(_draft.c.approved_at, _draft.c.id).limit(limit)
        if platforms is not None:
            query = query.where(_draft.c.mention_id.in_(select(_mention.c.id).where(_mention.c.platform.in_(platforms))))
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in connection.execute(query)]
        if not ids:
            return []
        connection.execute(update(_draft).where(_draft.c.id.in_(ids)).values(lease_owner=owner, lease_until=now + lease))
        return _items(connection, ids)


def _unleased(now: datetime) -> Any:
    return or_(_draft.c.lease_until.is_(None), _draft.c.lease_until < now)


def claim_approved(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int,
                   platforms: Sequence[str] | None = None) -> list[OutboxItem]:
    """Approved replies to send, leased to ``owner`` (SKIP LOCKED on PostgreSQL)."""
    return _claim(engine, where=and_(_draft.c.status == "approved", _unleased(now)), owner=owner, now=now,
                  lease=lease, limit=limit, platforms=platforms)


def claim_for_reconciliation(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int,
                             platforms: Sequence[str] | None = None,
                             settle: timedelta = timedelta(minutes=1)) -> list[OutboxItem]:
    """Replies whose outcome we do not know: ``unknown`` ones, and ``sending`` ones whose sender is gone (its
    lease ran out, or it is ``owner`` itself starting again after a crash). Either must have settled for
    ``settle`` since the send began: a request a dead process sent may still be landing, and a platform's own
    timeline can lag a moment behind a post it accepted."""
    settled = _draft.c.updated_at <= now - settle
    stranded = and_(_draft.c.status == "sending", settled, or_(_unleased(now), _draft.c.lease_owner == owner))
    unknown = and_(_draft.c.status == "unknown", settled, or_(_unleased(now), _draft.c.lease_owner == owner))
    return _claim(engine, where=or_(stranded, unknown), owner=owner, now=now, lease=lease, limit=limit,
                  platforms=platforms)


def mark_sending(engine: Engine, *, draft_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
    """approved → sending, committed before the platform is called. False when another daemon has it."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status == "approved", _draft.c.lease_owner == owner)
            .values(status="sending", attempts=_draft.c.attempts + 1, lease_until=now + lease, updated_at=now)
        )
        return changed.rowcount == 1


def record_reply_sent(engine: Engine, *, draft_id: int, platform_reply_id: str, now: datetime,
                      actor: str = "outbox", cause: str = "reply_sent") -> bool:
    """sending|unknown → sent, and the case is responded (first response time set once)."""
    with engine.begin() as connection:
        row = _draft_row(connection, draft_id)
        changed = connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status.in_(("sending", "unknown")))
            .values(status="sent", platform_reply_id=platform_reply_id, sent_at=now, lease_owner=None,
                    lease_until=None, last_error=None, updated_at=now)
        )
        if changed.rowcount != 1:
            return False
        case = connection.execute(select(_case.c.state, _case.c.first_response_at).where(_case.c.id == row.case_id)).one()
        values: dict[str, Any] = {"updated_at": now}
        if case.first_response_at is None:
            values["first_response_at"] = now
        if case.state in ("open", "reopened"):
            values["state"] = "responded"
            connection.execute(_event.insert().values(case_id=row.case_id, at=now, from_state=case.state,
                                                      to_state="responded", cause=cause, actor=actor))
        connection.execute(update(_case).where(_case.c.id == row.case_id).values(**values))
        audit(connection, actor=row.approved_by or actor, action="send", now=now, case_id=row.case_id,
              draft_id=draft_id, text=row.text, detail=f"platform id {platform_reply_id}")
        return True


def record_reply_unknown(engine: Engine, *, draft_id: int, error: str, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status == "sending")
            .values(status="unknown", last_error=error, updated_at=now)
        )


def record_reply_failed(engine: Engine, *, draft_id: int, error: str, permanent: bool, now: datetime,
                        retry_at: datetime | None = None) -> None:
    """A refusal the platform answered before acting. Permanent → failed (a human decides); transient →
    approved again, leased until ``retry_at`` so it is not retried before then."""
    with engine.begin() as connection:
        values: dict[str, Any] = {"last_error": error, "updated_at": now}
        if permanent:
            values.update(status="failed", lease_owner=None, lease_until=None)
        else:
            values.update(status="approved", lease_until=retry_at or now)
        connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status.in_(("sending", "unknown"))).values(**values)
        )


def requeue_unsent(engine: Engine, *, draft_id: int, now: datetime) -> None:
    """Reconciliation found no reply on the platform: the draft may be sent again."""
    with engine.begin() as connection:
        connection.execute(
            update(_draft).where(_draft.c.id == draft_id, _draft.c.status.in_(("sending", "unknown")))
            .values(status="approved", lease_owner=None, lease_until=None, updated_at=now)
        )


def release_drafts(engine: Engine, *, owner: str) -> int:
    """Give back leases on approved drafts (a clean shutdown). Rows in ``sending`` keep theirs: they must
    be reconciled, not resent."""
    with engine.begin() as connection:
        return connection.execute(
            update(_draft).where(_draft.c.lease_owner == owner, _draft.c.status == "approved")
            .values(lease_owner=None, lease_until=None)
        ).rowcount or 0


def drafts_by_status(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func

    with reading(engine) as connection:
        return {row.status: row.n for row in connection.execute(
            select(_draft.c.status, func.count().label("n")).group_by(_draft.c.status))}


def draft_for_case(engine: Engine, *, case_id: int) -> int | None:
    """The case's current reply draft (the newest not yet sent or rejected)."""
    with reading(engine) as connection:
        row = connection.execute(
            select(_draft.c.id).where(_draft.c.case_id == case_id, _draft.c.kind == "reply",
                                      _draft.c.status.in_(("draft", "approved", "failed")))
            .order_by(_draft.c.id.desc()).limit(1)
        ).first()
        return row.id if row else None
