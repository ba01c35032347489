"""The installed `closeloop` command, offline: Finnish, Estonian, Hebrew and Korean posts get real scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from models.db import make_engine
from models.tables import Mention, Sentiment
from tests.test_pipeline import post, write

REPO = Path(__file__).resolve().parent.parent
CLOSELOOP = Path(sys.executable).parent / "closeloop"
MODEL = "offline:closeloop-sentiment-1"

POSTS = [
    post("200", "@acme tilaukseni ei ole vieläkään tullut, tämä on surkeaa palvelua ja olen todella vihainen",
         handle="aino", lang="fi"),
    post("201", "@acme kiitos paljon, asiakaspalvelunne on ihana!", handle="mikko", lang="fi"),
    post("202", "@acme ma vihkan seda, teie rakendus on täiesti kasutu", handle="kadri", lang="et"),
    post("203", "@acme ma armastan seda, see on imeline", handle="mari", lang="et"),
    post("204", "@acme זה השירות הגרוע ביותר שקיבלתי, אני כועס מאוד", handle="noa", lang="he"),
    post("205", "@acme תודה רבה, אתם מדהימים!", handle="dana", lang="he"),
    post("206", "@acme 최악의 서비스예요. 주문한 게 아직도 안 왔고 정말 화가 나요", handle="jiwoo", lang="ko"),
    post("207", "@acme 정말 감사합니다. 최고예요!", handle="minji", lang="ko"),
]
EXPECTED = {"200": "negative", "201": "positive", "202": "negative", "203": "positive",
            "204": "negative", "205": "positive", "206": "negative", "207": "positive"}


def closeloop(*args: str, tmp_path: Path, database: Path) -> subprocess.CompletedProcess[str]:
    """The console script the package installs, run as an operator runs it: no PYTHONPATH, no hub."""
    env = {**os.environ, "COLUMNS": "160", "CLOSELOOP_DATABASE_URL": f"sqlite:///{database}",
           "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(CLOSELOOP), *args], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def scores_by_id(database: Path) -> dict[str, tuple[str | None, str, str]]:
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(Mention.canonical_id, Mention.language, Sentiment.label, Sentiment.model)
            .join(Sentiment, Sentiment.mention_id == Mention.id)
        ).all()
    engine.dispose()
    return {pid: (language, label, model) for pid, language, label, model in rows}


def test_ingest_falls_back_to_the_offline_model_for_every_customer_language(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((REPO / "config.toml").read_text("utf-8"), "utf-8")  # backend = "auto", no model cached
    database = tmp_path / "closeloop.db"

    result = closeloop("--config", str(config), "ingest", str(write(tmp_path / "m.jsonl", POSTS)),
                       tmp_path=tmp_path, database=database)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("scorer_fallback") == 1, "the fallback is loud, once"
    assert f"fallback={MODEL}" in result.stderr
    assert f"8 by {MODEL}" in result.stdout
    scores = scores_by_id(database)
    assert {pid: label for pid, (_, label, _) in scores.items()} == EXPECTED
    assert {model for _, _, model in scores.values()} == {MODEL}
    assert "cases opened 4" in result.stdout, "the four complaints, not the four thanks"


def test_the_demo_runs_on_the_offline_model(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    demo = closeloop("demo", "--db", str(database), tmp_path=tmp_path, database=database)
    assert demo.returncode == 0, demo.stderr
    assert "scorer_fallback" not in demo.stderr

    scores = scores_by_id(database)
    languages = {language for language, _, _ in scores.values()}
    assert {"en", "da", "fi", "et", "he", "ko"} <= languages
    assert {model for _, _, model in scores.values()} == {MODEL}
    assert all(label in {"negative", "neutral", "positive"} for _, label, _ in scores.values())
    queue = closeloop("--config", str(REPO / "monitor" / "demo" / "demo.toml"), "queue", "--json",
                      tmp_path=tmp_path, database=database)
    items = json.loads(queue.stdout)
    assert {item["sentiment"]["model"] for item in items} == {MODEL}
    assert {"fi", "et", "he", "ko"} <= {item["language"] for item in items}
