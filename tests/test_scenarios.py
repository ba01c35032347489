"""The required fault scenarios, end to end against the fake X over real HTTP.

- a 429 with a reset header: the source waits until the reset, then resumes; nothing lost;
- SIGKILL between the platform saving a reply and our recording it: one reply, and the draft reads sent;
- two daemons on one PostgreSQL with 200 approved drafts: each parent gets exactly one reply;
- a source that fails permanently does not stop the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.outbox import approve_draft
from models.sources import list_sources
from models.tables import Draft, Mention
from models.types import utcnow
from monitor.config import Settings, parse_settings
from monitor.daemon import Poller
from monitor.pipeline import process_pending
from monitor.scoring import build_scorer
from tests.fakes.server import Fault
from tests.fakes.x import ACCESS_TOKEN, BRAND_ID, LIMITS, FakeX, seeded

REPO = Path(__file__).resolve().parent.parent
READ_ENV = {"X_BEARER_TOKEN": "test-bearer-token"}
POST_ENV = {"X_CONSUMER_KEY": "ck", "X_CONSUMER_SECRET": "cs", "X_ACCESS_TOKEN": ACCESS_TOKEN,
            "X_ACCESS_TOKEN_SECRET": "ats"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def config(fake: FakeX, tmp_path: Path, *, extra_sources: list[dict] | None = None, **daemon: object) -> dict:
    return {
        "app": {"data_dir": str(tmp_path)},
        "brands": [{"name": "Acme", "keywords": ["acme"], "handles": {"x": "acme"}}],
        "agents": [{"name": "Maria Jensen", "signature": "– Maria, Acme care", "languages": ["en"]}],
        "scoring": {"backend": "lexicon"},
        "sources": [{"name": "acme-x", "platform": "x", "interval_seconds": 60,
                     "options": {"api_base_url": fake.url, "user_id": BRAND_ID, "max_results": 10, "timeout": 5}},
                    *(extra_sources or [])],
        # A second for a lost send to settle before it is reconciled (production waits a minute).
        "daemon": {"max_pages_per_poll": 50, "reconcile_settle_seconds": 1, **daemon},
    }


def stored(engine: Engine, platform: str = "x") -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(Mention.canonical_id).where(Mention.platform == platform)).scalars())  # type: ignore[call-overload]


def visible_matching(fake: FakeX, now: datetime) -> set[str]:
    """What a complete poll must have stored: tweets mentioning acme inside the 7-day search window, or
    mentioning the account (the mentions timeline has no window), except the brand's own and retweets."""
    ids = set()
    for tweet in fake.tweets.values():
        if tweet["author_id"] == BRAND_ID or tweet["id"] in fake.deleted:
            continue
        text = tweet["text"].lower()
        in_window = tweet["_at"] >= now - timedelta(days=7)
        if ("acme" in text and in_window) or "@acme" in text:
            ids.add(tweet["edit_history_tweet_ids"][0])
    return ids


def test_a_429_with_a_reset_header_waits_for_the_reset_then_resumes_losing_nothing(engine: Engine, tmp_path: Path) -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with seeded(now) as fake:
        clock = Clock(now)
        poller = Poller(engine, parse_settings(config(fake, tmp_path), env={}), "node-1", env=READ_ENV, clock=clock)
        fake.overlap = 2  # pages repeat tweets: duplicates must collapse
        fake.exhaust("search", reset_in=120)
        assert poller.tick() == 0
        [state] = list_sources(engine)
        assert state.next_poll_at == now + timedelta(seconds=120), "waits exactly until x-rate-limit-reset"
        assert state.error_count == 0 and "rate limited" in (state.last_error or "")
        requests_before = len(fake.requests)

        clock.now = now + timedelta(seconds=60)
        assert poller.tick() == 0
        assert len(fake.requests) == requests_before, "nothing is asked of X before the reset"

        clock.now = now + timedelta(seconds=121)
        fake.now = clock.now
        fake.remaining = dict(LIMITS)
        assert poller.tick() > 0
        assert stored(engine) == visible_matching(fake, clock.now)
        [state] = list_sources(engine)
        assert state.error_count == 0 and state.last_error is None


