"""Drafts and the outbox: a reply from its draft to a public reply, posted exactly once.

``draft → approved(text_hash, approver) → sending → sent(platform id) | unknown | failed``, ``rejected``, and
``approved ⇄ held`` (the outbox cannot send it: no poster or credentials for its platform, or the post takes no
API reply; the reason is in ``last_error``). ``sending`` is committed before the platform is called; a row found
in ``sending`` or ``unknown`` later is reconciled against the platform before anything is sent again. Every
transition is a conditional UPDATE on the expected state, so of two daemons racing for a row exactly one wins.
A sent reply moves its case through the door (``models.cases``) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection, Engine

from models.audit import audit, text_hash
from models.case_states import ReplySent
from models.cases import apply_move_in, mark_csat_requested_in
from models.db import insert_for, writing

# The outbox's read-only queries live in models.outbox_reads; they are importable from here too.
from models.outbox_reads import EDITABLE as EDITABLE
from models.outbox_reads import HeldReply as HeldReply
from models.outbox_reads import WaitingReply as WaitingReply
from models.outbox_reads import case_drafts as case_drafts
from models.outbox_reads import draft_for_case as draft_for_case
from models.outbox_reads import held_replies as held_replies
from models.outbox_reads import waiting_replies as waiting_replies
from models.tables import AUTHOR, DRAFT, MENTION
from models.types import utcnow


class OutboxError(Exception):
    """An outbox action that does not apply to the draft's current state."""


def record_draft(engine: Engine, *, case_id: int, mention_id: int, language: str, category: str, text: str,
                 quote: str, agent: str, style_issues: Sequence[dict[str, str]], now: datetime | None = None,
                 intent: str | None = None) -> bool:
    """Store a reply draft (``intent``: what the drafter read the post as); False when the mention already has
    one (drafting is never done twice)."""
    now = now or utcnow()
    with writing(engine) as connection:
        inserted = connection.execute(
            insert_for(connection, DRAFT).on_conflict_do_nothing(index_elements=["mention_id", "kind"])
            .returning(DRAFT.c.id),
            {"case_id": case_id, "mention_id": mention_id, "kind": "reply", "status": "draft", "language": language,
             "category": category, "text": text, "quote": quote, "agent": agent, "style_issues": list(style_issues),
             "created_at": now, "updated_at": now, "intent": intent},
        ).first()
        return inserted is not None


def record_csat_draft(engine: Engine, *, case_id: int, mention_id: int, language: str, text: str, agent: str,
                      style_issues: Sequence[dict[str, str]], now: datetime) -> bool:
    """Queue a satisfaction follow-up (status ``draft``: a person approves it) and mark the case as asked.

    A post already holding an unsent follow-up (from an earlier resolution of a case since reopened: the reopen
    withdrew it) gets it back as a fresh draft; one whose follow-up went out is not asked twice. False when nothing was drafted;
    the case is marked asked either way, so it is never drafted twice for one resolution.
    """
    values = {"language": language, "text": text, "agent": agent, "style_issues": list(style_issues),
              "updated_at": now}
    with writing(engine) as connection:
        inserted = connection.execute(
            insert_for(connection, DRAFT).values(
                case_id=case_id, mention_id=mention_id, kind="csat", status="draft", category="csat", quote="",
                created_at=now, **values,
            ).on_conflict_do_nothing(index_elements=["mention_id", "kind"]).returning(DRAFT.c.id)
        ).first()
        revived = inserted is None and connection.execute(
            update(DRAFT).where(DRAFT.c.mention_id == mention_id, DRAFT.c.kind == "csat",
                                DRAFT.c.status.in_(("draft", "held", "failed", "rejected")))
            .values(status="draft", text_hash=None, approved_by=None, approved_at=None, last_error=None, **values)
        ).rowcount == 1
        mark_csat_requested_in(connection, case_id=case_id, now=now)
        return inserted is not None or revived


def _draft_row(connection: Connection, draft_id: int) -> Any:
    row = connection.execute(select(DRAFT).where(DRAFT.c.id == draft_id)).first()
    if row is None:
        raise OutboxError(f"no draft {draft_id}")
    return row


def approve_draft(engine: Engine, *, draft_id: int, approver: str, now: datetime, text: str | None = None,
                  style_issues: Sequence[dict[str, str]] | None = None, address: str | None = None,
                  send_after: datetime | None = None, detail: str | None = None) -> str:
    """Approve a draft (optionally with edited ``text``); returns the hash of the approved text.

    The text approved is the text sent: the hash is recorded now and checked before posting. ``send_after``:
    the outbox leaves it alone until then (the console's undo window, see ``undo_approval``).
    """
    with writing(engine) as connection:
        row = _draft_row(connection, draft_id)
        if row.status not in ("draft", "failed"):
            raise OutboxError(f"draft {draft_id} is {row.status}; only a draft can be approved")
        final = row.text if text is None else text
        digest = text_hash(final)
        values: dict[str, Any] = {"status": "approved", "text": final, "text_hash": digest, "approved_by": approver,
                                  "approved_at": now, "updated_at": now, "last_error": None,
                                  "send_after": send_after}
        if style_issues is not None:
            values["style_issues"] = list(style_issues)
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status == row.status).values(**values)
        )
        if changed.rowcount != 1:
            raise OutboxError(f"draft {draft_id} changed while it was being approved")
        audit(connection, actor=approver, action="approve", now=now, case_id=row.case_id, draft_id=draft_id,
              text=final, detail=detail, address=address)
        return digest


