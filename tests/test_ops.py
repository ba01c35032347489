"""Operating closeloop: the request budget, singletons, health and metrics, logs without secrets, backups
and checks."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from models.budget import request_budget_usage, take_request_budget
from models.db import make_engine, prepare
from models.locks import singleton
from models.sources import ConfiguredSource, sync_sources
from models.tables import Mention, Source
from monitor.config import parse_settings
from monitor.health import Health, HealthServer
from monitor.instruments import Metrics
from monitor.logs import REDACT, configure_logging, event_fields
from tests.fakes.x import BRAND_ID, seeded
from tests.web_support import add_users, client, fill, lexicon_settings, login, standard_posts

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CANARY_NAMES = ("X_BEARER_TOKEN", "X_CONSUMER_SECRET", "REDDIT_PASSWORD", "MASTODON_ACCESS_TOKEN",
                "BLUESKY_APP_PASSWORD", "CLOSELOOP_SMTP_PASSWORD")


# --- the request budget -------------------------------------------------------------------------------------

def test_the_budget_grants_exactly_its_limit_to_concurrent_takers_then_a_new_window(engine: Engine) -> None:
    window = timedelta(minutes=15)
    granted: Counter[bool] = Counter()
    lock = threading.Lock()

    def take() -> None:
        for _ in range(25):
            ok = take_request_budget(engine, key="x:cred", now=NOW, window=window, limit=30)
            with lock:
                granted[ok] += 1

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted == Counter({True: 30, False: 70}), "never more than the limit, and all of it used"
    assert not take_request_budget(engine, key="x:cred", now=NOW + window - timedelta(seconds=1), window=window,
                                   limit=30)
    assert take_request_budget(engine, key="x:cred", now=NOW + window, window=window, limit=30), "a new window"
    start, used, limit = request_budget_usage(engine)["x:cred"]
    assert (start, used, limit) == (NOW + window, 1, 30)
    assert take_request_budget(engine, key="other", now=NOW, window=window, limit=1), "budgets are per credential"


def test_a_spent_budget_puts_the_source_off_to_the_window_end_without_an_error(engine: Engine, tmp_path: Path) -> None:
    from models.sources import list_sources
    from monitor.daemon import Poller

    lines = "".join(json.dumps({"platform": "x", "id": str(n), "text": "@acme hi", "created_at": "2026-11-20T11:00:00Z",
                                "author": {"handle": "u"}}) + "\n" for n in range(3))
    (tmp_path / "a.jsonl").write_text(lines, "utf-8")
    settings = parse_settings({"app": {"data_dir": str(tmp_path)}, "sources": [
        {"name": "a", "platform": "replay", "path": "a.jsonl",
         "options": {"requests_per_window": 1, "window_seconds": 600}}]}, env={})
    from monitor.sources.registry import credential_key

    key = credential_key(settings.sources[0])
    assert take_request_budget(engine, key=key, now=NOW, window=timedelta(seconds=600), limit=1)
    metrics = Metrics()
    poller = Poller(engine, settings, "node-1", env={}, clock=lambda: NOW + timedelta(seconds=5), metrics=metrics)
    assert poller.tick() == 0
    [state] = list_sources(engine)
    assert state.next_poll_at == NOW + timedelta(seconds=600) and state.error_count == 0
    assert metrics.value("closeloop_budget_waits_total", {"source": "a"}) == 1


# --- singletons ---------------------------------------------------------------------------------------------

def test_a_singleton_is_held_by_one_holder_at_a_time_on_postgresql(postgres_engine: Engine) -> None:
    with (singleton(postgres_engine, "digest") as first, singleton(postgres_engine, "digest") as second,
          singleton(postgres_engine, "sweep") as other):
        assert (first, second, other) == (True, False, True)
    with singleton(postgres_engine, "digest") as again:
        assert again, "released when the block ends"


def test_a_singleton_is_always_granted_on_sqlite(sqlite_engine: Engine) -> None:
    with singleton(sqlite_engine, "digest") as first, singleton(sqlite_engine, "digest") as second:
        assert first and second


# --- health and metrics -------------------------------------------------------------------------------------

def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_healthz_readyz_and_metrics_over_http(engine: Engine, tmp_path: Path) -> None:
    settings = lexicon_settings()
    settings = settings.model_copy(update={"sources": (
        *settings.sources, parse_settings({"sources": [{"name": "late", "platform": "replay", "path": "x.jsonl",
                                                         "interval_seconds": 60}]}, env={}).sources[0])})
    fill(engine, settings, standard_posts(NOW), tmp_path / "p.jsonl", now=NOW)
    running = {"scheduler": False}
    metrics = Metrics()
    metrics.inc("closeloop_mentions_ingested_total", {"source": 'a"b'}, 3)
    metrics.observe("closeloop_scorer_latency_seconds", 0.02)
    clock = {"now": NOW + timedelta(hours=2)}
    health = Health(engine, settings, scheduler_running=lambda: running["scheduler"], metrics=metrics,
                    clock=lambda: clock["now"])
    server = HealthServer(health, "127.0.0.1", 0)
    server.start()
    host, port = server.address
    base = f"http://{host}:{port}"
    try:
        assert _get(base + "/healthz") == (200, json.dumps({"status": "ok", "database": "reachable"}))
        status, body = _get(base + "/readyz")
        assert status == 503 and json.loads(body)["scheduler"] == "not running"
        running["scheduler"] = True
        assert _get(base + "/readyz")[0] == 200
        sync_sources(engine, configured=[ConfiguredSource("late", "replay", "Acme", True)])
        with engine.begin() as connection:
            connection.execute(Source.__table__.update().values(next_poll_at=clock["now"] - timedelta(minutes=4)))  # type: ignore[attr-defined]
        status, body = _get(base + "/readyz")
        assert status == 503 and json.loads(body)["stuck_sources"] == ["late"], "overdue by more than 3 intervals"
        status, page = _get(base + "/metrics")
        assert status == 200
        samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                   for line in page.splitlines() if line and not line.startswith("#")}
        assert samples['closeloop_mentions_ingested_total{source="a\\"b"}'] == 3
        assert samples['closeloop_scorer_latency_seconds_bucket{le="0.025"}'] == 1
        assert samples["closeloop_scorer_latency_seconds_count"] == 1
        assert samples["closeloop_queue_depth"] == 3, "three complaints, none answered"
        assert samples["closeloop_sla_breaches"] == 3, "two hours later all are past their 60-minute deadline"
        # The clock starts at the post: the oldest complaint was written 50 minutes before it was ingested.
        assert samples["closeloop_oldest_unanswered_seconds"] == (2 * 60 + 50) * 60
        assert samples["closeloop_replies_sent_total"] == 0 and samples["closeloop_database_up"] == 1
        assert "# TYPE closeloop_scorer_latency_seconds histogram" in page
        assert samples["process_resident_memory_bytes"] > 0 and "python_info" in page, "the process collectors"
        assert not any(name.endswith("_created") for name in samples), "no *_created series"
        with urllib.request.urlopen(urllib.request.Request(
                base + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}), timeout=5) as r:
            assert r.headers["Content-Type"].startswith("application/openmetrics-text")
            assert r.read().decode().rstrip().endswith("# EOF")
        assert _get(base + "/nope")[0] == 404
    finally:
        server.stop()


def test_healthz_says_when_the_database_is_unreachable(tmp_path: Path) -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    health = Health(engine, lexicon_settings(), scheduler_running=lambda: True, metrics=Metrics())
    status, body = health.healthz()
    assert status == 503 and "OperationalError" in str(body["database"])
    assert "closeloop_database_up 0.0" in health.metrics_text()


# --- logs ---------------------------------------------------------------------------------------------------

def test_json_logs_are_one_event_per_line_with_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_API_KEY", "sk-very-secret-value")
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        log = logging.getLogger("closeloop.test")
        log.info("source_polled source=%s fetched=%d error=%r", "acme x", 12, "it's sk-very-secret-value")
        log.info("job_done", extra={"job": "poll", "took": 0.5})
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            log.exception("job_failed job=%s", "poll")
        # The scorer's fallback line: free text after the fields mentions other models.
        log.warning("scorer_fallback model=%s backend=lexicon reason=%r: marked model=lexicon:vader instead",
                    "cardiffnlp/twitter-xlm-roberta-base-sentiment", "offline model=evil")
        # Other libraries' lines are not events: their first word is not an event name.
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
        logging.getLogger("uvicorn.error").info("Will watch for changes")
    finally:
        configure_logging("WARNING")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6, "one line per event, tracebacks included"
    first, second, third, fallback, alembic, uvicorn = (json.loads(line) for line in lines)
    assert (first["event"], first["source"], first["fetched"], first["level"]) == ("source_polled", "acme x", 12, "INFO")
    assert "sk-very-secret-value" not in stream.getvalue() and first["error"] == "it's ***"
    assert (second["event"], second["job"], second["took"]) == ("job_done", "poll", 0.5)
    assert third["event"] == "job_failed" and "RuntimeError: boom" in third["exc"]
    assert (fallback["model"], fallback["backend"], fallback["reason"]) == (
        "cardiffnlp/twitter-xlm-roberta-base-sentiment", "lexicon", "offline model=evil")
    assert (alembic["event"], alembic["logger"], alembic["msg"]) == ("log", "alembic.runtime.migration",
                                                                     "Context impl SQLiteImpl.")
    assert (uvicorn["event"], uvicorn["msg"]) == ("log", "Will watch for changes")
    assert event_fields("x a=%s d=%d f=1 g=%r, then text h=2", ("b c", 5, "q")) == (
        "x", {"a": "b c", "d": 5, "f": "1", "g": "q"})


def test_the_scheduler_does_not_flood_the_log_with_expected_skips() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    try:
        scheduler = logging.getLogger("apscheduler.scheduler")
        scheduler.warning('Execution of job "poll" skipped: maximum number of running instances reached (1)')
        logging.getLogger("apscheduler.executors.default").info('Running job "poll"')
        scheduler.error("Job raised an exception")
    finally:
        configure_logging("WARNING")
    assert stream.getvalue().count("\n") == 1 and "Job raised an exception" in stream.getvalue()


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    planted = {name: f"canary-{name.lower()}-{uuid.uuid4().hex[:12]}" for name in CANARY_NAMES}
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    REDACT.watch(env=os.environ)
    yield planted
    monkeypatch.undo()
    REDACT.watch(env=os.environ)


def _leaks(canaries: dict[str, str], *outputs: str) -> list[str]:
    return [name for name, value in canaries.items() for out in outputs if value in out]


def test_no_secret_reaches_a_log_a_page_or_an_email(canaries: dict[str, str], sqlite_engine: Engine,
                                                    tmp_path: Path) -> None:
    outputs: list[str] = []
    # In-process: an exception whose message holds a token, logged both ways.
    for fmt in ("text", "json"):
        stream = io.StringIO()
        configure_logging("DEBUG", fmt, stream=stream)
        try:
            raise PermissionError(f"401 Unauthorized for Bearer {canaries['X_BEARER_TOKEN']} "
                                  f"and {canaries['MASTODON_ACCESS_TOKEN']}")
        except PermissionError:
            logging.getLogger("closeloop.test").exception("source_crashed source=x")
        configure_logging("WARNING")
        outputs.append(stream.getvalue())
        assert "401 Unauthorized for Bearer ***" in stream.getvalue()

    # The CLI and the daemon's steps in a subprocess: a 401 from the fake X (the bearer is refused), a replay
    # source whose file name holds a token (its error is stored and shown), check, backup, config.
    database = tmp_path / "c.db"
    with seeded(NOW) as fake:
        config = tmp_path / "c.toml"
        config.write_text(
            '[scoring]\nbackend = "lexicon"\n[daemon]\nhealth_port = 0\n'
            '[[sources]]\nname = "acme-x"\nplatform = "x"\n'
            f'[sources.options]\napi_base_url = "{fake.url}"\nuser_id = "{BRAND_ID}"\ntimeout = 5\n'
            f'[[sources]]\nname = "leaky"\nplatform = "replay"\npath = "{canaries["REDDIT_PASSWORD"]}.jsonl"\n',
            "utf-8")
        env = {**os.environ, "CLOSELOOP_DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(REPO)}
        for args in (["--log-format", "json", "--log-level", "DEBUG", "run", "--once", "--roles", "poll,score,post"],
                     ["--log-level", "DEBUG", "run", "--once", "--roles", "poll"],
                     ["check"], ["backup", str(tmp_path / "b.db")], ["config"], ["sources"]):
            done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config), *args], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (args, done.stderr)
            outputs += [done.stdout, done.stderr]
    assert any("source_failed" in out or "401" in out for out in outputs), "the failure was logged"
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        errors = [row for row in connection.execute(select(Source.name, Source.disabled_reason, Source.last_error))]  # type: ignore[call-overload]
    assert any("***" in (row.disabled_reason or "") for row in errors), errors
    outputs += [str(errors)]

    # The console's pages, over the database the daemon wrote and one filled with cases.
    settings = lexicon_settings()
    prepare(engine)
    fill(engine, settings, standard_posts(NOW), tmp_path / "p.jsonl", now=NOW)
    add_users(engine)
    web = client(engine, settings)
    login(web, "admin")
    for path in ("/", "/queue/list", "/api/queue", "/sources", "/audit", "/users", "/cases/1"):
        response = web.get(path)
        assert response.status_code == 200, path
        outputs.append(response.text)

    # The digest email, text and HTML.
    from responders.digest import build_digest, preview_html, render_text

    digest = build_digest(engine, settings, week="2026-W47", now=NOW + timedelta(days=4))
    outputs += [preview_html(digest), render_text(digest)]
    assert _leaks(canaries, *outputs) == [], [o[max(0, o.find(v) - 300):o.find(v) + 50] for v in canaries.values() for o in outputs if v in o]


# --- backup and check ---------------------------------------------------------------------------------------

def test_a_backup_during_concurrent_inserts_is_consistent_and_passes_integrity(tmp_path: Path) -> None:
    from models.maintenance import backup

    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    prepare(engine)
    sync_sources(engine, configured=[ConfiguredSource("s", "replay", "Acme", True)])
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        n = 0
        while not stop.is_set():
            with engine.begin() as connection:  # each transaction: a source and its audit of two rows
                connection.execute(text("INSERT INTO source (name, platform, brand, enabled, error_count) "
                                        "VALUES (:a, 'replay', 'Acme', 1, 0), (:b, 'replay', 'Acme', 1, 0)"),
                                   {"a": f"w{n}a", "b": f"w{n}b"})
            n += 1
            written[0] = n

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:
            pass
        reports = [backup(engine, tmp_path / f"copy{k}.db") for k in range(3)]
    finally:
        stop.set()
        thread.join()
    for report in reports:
        copy = sqlite3.connect(report.path)
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [row[0] for row in copy.execute("SELECT name FROM source WHERE name LIKE 'w%'")]
        copy.close()
        assert len(names) % 2 == 0 and len(names) >= 100, "whole transactions only"
        assert not list(report.path.parent.glob(".*.partial"))
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Source)).scalar_one()
    assert total == 1 + 2 * written[0]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], env={**os.environ, **env,
                          "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)


def test_check_passes_a_good_database_and_names_the_fix_for_a_bad_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    prepare(engine)
    with engine.begin() as connection:
        connection.execute(Mention.__table__.delete())  # type: ignore[attr-defined]
    good = _cli("check", "--full", env={"CLOSELOOP_DATABASE_URL": url})
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok   journal_mode wal" in good.stdout and "ok   synchronous FULL" in good.stdout
    assert "ok   schema at head" in good.stdout
    from models.db import upgrade

    engine.dispose()
    behind_url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(make_engine(behind_url), "0003")
    behind = _cli("check", env={"CLOSELOOP_DATABASE_URL": behind_url})
    assert behind.returncode == 1 and "closeloop db upgrade" in behind.stdout
    refused = _cli("run", "--once", env={"CLOSELOOP_DATABASE_URL": behind_url})
    assert refused.returncode == 3 and "closeloop db upgrade" in refused.stderr
    copy = _cli("backup", str(tmp_path / "b.db"), env={"CLOSELOOP_DATABASE_URL": url})
    assert copy.returncode == 0 and "integrity_check ok" in copy.stdout


def test_backup_on_postgresql_gives_pg_dump_advice(postgres_url: str, tmp_path: Path) -> None:
    done = _cli("backup", str(tmp_path / "b.db"), env={"CLOSELOOP_DATABASE_URL": postgres_url})
    assert done.returncode == 2 and "pg_dump --format=custom" in done.stderr
    checked = _cli("check", env={"CLOSELOOP_DATABASE_URL": postgres_url})
    assert checked.returncode == 0 and "schema at head" in checked.stdout
