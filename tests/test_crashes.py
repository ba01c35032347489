"""Killing the daemon: SIGKILL at random moments loses nothing committed and repeats nothing public;
SIGTERM stops it cleanly, in time, with every claim given back.

The daemon is a real `closeloop run` subprocess against the fake X over HTTP (see test_scenarios). Nothing
here waits on the wall clock: a kill lands when the work has reached a random point of its progress, and a
wait fails only when the work stops moving for a long while (a stall), however slow the machine is. A
daemon's output goes to a file: an undrained pipe would fill and stop the daemon on its next log line.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.db import reading
from models.tables import Case, Draft, Mention, Source
from models.types import utcnow
from monitor.config import parse_settings
from tests.fakes.x import FakeX
from tests.test_scenarios import POST_ENV, _seed_cases, _write_config, bare, config

REPO = Path(__file__).resolve().parent.parent
REPLAY_LINES = 3000
APPROVED = 30
KILLS = 8
# How long the work may stand still before the test calls it stuck. Not a guess at how long the work
# takes: any progress resets it.
STALL_SECONDS = 180


def _replay(path: Path) -> set[str]:
    ids = [f"t3_{n:05d}" for n in range(REPLAY_LINES)]
    texts = ("acme lost my parcel and I want a refund, terrible", "acme is fine today", "love the new acme app")
    path.write_text("".join(json.dumps({"platform": "reddit", "id": pid, "text": f"{texts[n % 3]} #{n}",
                                        "created_at": "2026-11-20T11:00:00+00:00",
                                        "author": {"handle": f"r{n % 400}"}}) + "\n"
                            for n, pid in enumerate(ids)), "utf-8")
    return set(ids)


def _daemon(path: Path, url: str, log: Path, *args: str, roles: str = "poll,score,post") -> subprocess.Popen[str]:
    env = {**os.environ, **POST_ENV, "CLOSELOOP_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    env.pop("X_BEARER_TOKEN", None)  # the X source is only for seeding; the daemon polls the replay file
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(path), "--log-level", "INFO",
                             "run", "--roles", roles, "--node-id", "node-1", *args],
                            env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, text=True)


def _count(engine: Engine, query: object) -> int:
    with reading(engine) as connection:  # reads only: the test never queues for SQLite's write lock
        return int(connection.execute(query).scalar_one())  # type: ignore[call-overload]


def _progress(engine: Engine, fake: FakeX) -> int:
    """Work done so far, never decreasing: replay lines stored and triaged, replies attempted and sent."""
    reddit = Mention.platform == "reddit"
    return (_count(engine, select(func.count()).select_from(Mention).where(reddit))
            + _count(engine, select(func.count()).select_from(Mention).where(reddit, Mention.triaged_at.is_not(None)))
            + _count(engine, select(func.count()).select_from(Draft).where(Draft.status == "sent"))
            + len(fake.calls("POST", "/2/tweets")))


def _finished(engine: Engine) -> bool:
    return (_count(engine, select(func.count()).select_from(Mention).where(Mention.platform == "reddit"))
            == REPLAY_LINES and _count(engine, select(func.count()).select_from(Draft).where(
                Draft.approved_by == "maria", Draft.status != "sent")) == 0)


def _until(done: Callable[[], bool], progress: Callable[[], int], what: str, log: Path) -> None:
    """Wait until ``done()``; fail only when ``progress()`` has not moved for STALL_SECONDS."""
    last, moved = progress(), time.monotonic()
    while not done():
        now = progress()
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > STALL_SECONDS:
            raise AssertionError(f"stalled waiting for {what} (progress {last}):\n{log.read_text()[-4000:]}")
        time.sleep(0.05)


def _setup(engine: Engine, fake: object, tmp_path: Path, **daemon: object) -> tuple[Path, set[str], list[str]]:
    data = config(fake, tmp_path, **daemon)  # type: ignore[arg-type]
    parents = _seed_cases(engine, parse_settings(data, env={}), fake, APPROVED)  # type: ignore[arg-type]
    lines = _replay(tmp_path / "replay.jsonl")
    data["sources"].append({"name": "replay", "platform": "replay", "path": "replay.jsonl", "interval_seconds": 10,
                            "options": {}})
    return _write_config(data, tmp_path / "config.toml"), lines, parents


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_sigkill_at_random_moments_loses_nothing_and_repeats_nothing(engine: Engine, tmp_path: Path) -> None:
    rng = random.Random(20261120)
    with bare(utcnow()) as fake:
        path, lines, parents = _setup(engine, fake, tmp_path, poll_tick_seconds=0.1, process_tick_seconds=0.1,
                                      post_tick_seconds=0.1, max_pages_per_poll=1, health_port=0)
        url = engine.url.render_as_string(hide_password=False)
        progress = lambda: _progress(engine, fake)  # noqa: E731
        # Each kill lands at a random point of the work (stored + triaged lines, replies tried and sent),
        # whatever the machine's speed; the points stay short of the end so each kill finds work under way.
        targets = sorted(rng.uniform(0, 0.9 * (2 * REPLAY_LINES + 2 * APPROVED)) for _ in range(KILLS))
        at_kill = []
        for run, target in enumerate(targets, 1):
            log = tmp_path / f"daemon-{run}.log"
            daemon = _daemon(path, url, log)
            reached = lambda t=target: progress() >= t  # noqa: E731
            _until(reached, progress, f"the work to pass {target:.0f} (kill {run})", log)
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(timeout=60)
            at_kill.append((_count(engine, select(func.count()).select_from(Mention).where(Mention.platform == "reddit")),
                            len(fake.calls("POST", "/2/tweets"))))
        log = tmp_path / "daemon-last.log"
        final = _daemon(path, url, log)
        try:
            _until(lambda: "daemon_started" in log.read_text(), progress, "the last daemon to start", log)
            _until(lambda: _finished(engine), progress, "the work to finish", log)
        finally:
            final.send_signal(signal.SIGTERM)
            final.wait(timeout=120)
        assert final.returncode == 0, log.read_text()[-4000:]

    print(f"\n(mentions stored, replies posted) at each kill: {at_kill}")
    assert any(0 < m < REPLAY_LINES for m, _ in at_kill) or any(0 < r < APPROVED for _, r in at_kill), \
        f"some kill landed mid-work: {at_kill}"
    with engine.connect() as connection:
        stored = Counter(connection.execute(select(Mention.canonical_id).where(Mention.platform == "reddit")).scalars())  # type: ignore[call-overload]
        drafts = list(connection.execute(select(Draft.status, Draft.platform_reply_id)  # type: ignore[call-overload]
                                         .where(Draft.approved_by == "maria")))
        roots = Counter(connection.execute(select(Case.root_mention_id)).scalars())  # type: ignore[call-overload]
        in_cases = connection.execute(select(func.count()).select_from(Mention).where(Mention.case_id.is_not(None))).scalar_one()  # type: ignore[union-attr]
    assert set(stored) == lines and max(stored.values()) == 1, "every replay line stored exactly once"
    per_parent = Counter(t["referenced_tweets"][0]["id"] for t in fake.replies_by("acme"))
    assert all(per_parent[p] == 1 for p in parents) and sum(per_parent.values()) == APPROVED, per_parent
    reply_ids = {t["id"] for t in fake.replies_by("acme")}
    assert len(drafts) == APPROVED and all(s == "sent" and r in reply_ids for s, r in drafts), drafts
    # The invariant is on what is public: attempts the fake received are reported, replies it published counted.
    print(f"POST /2/tweets attempts: {len(fake.calls('POST', '/2/tweets'))}, public replies: {len(reply_ids)}")
    assert len(reply_ids) == APPROVED, "nothing public was repeated"
    assert max(roots.values()) == 1 and in_cases >= len(roots), "no case duplicated"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_sigterm_mid_work_exits_0_in_time_and_gives_back_every_claim(engine: Engine, tmp_path: Path) -> None:
    import urllib.request

    port = _free_port()
    log = tmp_path / "daemon.log"
    with bare(utcnow()) as fake:
        # The stop waits for the batch in hand (a page of 1,000 lines, a scoring batch) to commit; on a busy
        # machine that can take a while, so the deadline here only tells a slow step from a stuck one.
        path, _lines, _parents = _setup(engine, fake, tmp_path, poll_tick_seconds=0.1, process_tick_seconds=0.1,
                                        post_tick_seconds=0.1, max_pages_per_poll=1, health_port=port,
                                        stop_timeout_seconds=STALL_SECONDS)
        daemon = _daemon(path, engine.url.render_as_string(hide_password=False), log)
        try:
            _until(lambda: _count(engine, select(func.count()).select_from(Mention)
                                  .where(Mention.platform == "reddit")) > 0, lambda: _progress(engine, fake),
                   "the ingest to start", log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
                assert response.status == 200

            def scraped_ingest_counter() -> bool:  # counted right after the page commits: wait for it
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                    return b"closeloop_mentions_ingested_total" in response.read()

            _until(scraped_ingest_counter, lambda: _progress(engine, fake), "the ingest counter on /metrics", log)
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=STALL_SECONDS + 60)  # a hang guard: the daemon's own deadline comes first
        finally:
            if daemon.poll() is None:
                daemon.kill()
    out = log.read_text()
    assert daemon.returncode == 0, out
    # "forced" would say a step outlived stop_timeout_seconds (a stuck step) and the daemon left without it.
    assert "daemon_stopped owner=node-1" in out and "forced" not in out
    with engine.connect() as connection:
        held_sources = connection.execute(select(func.count()).select_from(Source)  # type: ignore[call-overload]
                                          .where(Source.lease_owner == "node-1")).scalar_one()
        held_drafts = connection.execute(select(func.count()).select_from(Draft)  # type: ignore[call-overload]
                                         .where(Draft.lease_owner == "node-1", Draft.status == "approved")).scalar_one()
    assert (held_sources, held_drafts) == (0, 0), "no claim left held"


def test_a_sigterm_while_starting_is_a_clean_stop(sqlite_engine: Engine, tmp_path: Path) -> None:
    """A stop asked for before the daemon is up (a supervisor's restart, a deploy) is no crash: exit 0, and
    no work is started. The test holds SQLite's write lock, so the daemon is provably still opening its
    database when the signal arrives; then it lets go."""
    import sqlite3

    log = tmp_path / "daemon.log"
    with bare(utcnow()) as fake:
        path, _lines, _parents = _setup(sqlite_engine, fake, tmp_path, health_port=0)
        blocker = sqlite3.connect(str(sqlite_engine.url.database), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            daemon = _daemon(path, sqlite_engine.url.render_as_string(hide_password=False), log)
            _until(lambda: "daemon_starting" in log.read_text() or daemon.poll() is not None, lambda: 0,
                   "the daemon to handle signals", log)
            daemon.send_signal(signal.SIGTERM)
        finally:
            blocker.rollback()
            blocker.close()
        daemon.wait(timeout=120)
    out = log.read_text()
    assert daemon.returncode == 0, out
    assert "daemon_signal signal=SIGTERM" in out and "daemon_started" not in out, "it stopped before starting work"
