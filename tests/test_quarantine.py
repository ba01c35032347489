"""One poisoned post stops only itself: real poisoned rows on SQLite and PostgreSQL are quarantined with their
stage and error, never retried in a batch, and later batches still open cases for everyone else. The
quarantine shows in the console, `closeloop check` and /metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from models.db import make_engine, prepare
from models.mentions import ParsedAuthor, ParsedMention, store_batch
from models.quarantine import quarantine_counts, quarantine_mention, quarantined_mentions
from models.queue import open_queue
from models.tables import CASE, DRAFT, MENTION, SENTIMENT
from monitor.config import Brand, Settings
from monitor.health import Health
from monitor.instruments import Metrics
from monitor.pipeline import draft_pending, isolate, process_pending, score_pending, triage_pending
from monitor.scoring import build_scorer
from monitor.scoring.base import Sentiment
from monitor.scoring.lexicon import LexiconScorer
from tests.test_cli import closeloop
from tests.web_support import add_users, client, fill, lexicon_settings, login, post

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings() -> Settings:
    return lexicon_settings()


def mention(pid: str, text: str, *, at: datetime | None, handle: str = "jane_doe") -> ParsedMention:
    return ParsedMention(platform="x", canonical_id=pid, platform_id=pid, text=text, created_at=at,
                         author=ParsedAuthor(handle=handle, id=f"u-{handle}", name=handle.title()),
                         conversation_id=pid)


POISON = [  # the dates no deadline or repeat window can be computed from (OverflowError in triage)
    mention("p1", "@acme my order never arrived, terrible service", at=datetime(1, 1, 1, tzinfo=UTC), handle="old"),
    mention("p2", "@acme my refund never came, awful", at=datetime(9999, 12, 31, 23, 30, tzinfo=UTC), handle="late"),
]
GOOD = [
    mention("g1", "@acme my parcel is lost and nobody answers, terrible", at=NOW - timedelta(minutes=30)),
    mention("g2", "@acme charged twice for one order, awful", at=NOW - timedelta(minutes=20), handle="sam"),
]


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


# --- isolate: which items fail alone, from a table -------------------------------------------------------

@pytest.mark.parametrize(("size", "poisoned"), [(1, {0}), (8, {3}), (8, {0, 7}), (7, {2, 3, 4}), (5, set())],
                         ids=["alone", "one-in-eight", "both-ends", "a-run", "none"])
def test_isolate_splits_a_failing_batch_until_the_culprits_stand_alone(size: int, poisoned: set[int]) -> None:
    done: list[int] = []

    def attempt(group: Sequence[int]) -> None:
        if poisoned & set(group):
            raise ValueError(f"poison in {list(group)}")
        done.extend(group)

    failed = isolate(list(range(size)), attempt)
    assert sorted(item for item, _exc in failed) == sorted(poisoned)
    assert sorted(done) == sorted(set(range(size)) - poisoned), "every other item done exactly once"


def test_isolate_blames_the_stage_not_the_posts_when_everything_fails_or_the_database_is_down() -> None:
    def broken(group: Sequence[int]) -> None:
        raise ValueError("the model file is corrupt")

    with pytest.raises(ValueError, match="corrupt"):
        isolate([1, 2, 3], broken)

    def unreachable(group: Sequence[int]) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        isolate([1, 2, 3], unreachable)


# --- real poisoned rows -----------------------------------------------------------------------------------

def test_posts_dated_year_1_and_9999_are_quarantined_and_later_batches_still_open_cases(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    store_batch(engine, mentions=[*POISON, *GOOD], brand="Acme", source_id=None, now=NOW)
    report = process_pending(engine, settings, build_scorer(settings.scoring), now=NOW)
    assert (report.cases_opened, report.quarantined) == (2, 2)
    assert quarantine_counts(engine) == {"score": 0, "triage": 2, "draft": 0, "track": 0}
    rows = {q.canonical_id: q for q in quarantined_mentions(engine)}
    assert set(rows) == {"p1", "p2"} and {q.stage for q in rows.values()} == {"triage"}
    assert all(q.error.startswith("OverflowError") for q in rows.values()), rows
    assert sorted(row.author_handle for row in open_queue(engine)) == ["jane_doe", "sam"]

    again = process_pending(engine, settings, build_scorer(settings.scoring), now=NOW)
    assert (again.cases_opened, again.quarantined) == (0, 0), "never retried as part of a batch"
    assert {q.canonical_id: q.quarantined_at for q in quarantined_mentions(engine)} == \
        {k: q.quarantined_at for k, q in rows.items()}

    fill(engine, settings, [post("300", "@acme the app crashes every time, awful", now=NOW, handle="mia")],
         tmp_path / "later.jsonl", now=NOW)
    assert sorted(row.author_handle for row in open_queue(engine)) == ["jane_doe", "mia", "sam"]
    assert count(engine, DRAFT) == 3, "everyone else's case is drafted"


def test_a_case_whose_drafting_fails_keeps_its_place_in_the_queue_and_the_others_are_drafted(
        engine: Engine, settings: Settings) -> None:
    two_brands = settings.model_copy(update={"brands": (*settings.brands, Brand(name="Gone"))})
    store_batch(engine, mentions=GOOD[:1], brand="Acme", source_id=None, now=NOW)
    store_batch(engine, mentions=GOOD[1:], brand="Gone", source_id=None, now=NOW)
    scorer = build_scorer(settings.scoring)
    while score_pending(engine, scorer):
        pass
    assert triage_pending(engine, two_brands, now=NOW)[2] == 2
    # The brand leaves the config while its case waits for a draft.
    assert draft_pending(engine, settings) == 1
    [quarantined] = quarantined_mentions(engine)
    assert (quarantined.canonical_id, quarantined.stage, quarantined.error) == ("g2", "draft", "KeyError: 'Gone'")
    assert draft_pending(engine, settings) == 0
    queue = {row.author_handle: row for row in open_queue(engine)}
    assert queue["sam"].draft_id is None and queue["jane_doe"].draft_id is not None, "still before a person"


class ChokingScorer:
    """The lexicon scorer standing in for a model that raises on one kind of input (every batch holding it)."""

    model_name = "lexicon"

    def __init__(self, poison: str) -> None:
        self.poison, self.lexicon, self.batches = poison, LexiconScorer(), 0

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        self.batches += 1
        if any(self.poison in text for text in texts):
            raise ValueError("the model cannot read this text")
        return self.lexicon.score(texts, languages)


def test_a_post_the_scorer_chokes_on_is_quarantined_and_its_batch_is_scored(engine: Engine) -> None:
    posts = [mention(f"s{n}", f"@acme order {n} is late, terrible", at=NOW, handle=f"c{n}") for n in range(8)]
    posts[5] = mention("s5", "@acme ☠ order 5", at=NOW, handle="c5")
    store_batch(engine, mentions=posts, brand="Acme", source_id=None, now=NOW)
    scorer = ChokingScorer("☠")
    assert sum(score_pending(engine, scorer).values()) == 7
    assert scorer.batches <= 1 + 2 * 3, "bisected, not retried one by one"
    assert [(q.canonical_id, q.stage) for q in quarantined_mentions(engine)] == [("s5", "score")]
    assert count(engine, SENTIMENT) == 7 and score_pending(engine, scorer) == {}


def test_a_scorer_that_fails_on_everything_quarantines_nothing(engine: Engine) -> None:
    store_batch(engine, mentions=[mention(f"s{n}", f"☠ {n}", at=NOW, handle=f"c{n}") for n in range(3)],
                brand="Acme", source_id=None, now=NOW)
    with pytest.raises(ValueError, match="cannot read"):
        score_pending(engine, ChokingScorer("☠"))
    assert quarantined_mentions(engine) == [] and count(engine, SENTIMENT) == 0


# --- where the quarantine shows ---------------------------------------------------------------------------

def test_the_console_lists_quarantined_posts_with_stage_and_error_escaped(engine: Engine, settings: Settings) -> None:
    store_batch(engine, mentions=[mention("x1", "<script>alert('post')</script> my order", at=NOW)], brand="Acme",
                source_id=None, now=NOW)
    with engine.connect() as connection:
        mention_id = connection.execute(select(MENTION.c.id)).scalar_one()
    assert quarantine_mention(engine, mention_id=mention_id, stage="triage", error="ValueError: <b>bad\x00</b>")
    assert not quarantine_mention(engine, mention_id=mention_id, stage="draft", error="again"), "quarantined once"
    add_users(engine, ("viewer",))
    c = client(engine, settings)
    login(c, "viewer")
    assert 'href="/quarantine"' in c.get("/").text, "linked from the navigation"
    page = c.get("/quarantine")
    assert page.status_code == 200
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert "ValueError: &lt;b&gt;bad\\x00&lt;/b&gt;" in page.text and "triage: <strong>1</strong>" in page.text


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_check_and_metrics_count_the_quarantine(database_url: str, settings: Settings, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    prepare(engine)
    store_batch(engine, mentions=[*POISON, *GOOD], brand="Acme", source_id=None, now=NOW)
    process_pending(engine, settings, build_scorer(settings.scoring), now=NOW)
    metrics = Health(engine, settings, scheduler_running=lambda: True, metrics=Metrics()).metrics_text()
    assert 'closeloop_mentions_quarantined{stage="triage"} 2' in metrics
    assert 'closeloop_mentions_quarantined{stage="score"} 0' in metrics
    engine.dispose()

    config = tmp_path / "config.toml"
    config.write_text((Path(__file__).parent.parent / "config.toml").read_text("utf-8"), "utf-8")
    check = closeloop("--config", str(config), "check", env={"CLOSELOOP_DATABASE_URL": database_url})
    assert check.returncode == 0, check.stdout + check.stderr
    assert "quarantined mentions: 2 (triage 2; see the console's Quarantine page)" in check.stdout


def test_cases_never_open_for_quarantined_mentions(engine: Engine, settings: Settings) -> None:
    store_batch(engine, mentions=POISON, brand="Acme", source_id=None, now=NOW)
    process_pending(engine, settings, build_scorer(settings.scoring), now=NOW)
    assert count(engine, CASE) == 0 and quarantine_counts(engine)["triage"] == 2