def edit_draft(engine: Engine, *, draft_id: int, editor: str, text: str, style_issues: Sequence[dict[str, str]],
               now: datetime, address: str | None = None) -> None:
    """Replace a draft's text. Editing an approved draft sends it back to ``draft``: it needs approval again."""
    with writing(engine) as connection:
        row = _draft_row(connection, draft_id)
        if row.status not in EDITABLE:
            raise OutboxError(f"draft {draft_id} is {row.status}; it can no longer be edited")
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status == row.status).values(
                text=text, style_issues=list(style_issues), status="draft", text_hash=None, approved_by=None,
                approved_at=None, send_after=None, ready_by=None, ready_at=None, updated_at=now)
        )
        if changed.rowcount != 1:
            raise OutboxError(f"draft {draft_id} changed while it was being edited")
        audit(connection, actor=editor, action="edit", now=now, case_id=row.case_id, draft_id=draft_id, text=text,
              address=address)


def reject_draft(engine: Engine, *, draft_id: int, actor: str, reason: str, now: datetime,
                 address: str | None = None) -> None:
    if not reason.strip():
        raise OutboxError("a rejection needs a reason")
    with writing(engine) as connection:
        row = _draft_row(connection, draft_id)
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status.in_(EDITABLE))
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
        select(DRAFT.c.id, DRAFT.c.case_id, DRAFT.c.status, DRAFT.c.text, DRAFT.c.text_hash,
               DRAFT.c.approved_at, DRAFT.c.attempts, MENTION.c.platform, MENTION.c.brand, MENTION.c.platform_id,
               MENTION.c.canonical_id, MENTION.c.conversation_id, AUTHOR.c.handle, MENTION.c.raw)
        .join(MENTION, MENTION.c.id == DRAFT.c.mention_id)
        .join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
        .where(DRAFT.c.id.in_(list(ids)))
        .order_by(DRAFT.c.id)
    )
    return [OutboxItem(*row) for row in rows]  # type: ignore[call-arg]


def _claim(engine: Engine, *, where: Any, owner: str, now: datetime, lease: timedelta, limit: int,
           platforms: Sequence[str] | None) -> list[OutboxItem]:
    with writing(engine) as connection:
        query = select(DRAFT.c.id).where(where).order_by(DRAFT.c.approved_at, DRAFT.c.id).limit(limit)
        if platforms is not None:
            query = query.where(DRAFT.c.mention_id.in_(select(MENTION.c.id).where(MENTION.c.platform.in_(platforms))))
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in connection.execute(query)]
        if not ids:
            return []
        connection.execute(update(DRAFT).where(DRAFT.c.id.in_(ids)).values(lease_owner=owner, lease_until=now + lease))
        return _items(connection, ids)


def _unleased(now: datetime) -> Any:
    return or_(DRAFT.c.lease_until.is_(None), DRAFT.c.lease_until < now)


def claim_approved(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int,
                   platforms: Sequence[str] | None = None) -> list[OutboxItem]:
    """Approved replies to send, leased to ``owner`` (SKIP LOCKED on PostgreSQL); none still in its undo window."""
    due = or_(DRAFT.c.send_after.is_(None), DRAFT.c.send_after <= now)
    return _claim(engine, where=and_(DRAFT.c.status == "approved", due, _unleased(now)), owner=owner, now=now,
                  lease=lease, limit=limit, platforms=platforms)


def claim_for_reconciliation(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int,
                             platforms: Sequence[str] | None = None,
                             settle: timedelta = timedelta(minutes=1)) -> list[OutboxItem]:
    """Replies whose outcome we do not know: ``unknown`` ones, and ``sending`` ones whose sender is gone (its
    lease ran out, or it is ``owner`` itself starting again after a crash). Either must have settled for
    ``settle`` since the send began: a request a dead process sent may still be landing, and a platform's own
    timeline can lag a moment behind a post it accepted."""
    settled = DRAFT.c.updated_at <= now - settle
    stranded = and_(DRAFT.c.status == "sending", settled, or_(_unleased(now), DRAFT.c.lease_owner == owner))
    unknown = and_(DRAFT.c.status == "unknown", settled, or_(_unleased(now), DRAFT.c.lease_owner == owner))
    return _claim(engine, where=or_(stranded, unknown), owner=owner, now=now, lease=lease, limit=limit,
                  platforms=platforms)


