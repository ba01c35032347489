"""Killing the daemon: SIGKILL at random moments loses nothing committed and repeats nothing public;
SIGTERM stops it cleanly, in time, with every claim given back.

The daemon is a real `closeloop run` subprocess against the fake X over HTTP (see test_scenarios).
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
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.tables import Case, Draft, Mention, Source
from models.types import utcnow
from monitor.config import parse_settings
from tests.test_scenarios import POST_ENV, _seed_cases, _wait, _write_config, bare, config

REPO = Path(__file__).resolve().parent.parent
REPLAY_LINES = 3000
APPROVED = 30
KILLS = 8


def _replay(path: Path) -> set[str]:
    ids = [f"t3_{n:05d}" for n in range(REPLAY_LINES)]
    texts = ("acme lost my parcel and I want a refund, terrible", "acme is fine today", "love the new acme app")
    path.write_text("".join(json.dumps({"platform": "reddit", "id": pid, "text": f"{texts[n % 3]} #{n}",
                                        "created_at": "2026-11-20T11:00:00+00:00",
                                        "author": {"handle": f"r{n % 400}"}}) + "\n"
                            for n, pid in enumerate(ids)), "utf-8")
    return set(ids)


def _daemon(path: Path, url: str, *args: str, roles: str = "poll,score,post") -> subprocess.Popen[str]:
    env = {**os.environ, **POST_ENV, "CLOSELOOP_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    env.pop("X_BEARER_TOKEN", None)  # the X source is only for seeding; the daemon polls the replay file
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(path), "--log-level", "INFO",
                             "run", "--roles", roles, "--node-id", "node-1", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _count(engine: Engine, query: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())  # type: ignore[call-overload]


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
        at_kill = []
        for _ in range(KILLS):
            daemon = _daemon(path, url)
            time.sleep(rng.uniform(1.2, 3.2))  # the daemon's own start-up takes about a second of this
            daemon.send_signal(signal.SIGKILL)
            daemon.communicate(timeout=30)
            at_kill.append((_count(engine, select(func.count()).select_from(Mention).where(Mention.platform == "reddit")),
                            len(fake.calls("POST", "/2/tweets"))))
        final = _daemon(path, url)
        try:
            _wait(lambda: _count(engine, select(func.count()).select_from(Mention).where(Mention.platform == "reddit"))
                  == REPLAY_LINES and _count(engine, select(func.count()).select_from(Draft).where(
                      Draft.approved_by == "maria", Draft.status != "sent")) == 0, 90, "the work to finish")
        finally:
            final.send_signal(signal.SIGTERM)
            out, _ = final.communicate(timeout=60)
        assert final.returncode == 0, out

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
    with bare(utcnow()) as fake:
        path, _lines, _parents = _setup(engine, fake, tmp_path, poll_tick_seconds=0.1, process_tick_seconds=0.1,
                                        post_tick_seconds=0.1, max_pages_per_poll=1, health_port=port,
                                        stop_timeout_seconds=10)
        daemon = _daemon(path, engine.url.render_as_string(hide_password=False))
        try:
            _wait(lambda: _count(engine, select(func.count()).select_from(Mention)
                                 .where(Mention.platform == "reddit")) > 0, 60, "the ingest to start")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                assert response.status == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                assert b"closeloop_mentions_ingested_total" in response.read()
            daemon.send_signal(signal.SIGTERM)
            started = time.monotonic()
            out, _ = daemon.communicate(timeout=30)
            took = time.monotonic() - started
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert daemon.returncode == 0, out
    assert took < 10 + 5, f"stopped in {took:.1f}s"
    assert "daemon_stopped owner=node-1" in out and "forced" not in out
    with engine.connect() as connection:
        held_sources = connection.execute(select(func.count()).select_from(Source)  # type: ignore[call-overload]
                                          .where(Source.lease_owner == "node-1")).scalar_one()
        held_drafts = connection.execute(select(func.count()).select_from(Draft)  # type: ignore[call-overload]
                                         .where(Draft.lease_owner == "node-1", Draft.status == "approved")).scalar_one()
    assert (held_sources, held_drafts) == (0, 0), "no claim left held"
