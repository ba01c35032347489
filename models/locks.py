"""Singletons across daemons: a step that one daemon at a time should run (digest, sweeps, reconciliation).

On PostgreSQL the lock is ``pg_try_advisory_lock`` held on a dedicated connection for the block, so it is
released when the block ends or when the daemon dies (its connection closes). On SQLite there is one
process, so the lock is always granted. The lock only saves duplicate work: correctness stays with the
unique claims (a digest delivery, a notification, a reply) that each step makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.db import autocommit


@contextmanager
def singleton(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True when this process holds the lock called ``name`` for the block, False when another does.

    Never waits: a daemon that does not get the lock skips the step until its next tick.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with autocommit(engine) as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(hashtext(:name))"), {"name": name}).scalar())
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})
