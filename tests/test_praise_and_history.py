"""Through the pipeline on a real database: praise never opens a case that needs an apology, and a draft uses
what the customer told us earlier (on any platform) instead of asking again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.history import customer_history
from models.tables import Case, Draft, Mention
from monitor.config import Settings, load_settings
from monitor.pipeline import earlier_contacts
from responders.style import check_style
from tests.test_pipeline import REPO, post, run, write


@pytest.fixture
def settings() -> Settings:
    base = load_settings(REPO / "config.toml", env={})
    return base.model_copy(update={"scoring": base.scoring.model_copy(update={"backend": "lexicon"})})


PRAISE = post("300", "@acme thank you, the new app is wonderful and the team was lovely", handle="happy",
              name="Happy Pal")
# Reads as praise to a person; a lexicon alone would hear "cracked" and "broke" (the issue's blender).
PRAISE_WITH_A_PROBLEM = post("301", "@acme replaced my cracked blender jar for free, 4 years after I bought it. "
                             "Amazing service, thank you!", handle="blender_fan", name="Kim Lee")


def rows(engine: Engine, *columns: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(*columns)))


def apologises(text: str, language: str) -> bool:
    issues = check_style(text, language=language, platform="x", signatures=[], needs_apology=True)
    return not any(i.code == "no_apology" for i in issues)


def with_praise(settings: Settings, mode: str) -> Settings:
    return settings.model_copy(update={"drafting": settings.drafting.model_copy(update={"praise": mode})})


def test_praise_gets_a_thank_you_in_the_praise_lane_never_an_apology(engine: Engine, settings: Settings,
                                                                      tmp_path: Path) -> None:
    report = run(engine, with_praise(settings, "thank"), write(tmp_path / "p.jsonl", [PRAISE, PRAISE_WITH_A_PROBLEM]))
    cases = rows(engine, Case.id, Case.lane, Case.state)  # type: ignore[arg-type]
    assert sorted(c.lane for c in cases) == ["praise", "praise"], cases
    assert report.cases_opened == 0 and report.praise == 2 and report.complaints == 0
    drafts = rows(engine, Draft.text, Draft.intent, Draft.language)  # type: ignore[arg-type]
    assert len(drafts) == 2
    for draft in drafts:
        assert draft.intent == "praise", draft
        assert not apologises(draft.text, draft.language), draft.text
    assert all(m.is_complaint is False for m in rows(engine, Mention.is_complaint))  # type: ignore[arg-type]


def test_praise_is_only_recorded_when_so_configured(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    report = run(engine, with_praise(settings, "record"), write(tmp_path / "p.jsonl", [PRAISE, PRAISE_WITH_A_PROBLEM]))
    assert rows(engine, Case.id) == [] and rows(engine, Draft.id) == []  # type: ignore[arg-type]
    assert report.praise == 2
    triaged = rows(engine, Mention.triaged_at, Mention.case_id)  # type: ignore[arg-type]
    assert len(triaged) == 2 and all(m.triaged_at is not None and m.case_id is None for m in triaged)


def test_a_praise_case_is_no_earlier_complaint(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    later = post("302", "@acme my order never arrived and nobody answers. I want a refund", handle="happy",
                 name="Happy Pal", minutes_ago=1)
    run(engine, with_praise(settings, "thank"), write(tmp_path / "p.jsonl", [PRAISE, later]))
    by_lane = {c.lane: c for c in rows(engine, Case.lane, Case.prior_complaints)}  # type: ignore[arg-type]
    assert by_lane["complaint"].prior_complaints == 0


FIRST = post("400", "@acme my package for order A-30318 never arrived", handle="mike_r", name="Mike R",
             minutes_ago=3 * 24 * 60, platform="reddit")
REPEAT = post("401", "@acme third time asking, package never arrived, do I need a chargeback?", handle="Mike_R",
              name="Mike R", minutes_ago=5)


def test_a_repeat_complaint_uses_the_order_number_given_earlier_on_another_platform(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    run(engine, settings, write(tmp_path / "h.jsonl", [FIRST, REPEAT]))
    cases = {c.root: c for c in rows(engine, Case.id, Case.root_mention_id.label("root"), Case.platform)}  # type: ignore[attr-defined]
    mentions = {m.platform_id: m.id for m in rows(engine, Mention.id, Mention.platform_id)}  # type: ignore[arg-type]
    assert len(cases) == 2, "a new post outside the first thread is a second case"
    second = cases[mentions["401"]]
    [draft] = [d for d in rows(engine, Draft.case_id, Draft.text) if d.case_id == second.id]  # type: ignore[arg-type]
    assert "#A-30318" in draft.text, draft.text
    assert "order number" not in draft.text.casefold() and " DM" not in draft.text, draft.text
    assert apologises(draft.text, "en")
    # The first complaint's own draft knew nothing earlier: it asks for what it needs.
    [first] = [d for d in rows(engine, Draft.case_id, Draft.text) if d.case_id != second.id]  # type: ignore[arg-type]
    assert first.text != draft.text


def test_history_leaves_out_the_case_itself_later_posts_and_strangers(engine: Engine, settings: Settings,
                                                                       tmp_path: Path) -> None:
    stranger = post("402", "@acme order 99999 never arrived", handle="someone_else", minutes_ago=60)
    after = post("403", "@acme sorted now, thanks", handle="mike_r", minutes_ago=1, conversation="401", reply_to="401")
    run(engine, settings, write(tmp_path / "h.jsonl", [FIRST, REPEAT, stranger, after]))
    ids = {m.platform_id: m for m in rows(engine, Mention.id, Mention.platform_id, Mention.author_id,  # type: ignore[arg-type]
                                          Mention.created_at, Mention.case_id)}
    repeat = ids["401"]
    history = customer_history(engine, author_id=repeat.author_id, handle="@MIKE_R", before=repeat.created_at,
                               mention_id=repeat.id, case_id=repeat.case_id)
    assert [h.text for h in history] == [FIRST["text"]]
    assert history[0].platform == "reddit" and history[0].case_state == "open"
    contacts = earlier_contacts(history, now=repeat.created_at)
    assert contacts[0].case_state == "open" and contacts[0].days_ago is not None and 2.9 < contacts[0].days_ago < 3.1
