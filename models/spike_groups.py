"""A spike's cases as one group: who is in it, one approval that answers each case once, status updates.

The group reply is ordinary drafts: approving the group approves (or, where a case has none, creates
approved) one reply draft per case, each with its own adapted text, so the outbox posts each exactly once
through its usual claims. ``spike_reply`` (unique per spike and case) records which draft answered which
case, so approving the group again answers only the cases it has not answered yet. Cases stay individual:
this module never changes a case's state. Every draft it approves is audited as the approver's act.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from models.audit import audit, text_hash
from models.db import insert_for, reading, writing
from models.tables import AUTHOR, CASE, DRAFT, MENTION, SpikeMention, SpikeReply, SpikeStatusUpdate

_link = SpikeMention.__table__  # type: ignore[attr-defined]
_reply = SpikeReply.__table__  # type: ignore[attr-defined]
_status = SpikeStatusUpdate.__table__  # type: ignore[attr-defined]
APPROVABLE = ("draft", "failed")
IN_FLIGHT = ("approved", "held", "sending", "unknown")


@dataclass(frozen=True, slots=True)
class GroupMember:
    """One case of a spike, with what adapting and approving its reply needs."""

    case_id: int
    state: str
    brand: str
    platform: str
    language: str | None
    category: str
    mention_id: int
    text: str
    author_handle: str
    author_name: str | None
    draft_id: int | None
    draft_status: str | None
    answered_by_group: bool
    replied: bool
    lane: str = "complaint"


@dataclass(frozen=True, slots=True)
class GroupReply:
    """The adapted text for one case (``draft_id`` None: a new draft on ``mention_id``)."""

    case_id: int
    mention_id: int
    draft_id: int | None
    language: str
    category: str
    text: str
    style_issues: tuple[dict[str, str], ...] = ()


def group_members(engine: Engine, *, spike_id: int) -> list[GroupMember]:
    """The spike's cases in order of their first mention in it, each with its newest reply draft."""
    with reading(engine) as connection:
        first = (select(MENTION.c.case_id, func.min(_link.c.mention_id).label("mention_id"))
                 .join(_link, _link.c.mention_id == MENTION.c.id)
                 .where(_link.c.spike_id == spike_id, MENTION.c.case_id.is_not(None))
                 .group_by(MENTION.c.case_id).subquery())
        rows = connection.execute(
            select(CASE.c.id, CASE.c.state, CASE.c.lane, CASE.c.brand, CASE.c.platform, CASE.c.language, CASE.c.category,
                   first.c.mention_id, MENTION.c.text, MENTION.c.language.label("mention_language"),
                   AUTHOR.c.handle, AUTHOR.c.name)
            .join(first, first.c.case_id == CASE.c.id)
            .join(MENTION, MENTION.c.id == first.c.mention_id)
            .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
            .order_by(first.c.mention_id)).all()
        ids = [r.id for r in rows]
        drafts: dict[int, list[Any]] = {}
        answered: set[int] = set()
        if ids:
            for d in connection.execute(select(DRAFT.c.id, DRAFT.c.case_id, DRAFT.c.status).where(
                    DRAFT.c.case_id.in_(ids), DRAFT.c.kind == "reply").order_by(DRAFT.c.id)):
                drafts.setdefault(d.case_id, []).append(d)
            answered = {r.case_id for r in connection.execute(
                select(_reply.c.case_id).where(_reply.c.spike_id == spike_id))}
    members = []
    for r in rows:
        own = drafts.get(r.id, [])
        open_ = [d for d in own if d.status in APPROVABLE + IN_FLIGHT]
        newest = open_[-1] if open_ else None
        members.append(GroupMember(
            r.id, r.state, r.brand, r.platform, r.language or r.mention_language, r.category, r.mention_id, r.text,
            r.handle, r.name, newest.id if newest else None, newest.status if newest else None, r.id in answered,
            any(d.status == "sent" for d in own), r.lane))
    return members


