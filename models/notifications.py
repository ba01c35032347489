"""Notifications: escalation emails to the supervisor and the weekly digest's deliveries, each sent at most once.

Each is claimed by inserting its unique row (``sending``) before anything is sent: a row that exists is never
sent again, except one marked ``failed`` (the server refused it), which may be claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select

from models.case_states import FINISHED
from models.db import insert_for, reading, writing
from models.tables import AUTHOR, CASE, DIGEST_DELIVERY, MENTION, NOTIFICATION


@dataclass(frozen=True, slots=True)
class EscalationItem:
    case_id: int
    reason: str
    brand: str
    platform: str
    state: str
    author_handle: str
    text: str
    url: str | None
    posted_at: datetime
    deadline_at: datetime


def _escalation_select(reason: str) -> Select[Any]:
    taken = select(NOTIFICATION.c.id).where(NOTIFICATION.c.case_id == CASE.c.id, NOTIFICATION.c.reason == reason,
                                             NOTIFICATION.c.status != "failed")
    return (
        select(CASE.c.id, literal(reason), CASE.c.brand, CASE.c.platform, CASE.c.state, AUTHOR.c.handle,
               MENTION.c.text, MENTION.c.url, MENTION.c.created_at, CASE.c.deadline_at)
        .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
        .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
        .where(~taken.exists())
    )


def cases_to_escalate(engine: Engine, *, now: datetime, warn_before: timedelta, resolution_target: timedelta,
                      limit: int) -> list[EscalationItem]:
    """Unanswered open cases within ``warn_before`` of their response deadline (or past it), and cases neither
    resolved nor withdrawn ``resolution_target`` after the post, that have not been escalated for that reason yet."""
    nearing = _escalation_select("response_deadline").where(
        CASE.c.state == "open", CASE.c.first_response_at.is_(None), CASE.c.deadline_at <= now + warn_before)
    overdue = _escalation_select("resolution_target").where(
        CASE.c.state.not_in(FINISHED), MENTION.c.created_at <= now - resolution_target)
    with reading(engine) as connection:
        items = [EscalationItem(*row) for query in (nearing, overdue)
                 for row in connection.execute(query.order_by(CASE.c.id).limit(limit))]
        return items


def _claim(connection: Connection, table: Any, keys: dict[str, Any], values: dict[str, Any]) -> bool:
    inserted = connection.execute(
        insert_for(connection, table).values(**keys, **values).on_conflict_do_nothing(index_elements=list(keys))
        .returning(table.c.id)
    ).first()
    if inserted is not None:
        return True
    retried = connection.execute(
        update(table).where(*(table.c[k] == v for k, v in keys.items()), table.c.status == "failed")
        .values(status="sending", created_at=values["created_at"])
    )
    return retried.rowcount == 1


def claim_notification(engine: Engine, *, case_id: int, reason: str, recipient: str, now: datetime) -> bool:
    """Claim the one escalation email for (case, reason) before sending it; False when it is taken."""
    with writing(engine) as connection:
        return _claim(connection, NOTIFICATION, {"case_id": case_id, "reason": reason},
                      {"recipient": recipient, "status": "sending", "created_at": now})


def mark_notification(engine: Engine, *, case_id: int, reason: str, sent: bool, now: datetime) -> None:
    with writing(engine) as connection:
        connection.execute(
            update(NOTIFICATION).where(NOTIFICATION.c.case_id == case_id, NOTIFICATION.c.reason == reason,
                                        NOTIFICATION.c.status == "sending")
            .values(status="sent" if sent else "failed", sent_at=now if sent else None)
        )


def claim_digest_delivery(engine: Engine, *, week: str, recipient: str, now: datetime) -> bool:
    """Claim one week's digest for one recipient before sending it; False when it is taken."""
    with writing(engine) as connection:
        return _claim(connection, DIGEST_DELIVERY, {"week": week, "recipient": recipient},
                      {"status": "sending", "created_at": now})


def mark_digest_delivery(engine: Engine, *, week: str, recipient: str, sent: bool, now: datetime,
                         message_id: str | None = None, error: str | None = None) -> None:
    with writing(engine) as connection:
        connection.execute(
            update(DIGEST_DELIVERY).where(DIGEST_DELIVERY.c.week == week, DIGEST_DELIVERY.c.recipient == recipient,
                                    DIGEST_DELIVERY.c.status == "sending")
            .values(status="sent" if sent else "failed", sent_at=now if sent else None, message_id=message_id,
                    last_error=error)
        )


def digest_deliveries(engine: Engine, *, week: str) -> dict[str, str]:
    with reading(engine) as connection:
        return {r.recipient: r.status for r in connection.execute(
            select(DIGEST_DELIVERY.c.recipient, DIGEST_DELIVERY.c.status).where(DIGEST_DELIVERY.c.week == week))}


