"""The console says when posts are scored by the fallback while the config asks for the transformer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from models.reports import newest_scorer
from models.types import utcnow
from monitor.config import Settings
from responders.web.scorer_banner import notice
from tests.web_support import add_users, client, fill, lexicon_settings, login, standard_posts

WANTED = "cardiffnlp/twitter-xlm-roberta-base-sentiment"


def _settings(backend: str) -> Settings:
    base = Settings()
    return base.model_copy(update={"scoring": base.scoring.model_copy(update={"backend": backend})})


@pytest.mark.parametrize(("backend", "used", "shown"), [
    ("auto", "offline:closeloop-sentiment-v1", True),
    ("transformers", "lexicon:vader", True),
    ("auto", f"{WANTED}@f3e34b6", False),
    ("auto", None, False),  # nothing scored yet: nothing to say
    ("offline", "offline:closeloop-sentiment-v1", False),  # the fallback is what the operator chose
    ("lexicon", "lexicon:vader", False),
])
def test_the_notice_names_a_fallback_only_when_the_transformer_was_wanted(backend: str, used: str | None,
                                                                         shown: bool) -> None:
    result = notice(_settings(backend), used)
    assert (result is not None) is shown
    if result is not None:
        assert result.used == used and result.wanted == WANTED


def test_the_console_shows_the_banner_on_every_page_while_the_fallback_scores(engine: Engine, tmp_path: Path) -> None:
    lexicon = lexicon_settings()
    assert newest_scorer(engine) is None
    fill(engine, lexicon, standard_posts(utcnow()), tmp_path / "posts.jsonl")  # scored by the lexicon
    add_users(engine)
    assert newest_scorer(engine) == "lexicon:vader"
    wants_transformer = lexicon.model_copy(update={"scoring": lexicon.scoring.model_copy(update={"backend": "auto"})})

    admin = client(engine, wants_transformer)
    login(admin, "admin")
    for path in ("/", "/sources", "/audit"):
        page = admin.get(path).text
        assert 'id="scorer-banner"' in page and "closeloop model download" in page, path
        assert "<code>lexicon:vader</code>" in page
    agent = client(engine, wants_transformer)
    login(agent, "agent")
    page = agent.get("/").text
    assert 'id="scorer-banner"' in page and "An admin can install it" in page
    assert "lexicon:vader" not in page, "agents see plain words, not model names"

    chosen = client(engine, lexicon)  # the operator chose the lexicon: nothing to warn about
    login(chosen, "admin")
    assert 'id="scorer-banner"' not in chosen.get("/").text
