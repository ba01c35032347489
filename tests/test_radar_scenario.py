"""The bundled scenario end to end on a real database and a real SMTP server: an ordinary week, then a login
outage replayed minute by minute on a simulated clock (no sleeping), as the daemon's process tick sees it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from models.alerts import SpikeRecord, list_spikes, spike_alerts, spike_case_ids, spike_mention_ids
from models.db import make_engine, prepare
from monitor.demo.radar_week import OUTAGE_AT, OUTAGE_MINUTES
from monitor.health import Health
from monitor.radar.tick import radar_tick
from monitor.sources.replay import parse_timestamp
from responders.mailer import SmtpMailer
from tests.radar_support import ingest, radar_settings, scenario_records
from tests.resolution_fixtures import Inbox, running_smtp

RECIPIENTS = ("duty@acme.example", "comms@acme.example")


@dataclass
class Replay:
    engine: Engine
    inbox: Inbox
    after_week: list[SpikeRecord]
    mails_after_week: int
    opened_after: timedelta | None = None
    mails_at_open: int = 0
    mails_at_end: int = 0
    mails_after_restart: int = 0
    metrics_while_open: str = ""
    at_end: list[SpikeRecord] = field(default_factory=list)
    later: list[SpikeRecord] = field(default_factory=list)
    burst_ids: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    records = scenario_records()
    week = [r for r in records if parse_timestamp(r["created_at"]) < OUTAGE_AT]
    burst = [r for r in records if parse_timestamp(r["created_at"]) >= OUTAGE_AT]
    path: Path = tmp_path_factory.mktemp("radar") / "radar.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare(engine)
    with running_smtp() as (inbox, port):
        settings = radar_settings(smtp_port=port, recipients=RECIPIENTS)
        ingest(engine, settings, week)
        radar_tick(engine, settings, now=None, mailer=SmtpMailer(settings.smtp))  # the week, on its own clock
        result = Replay(engine, inbox, list_spikes(engine, include_closed=True), len(inbox.messages),
                        burst_ids={r["id"] for r in burst})
        minute = 0
        while minute < OUTAGE_MINUTES + 5:  # the daemon's tick, once a simulated minute
            minute += 1
            now = OUTAGE_AT + timedelta(minutes=minute)
            ingest(engine, settings, [r for r in burst if now - timedelta(minutes=1)
                                      <= parse_timestamp(r["created_at"]) < now])
            radar_tick(engine, settings, now=now, mailer=SmtpMailer(settings.smtp))
            if result.opened_after is None and list_spikes(engine):
                result.opened_after = list_spikes(engine)[0].opened_at - OUTAGE_AT
                result.mails_at_open = len(inbox.messages)
                result.metrics_while_open = Health(engine, settings, scheduler_running=lambda: True).metrics_text()
        result.mails_at_end = len(inbox.messages)
        result.at_end = list_spikes(engine, include_closed=True)
        # A restart: a new process (its own engine, nothing in memory), a new mailer, the same database; then
        # hours pass with nothing new.
        restarted = make_engine(f"sqlite:///{path}")
        radar_tick(restarted, settings, now=now + timedelta(seconds=10), mailer=SmtpMailer(settings.smtp))
        result.mails_after_restart = len(inbox.messages)
        radar_tick(restarted, settings, now=OUTAGE_AT + timedelta(hours=3), mailer=SmtpMailer(settings.smtp))
        result.later = list_spikes(engine, include_closed=True)
        restarted.dispose()
        yield result
    engine.dispose()


def _messages(inbox: Inbox) -> list[EmailMessage]:
    return inbox.parsed()


def test_an_ordinary_week_raises_no_spike_and_mails_nothing(replay: Replay) -> None:
    assert replay.after_week == []
    assert replay.mails_after_week == 0


def test_the_outage_raises_one_spike_naming_it_within_ten_minutes(replay: Replay) -> None:
    assert replay.opened_after is not None and replay.opened_after <= timedelta(minutes=10)
    (spike,) = replay.at_end
    assert spike.state == "open" and spike.brand == "Acme"
    assert {"outage", "login"} & set(spike.topic), spike.topic
    assert OUTAGE_AT <= spike.started_at < OUTAGE_AT + timedelta(minutes=2)
    assert spike.mentions >= 120 and spike.authors >= 120
    assert spike.platforms == ["bluesky", "mastodon", "reddit", "x"]
    assert spike.rate_per_hour > 20 * max(1.0, spike.baseline_per_hour)


def test_the_spike_holds_the_outage_posts_and_their_cases_not_the_ordinary_ones(replay: Replay) -> None:
    from sqlalchemy import select

    from models.db import reading
    from models.tables import Mention

    (spike,) = replay.at_end
    held = set(spike_mention_ids(replay.engine, spike_id=spike.id))
    with reading(replay.engine) as connection:
        ids = {r.id: r.canonical_id for r in connection.execute(select(Mention.id, Mention.canonical_id))}  # type: ignore[call-overload]
    held_ids = {ids[m] for m in held}
    assert len(held_ids & replay.burst_ids) >= 0.95 * len(replay.burst_ids)
    assert held_ids <= replay.burst_ids, "no ordinary post of the same minutes is grouped with the outage"
    assert len(spike_case_ids(replay.engine, spike_id=spike.id)) >= 120


def test_each_alert_is_mailed_once_per_recipient_even_after_a_restart(replay: Replay) -> None:
    (spike,) = replay.at_end
    assert replay.mails_at_open >= len(RECIPIENTS)
    assert replay.mails_after_restart == replay.mails_at_end
    sent = [(a.level, a.recipient) for a in spike_alerts(replay.engine, spike_ids=[spike.id])]
    assert len(sent) == len(set(sent)) == replay.mails_at_end
    subjects = [m["Subject"] for m in _messages(replay.inbox)]
    opened = [s for s in subjects if s.startswith("[closeloop] Spike: Acme")]
    assert len(opened) == len(RECIPIENTS)
    assert sorted(m["To"] for m in _messages(replay.inbox) if m["Subject"] in opened) == sorted(RECIPIENTS)
    levels = sorted({level for level, _ in sent})
    assert levels == list(range(len(levels))) and len(levels) >= 2, "an update as the spike grew"
    assert all(s.startswith("[closeloop] Spike growing (update ") for s in subjects if s not in opened)


def test_the_alert_says_what_a_duty_manager_needs(replay: Replay) -> None:
    message = next(m for m in _messages(replay.inbox) if m["Subject"].startswith("[closeloop] Spike: Acme"))
    text_part, html_part = message.get_payload()  # type: ignore[misc]
    text = text_part.get_content()
    for needed in ("Spike #1 for Acme", "began 2026-11-16", "distinct authors so far", "rate ",
                   "usual for these topics at this hour", "platforms: ", "top posts by reach"):
        assert needed in text
    html = html_part.get_content()
    assert "Top posts by reach" in html and "Usual rate" in html and "Acme" in html


def test_open_spikes_show_on_metrics(replay: Replay) -> None:
    assert 'closeloop_spikes_open{brand="Acme"} 1' in replay.metrics_while_open


def test_the_spike_closes_once_the_outage_has_subsided(replay: Replay) -> None:
    (spike,) = replay.later
    assert spike.state == "closed"
    assert spike.ended_at is not None and spike.closed_at is not None
    last_post = OUTAGE_AT + timedelta(minutes=OUTAGE_MINUTES)
    assert OUTAGE_AT + timedelta(minutes=10) < spike.ended_at <= last_post + timedelta(minutes=15)
    assert spike.closed_at == spike.ended_at + timedelta(minutes=30)
    assert isinstance(spike.opened_at, datetime)
