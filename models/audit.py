"""The audit log: who did what, when and from where. Append-only (database triggers refuse updates and deletes).

Rows are written inside the transaction of the act they record (``audit(connection, ...)``), so an act and
its audit row are committed together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from models.db import reading
from models.tables import AUDIT


def text_hash(text: str) -> str:
    """The SHA-256 of a reply's text: what an approval records and what the outbox checks before sending."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audit(connection: Connection, *, actor: str, action: str, now: datetime, case_id: int | None = None,
          draft_id: int | None = None, text: str | None = None, detail: str | None = None,
          address: str | None = None) -> None:
    """Append one row in the caller's transaction (``text`` is stored as its hash only)."""
    connection.execute(AUDIT.insert().values(
        at=now, actor=actor, action=action[:50], case_id=case_id, draft_id=draft_id,
        text_hash=text_hash(text) if text is not None else None, detail=detail, address=address,
    ))


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    case_id: int | None
    draft_id: int | None
    text_hash: str | None
    detail: str | None
    address: str | None


def audit_page(engine: Engine, *, limit: int, before_id: int | None = None,
               actions: Sequence[str] | None = None) -> list[AuditView]:
    """The newest audit rows first (keyset pagination on id)."""
    query = select(AUDIT.c.id, AUDIT.c.at, AUDIT.c.actor, AUDIT.c.action, AUDIT.c.case_id, AUDIT.c.draft_id,
                   AUDIT.c.text_hash, AUDIT.c.detail, AUDIT.c.address).order_by(AUDIT.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AUDIT.c.id < before_id)
    if actions:
        query = query.where(AUDIT.c.action.in_(list(actions)))
    with reading(engine) as connection:
        return [AuditView(*row) for row in connection.execute(query)]
