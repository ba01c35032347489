"""The `closeloop` command as a user runs it: a real subprocess, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_pipeline import POSTS, write

REPO = Path(__file__).resolve().parent.parent
LEXICON_CONFIG = (REPO / "config.toml").read_text("utf-8").replace('backend = "auto"', 'backend = "lexicon"')


def closeloop(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "120", "PYTHONPATH": str(REPO), **(env or {})}, cwd=cwd or REPO,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(LEXICON_CONFIG, "utf-8")
    return path


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_ingest_then_queue_json(config: Path, tmp_path: Path, database_url: str) -> None:
    env = {"CLOSELOOP_DATABASE_URL": database_url}
    data = write(tmp_path / "m.jsonl", [*POSTS[:2], "not json at all", *POSTS[2:]])
    ingest = closeloop("--config", str(config), "ingest", str(data), env=env)
    assert ingest.returncode == 4, "stored what it could, and says that a line was skipped"
    assert "read 7, new 6" in ingest.stdout and "bad lines 1" in ingest.stdout
    assert "skipped line 3: not valid JSON" in ingest.stdout
    assert "1 line(s) of" in ingest.stdout and "skipped: lines 3;" in ingest.stdout
    assert "cases opened 3" in ingest.stdout

    again = closeloop("--config", str(config), "ingest", str(data), env=env)
    assert "new 0" in again.stdout and "duplicates 6" in again.stdout and "cases opened 0" in again.stdout

    queue = closeloop("--config", str(config), "queue", "--json", env=env)
    assert queue.returncode == 0, queue.stderr
    items = json.loads(queue.stdout)
    assert len(items) == 4, "three complaint cases and a thank-you to the praise in the praise lane"
    [thanks] = [i for i in items if i["author_handle"] == "happy"]
    assert not any(w in thanks["draft"]["text"].casefold() for w in ("sorry", "apolog")), thanks["draft"]["text"]
    for item in items:
        assert {"case_id", "mention_id", "platform", "author_handle", "text", "language", "sentiment", "urgency",
                "deadline", "draft"} <= set(item)
        assert set(item["sentiment"]) == {"label", "score", "model"}
        assert item["urgency"]["reasons"] and isinstance(item["urgency"]["score"], float)
        assert {"text", "language", "style_issues"} <= set(item["draft"])
    assert [i["urgency"]["score"] for i in items] == sorted((i["urgency"]["score"] for i in items), reverse=True)


def test_a_bad_config_stops_with_the_key_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scoring]\nbatch_size = 0\n", "utf-8")
    result = closeloop("--config", str(bad), "queue")
    assert result.returncode == 2
    assert "scoring.batch_size" in result.stderr and "greater than 0" in result.stderr


def test_ingest_of_a_missing_file_says_so(config: Path, tmp_path: Path) -> None:
    result = closeloop("--config", str(config), "ingest", str(tmp_path / "nope.jsonl"),
                       env={"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert result.returncode == 2 and "no such file" in result.stderr


def test_a_long_file_shows_progress_and_still_ingests(config: Path, tmp_path: Path) -> None:
    many = [dict(POSTS[1], id=str(10_000 + n)) for n in range(2_500)]
    result = closeloop("--config", str(config), "ingest", str(write(tmp_path / "long.jsonl", many)),
                       env={"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert result.returncode == 0, result.stderr
    assert "new 2500" in result.stdout


def test_the_demo_prints_a_ranked_queue_of_drafts_in_several_languages(tmp_path: Path) -> None:
    result = closeloop("demo", "--db", str(tmp_path / "demo.db"), cwd=tmp_path, env={"HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Response queue:" in out and "urgency" in out
    assert "draft (en)" in out and "draft (da)" in out and "draft (ko)" in out and "draft (he)" in out
    assert "– Maria, Acme care" in out
    assert out.index("#1 ") < out.index("#2 ") < out.index("#3 ")
    # The demo runs on the bundled offline model (no download, no fallback warning); every score names it.
    assert "scorer_fallback" not in result.stderr
    assert "[offline:closeloop-sentiment-1]" in out and "[none]" not in out and "[lexicon:" not in out
