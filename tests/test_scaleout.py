"""Scale-out on one PostgreSQL: three daemons' pollers, 300 sources, ten simulated minutes.

Each simulated daemon is a Poller with its own engine; the three tick concurrently in threads on every step
of a shared fake clock. Every fetch is recorded as (source, owner, clock time), which is what the
assertions read: no source in two daemons' hands at once, none starved, no credential over its request
budget in any window; then one daemon dies holding leases and the others pick its sources up.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

import monitor.poller
from models.db import make_engine
from models.sources import claim_due_sources
from monitor.config import SourceSettings, parse_settings
from monitor.instruments import Metrics
from monitor.poller import Poller

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCES = 300
INTERVAL = timedelta(seconds=60)
LEASE = timedelta(seconds=30)
STEP = timedelta(seconds=10)
MINUTES = 10
# Credentials a and b have room to spare; c's budget is smaller than its sources' demand, so it binds.
BUDGETS = {"a": 200, "b": 200, "c": 60}
WINDOW = timedelta(seconds=60)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Ledger:
    """Every fetch, and every moment two owners were inside one source's fetch at once."""

    clock: Clock
    fetches: list[tuple[str, str, datetime]] = field(default_factory=list)
    inside: dict[str, str] = field(default_factory=dict)
    overlaps: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, name: str, owner: str, fetch: Any) -> Any:
        def recorded(cursor: Any) -> Any:
            with self.lock:
                if name in self.inside:
                    self.overlaps.append((name, self.inside[name], owner))
                self.inside[name] = owner
                self.fetches.append((name, owner, self.clock.now))
            try:
                return fetch(cursor)
            finally:
                with self.lock:
                    self.inside.pop(name, None)

        return recorded


def credential(source: SourceSettings) -> str:
    return f"fake:{source.options['credential']}"


@pytest.fixture
def three_engines(postgres_engine: Engine) -> Iterator[list[Engine]]:
    url = postgres_engine.url.render_as_string(hide_password=False)
    engines = [postgres_engine, make_engine(url), make_engine(url)]
    yield engines
    for engine in engines[1:]:
        engine.dispose()


def _settings(tmp_path: Path) -> Any:
    sources = []
    for n in range(SOURCES):
        cred = "abc"[n % 3]
        path = tmp_path / f"s{n:03d}.jsonl"
        path.write_text("".join(json.dumps({"platform": "x", "id": f"{n}-{k}", "text": f"@acme post {n} {k}",
                                            "created_at": "2026-11-20T11:00:00+00:00",
                                            "author": {"handle": f"u{n}"}}) + "\n" for k in range(2)), "utf-8")
        sources.append({"name": f"s{n:03d}", "platform": "replay", "path": path.name,
                        "interval_seconds": int(INTERVAL.total_seconds()),
                        "options": {"credential": cred, "requests_per_window": BUDGETS[cred],
                                    "window_seconds": int(WINDOW.total_seconds())}})
    return parse_settings({"app": {"data_dir": str(tmp_path)}, "sources": sources,
                           "daemon": {"sources_per_tick": 50, "source_lease_seconds": int(LEASE.total_seconds()),
                                      "max_pages_per_poll": 5}}, env={})


def _windows_respected(times: list[datetime], limit: int) -> tuple[bool, int]:
    """Replays the budget's windows (one starts at the first request after the last one ended)."""
    start, used, peak = None, 0, 0
    for t in sorted(times):
        if start is None or t >= start + WINDOW:
            start, used = t, 0
        used += 1
        peak = max(peak, used)
    return peak <= limit, peak


@pytest.mark.postgres
def test_three_daemons_share_300_sources_without_overlap_starvation_or_overspending(
        three_engines: list[Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor.poller, "credential_key", credential)
    settings = _settings(tmp_path)
    clock = Clock(START)
    ledger = Ledger(clock)
    owners = ["daemon-a", "daemon-b", "daemon-c"]
    pollers = {}
    for owner, engine in zip(owners, three_engines, strict=True):
        poller = Poller(engine, settings, owner, env={}, clock=clock, metrics=Metrics())
        for name, source in poller._sources.items():
            source.fetch = ledger.wrap(name, owner, source.fetch)  # type: ignore[method-assign]
        pollers[owner] = poller
    cred_of = {s.name: s.options["credential"] for s in settings.sources}

    def run(steps: int, live: list[str]) -> None:
        with ThreadPoolExecutor(len(live)) as pool:
            for _ in range(steps):
                for future in [pool.submit(pollers[o].tick) for o in live]:
                    future.result()
                clock.now += STEP

    run(MINUTES * 60 // int(STEP.total_seconds()), owners)

    assert ledger.overlaps == [], "a source was fetched by two daemons at once"
    per_moment = Counter((name, at) for name, _owner, at in ledger.fetches)
    assert max(per_moment.values()) == 1, "a source was polled twice at one moment"
    by_owner = Counter(owner for _n, owner, _t in ledger.fetches)
    assert set(by_owner) == set(owners), f"every daemon took a share: {by_owner}"

    polls: dict[str, list[datetime]] = defaultdict(list)
    for name, _owner, at in ledger.fetches:
        polls[name].append(at)
    assert len(polls) == SOURCES, "every source was polled"
    end = clock.now
    for name, times in polls.items():
        if cred_of[name] == "c":
            assert len(times) >= 3, f"{name} on the spent credential still progresses: {len(times)} polls"
            continue
        gaps = [b - a for a, b in zip([START, *times], [*times, end], strict=True)]
        assert max(gaps) <= INTERVAL + STEP, f"{name} starved: a gap of {max(gaps)}"

    for cred, limit in BUDGETS.items():
        times = [at for name, _o, at in ledger.fetches if cred_of[name] == cred]
        ok, peak = _windows_respected(times, limit)
        assert ok, f"credential {cred}: {peak} requests in one window, budget {limit}"
        if cred == "c":
            assert peak == limit, "the small budget was reached (so it was tested), not exceeded"

    peaks = {cred: _windows_respected([at for n, _o, at in ledger.fetches if cred_of[n] == cred], limit)[1]
             for cred, limit in BUDGETS.items()}
    print(f"\npolls per daemon {dict(by_owner)}; peak requests per window {peaks} (budgets {BUDGETS})")
    # Daemon c dies holding leases: it claims due sources and never polls or releases them.
    died_at = clock.now
    orphans = {c.name for c in claim_due_sources(three_engines[2], owner="daemon-c", now=died_at, lease=LEASE,
                                                 limit=50)}
    assert orphans, "the dying daemon held some sources"
    before = len(ledger.fetches)
    run(int((LEASE + INTERVAL + STEP) / STEP), ["daemon-a", "daemon-b"])
    resumed: dict[str, datetime] = {}
    for name, owner, at in ledger.fetches[before:]:
        assert owner != "daemon-c"
        resumed.setdefault(name, at)
    for name in orphans:
        assert name in resumed, f"{name} was never picked up after its daemon died"
        assert died_at + LEASE < resumed[name] <= died_at + LEASE + INTERVAL, (name, resumed[name] - died_at)
    assert ledger.overlaps == []
    delays = sorted({(resumed[n] - died_at).total_seconds() for n in orphans})
    print(f"daemon-c died holding {len(orphans)} sources; resumed after {delays} s (lease 30 s, interval 60 s)")
