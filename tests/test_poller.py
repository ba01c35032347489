"""The poller: claims due sources, stores what they fetch with their cursor, and keeps going when one fails."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.sources import ConfiguredSource, claim_due_sources, list_sources, sync_sources
from models.tables import Mention, Source
from monitor.config import Settings, parse_settings
from monitor.daemon import Poller

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def replay(path: Path, ids: range) -> Path:
    with path.open("a", encoding="utf-8") as handle:
        for n in ids:
            handle.write(json.dumps({"platform": "x", "id": str(n), "text": f"@acme post {n}",
                                     "created_at": "2026-11-20T11:00:00+00:00", "author": {"handle": f"u{n % 5}"}}) + "\n")
    return path


def settings_with(sources: list[dict], tmp_path: Path) -> Settings:
    return parse_settings({"app": {"data_dir": str(tmp_path)}, "sources": sources,
                           "daemon": {"max_pages_per_poll": 100}}, env={})


def mentions(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Mention)).scalar_one()


def test_a_tick_polls_due_sources_and_the_cursor_picks_up_new_lines(engine: Engine, tmp_path: Path) -> None:
    path = replay(tmp_path / "a.jsonl", range(1, 2501))
    clock = Clock(NOW)
    poller = Poller(engine, settings_with([{"name": "a", "platform": "replay", "path": "a.jsonl",
                                            "interval_seconds": 60}], tmp_path), "node-1", env={}, clock=clock)
    assert poller.tick() == 2500
    assert poller.tick() == 0, "not due again before its interval"
    replay(path, range(2501, 2511))
    clock.now += timedelta(seconds=61)
    assert poller.tick() == 10
    assert mentions(engine) == 2510
    [state] = list_sources(engine)
    assert state.error_count == 0 and state.next_poll_at == clock.now + timedelta(seconds=60)
    assert state.lease_owner is None, "the lease is given back after the poll"


def test_a_source_that_fails_permanently_does_not_stop_the_others(engine: Engine, tmp_path: Path) -> None:
    replay(tmp_path / "good.jsonl", range(1, 6))
    settings = settings_with([
        {"name": "broken", "platform": "replay", "path": "missing.jsonl"},
        {"name": "good", "platform": "replay", "path": "good.jsonl"},
    ], tmp_path)
    poller = Poller(engine, settings, "node-1", env={}, clock=Clock(NOW))
    assert poller.tick() == 5
    states = {s.name: s for s in list_sources(engine)}
    assert states["broken"].disabled_reason is not None and "missing.jsonl" in states["broken"].disabled_reason
    assert states["good"].disabled_reason is None and states["good"].error_count == 0
    assert poller.tick() == 0 and mentions(engine) == 5


def test_missing_credentials_skip_the_source_naming_the_variables(engine: Engine, tmp_path: Path) -> None:
    replay(tmp_path / "good.jsonl", range(1, 4))
    settings = settings_with([
        {"name": "acme-x", "platform": "x"},
        {"name": "good", "platform": "replay", "path": "good.jsonl"},
    ], tmp_path)
    poller = Poller(engine, settings, "node-1", env={}, clock=Clock(NOW))
    assert "X_BEARER_TOKEN" in poller.unavailable["acme-x"]
    assert poller.tick() == 3
    states = {s.name: s for s in list_sources(engine)}
    assert "X_BEARER_TOKEN" in (states["acme-x"].last_error or "")
    assert states["acme-x"].error_count == 0 and states["acme-x"].disabled_reason is None


def test_two_daemons_never_claim_the_same_source(engine: Engine) -> None:
    sync_sources(engine, configured=[ConfiguredSource(f"s{n}", "replay", "Acme", True) for n in range(60)])
    claims: dict[str, list[str]] = {"a": [], "b": []}

    def claim(owner: str) -> None:
        for _ in range(10):
            claims[owner] += [c.name for c in claim_due_sources(engine, owner=owner, now=NOW,
                                                                lease=timedelta(minutes=5), limit=4)]

    threads = [threading.Thread(target=claim, args=(o,)) for o in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(claims["a"]) & set(claims["b"])
    assert len(claims["a"]) + len(claims["b"]) == 60


def test_a_lease_that_runs_out_makes_the_source_due_again(engine: Engine) -> None:
    sync_sources(engine, configured=[ConfiguredSource("s", "replay", "Acme", True)])
    assert [c.name for c in claim_due_sources(engine, owner="dead", now=NOW, lease=timedelta(minutes=5), limit=5)] == ["s"]
    assert claim_due_sources(engine, owner="alive", now=NOW + timedelta(minutes=4), lease=timedelta(minutes=5), limit=5) == []
    later = claim_due_sources(engine, owner="alive", now=NOW + timedelta(minutes=6), lease=timedelta(minutes=5), limit=5)
    assert [c.name for c in later] == ["s"]


def test_sources_removed_from_the_config_are_disabled_not_deleted(engine: Engine) -> None:
    sync_sources(engine, configured=[ConfiguredSource("a", "replay", "Acme", True), ConfiguredSource("b", "replay", "Acme", True)])
    sync_sources(engine, configured=[ConfiguredSource("a", "replay", "Acme", True)])
    assert {s.name: s.enabled for s in list_sources(engine)} == {"a": True, "b": False}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_closeloop_sources_shows_the_reason(tmp_path: Path, database_url: str) -> None:
    from tests.test_cli import closeloop

    replay(tmp_path / "good.jsonl", range(1, 3))
    config = tmp_path / "c.toml"
    config.write_text('[scoring]\nbackend = "lexicon"\n[[sources]]\nname = "gone"\nplatform = "replay"\n'
                      'path = "nope.jsonl"\n[[sources]]\nname = "fine"\nplatform = "replay"\npath = "good.jsonl"\n', "utf-8")
    env = {"CLOSELOOP_DATABASE_URL": database_url}
    run = closeloop("--config", str(config), "run", "--once", "--roles", "poll", env=env)
    assert run.returncode == 0, run.stderr
    shown = closeloop("--config", str(config), "sources", env=env)
    assert "gone" in shown.stdout and "disabled" in shown.stdout and "nope.jsonl" in shown.stdout
    assert "fine" in shown.stdout


# -- what a batch carries besides mentions: deletions, repairs, and a row storage refuses ----------------


def _deleted_at(engine: Engine, canonical_id: str) -> datetime | None:
    with engine.connect() as connection:
        return connection.execute(select(Mention.deleted_at).where(Mention.canonical_id == canonical_id)).scalar_one()  # type: ignore[call-overload]


def test_deletions_a_source_reports_are_marked(engine: Engine, tmp_path: Path) -> None:
    from tests.fakes.bluesky import FakeBluesky

    clock = Clock(NOW)
    with FakeBluesky() as fake:
        doomed = fake.add_post("jane.bsky.social", "acme lost my parcel", at=NOW - timedelta(seconds=2))
        kept = fake.add_post("mads.bsky.social", "acme lost mine too", at=NOW - timedelta(seconds=1))
        settings = parse_settings({
            "app": {"data_dir": str(tmp_path)},
            "brands": [{"name": "Acme", "keywords": ["acme"], "handles": {"bluesky": "acme.bsky.social"}}],
            "sources": [{"name": "sky", "platform": "bluesky", "interval_seconds": 60, "options": {
                "api_base_url": fake.url, "jetstream_url": fake.jetstream.url, "timeout_seconds": 2,
                "stream_seconds": 0.5, "stream_idle_seconds": 0.1}}]}, env={})
        poller = Poller(engine, settings, "node-1", env={"BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"}, clock=clock)
        assert poller.tick() == 2
        assert _deleted_at(engine, doomed) is None
        fake.delete_post(doomed)
        clock.now += timedelta(seconds=61)
        poller.tick()
    assert _deleted_at(engine, doomed) is not None, "the stream's delete event marks the stored mention"
    assert _deleted_at(engine, kept) is None


def test_a_row_storage_refuses_stops_only_itself_and_the_cursor_moves(engine: Engine) -> None:
    from models.sources import ConfiguredSource
    from monitor.poller import store_fetched
    from monitor.sources.base import Batch, ParsedAuthor, ParsedMention

    sync_sources(engine, configured=[ConfiguredSource("s", "replay", "Acme", True)])
    [claimed] = claim_due_sources(engine, owner="node-1", now=NOW, lease=timedelta(minutes=5), limit=1)

    def mention(pid: str, text: str) -> ParsedMention:  # built by hand: no intake, as a parser with a bug would
        return ParsedMention(platform="x", canonical_id=pid, text=text, author=ParsedAuthor(handle="u"),
                             created_at=NOW)

    batch = Batch(mentions=[mention("1", "fine"), mention("2", "poison \ud83d"), mention("3", "fine too")],
                  next_cursor="after-3")
    stored = store_fetched(engine, batch, platform="replay", brand="Acme", source_id=claimed.id, save_cursor=True,
                           lease_owner="node-1")
    assert stored.new == 2 and [b.position for b in stored.refused] == ["x 2"]
    assert "storage refused it" in stored.refused[0].reason
    with engine.connect() as connection:
        cursor = connection.execute(select(Source.cursor)).scalar_one()  # type: ignore[call-overload]
    assert cursor == "after-3", "the batch is never fetched again for the sake of one row"


def test_a_reddit_source_with_credentials_builds_with_the_pollers_clock(engine: Engine, tmp_path: Path) -> None:
    """The start-up crash of issue 9: the poller set ``clock`` on a source whose clock is read-only."""
    clock = Clock(NOW)
    settings = parse_settings({"app": {"data_dir": str(tmp_path)}, "brands": [{"name": "Acme"}],
                               "sources": [{"name": "r", "platform": "reddit",
                                            "options": {"api_base_url": "http://127.0.0.1:9"}}]}, env={})
    poller = Poller(engine, settings, "node-1", clock=clock,
                    env={"REDDIT_CLIENT_ID": "id", "REDDIT_CLIENT_SECRET": "secret"})
    assert poller.unavailable == {}
    assert poller._sources["r"].clock is clock  # type: ignore[attr-defined]


def test_a_source_whose_options_config_cannot_check_is_disabled_saying_why(engine: Engine, tmp_path: Path) -> None:
    settings = parse_settings({"app": {"data_dir": str(tmp_path)}, "brands": [{"name": "Acme"}],
                               "sources": [{"name": "m", "platform": "mastodon"}]}, env={})
    poller = Poller(engine, settings, "node-1", clock=Clock(NOW), env={"MASTODON_ACCESS_TOKEN": "t"})
    assert "api_base_url" in poller.unavailable["m"]
    poller.tick()
    [state] = list_sources(engine)
    assert state.disabled_reason is not None and "api_base_url" in state.disabled_reason


def test_ingest_marks_a_post_created_and_deleted_within_one_batch(engine: Engine, tmp_path: Path) -> None:
    from monitor.pipeline import fetch_and_store
    from monitor.sources.registry import build_source
    from tests.fakes.bluesky import FakeBluesky

    with FakeBluesky() as fake:
        doomed = fake.add_post("jane.bsky.social", "acme lost my parcel", at=NOW - timedelta(seconds=2))
        fake.delete_post(doomed)
        settings = parse_settings({
            "brands": [{"name": "Acme", "keywords": ["acme"], "handles": {"bluesky": "acme.bsky.social"}}],
            "sources": [{"name": "sky", "platform": "bluesky", "options": {
                "api_base_url": fake.url, "jetstream_url": fake.jetstream.url, "timeout_seconds": 2,
                "stream_seconds": 0.5, "stream_idle_seconds": 0.1}}]}, env={})
        source = build_source(settings.sources[0], settings, {"BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"},
                              clock=Clock(NOW))
        report = fetch_and_store(engine, source, brand="Acme", source_id=None)
    assert report.new == 1 and report.deleted == 1
    assert _deleted_at(engine, doomed) is not None


def test_a_poisoned_deletion_cannot_fail_its_batch(engine: Engine) -> None:
    from monitor.poller import store_fetched
    from monitor.sources.base import Batch, ParsedAuthor, ParsedMention

    mention = ParsedMention(platform="bluesky", canonical_id="at://did:plc:a/app.bsky.feed.post/1", text="acme",
                            author=ParsedAuthor(handle="a"), created_at=NOW)
    batch = Batch(mentions=[mention], next_cursor=None,
                  deleted=["at://did:plc:\ud83d/app.bsky.feed.post/2", "at://did:plc:\x00/x", "x" * 600, ""])
    stored = store_fetched(engine, batch, platform="bluesky", brand="Acme", source_id=None, save_cursor=False)
    assert (stored.new, stored.deleted, stored.refused) == (1, 0, [])
