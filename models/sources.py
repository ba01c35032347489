"""Sources as the schedule: configured rows, claims with leases, and the result of each poll."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from models.db import reading
from models.tables import Source

_source = Source.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ConfiguredSource:
    name: str
    platform: str
    brand: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class ClaimedSource:
    id: int
    name: str
    platform: str
    brand: str
    cursor: str | None
    error_count: int


def sync_sources(engine: Engine, *, configured: Sequence[ConfiguredSource]) -> None:
    """Make the table match the config: new sources are due at once, changed ones keep their cursor and
    state, and sources gone from the config are disabled (kept, with their history)."""
    names = {c.name for c in configured}
    with engine.begin() as connection:
        existing = {row.name: row for row in connection.execute(select(_source.c.name, _source.c.platform))}
        for c in configured:
            if c.name in existing:
                values = {"platform": c.platform, "brand": c.brand, "enabled": c.enabled}
                if existing[c.name].platform != c.platform:
                    values["cursor"] = None  # a cursor of another platform means nothing here
                connection.execute(update(_source).where(_source.c.name == c.name).values(**values))
            else:
                connection.execute(
                    _source.insert().values(name=c.name, platform=c.platform, brand=c.brand, enabled=c.enabled)
                )
        gone = [name for name in existing if name not in names]
        if gone:
            connection.execute(update(_source).where(_source.c.name.in_(gone)).values(enabled=False))


def _due(now: datetime) -> tuple[Any, ...]:
    return (
        _source.c.enabled.is_(True),
        _source.c.disabled_reason.is_(None),
        or_(_source.c.next_poll_at.is_(None), _source.c.next_poll_at <= now),
        or_(_source.c.lease_until.is_(None), _source.c.lease_until < now),
    )


def claim_due_sources(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedSource]:
    """Claim up to ``limit`` due sources for ``owner`` until ``now + lease``.

    Two daemons never hold the same source: on PostgreSQL the rows are locked with SKIP LOCKED, on SQLite
    the write transaction is exclusive. A lease that runs out (its daemon died) makes the source due again.
    """
    with engine.begin() as connection:
        # On a tie the source that has waited longest since its last success goes first: sources put off by a
        # spent request budget all come due at the window's end, and must not lose to the same others forever.
        query = (select(_source.c.id).where(*_due(now))
                 .order_by(_source.c.next_poll_at, _source.c.last_success_at.asc().nulls_first(), _source.c.id)
                 .limit(limit))
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in connection.execute(query)]
        if not ids:
            return []
        connection.execute(
            update(_source).where(_source.c.id.in_(ids)).values(lease_owner=owner, lease_until=now + lease)
        )
        rows = connection.execute(
            select(_source.c.id, _source.c.name, _source.c.platform, _source.c.brand, _source.c.cursor,
                   _source.c.error_count).where(_source.c.id.in_(ids))
        )
        claimed = {r.id: ClaimedSource(r.id, r.name, r.platform, r.brand, r.cursor, r.error_count) for r in rows}
        return [claimed[i] for i in ids]  # in the order they were due


def _ours(source_id: int, owner: str) -> tuple[Any, ...]:
    return (_source.c.id == source_id, _source.c.lease_owner == owner)


def record_poll_success(engine: Engine, *, source_id: int, owner: str, now: datetime, next_poll_at: datetime) -> bool:
    """Release the lease after a good poll: errors reset, next poll scheduled. False if the lease was lost."""
    with engine.begin() as connection:
        result = connection.execute(
            update(_source).where(*_ours(source_id, owner)).values(
                lease_owner=None, lease_until=None, last_polled_at=now, last_success_at=now,
                next_poll_at=next_poll_at, error_count=0, last_error=None,
            )
        )
        return result.rowcount == 1


def record_poll_failure(
    engine: Engine,
    *,
    source_id: int,
    owner: str,
    now: datetime,
    error: str,
    permanent: bool,
    next_poll_at: datetime | None,
    count_error: bool = True,
) -> bool:
    """Release the lease after a failed poll. A permanent error disables the source with the reason; a
    transient one (or a rate limit, with ``count_error=False``) schedules the next try."""
    values: dict[str, object] = {"lease_owner": None, "lease_until": None, "last_polled_at": now, "last_error": error}
    if permanent:
        values["disabled_reason"] = error
    else:
        values["next_poll_at"] = next_poll_at
    if count_error:
        values["error_count"] = _source.c.error_count + 1
    with engine.begin() as connection:
        return connection.execute(update(_source).where(*_ours(source_id, owner)).values(**values)).rowcount == 1


def release_sources(engine: Engine, *, owner: str) -> int:
    """Give back every lease ``owner`` holds (a clean shutdown), so other daemons can poll them at once."""
    with engine.begin() as connection:
        return connection.execute(
            update(_source).where(_source.c.lease_owner == owner).values(lease_owner=None, lease_until=None)
        ).rowcount or 0


def enable_source(engine: Engine, *, name: str) -> bool:
    """Clear a permanent error (after the operator fixed the cause); the source is due at once."""
    with engine.begin() as connection:
        return connection.execute(
            update(_source).where(_source.c.name == name).values(disabled_reason=None, error_count=0, next_poll_at=None)
        ).rowcount == 1


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    platform: str
    brand: str
    enabled: bool
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    error_count: int
    last_error: str | None
    disabled_reason: str | None
    lease_owner: str | None


def list_sources(engine: Engine) -> list[SourceState]:
    with reading(engine) as connection:
        rows = connection.execute(
            select(_source.c.name, _source.c.platform, _source.c.brand, _source.c.enabled, _source.c.last_polled_at,
                   _source.c.last_success_at, _source.c.next_poll_at, _source.c.error_count, _source.c.last_error,
                   _source.c.disabled_reason, _source.c.lease_owner).order_by(_source.c.name)
        )
        return [SourceState(*row) for row in rows]
