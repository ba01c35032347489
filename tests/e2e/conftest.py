"""The desk the end-to-end tests share, once per database backend (module scope: it takes seconds to set up).

SQLite runs one watching daemon (and later one posting daemon); PostgreSQL runs two of each (different
``--node-id``) on a database this fixture creates on the server and drops afterwards. PostgreSQL is skipped
when the server is not there, and fails instead when ``CLOSELOOP_REQUIRE_POSTGRES`` is set (as in CI).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.desk import CLOSELOOP, Desk, subprocess_env, write_config
from tests.e2e.platforms import platforms
from tests.e2e.story import REPLAY_ID, seed_complaints
from tests.resolution_fixtures import free_port, running_smtp

PG_URL = os.environ.get("CLOSELOOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
WATCHERS = {"sqlite": [("desk-1", "poll,score,web")],
            "postgres": [("desk-1", "poll,score,web"), ("desk-2", "poll,score")]}


@contextmanager
def empty_database(backend: str, root: Path) -> Iterator[str]:
    """An empty database for `closeloop db upgrade` to fill: a SQLite path, or a new PostgreSQL database
    (dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{root / 'closeloop.db'}"
        return
    server = create_engine("postgresql+psycopg://" + PG_URL.removeprefix("postgresql://"),
                           isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # any failure to reach it is the reason, stated
        server.dispose()
        reason = f"PostgreSQL is not reachable at {PG_URL} ({type(exc).__name__}); set CLOSELOOP_TEST_PG_URL"
        if os.environ.get("CLOSELOOP_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"closeloop_e2e_{uuid.uuid4().hex[:10]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def last_week_replay(path: Path, now: datetime) -> Path:
    """A replay file holding one complaint from exactly a week ago (so always in last ISO week)."""
    path.write_text(json.dumps({
        "platform": "reddit", "id": REPLAY_ID, "created_at": (now - timedelta(days=7)).isoformat(),
        "text": "Acme cancelled my order and never refunded me, I want my money back",
        "author": {"handle": "old_customer", "name": "Old Customer", "followers": 12},
    }) + "\n", "utf-8")
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """Fakes running and seeded with one complaint (and one happy post) per platform, a replay file holding
    last week's complaint, the operator's config.toml, the schema made by `closeloop db upgrade`, and the
    watching daemons started."""
    assert CLOSELOOP.is_file(), f"the closeloop console script is not installed next to {CLOSELOOP.parent}"
    backend = request.param
    root = tmp_path_factory.mktemp(f"desk-{backend}")
    rows = platforms()
    with empty_database(backend, root) as database, running_smtp() as (inbox, smtp_port):
        started = []
        desk: Desk | None = None
        try:
            for platform in rows:
                platform.start()
                started.append(platform)
            now = datetime.now(UTC)
            console_port = free_port()
            config = write_config(root / "config.toml", database_url=database, platforms=rows,
                                  replay=last_week_replay(root / "last-week.jsonl", now),
                                  console_port=console_port, smtp_port=smtp_port)
            desk = Desk(root=root, backend=backend, database_url=database, config=config,
                        env=subprocess_env(rows), platforms=rows, console=f"http://127.0.0.1:{console_port}",
                        inbox=inbox)
            seed_complaints(desk)
            # The operator's first steps (README, "Database"): migrate and check, then start the service.
            desk.ok("db", "upgrade")
            desk.ok("check")
            for node_id, roles in WATCHERS[backend]:
                desk.start_daemon(node_id, roles)
            yield desk
        finally:
            if desk is not None:
                desk.kill_daemons()
                desk.dispose()
            for platform in started:
                platform.stop()
