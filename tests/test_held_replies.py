"""Nothing waits silently: an approved reply the outbox cannot send is held with its reason, shown where the
approver looks (case page, queue card, `closeloop post`, /metrics, the digest), and sent once it can be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.db import make_engine, prepare
from models.mentions import ParsedAuthor, ParsedMention, mark_deleted, store_batch
from models.outbox import (
    OutboxError,
    approve_draft,
    draft_for_case,
    edit_draft,
    held_replies,
    reject_draft,
)
from models.queue import open_queue
from models.tables import DRAFT
from monitor.config import Settings, parse_settings
from monitor.health import Health
from monitor.instruments import Metrics
from monitor.pipeline import process_pending
from monitor.scoring import build_scorer
from responders.digest import build_digest, render_text
from responders.metrics import iso_week
from responders.outbox import Outbox
from responders.posters.registry import build_posters
from tests.test_cli import LEXICON_CONFIG, closeloop
from tests.test_scenarios import POST_ENV, _seed_cases, bare, config
from tests.web_support import add_users, client, fill, lexicon_settings, login, post

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def statuses(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(select(DRAFT.c.status, DRAFT.c.last_error).order_by(DRAFT.c.id))]  # type: ignore[misc]


def approve_all(engine: Engine, *, at: datetime) -> list[int]:
    with engine.connect() as connection:
        ids = list(connection.execute(select(DRAFT.c.id).where(DRAFT.c.status == "draft").order_by(DRAFT.c.id))
                   .scalars())
    for draft_id in ids:
        approve_draft(engine, draft_id=draft_id, approver="maria", now=at)
    return ids


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_reply_with_no_poster_is_held_and_said_everywhere_the_approver_looks(
        database_url: str, tmp_path: Path) -> None:
    settings = lexicon_settings()
    engine = make_engine(database_url)
    prepare(engine)
    now = datetime.now(UTC)
    fill(engine, settings, [post("100", "@acme my order never arrived, I want a refund", now=now, minutes_ago=20)],
         tmp_path / "p.jsonl", now=now)
    [draft_id] = approve_all(engine, at=now)
    [row] = open_queue(engine)

    config_path = tmp_path / "config.toml"
    config_path.write_text(LEXICON_CONFIG, "utf-8")
    sent = closeloop("--config", str(config_path), "post", env={"CLOSELOOP_DATABASE_URL": database_url})
    assert sent.returncode == 1, sent.stdout + sent.stderr
    held_line = f"held: reply draft {draft_id} of case {row.case_id} (Acme, x): no poster for x (brand Acme)"
    assert held_line in sent.stderr and "1 approved reply is held, not sent" in sent.stderr
    [(status, reason)] = statuses(engine)
    assert status == "held" and reason is not None and reason.startswith("no poster for x (brand Acme)")

    add_users(engine, ("approver",))
    desk = client(engine, settings)
    login(desk, "approver")
    assert "Held, not sent: no poster for x (brand Acme)" in desk.get(f"/cases/{row.case_id}").text
    assert "held, not sent: no poster for x (brand Acme)" in desk.get("/queue/list").text
    assert desk.get("/api/queue").json()["items"][0]["draft"]["error"] == reason

    metrics = Health(engine, settings, scheduler_running=lambda: True, metrics=Metrics()).metrics_text()
    assert 'closeloop_drafts{status="held"} 1' in metrics
    digest = render_text(build_digest(engine, settings, week=iso_week(now, settings.app.timezone), now=now))
    assert "Approved replies held now (cannot be sent; see `closeloop post`): 1" in digest

    again = closeloop("--config", str(config_path), "post", env={"CLOSELOOP_DATABASE_URL": database_url})
    assert again.returncode == 1 and again.stderr.count("held: ") == 1, "held once, reported each time"
    engine.dispose()


def test_a_held_reply_is_sent_once_a_poster_can_send_it(engine: Engine, tmp_path: Path) -> None:
    with bare(datetime.now(UTC)) as fake:
        settings = parse_settings(config(fake, tmp_path), env={})
        _seed_cases(engine, settings, fake, 3)
        assert Outbox(engine, {}, "node-1").send_approved() == 0, "no credentials: nothing can be sent"
        assert [s for s, _r in statuses(engine)] == ["held"] * 3
        assert len(held_replies(engine)) == 3 and fake.replies_by("acme") == []

        outbox = Outbox(engine, build_posters(settings, POST_ENV), "node-1")  # the next start, with credentials
        assert outbox.send_approved() == 3
        assert [s for s, _r in statuses(engine)] == ["sent"] * 3 and held_replies(engine) == []
        assert len(fake.replies_by("acme")) == 3


def _x_mention(pid: str, *, eligible: bool | None, reason: str | None = None) -> ParsedMention:
    return ParsedMention(platform="x", canonical_id=pid, platform_id=pid, text=f"@acme order {pid} lost, terrible",
                         author=ParsedAuthor(handle=f"c{pid}", id=f"u{pid}"), created_at=NOW - timedelta(minutes=5),
                         conversation_id=pid, reply_eligible=eligible, eligibility_reason=reason)


def test_a_post_that_takes_no_api_reply_or_was_deleted_is_held_even_with_a_poster(
        engine: Engine, tmp_path: Path) -> None:
    with bare(datetime.now(UTC)) as fake:
        settings = parse_settings(config(fake, tmp_path), env={})
        store_batch(engine, brand="Acme", source_id=None, now=NOW, mentions=[
            _x_mention("1", eligible=False, reason="X allows API replies only where the author mentioned @acme"),
            _x_mention("2", eligible=True)])
        process_pending(engine, settings, build_scorer(settings.scoring), now=NOW)
        approve_all(engine, at=NOW)
        mark_deleted(engine, platform="x", canonical_ids=["2"])
        outbox = Outbox(engine, build_posters(settings, POST_ENV), "node-1")
        assert outbox.send_approved() == 0
        assert statuses(engine) == [
            ("held", "x takes no API reply to this post (X allows API replies only where the author mentioned "
                     "@acme): reply by hand, then reject this draft"),
            ("held", "the post was deleted by its author: there is nothing to reply to; reject this reply")]
        assert outbox.send_approved() == 0 and fake.replies_by("acme") == []


def test_a_held_reply_can_be_edited_back_to_draft_or_rejected(engine: Engine, tmp_path: Path) -> None:
    settings: Settings = lexicon_settings()
    fill(engine, settings, [post("100", "@acme my order never arrived, terrible", now=NOW),
                            post("101", "@acme charged twice, awful", now=NOW, handle="sam")],
         tmp_path / "p.jsonl", now=NOW)
    first, second = approve_all(engine, at=NOW)
    Outbox(engine, {}, "node-1").send_approved()
    case_of_first = next(r.case_id for r in open_queue(engine) if r.draft_id == first)
    assert draft_for_case(engine, case_id=case_of_first) == first, "a held reply is the case's current draft"
    with pytest.raises(OutboxError, match="only a draft can be approved"):
        approve_draft(engine, draft_id=first, approver="maria", now=NOW)
    edit_draft(engine, draft_id=first, editor="maria", text="Hi Jane, we are on it. – Maria", style_issues=[], now=NOW)
    reject_draft(engine, draft_id=second, actor="maria", reason="answered by phone", now=NOW)
    assert [s for s, _r in statuses(engine)] == ["draft", "rejected"] and held_replies(engine) == []