def test_a_source_that_fails_permanently_does_not_stop_the_others(engine: Engine, tmp_path: Path) -> None:
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"platform": "reddit", "id": "t3_a", "text": "acme ate my parcel",
                                  "created_at": "2026-11-20T11:00:00+00:00", "author": {"handle": "r1"}}) + "\n")
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with seeded(now) as fake:
        settings = parse_settings(config(fake, tmp_path, extra_sources=[
            {"name": "replay", "platform": "replay", "path": "r.jsonl"}]), env={})
        poller = Poller(engine, settings, "node-1", env={"X_BEARER_TOKEN": "revoked"}, clock=Clock(now))
        poller.tick()
        states = {s.name: s for s in list_sources(engine)}
        assert states["acme-x"].disabled_reason and "401" in states["acme-x"].disabled_reason
        assert states["replay"].disabled_reason is None
        assert stored(engine, "reddit") == {"t3_a"}


def bare(now: datetime) -> FakeX:
    """A fake X holding only the @acme account: every reply on it is one of ours to a seeded complaint."""
    fake = FakeX(now=now)
    fake.add_user("acme", name="Acme Support", followers=48_200, verified=True, user_id=BRAND_ID,
                  access_token=ACCESS_TOKEN)
    return fake


def _seed_cases(engine: Engine, settings: Settings, fake: FakeX, count: int) -> list[str]:
    """``count`` complaints on the fake, polled, triaged and drafted here, all approved."""
    parents = []
    for n in range(count):
        handle = f"cust{n:03d}"
        fake.add_user(handle, followers=n)
        parents.append(fake.post(handle, f"@acme order {n} never arrived, I want a refund",
                                 at=fake.now - timedelta(minutes=30)))
    clock = Clock(fake.now)
    poller = Poller(engine, settings, "seeder", env=READ_ENV, clock=clock)
    while poller.tick():
        clock.now += timedelta(minutes=2)
    assert stored(engine) == set(parents), "every complaint polled, none lost"
    process_pending(engine, settings, build_scorer(settings.scoring), now=fake.now)
    with engine.connect() as connection:
        draft_ids = list(connection.execute(select(Draft.id).order_by(Draft.id)).scalars())  # type: ignore[call-overload]
    assert len(draft_ids) == count
    for draft_id in draft_ids:
        approve_draft(engine, draft_id=draft_id, approver="maria", now=utcnow())
    return parents


