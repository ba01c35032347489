"""The radar's storage on SQLite and PostgreSQL: counted once across daemons, waiting for triage, alert mails
claimed once, attacker-controlled text kept in its place."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from models.alerts import list_spikes, spike_alerts, spike_case_ids, spike_posts, spikes_of_cases
from models.db import make_engine
from models.radar import Progress, RoundLost, SpikeWrite, StoredPost, radar_writing
from models.tables import Mention, RadarProgress, RadarVolume
from monitor.radar.mail import send_spike_alerts
from monitor.radar.tick import radar_tick
from responders.mailer import MailError, SmtpMailer
from tests.radar_support import ingest, post, radar_settings
from tests.resolution_fixtures import Inbox, running_smtp

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
BURST = T0 + timedelta(hours=26)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as server:
        yield server


def _ordinary(count: int, *, serial: int = 0) -> list[dict]:
    texts = ("@acme my order is late again", "@acme love the new kettle", "@acme billing question about my invoice",
             "@acme when does the store open", "@acme support was quick today, thanks")
    return [post(serial + n, T0 + timedelta(minutes=30 * n), texts[n % len(texts)], author=f"regular{n % 20}")
            for n in range(count)]


def _burst(count: int, *, serial: int = 1_000, text: str = "@acme my kettle is in the recall and it is broken, refund?",
           start: datetime = BURST) -> list[dict]:
    return [post(serial + n, start + timedelta(seconds=20 * n), text, author=f"worried{serial + n}",
                 followers=10 * n) for n in range(count)]


def _volume(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.sum(RadarVolume.mentions), 0))  # type: ignore[arg-type]
                                      .where(RadarVolume.platform == "*")).scalar_one())


def test_every_mention_is_counted_once_however_many_daemons_tick(engine: Engine) -> None:
    settings = radar_settings()
    ingest(engine, settings, _ordinary(60))
    errors: list[BaseException] = []

    def tick(n: int) -> None:
        try:  # each its own engine, as each daemon has; radar_tick never raises, the test reports what did
            radar_tick(make_engine(engine.url.render_as_string(hide_password=False)), settings,
                       now=T0 + timedelta(days=1, seconds=n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert _volume(engine) == 60
    radar_tick(engine, settings, now=T0 + timedelta(days=1, minutes=5))
    assert _volume(engine) == 60, "a later tick finds nothing new"
    with engine.connect() as connection:
        cursor = connection.execute(select(RadarProgress.last_mention_id)).scalar_one()  # type: ignore[call-overload]
        newest = connection.execute(select(func.max(Mention.id))).scalar_one()  # type: ignore[arg-type]
    assert cursor == newest


def test_a_mention_waiting_for_triage_holds_the_cursor_until_it_is_triaged_or_given_up(engine: Engine) -> None:
    settings = radar_settings()
    ingest(engine, settings, _ordinary(3))
    from models.mentions import store_batch
    from monitor.sources.replay import parse_replay_record

    store_batch(engine, mentions=[parse_replay_record(r) for r in _ordinary(2, serial=100)], brand="Acme",
                source_id=None)  # stored, not yet scored nor triaged
    radar_tick(engine, settings, now=T0 + timedelta(hours=2))
    assert _volume(engine) == 3
    with engine.begin() as connection:  # the scorer is stuck on them: after ten minutes they count as they are
        connection.execute(update(Mention).where(Mention.triaged_at.is_(None))  # type: ignore[union-attr]
                           .values(fetched_at=datetime.now(UTC) - timedelta(minutes=11)))
    radar_tick(engine, settings, now=T0 + timedelta(hours=3))
    assert _volume(engine) == 5


def _spike_with_posts(engine: Engine, burst: list[dict]) -> int:
    """A day of ordinary posts, then ``burst``: one open spike (the radar learns for a day here, not three)."""
    settings = radar_settings(warmup_hours=24)
    ingest(engine, settings, _ordinary(52) + burst)
    radar_tick(engine, settings, now=None)
    (spike,) = list_spikes(engine)
    return spike.id


def test_a_real_round_opens_a_spike_that_knows_its_mentions_and_cases(engine: Engine) -> None:
    spike_id = _spike_with_posts(engine, _burst(15))
    (spike,) = list_spikes(engine)
    assert spike.mentions == 15 and spike.authors == 15 and any("recall" in w for w in spike.topic)
    cases = spike_case_ids(engine, spike_id=spike_id)
    assert len(cases) == 15
    assert spikes_of_cases(engine, case_ids=cases[:2]) == {cases[0]: [spike_id], cases[1]: [spike_id]}
    posts = spike_posts(engine, spike_id=spike_id, limit=3)
    assert [p.reach for p in posts] == sorted((p.reach for p in posts), reverse=True)
    assert posts[0].author_handle == "worried1014"


def test_concurrent_senders_mail_each_alert_once(engine: Engine, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = radar_settings(smtp_port=port, recipients=("a@acme.example", "b@acme.example"))
    _spike_with_posts(engine, _burst(15))
    threads = [threading.Thread(target=send_spike_alerts, args=(engine, settings, SmtpMailer(settings.smtp)),
                                kwargs={"now": BURST}) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(to for to, _raw in inbox.messages) == [["a@acme.example"], ["b@acme.example"]]
    assert send_spike_alerts(engine, settings, SmtpMailer(settings.smtp), now=BURST) == 0


class Refusing:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: object) -> None:
        self.calls += 1
        raise MailError("recipient refused", permanent=True)


def test_a_refused_alert_is_marked_failed_and_tried_again(engine: Engine, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = radar_settings(smtp_port=port, recipients=("a@acme.example",))
    spike_id = _spike_with_posts(engine, _burst(15))
    refusing = Refusing()
    assert send_spike_alerts(engine, settings, refusing, now=BURST) == 0
    assert [a.status for a in spike_alerts(engine, spike_ids=[spike_id])] == ["failed"]
    assert send_spike_alerts(engine, settings, SmtpMailer(settings.smtp), now=BURST) == 1
    assert [a.status for a in spike_alerts(engine, spike_ids=[spike_id])] == ["sent"]
    assert len(inbox.messages) == 1 and refusing.calls == 1


EVIL_TEXT = '<script>alert("x")</script> <img src=x onerror=alert(1)> {{ 7*7 }} recall recall'


def test_post_text_is_escaped_in_html_plain_in_text_and_never_a_header(engine: Engine,
                                                                       smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = radar_settings(smtp_port=port, recipients=("a@acme.example",))
    burst = [post(2_000 + n, BURST + timedelta(seconds=20 * n), f"@acme {EVIL_TEXT} {n}",
                  author=f"evil{n}\r\nBcc: victim@evil.example", followers=1_000 - n, url="javascript:alert(1)")
             for n in range(15)]
    _spike_with_posts(engine, burst)
    assert send_spike_alerts(engine, settings, SmtpMailer(settings.smtp), now=BURST) == 1
    (to, raw) = inbox.messages[0]
    assert to == ["a@acme.example"]
    message = inbox.parsed()[0]
    assert message["Bcc"] is None and b"victim@evil.example" not in raw.split(b"\r\n\r\n", 1)[0]
    text_part, html_part = message.get_payload()  # type: ignore[misc]
    assert EVIL_TEXT in text_part.get_content()
    html = html_part.get_content()
    assert "<script>" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and "{{ 7*7 }}" in html


def test_a_spike_written_by_a_round_is_read_back_whole(engine: Engine) -> None:
    settings = radar_settings()
    ingest(engine, settings, _ordinary(3))
    with engine.connect() as connection:
        rows = connection.execute(select(Mention.id, Mention.author_id, Mention.created_at)).all()  # type: ignore[call-overload]
    with radar_writing(engine, read=Progress(0, None), reached=Progress(0, T0), now=T0) as store:
        spike_id = store.record_spike(change=SpikeWrite(
            id=None, brand="Acme", seed="*|t:recall", members=["*|t:recall", "x|*"], opened_at=T0, started_at=T0,
            last_seen_at=T0, baseline_per_hour=1.5, rate_per_hour=40.0, peak_rate_per_hour=44.0, closed_at=None,
            ended_at=None, link=[StoredPost(r.id, "Acme", "x", r.created_at, r.author_id, True, ("t:recall",))
                                 for r in rows]), now=T0)
        store.name_spike(spike_id=spike_id, topic=["recall", "kettle"])
    (spike,) = list_spikes(engine)
    assert (spike.topic, spike.mentions, spike.complaints, spike.platforms) == (["recall", "kettle"], 3, 3, ["x"])
    assert spike.started_at == min(r.created_at for r in rows) and spike.last_seen_at == max(r.created_at for r in rows)
    late = radar_writing(engine, read=Progress(0, None), reached=Progress(0, T0), now=T0)
    with pytest.raises(RoundLost), late as store:  # a round that read the progress before the above: nothing
        store.record_spike(change=SpikeWrite(
            id=spike_id, brand="Acme", seed="*|t:recall", members=[], opened_at=T0, started_at=T0,
            last_seen_at=T0, baseline_per_hour=0.0, rate_per_hour=0.0, peak_rate_per_hour=0.0,
            closed_at=T0, ended_at=T0), now=T0)
    assert len(list_spikes(engine)) == 1
    with radar_writing(engine, read=Progress(0, T0), reached=Progress(0, T0), now=T0) as store:
        store.record_spike(change=SpikeWrite(
            id=spike_id, brand="Acme", seed="*|t:recall", members=["*|t:recall"], opened_at=T0, started_at=T0,
            last_seen_at=T0, baseline_per_hour=1.5, rate_per_hour=0.0, peak_rate_per_hour=44.0,
            closed_at=T0 + timedelta(hours=1), ended_at=T0 + timedelta(minutes=30), unlink=[rows[0].id]), now=T0)
    assert list_spikes(engine) == []
    (closed,) = list_spikes(engine, include_closed=True)
    assert (closed.state, closed.mentions, closed.ended_at) == ("closed", 2, T0 + timedelta(minutes=30))
