"""Storage: migrations match the tables, times stay UTC, the audit log is append-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import SQLModel, select

from models.db import SchemaBehind, current_revision, head_revision, make_engine, open_session, prepare
from models.tables import AuditEntry, Author, Source


def test_the_migrations_build_exactly_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_times_come_back_aware_in_utc(engine: Engine) -> None:
    copenhagen = timezone(timedelta(hours=1))
    with open_session(engine) as session:
        session.add(Source(name="s", platform="replay", brand="Acme",
                           next_poll_at=datetime(2026, 11, 20, 10, 0, tzinfo=copenhagen)))
    with open_session(engine) as session:
        stored = session.exec(select(Source)).one()
    assert stored.next_poll_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert stored.next_poll_at is not None and stored.next_poll_at.utcoffset() == timedelta(0)


def test_a_naive_time_is_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), open_session(engine) as session:
        session.add(Source(name="s", platform="replay", brand="Acme", next_poll_at=datetime(2026, 1, 1)))


def test_the_audit_log_is_append_only(engine: Engine) -> None:
    with open_session(engine) as session:
        session.add(AuditEntry(actor="maria", action="approve", case_id=1))
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with open_session(engine) as session:
        assert [e.actor for e in session.exec(select(AuditEntry)).all()] == ["maria"]


def test_author_keys_are_unique_per_platform(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with open_session(engine) as session:
        session.add(Author(platform="x", key="1", handle="jane"))
        session.add(Author(platform="reddit", key="1", handle="jane"))
    with pytest.raises(IntegrityError), open_session(engine) as session:
        session.add(Author(platform="x", key="1", handle="other"))


def test_start_up_refuses_a_schema_that_is_behind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    prepare(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaBehind, match="closeloop db upgrade"):
        prepare(engine)


def test_sqlite_runs_in_wal_mode_with_full_sync(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_an_older_schema_with_data_upgrades_to_head(tmp_path: Path) -> None:
    from models.db import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO author (platform, key, handle, verified, first_seen_at) "
                                "VALUES ('x', '1', 'jane', 0, '2026-11-20 09:00:00')"))
    with pytest.raises(SchemaBehind):
        prepare(engine)
    upgrade(engine)
    prepare(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT handle FROM author")).scalar_one() == "jane"
