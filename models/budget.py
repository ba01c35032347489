"""A request budget per platform credential, shared by every daemon on the database.

A window starts with the first request after the previous window ended and lasts ``window`` (the way X
counts its 15-minute windows). Taking from the budget is one conditional UPDATE: on PostgreSQL concurrent
takers queue on the row lock and the condition is checked again on the row they find, on SQLite the write
transaction is exclusive; so N daemons together never spend more than ``limit`` in one window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, literal, select, update
from sqlalchemy.engine import Engine

from models.db import insert_for, reading, writing
from models.tables import REQUEST_BUDGET
from models.types import UTCDateTime


def take_request_budget(engine: Engine, *, key: str, now: datetime, window: timedelta, limit: int, n: int = 1) -> bool:
    """Spend ``n`` requests of ``key``'s budget; False (and nothing spent) when the window has fewer left."""
    if n > limit:
        return False
    expired = now - window
    with writing(engine) as connection:
        connection.execute(
            insert_for(connection, REQUEST_BUDGET).values(credential_key=key, window_start=now, used=0, limit=limit)
            .on_conflict_do_nothing(index_elements=["credential_key"])
        )
        new_window = REQUEST_BUDGET.c.window_start <= expired
        result = connection.execute(
            update(REQUEST_BUDGET)
            .where(REQUEST_BUDGET.c.credential_key == key, new_window | (REQUEST_BUDGET.c.used + n <= limit))
            .values(
                used=case((new_window, n), else_=REQUEST_BUDGET.c.used + n),
                window_start=case((new_window, literal(now, UTCDateTime())), else_=REQUEST_BUDGET.c.window_start),
                limit=limit,
            )
        )
        return result.rowcount == 1


def request_budget_resets_at(engine: Engine, *, key: str, window: timedelta) -> datetime | None:
    """When ``key``'s current window ends (None if it has never been used)."""
    with reading(engine) as connection:
        start = connection.execute(select(REQUEST_BUDGET.c.window_start).where(REQUEST_BUDGET.c.credential_key == key)).scalar()
    return None if start is None else start + window


def request_budget_usage(engine: Engine) -> dict[str, tuple[datetime, int, int]]:
    """Every credential's window start, requests used and limit (for the metrics and the tests)."""
    with reading(engine) as connection:
        rows = connection.execute(select(REQUEST_BUDGET.c.credential_key, REQUEST_BUDGET.c.window_start, REQUEST_BUDGET.c.used,
                                         REQUEST_BUDGET.c.limit))
        return {row.credential_key: (row.window_start, row.used, row.limit) for row in rows}