def approve_group(engine: Engine, *, spike_id: int, approver: str, replies: Sequence[GroupReply], now: datetime,
                  address: str | None = None) -> tuple[list[int], dict[int, str]]:
    """Approve one adapted reply per case in one transaction: (cases approved, case -> why it was not).

    A case the group answered already, or whose reply is already approved, on its way or changed meanwhile,
    is left as it is (the reason says which); the others all commit together with their audit rows.
    """
    approved: list[int] = []
    skipped: dict[int, str] = {}
    with writing(engine) as connection:
        for reply in replies:
            if connection.execute(select(_reply.c.id).where(_reply.c.spike_id == spike_id,
                                                            _reply.c.case_id == reply.case_id)).first():
                skipped[reply.case_id] = "already answered by this group"
                continue
            values = {"status": "approved", "text": reply.text, "text_hash": text_hash(reply.text),
                      "approved_by": approver, "approved_at": now, "updated_at": now, "last_error": None,
                      "language": reply.language, "style_issues": list(reply.style_issues)}
            if reply.draft_id is not None:
                draft_id: int | None = reply.draft_id
                changed = connection.execute(update(DRAFT).where(
                    DRAFT.c.id == reply.draft_id, DRAFT.c.case_id == reply.case_id,
                    DRAFT.c.status.in_(APPROVABLE)).values(**values)).rowcount
                if changed != 1:
                    skipped[reply.case_id] = "its reply is already approved or on its way"
                    continue
            else:
                found = connection.execute(
                    insert_for(connection, DRAFT).on_conflict_do_nothing(index_elements=["mention_id", "kind"])
                    .returning(DRAFT.c.id),
                    {"case_id": reply.case_id, "mention_id": reply.mention_id, "kind": "reply",
                     "category": reply.category, "quote": "", "agent": approver, "created_at": now, **values},
                ).first()
                if found is None:
                    skipped[reply.case_id] = "its post already has a reply"
                    continue
                draft_id = int(found.id)
            connection.execute(_reply.insert().values(spike_id=spike_id, case_id=reply.case_id, draft_id=draft_id,
                                                      language=reply.language, approved_by=approver, approved_at=now))
            audit(connection, actor=approver, action="approve", now=now, case_id=reply.case_id, draft_id=draft_id,
                  text=reply.text, detail=f"group reply of spike {spike_id}", address=address)
            approved.append(reply.case_id)
        audit(connection, actor=approver, action="group_approve", now=now,
              detail=f"spike {spike_id}: {len(approved)} replies approved, {len(skipped)} left as they were",
              address=address)
    return approved, skipped


def group_progress(engine: Engine, *, spike_id: int) -> dict[str, int]:
    """Status -> how many of the group's replies are in it."""
    with reading(engine) as connection:
        return {r.status: int(r.n) for r in connection.execute(
            select(DRAFT.c.status, func.count().label("n")).join(_reply, _reply.c.draft_id == DRAFT.c.id)
            .where(_reply.c.spike_id == spike_id).group_by(DRAFT.c.status))}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    id: int
    platform: str
    status: str
    platform_post_id: str | None
    last_error: str | None
    created_by: str
    created_at: datetime


def status_updates(engine: Engine, *, spike_id: int) -> list[StatusUpdate]:
    with reading(engine) as connection:
        return [StatusUpdate(r.id, r.platform, r.status, r.platform_post_id, r.last_error, r.created_by, r.created_at)
                for r in connection.execute(select(_status).where(_status.c.spike_id == spike_id)
                                            .order_by(_status.c.platform))]


def claim_status_update(engine: Engine, *, spike_id: int, brand: str, platform: str, text: str, actor: str,
                        now: datetime, address: str | None = None) -> int | None:
    """Claim the spike's one status update on ``platform`` before posting it; None when it exists already
    (posted, on its way, unknown, or recorded as not supported): a status update is posted at most once. One
    the platform refused (``failed``) is claimed again."""
    with writing(engine) as connection:
        found = connection.execute(
            insert_for(connection, _status).on_conflict_do_nothing(index_elements=["spike_id", "platform"])
            .returning(_status.c.id),
            {"spike_id": spike_id, "brand": brand, "platform": platform, "text": text, "status": "sending",
             "created_by": actor, "created_at": now}).first()
        if found is None:  # one the platform refused before acting may be tried again; nothing else
            found = connection.execute(
                update(_status).where(_status.c.spike_id == spike_id, _status.c.platform == platform,
                                      _status.c.status == "failed")
                .values(status="sending", text=text, created_by=actor, created_at=now, last_error=None)
                .returning(_status.c.id)).first()
        if found is None:
            return None
        audit(connection, actor=actor, action="status_update", now=now, text=text,
              detail=f"spike {spike_id} on {platform}", address=address)
        return int(found.id)


def record_status_update(engine: Engine, *, update_id: int, status: str, now: datetime,
                         platform_post_id: str | None = None, error: str | None = None) -> None:
    """sending -> sent | unknown | failed | not_supported."""
    with writing(engine) as connection:
        connection.execute(update(_status).where(_status.c.id == update_id, _status.c.status == "sending").values(
            status=status, platform_post_id=platform_post_id, last_error=error,
            sent_at=now if status == "sent" else None))


__all__ = ["GroupMember", "GroupReply", "StatusUpdate", "approve_group", "claim_status_update", "group_members",
           "group_progress", "record_status_update", "status_updates"]
