"""The whole pipeline from a replay file to a ranked queue of drafts, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.tables import Case, Draft, Mention, Sentiment
from monitor.config import Settings, load_settings
from monitor.pipeline import IngestReport, fetch_and_store, process_pending
from monitor.scoring import build_scorer
from monitor.sources.replay import ReplaySource
from responders.queue import load_queue

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def post(pid: str, text: str, *, handle: str = "jane_doe", name: str | None = "Jane Doe", minutes_ago: int = 10,
         platform: str = "x", conversation: str | None = None, reply_to: str | None = None, followers: int = 120,
         **extra: Any) -> dict[str, Any]:
    return {
        "platform": platform, "id": pid, "text": text,
        "created_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        "author": {"id": f"u-{handle}", "handle": handle, "name": name, "followers": followers, "verified": False},
        "url": f"https://x.com/{handle}/status/{pid}", "conversation_id": conversation or pid,
        "in_reply_to_id": reply_to, **extra,
    }


POSTS = [
    post("100", "@acme my order never arrived and support ignores me. I want a refund!", minutes_ago=50),
    post("101", "@acme thank you, the new app is wonderful and the team was lovely", handle="happy", name="Happy Pal"),
    post("102", "@jane_doe sorry to hear that, we are on it", handle="acme", name="Acme"),
    post("103", "@acme tilaukseni ei ole tullut vieläkään perille, kolme viikkoa odotettu", handle="aino_k",
         name="Aino Korhonen", minutes_ago=30, followers=25000),
    post("104", "@acme still nothing, this is awful", minutes_ago=5, conversation="100", reply_to="100"),
    post("105", "@acme and now I was charged twice for the same order, terrible", minutes_ago=2),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(REPO / "config.toml", env={})
    return base.model_copy(update={"scoring": base.scoring.model_copy(update={"backend": "lexicon"})})


def write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), "utf-8")
    return path


def run(engine: Engine, settings: Settings, path: Path) -> IngestReport:
    report = fetch_and_store(engine, ReplaySource(name="t", path=path, batch_size=2), brand="Acme", source_id=None)
    return process_pending(engine, settings, build_scorer(settings.scoring), report=report, now=NOW)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def case_lanes(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return {r.id: r.lane for r in connection.execute(select(Case.id, Case.lane))}  # type: ignore[call-overload]


def test_a_replay_file_becomes_a_ranked_queue_of_personal_drafts(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    report = run(engine, settings, write(tmp_path / "m.jsonl", POSTS))
    assert (report.read, report.new, report.duplicates, report.bad) == (6, 6, 0, [])
    assert sum(report.scored_by.values()) == 6
    assert set(report.scored_by) <= {"lexicon:vader", "none"}

    lanes = case_lanes(engine)
    everything = load_queue(engine, settings, now=NOW)
    queue = [item for item in everything if lanes[item.row.case_id] == "complaint"]
    by_handle = {item.row.author_handle: item for item in queue}
    # Jane's first complaint and its follow-up are one case; her double charge is a second case.
    assert sorted(by_handle) == ["aino_k", "jane_doe"]
    assert len(queue) == 3 and report.cases_opened == 3
    assert "happy" not in by_handle and "acme" not in by_handle, "praise and our own posts open no complaint case"
    [thanks] = [item for item in everything if lanes[item.row.case_id] == "praise"]
    assert thanks.row.author_handle == "happy" and report.praise == 1, "praise gets a thank-you in the praise lane"

    first = next(i for i in queue if i.row.text.startswith("@acme my order"))
    assert "mentions refund" in first.urgency.reasons
    assert "10 min left" in first.urgency.reasons
    assert first.row.draft_text is not None and "Jane" in first.row.draft_text
    assert first.row.draft_language == "en"
    assert any(a.signature in first.row.draft_text for a in settings.agents if "en" in a.languages)

    second = next(i for i in queue if "charged twice" in i.row.text)
    assert "2nd complaint in 7 days" in second.urgency.reasons

    finnish = by_handle["aino_k"]
    assert finnish.row.label == "unscored" and finnish.row.model == "none", "nothing scores Finnish offline"
    assert finnish.row.language == "fi" and finnish.row.draft_language == "fi"
    assert "Aino" in (finnish.row.draft_text or "") and "– Aino, Acme care" in (finnish.row.draft_text or "")
    assert "unscored — needs a human look" in finnish.urgency.reasons

    scores = [item.urgency.score for item in queue]
    assert scores == sorted(scores, reverse=True)
    for item in queue:
        assert item.row.draft_issues == [], item.row.draft_issues


def test_re_ingesting_the_same_file_adds_nothing(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", POSTS)
    run(engine, settings, path)
    before = {table.__name__: count(engine, table) for table in (Mention, Sentiment, Case, Draft)}
    again = run(engine, settings, path)
    assert (again.new, again.duplicates, again.cases_opened, again.drafts) == (0, 6, 0, 0)
    assert {table.__name__: count(engine, table) for table in (Mention, Sentiment, Case, Draft)} == before


def test_a_file_with_broken_lines_ingests_the_good_ones_and_names_the_bad(engine: Engine, settings: Settings,
                                                                        tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [POSTS[0], "{broken", POSTS[1], json.dumps({"platform": "x"}), POSTS[3]])
    report = run(engine, settings, path)
    assert report.new == 3
    assert [(b.position, b.reason.split(" (")[0]) for b in report.bad] == [
        ("line 2", "not valid JSON"), ("line 4", "missing required field 'id'")]
    assert count(engine, Mention) == 3


def test_a_template_injection_is_quoted_literally(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    hostile = post("200", "@acme {{ 7*7 }} {% for x in range(3) %}boom{% endfor %} my refund never came",
                   handle="evil", name="{{ config }}")
    run(engine, settings, write(tmp_path / "m.jsonl", [hostile]))
    [item] = load_queue(engine, settings, now=NOW)
    assert item.row.draft_text is not None
    assert "49" not in item.row.draft_text and "boomboomboom" not in item.row.draft_text
    assert "{{ 7*7 }}" in item.row.draft_text or "{{" not in item.row.draft_text


def test_every_complaint_in_the_demo_gets_a_draft_in_its_language(engine: Engine, settings: Settings) -> None:
    run(engine, settings, REPO / "monitor" / "demo" / "demo.jsonl")
    queue = load_queue(engine, settings, now=NOW)
    assert len(queue) >= 15
    languages = {item.row.draft_language for item in queue}
    assert {"en", "da"} <= languages
    for item in queue:
        assert item.row.draft_text, f"case {item.row.case_id} has no draft"
        if item.row.language in {"en", "da", "fi", "et", "he", "ko"}:
            assert item.row.draft_language == item.row.language


def test_a_draft_is_never_recorded_twice_for_one_mention(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    from models.outbox import record_draft

    run(engine, settings, write(tmp_path / "m.jsonl", POSTS[:1]))
    with engine.connect() as connection:
        draft = connection.execute(select(Draft.case_id, Draft.mention_id)).one()  # type: ignore[call-overload]
    again = record_draft(engine, case_id=draft.case_id, mention_id=draft.mention_id, language="en", category="general",
                         text="x", quote="", agent="Maria", style_issues=[])
    assert again is False
    assert count(engine, Draft) == 1