def _daemon(config_path: Path, url: str, node: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **POST_ENV, "CLOSELOOP_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config_path), "--log-level", "INFO",
                             "run", "--roles", "post", "--node-id", node, *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _write_config(data: dict, path: Path) -> Path:
    import tomllib  # noqa: F401  (the file below must stay valid TOML)

    def value(v: object) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = []
    for section in ("app", "scoring", "daemon"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in data[section].items()]
    for brand in data["brands"]:
        lines += ["[[brands]]", f"name = {value(brand['name'])}", f"keywords = {value(brand['keywords'])}",
                  "[brands.handles]", f"x = {value(brand['handles']['x'])}"]
    for agent in data["agents"]:
        lines += ["[[agents]]"] + [f"{k} = {value(v)}" for k, v in agent.items()]
    for source in data["sources"]:
        lines += ["[[sources]]"] + [f"{k} = {value(v)}" for k, v in source.items() if k != "options"]
        lines += ["[sources.options]"] + [f"{k} = {value(v)}" for k, v in source["options"].items()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _status(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        return Counter(connection.execute(select(Draft.status)).scalars())  # type: ignore[call-overload]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_sigkill_between_the_platform_saving_a_reply_and_our_recording_it(engine: Engine, tmp_path: Path) -> None:
    with bare(utcnow()) as fake:
        data = config(fake, tmp_path, post_tick_seconds=0.2, send_lease_seconds=300)
        settings = parse_settings(data, env={})
        [parent] = _seed_cases(engine, settings, fake, 1)[:1]
        path = _write_config(data, tmp_path / "config.toml")
        url = engine.url.render_as_string(hide_password=False)

        released = threading.Event()
        fake.inject("create_tweet", Fault.hold(released))
        daemon = _daemon(path, url, "node-1")
        try:
            _wait(lambda: fake.handled.get("create_tweet", 0) == 1, 60, "X to save the reply")
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
        finally:
            released.set()
            if daemon.poll() is None:
                daemon.kill()
        assert _status(engine)["sending"] == 1, "killed after the platform saved it, before we recorded it"
        time.sleep(1.1)  # the lost send settles (reconcile_settle_seconds) before the restart looks it up

        again = _daemon(path, url, "node-1", "--once")
        out, _ = again.communicate(timeout=120)
        assert again.returncode == 0, out
        replies = [t for t in fake.replies_by("acme") if t["referenced_tweets"][0]["id"] == parent]
        assert len(replies) == 1, "exactly one public reply"
        with engine.connect() as connection:
            row = connection.execute(select(Draft.status, Draft.platform_reply_id)).one()  # type: ignore[call-overload]
        assert (row.status, row.platform_reply_id) == ("sent", replies[0]["id"])
        assert len(fake.calls("POST", "/2/tweets")) == 1, "reconciled, not resent"


@pytest.mark.slow
def test_two_daemons_on_one_postgresql_send_200_replies_once_each(postgres_engine: Engine, tmp_path: Path) -> None:
    engine = postgres_engine
    with bare(utcnow()) as fake:
        data = config(fake, tmp_path, post_tick_seconds=0.2)
        settings = parse_settings(data, env={})
        parents = _seed_cases(engine, settings, fake, 200)
        path = _write_config(data, tmp_path / "config.toml")
        url = engine.url.render_as_string(hide_password=False)
        daemons = [_daemon(path, url, node) for node in ("daemon-a", "daemon-b")]
        try:
            _wait(lambda: _status(engine)["sent"] >= 200, 240, "200 replies to be sent")
        finally:
            for daemon in daemons:
                daemon.send_signal(signal.SIGTERM)
            outputs = [daemon.communicate(timeout=60)[0] for daemon in daemons]
        assert [d.returncode for d in daemons] == [0, 0], outputs
        per_parent = Counter(t["referenced_tweets"][0]["id"] for t in fake.replies_by("acme"))
        assert all(per_parent[p] == 1 for p in parents), "each parent exactly one reply"
        assert sum(per_parent.values()) == len(fake.calls("POST", "/2/tweets")) == 200
        assert _status(engine) == Counter({"sent": 200})
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Draft)).scalar_one() == 200


def test_a_lost_response_is_reconciled_after_it_settles_never_posted_twice(engine: Engine, tmp_path: Path) -> None:
    from responders.outbox import Outbox
    from responders.posters.registry import build_posters

    now = utcnow()
    with bare(now) as fake:
        settings = parse_settings(config(fake, tmp_path), env={})
        [parent] = _seed_cases(engine, settings, fake, 1)
        clock = Clock(utcnow())
        outbox = Outbox(engine, build_posters(settings, POST_ENV), "node-1", clock=clock)
        fake.inject("create_tweet", Fault.drop_after_handling())
        assert outbox.send_approved() == 0
        assert _status(engine) == Counter({"unknown": 1})
        assert outbox.reconcile() == 0 and outbox.send_approved() == 0, "not looked up, not resent, until it settles"
        clock.now += timedelta(minutes=2)
        assert outbox.reconcile() == 1
        assert _status(engine) == Counter({"sent": 1})
        assert len(fake.calls("POST", "/2/tweets")) == 1
        [reply] = [t for t in fake.replies_by("acme") if t["referenced_tweets"][0]["id"] == parent]
        with engine.connect() as connection:
            assert connection.execute(select(Draft.platform_reply_id)).scalar_one() == reply["id"]  # type: ignore[call-overload]