def mark_sending(engine: Engine, *, draft_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
    """approved → sending, committed before the platform is called. False when another daemon has it."""
    with writing(engine) as connection:
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status == "approved", DRAFT.c.lease_owner == owner)
            .values(status="sending", attempts=DRAFT.c.attempts + 1, lease_until=now + lease, updated_at=now)
        )
        return changed.rowcount == 1


def record_reply_sent(engine: Engine, *, draft_id: int, platform_reply_id: str, now: datetime,
                      found_on_platform: bool = False) -> bool:
    """sending|unknown → sent; in the same transaction the case takes the ``ReplySent`` move through the door
    (open or reopened → responded, the first response time set once). False when it was recorded already."""
    with writing(engine) as connection:
        row = _draft_row(connection, draft_id)
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status.in_(("sending", "unknown")))
            .values(status="sent", platform_reply_id=platform_reply_id, sent_at=now, lease_owner=None,
                    lease_until=None, last_error=None, updated_at=now)
        )
        if changed.rowcount != 1:
            return False
        apply_move_in(connection, case_id=row.case_id, move=ReplySent(now, found_on_platform), now=now)
        audit(connection, actor=row.approved_by or "outbox", action="send", now=now, case_id=row.case_id,
              draft_id=draft_id, text=row.text, detail=f"platform id {platform_reply_id}")
        return True


def record_reply_unknown(engine: Engine, *, draft_id: int, error: str, now: datetime) -> None:
    with writing(engine) as connection:
        connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status == "sending")
            .values(status="unknown", last_error=error, updated_at=now)
        )


def record_reply_failed(engine: Engine, *, draft_id: int, error: str, permanent: bool, now: datetime,
                        retry_at: datetime | None = None) -> None:
    """A refusal the platform answered before acting. Permanent → failed (a human decides); transient →
    approved again, leased until ``retry_at`` so it is not retried before then."""
    with writing(engine) as connection:
        values: dict[str, Any] = {"last_error": error, "updated_at": now}
        if permanent:
            values.update(status="failed", lease_owner=None, lease_until=None)
        else:
            values.update(status="approved", lease_until=retry_at or now)
        connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status.in_(("sending", "unknown"))).values(**values)
        )


def requeue_unsent(engine: Engine, *, draft_id: int, now: datetime) -> None:
    """Reconciliation found no reply on the platform: the draft may be sent again."""
    with writing(engine) as connection:
        connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status.in_(("sending", "unknown")))
            .values(status="approved", lease_owner=None, lease_until=None, updated_at=now)
        )


def release_drafts(engine: Engine, *, owner: str) -> int:
    """Give back leases on approved drafts (a clean shutdown). Rows in ``sending`` keep theirs: they must
    be reconciled, not resent."""
    with writing(engine) as connection:
        return connection.execute(
            update(DRAFT).where(DRAFT.c.lease_owner == owner, DRAFT.c.status == "approved")
            .values(lease_owner=None, lease_until=None)
        ).rowcount or 0


def hold_reply(engine: Engine, *, draft_id: int, reason: str, now: datetime) -> bool:
    """approved → held with ``reason`` (in ``last_error``), or a held reply's reason updated; audited as the
    outbox's act. False when the draft is in neither state or already held for that reason."""
    with writing(engine) as connection:
        row = _draft_row(connection, draft_id)
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, _unleased(now), or_(
                DRAFT.c.status == "approved", and_(DRAFT.c.status == "held", or_(DRAFT.c.last_error.is_(None), DRAFT.c.last_error != reason))))
            .values(status="held", last_error=reason, lease_owner=None, lease_until=None, updated_at=now)
        ).rowcount == 1
        if changed:
            audit(connection, actor="outbox", action="hold", now=now, case_id=row.case_id, draft_id=draft_id,
                  detail=reason)
        return changed


def release_held(engine: Engine, *, draft_id: int, now: datetime) -> bool:
    """held → approved (its reason no longer applies: a poster appeared); the approval and its hash stand."""
    with writing(engine) as connection:
        row = _draft_row(connection, draft_id)
        changed = connection.execute(
            update(DRAFT).where(DRAFT.c.id == draft_id, DRAFT.c.status == "held")
            .values(status="approved", last_error=None, updated_at=now)
        ).rowcount == 1
        if changed:
            audit(connection, actor="outbox", action="release", now=now, case_id=row.case_id, draft_id=draft_id)
        return changed


# The hand-off between agents and approvers. An agent marks a draft ready (it stays a ``draft``;
# ``ready_by``/``ready_at`` say who handed it over, and editing it takes that back). An approval made in the
# console carries ``send_after``: until then ``claim_approved`` takes nothing and the approver may undo it.
# Both are conditional UPDATEs: an undo and the outbox's claim cannot both win, so an undone reply is never
# posted and a posted reply is never undone.


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
