"""Daemons that start together sync the configured sources at once: none of them fails on the other's rows."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.sources import ConfiguredSource, sync_sources
from models.tables import SOURCE


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_concurrent_starts_sync_the_same_new_sources_without_failing(engine: Engine) -> None:
    configured = [ConfiguredSource(f"source-{n}", "replay", "Acme", True) for n in range(40)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            sync_sources(engine, configured=configured)
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SOURCE)).scalar_one() == 40
