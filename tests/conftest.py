"""Shared fixtures: real databases (SQLite in a temp dir, and PostgreSQL when it is there), a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from models.db import make_engine, prepare

PG_URL = os.environ.get("CLOSELOOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _postgres_server() -> tuple[Engine | None, str]:
    try:
        engine = make_engine(PG_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return engine, ""
    except Exception as exc:  # any failure to reach it is a reason to skip, stated
        return None, f"PostgreSQL is not reachable at {PG_URL} ({type(exc).__name__}); set CLOSELOOP_TEST_PG_URL"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated to head, dropped at the end."""
    server, reason = _postgres_server()
    if server is None:
        if os.environ.get("CLOSELOOP_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"closeloop_test_{uuid.uuid4().hex[:10]}"
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    engine = make_engine(url)
    prepare(engine)
    engine.dispose()
    yield url
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name != "audit_log")
    with engine.begin() as connection:
        # The audit log refuses deletes by design; TRUNCATE is the administrator's way round that.
        connection.execute(text(f'TRUNCATE {names}, "audit_log" RESTART IDENTITY CASCADE'))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'closeloop.db'}")
    prepare(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    _truncate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for CLI tests; parametrize indirectly with 'sqlite' or 'postgres'."""
    kind = getattr(request, "param", "sqlite")
    if kind == "postgres":
        engine = request.getfixturevalue("postgres_engine")
        return engine.url.render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'cli.db'}"
