"""The weekly digest's crisis radar section: the week's spikes and how long each lasted, mailed to aiosmtpd."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from models.alerts import list_spikes, spike
from models.radar import Progress, SpikeWrite, radar_writing
from responders.digest import build_digest, send_weekly_digest
from responders.digest_spikes import spike_rows
from responders.mailer import SmtpMailer
from tests.resolution_fixtures import NOW, WEEK, Inbox, running_smtp, seed
from tests.test_digest import digest_settings

MONDAY = datetime(2026, 11, 16, 9, 40, tzinfo=UTC)
EVIL_WORD = "<script>alert(1)</script>"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as server:
        yield server


def _spike(engine: Engine, *, topic: list[str], started: datetime, ended: datetime | None) -> int:
    """A spike as the radar's round stores it (opened a few minutes after it began)."""
    change = SpikeWrite(None, "Acme", f"*|t:{topic[0]}", [f"*|t:{topic[0]}"], started + timedelta(minutes=4), started,
                        ended or started + timedelta(minutes=30), 2.0, 140.0, 150.0, ended, ended)
    with radar_writing(engine, read=Progress(0, None), reached=Progress(0, None), now=started) as round_:
        spike_id = round_.record_spike(change=change, now=started)
        round_.name_spike(spike_id=spike_id, topic=topic)
    return spike_id


def test_the_digest_lists_the_weeks_spikes_with_how_long_each_lasted(engine: Engine,
                                                                     smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = digest_settings(port)
    seed(engine)
    _spike(engine, topic=["login", "outage", EVIL_WORD], started=MONDAY, ended=MONDAY + timedelta(minutes=95))
    _spike(engine, topic=["recall", "kettle"], started=MONDAY + timedelta(days=5), ended=None)
    _spike(engine, topic=["older"], started=MONDAY - timedelta(days=6), ended=MONDAY - timedelta(days=5))
    _spike(engine, topic=["later"], started=MONDAY + timedelta(days=7, hours=1), ended=None)

    digest = build_digest(engine, settings, week=WEEK, now=NOW)
    assert [(s.topic.split(",")[0], s.lasted) for s in digest.spikes] == [
        ("login", "1.6 h"), ("recall", "ongoing (3.0 days so far)")]

    assert send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=WEEK, now=NOW) == 2
    message = inbox.parsed()[0]
    text_part, related = message.get_payload()  # type: ignore[misc]
    text = text_part.get_content()
    section = text.split("Spikes (crisis radar) this week:")[1]
    assert "Acme: login, outage, <script>alert(1)</script> - began Mon 16 Nov 09:40, lasted 1.6 h" in section
    assert "Acme: recall, kettle - began Sat 21 Nov 09:40, lasted ongoing (3.0 days so far)" in section
    assert "older" not in section and "later" not in section
    html = related.get_payload()[0].get_content()
    assert EVIL_WORD not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "ongoing (3.0 days so far)" in html


def test_a_week_without_spikes_says_so(engine: Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = digest_settings(port)
    seed(engine)
    assert build_digest(engine, settings, week=WEEK, now=NOW).spikes == []
    send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=WEEK, now=NOW)
    text_part, related = inbox.parsed()[0].get_payload()  # type: ignore[misc]
    assert "Spikes (crisis radar) this week:\n  none" in text_part.get_content().replace("\r\n", "\n")
    assert "No spike this week." in related.get_payload()[0].get_content()


def test_a_spike_closed_without_an_end_lasted_until_it_was_closed(engine: Engine) -> None:
    spike_id = _spike(engine, topic=["x"], started=MONDAY, ended=None)
    (record,) = list_spikes(engine)
    assert spike(engine, spike_id=spike_id) == record
    closed = replace(record, state="closed", closed_at=MONDAY + timedelta(minutes=20))
    (row,) = spike_rows([closed], timezone="Europe/Copenhagen", now=NOW)
    assert (row.lasted, row.began, row.ongoing) == ("20 min", "Mon 16 Nov 10:40", False)
