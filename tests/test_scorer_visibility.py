"""Which scorer is live shows where an operator looks: /readyz (degraded on the fallback), /metrics
(closeloop_scorer_info) and `closeloop check` (tests/test_model_cli.py, tests/test_model_layout.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import monitor.scoring as scoring
from monitor.config import DEFAULT_MODEL, ScoringSettings
from monitor.health import Health
from monitor.instruments import Metrics
from monitor.scoring import build_scorer, describe
from responders.metrics import week_bounds
from tests.resolution_fixtures import lexicon_settings

CLOSELOOP = Path(sys.executable).parent / "closeloop"


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(scoring, "_fallback_warned", False)


def test_readyz_is_degraded_not_failed_on_the_fallback(sqlite_engine: Engine, empty_cache: None) -> None:
    fallback = build_scorer(ScoringSettings(backend="auto"))
    health = Health(sqlite_engine, lexicon_settings(), scheduler_running=lambda: True, metrics=Metrics(),
                    scorer=lambda: describe(fallback))

    status, body = health.readyz()

    assert status == 200 and body["status"] == "degraded"
    assert body["scorer"] == "offline closeloop-sentiment-1 on cpu"
    assert "closeloop model download" in str(body["fallback_reason"]) and DEFAULT_MODEL in str(body["fallback_reason"])


def test_readyz_names_the_scorer_it_asked_for(sqlite_engine: Engine) -> None:
    offline = build_scorer(ScoringSettings(backend="offline"))
    health = Health(sqlite_engine, lexicon_settings(), scheduler_running=lambda: True, metrics=Metrics(),
                    scorer=lambda: describe(offline))

    assert health.readyz() == (200, {"status": "ready", "scorer": "offline closeloop-sentiment-1 on cpu"})
    health_without = Health(sqlite_engine, lexicon_settings(), scheduler_running=lambda: False, metrics=Metrics(),
                            scorer=lambda: describe(offline))
    assert health_without.readyz()[0] == 503, "a stopped scheduler is still not ready, whatever the scorer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.slow
def test_the_daemon_on_the_fallback_is_degraded_and_says_so_on_metrics(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[scoring]\nbackend = "auto"\n\n[daemon]\nhealth_port = {port}\nprocess_tick_seconds = 0.5\n',
                      "utf-8")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'closeloop.db'}"}
    env.pop("PYTHONPATH", None)
    assert subprocess.run([str(CLOSELOOP), "--config", str(config), "db", "upgrade"], env=env, cwd=tmp_path,
                          capture_output=True, timeout=120).returncode == 0
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(CLOSELOOP), "--config", str(config), "run", "--roles", "score"], env=env,
                              cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # a hang guard; the loop ends as soon as the daemon answers
        status, body = 0, ""
        while time.monotonic() < deadline and daemon.poll() is None:
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                break
            time.sleep(0.2)  # polling an endpoint, not waiting for an event
        assert status == 200, (tmp_path / "daemon.log").read_text()
        ready = json.loads(body)
        assert ready["status"] == "degraded" and ready["scorer"] == "offline closeloop-sentiment-1 on cpu"
        _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert ('closeloop_scorer_info{backend="offline",device="cpu",model="closeloop-sentiment-1",revision=""} 1.0'
                in metrics.splitlines())
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()
    assert daemon.returncode == 0
    out = (tmp_path / "daemon.log").read_text()
    assert out.count("scorer_fallback") == 1, "one warning line"


def test_the_digest_footer_names_the_models_that_scored_the_week(sqlite_engine: Engine) -> None:
    from sqlalchemy import select, update

    from models.tables import Mention, Sentiment
    from responders.digest import build_digest, preview_html, render_text
    from tests.resolution_fixtures import NOW, WEEK, seed

    seed(sqlite_engine)
    start, end = week_bounds(WEEK, "UTC")
    with sqlite_engine.begin() as connection:
        ids = connection.execute(select(Mention.id).where(Mention.created_at >= start, Mention.created_at < end)  # type: ignore[arg-type]
                                 .order_by(Mention.id)).scalars().all()
        connection.execute(update(Sentiment).where(Sentiment.mention_id == ids[0])  # type: ignore[arg-type]
                           .values(model="cardiffnlp/twitter-xlm-roberta-base-sentiment@f3e34b6"))
        connection.execute(update(Sentiment).where(Sentiment.mention_id == ids[1])  # type: ignore[arg-type]
                           .values(label="unscored", model="none"))
    settings = lexicon_settings().model_copy(update={"app": lexicon_settings().app.model_copy(update={"timezone": "UTC"})})

    digest = build_digest(sqlite_engine, settings, week=WEEK, now=NOW)

    line = (f"Sentiment scored by: fixture ({len(ids) - 2} posts), "
            "cardiffnlp/twitter-xlm-roberta-base-sentiment@f3e34b6 (1 post)")
    assert line in render_text(digest).splitlines()
    assert line in preview_html(digest)
    empty = build_digest(sqlite_engine, settings, week="2020-W01", now=NOW)
    assert "Sentiment scored by: no posts scored this week" in render_text(empty)
