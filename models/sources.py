"""Sources as the schedule: configured rows, claims with leases, and the result of each poll."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from models.db import insert_for, reading, writing
from models.tables import SOURCE


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
    state, and sources gone from the config are disabled (kept, with their history).

    Daemons starting together on one PostgreSQL run this at once: a source another one inserted meanwhile is
    left to it (ON CONFLICT DO NOTHING), so neither fails."""
    names = {c.name for c in configured}
    with writing(engine) as connection:
        existing = {row.name: row for row in connection.execute(select(SOURCE.c.name, SOURCE.c.platform))}
        for c in sorted(configured, key=lambda c: c.name):  # one lock order for concurrent starts
            if c.name in existing:
                values = {"platform": c.platform, "brand": c.brand, "enabled": c.enabled}
                if existing[c.name].platform != c.platform:
                    values["cursor"] = None  # a cursor of another platform means nothing here
                connection.execute(update(SOURCE).where(SOURCE.c.name == c.name).values(**values))
            else:
                connection.execute(
                    insert_for(connection, SOURCE)
                    .values(name=c.name, platform=c.platform, brand=c.brand, enabled=c.enabled)
                    .on_conflict_do_nothing(index_elements=["name"])
                )
        gone = [name for name in existing if name not in names]
        if gone:
            connection.execute(update(SOURCE).where(SOURCE.c.name.in_(gone)).values(enabled=False))


def _due(now: datetime) -> tuple[Any, ...]:
    return (
        SOURCE.c.enabled.is_(True),
        SOURCE.c.disabled_reason.is_(None),
        or_(SOURCE.c.next_poll_at.is_(None), SOURCE.c.next_poll_at <= now),
        or_(SOURCE.c.lease_until.is_(None), SOURCE.c.lease_until < now),
    )


def claim_due_sources(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedSource]:
    """Claim up to ``limit`` due sources for ``owner`` until ``now + lease``.

    Two daemons never hold the same source: on PostgreSQL the rows are locked with SKIP LOCKED, on SQLite
    the write transaction is exclusive. A lease that runs out (its daemon died) makes the source due again.
    """
    with writing(engine) as connection:
        # On a tie the source that has waited longest since its last success goes first: sources put off by a
        # spent request budget all come due at the window's end, and must not lose to the same others forever.
        query = (select(SOURCE.c.id).where(*_due(now))
                 .order_by(SOURCE.c.next_poll_at, SOURCE.c.last_success_at.asc().nulls_first(), SOURCE.c.id)
                 .limit(limit))
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in connection.execute(query)]
        if not ids:
            return []
        connection.execute(
            update(SOURCE).where(SOURCE.c.id.in_(ids)).values(lease_owner=owner, lease_until=now + lease)
        )
        rows = connection.execute(
            select(SOURCE.c.id, SOURCE.c.name, SOURCE.c.platform, SOURCE.c.brand, SOURCE.c.cursor,
                   SOURCE.c.error_count).where(SOURCE.c.id.in_(ids))
        )
        claimed = {r.id: ClaimedSource(r.id, r.name, r.platform, r.brand, r.cursor, r.error_count) for r in rows}
        return [claimed[i] for i in ids]  # in the order they were due


def _ours(source_id: int, owner: str) -> tuple[Any, ...]:
    return (SOURCE.c.id == source_id, SOURCE.c.lease_owner == owner)


def record_poll_success(engine: Engine, *, source_id: int, owner: str, now: datetime, next_poll_at: datetime) -> bool:
    """Release the lease after a good poll: errors reset, next poll scheduled. False if the lease was lost."""
    with writing(engine) as connection:
        result = connection.execute(
            update(SOURCE).where(*_ours(source_id, owner)).values(
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
        values["error_count"] = SOURCE.c.error_count + 1
    with writing(engine) as connection:
        return connection.execute(update(SOURCE).where(*_ours(source_id, owner)).values(**values)).rowcount == 1


def release_sources(engine: Engine, *, owner: str) -> int:
    """Give back every lease ``owner`` holds (a clean shutdown), so other daemons can poll them at once."""
    with writing(engine) as connection:
        return connection.execute(
            update(SOURCE).where(SOURCE.c.lease_owner == owner).values(lease_owner=None, lease_until=None)
        ).rowcount or 0


def enable_source(engine: Engine, *, name: str) -> bool:
    """Clear a permanent error (after the operator fixed the cause); the source is due at once."""
    with writing(engine) as connection:
        return connection.execute(
            update(SOURCE).where(SOURCE.c.name == name).values(disabled_reason=None, error_count=0, next_poll_at=None)
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


def list_sources(engine: Engine, *, configured: Sequence[ConfiguredSource] = ()) -> list[SourceState]:
    """Every source the table holds, and each ``configured`` one it does not hold yet (no daemon has started
    on this config): those are listed as never polled, so a source shows from the moment it is configured."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(SOURCE.c.name, SOURCE.c.platform, SOURCE.c.brand, SOURCE.c.enabled, SOURCE.c.last_polled_at,
                   SOURCE.c.last_success_at, SOURCE.c.next_poll_at, SOURCE.c.error_count, SOURCE.c.last_error,
                   SOURCE.c.disabled_reason, SOURCE.c.lease_owner).order_by(SOURCE.c.name)
        )
        stored = [SourceState(*row) for row in rows]
    known = {s.name for s in stored}
    pending = [SourceState(c.name, c.platform, c.brand, c.enabled, None, None, None, 0, None, None, None)
               for c in configured if c.name not in known]
    return sorted([*stored, *pending], key=lambda s: s.name)
