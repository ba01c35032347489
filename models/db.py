"""The engine, schema migrations and the one place that opens sessions and connections.

Storage modules never call ``engine.begin()`` or ``engine.connect()`` themselves: they use ``writing``,
``reading`` and ``autocommit`` from here, so how a transaction starts (SQLite's BEGIN IMMEDIATE for writers,
deferred for readers) is decided once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

log = logging.getLogger("closeloop.db")
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "closeloop_read_only"


class SchemaBehind(RuntimeError):
    """The database was migrated by an older closeloop; `closeloop db upgrade` brings it up to date."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: the outbox and audit log live here, and a sent reply must never be forgotten by a power cut.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def insert_for(connection: Connection, table: Any) -> Any:
    """An INSERT for ``table`` in the connection's dialect, so ``on_conflict_do_nothing`` and ``returning``
    work the same on SQLite and PostgreSQL."""
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only; on SQLite it never takes the write lock (it begins deferred)."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        yield connection


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block succeeds, rolled back when it raises. On SQLite it
    takes the write lock at BEGIN, so concurrent writers queue instead of deadlocking."""
    with engine.begin() as connection:
        yield connection


@contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """A connection outside any transaction (for session-level locks such as PostgreSQL advisory locks)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``: SQLite gets WAL, full sync, a busy timeout and foreign keys on every connection."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLAlchemy, not pysqlite, begins transactions. Writers take the write lock at BEGIN (IMMEDIATE), so
        # two writers queue on the busy timeout instead of deadlocking when a read would turn into a write;
        # connections opened with reading() begin deferred and never block a writer.
        event.listen(engine, "begin", _sqlite_begin)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config(make_engine("sqlite://"))).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with reading(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    command.upgrade(_alembic_config(engine), revision)


def prepare(engine: Engine) -> None:
    """Make the schema usable: an empty database is created at head; one that is behind is refused.

    Refusing keeps two versions of closeloop from writing different schemas; the operator upgrades on purpose.
    """
    _check_sqlite_settings(engine)
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None and not inspect(engine).get_table_names():
        log.info("schema_created revision=%s", head)
        upgrade(engine)
        return
    raise SchemaBehind(
        f"the database schema is at {current or 'an unknown revision'}, this closeloop needs {head}: "
        "run `closeloop db upgrade` (take a backup first with `closeloop backup`)"
    )


class DatabaseUnsafe(RuntimeError):
    """SQLite without the settings that make a committed reply durable (WAL, synchronous=FULL, busy timeout)."""


def _check_sqlite_settings(engine: Engine) -> None:
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    with reading(engine) as connection:
        mode = str(connection.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()
        sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    if mode != "wal" or sync != 2 or not busy:
        raise DatabaseUnsafe(
            f"SQLite at {engine.url.database} runs with journal_mode={mode}, synchronous={sync}, "
            f"busy_timeout={busy}; closeloop needs wal, 2 (FULL) and a timeout. Keep the database on a local "
            "filesystem (WAL does not work on network filesystems) and run `closeloop check`."
        )


@contextmanager
def open_session(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
