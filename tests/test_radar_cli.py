"""The radar as an operator meets it: the installed `closeloop` run as a subprocess from a real config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.radar_support import REPO, SCENARIO
from tests.resolution_fixtures import Inbox, running_smtp

CLOSELOOP = Path(sys.executable).with_name("closeloop")  # the venv's installed command: .venv/bin/closeloop
FIELDS = {"kind", "brand", "topic", "started_at", "mentions", "authors", "baseline_per_hour", "rate_per_hour",
          "platforms", "sample"}


def closeloop(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLOSELOOP), *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "COLUMNS": "150", "HF_HOME": str(cwd / "hf"), **env})


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as server:
        yield server


def _config(tmp_path: Path, port: int) -> Path:
    text = (REPO / "config.toml").read_text("utf-8")
    text = text.replace('backend = "auto"', 'backend = "lexicon"').replace("port = 25\n", f"port = {port}\n")
    assert f"port = {port}" in text and 'recipients = ["duty-manager@acme.example"]' in text
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    return path


def test_ingesting_the_scenario_raises_one_alert_listed_as_json_and_mailed_once(tmp_path: Path,
                                                                                smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    config = _config(tmp_path, port)
    env = {"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'radar.db'}"}
    ingest = closeloop("--config", str(config), "ingest", str(SCENARIO), env=env, cwd=tmp_path)
    assert ingest.returncode == 0, ingest.stderr
    assert "new 1599" in ingest.stdout

    listed = closeloop("--config", str(config), "alerts", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (alert,) = json.loads(listed.stdout)
    assert set(alert) >= FIELDS
    assert alert["kind"] == "spike" and alert["brand"] == "Acme" and alert["state"] == "open"
    assert {"outage", "login"} & set(alert["topic"])
    assert alert["started_at"].startswith("2026-11-16T09:4")
    assert alert["mentions"] >= 120 and alert["authors"] >= 120
    assert alert["rate_per_hour"] > 10 * max(1.0, alert["baseline_per_hour"])
    assert set(alert["platforms"]) == {"x", "bluesky", "mastodon", "reddit"}
    assert len(alert["sample"]) == 3 and all(isinstance(s, str) and s for s in alert["sample"])
    assert alert["sample"][0].startswith("Reports of a login outage"), "widest reach first"

    assert [to for to, _raw in inbox.messages] == [["duty-manager@acme.example"]]
    assert inbox.parsed()[0]["Subject"].startswith("[closeloop] Spike: Acme")
    again = closeloop("--config", str(config), "ingest", str(SCENARIO), env=env, cwd=tmp_path)
    assert again.returncode == 0 and "new 0" in again.stdout
    assert len(inbox.messages) == 1, "mailed once, whatever runs again"

    text = closeloop("--config", str(config), "alerts", "--all", env=env, cwd=tmp_path)
    assert text.returncode == 0 and "Spike #1 for Acme" in text.stdout and "top posts by reach" in text.stdout


def test_alerts_on_a_calm_database_says_so(tmp_path: Path) -> None:
    env = {"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'calm.db'}"}
    config = _config(tmp_path, 2525)
    listed = closeloop("--config", str(config), "alerts", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    text = closeloop("--config", str(config), "alerts", env=env, cwd=tmp_path)
    assert text.returncode == 0 and "No open spikes" in text.stdout


def test_the_demo_shows_the_outage_alert(tmp_path: Path) -> None:
    demo = closeloop("demo", "--db", str(tmp_path / "demo.db"), env={}, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Crisis radar" in demo.stdout and "Spike #1 for Acme" in demo.stdout
    assert "Response queue:" in demo.stdout, "the demo's queue is still there"
    env = {"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'demo-radar.db'}"}
    listed = closeloop("--config", str(REPO / "monitor" / "demo" / "demo.toml"), "alerts", "--json", env=env,
                       cwd=tmp_path)
    (alert,) = json.loads(listed.stdout)
    assert alert["state"] == "open" and "outage" in alert["topic"]
