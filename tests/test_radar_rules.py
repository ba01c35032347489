"""The radar's arithmetic and rules, from tables: baseline, hot, subsiding, alert levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.alerts import AlertSent, SpikeRecord
from monitor.config import ConfigError, RadarSettings, parse_settings
from monitor.radar.baseline import Weight, expected_per_hour, floor_hour, reference_hours, topic_baseline
from monitor.radar.detect import Rules, Tally, alert_level_due, close_count, is_hot, quiet_from
from monitor.radar.mail import AlertDue, alerts_due

T = datetime(2026, 11, 16, 10, 20, tzinfo=UTC)  # a Monday
H = floor_hour(T)
RULES = Rules.from_settings(RadarSettings())  # 15 min window, 4x, floor 4/h, 10 mentions, 8 authors


def days(values: list[int], *, step: timedelta = timedelta(days=1)) -> dict[datetime, tuple[int, int]]:
    """The same hour (and the hours either side) on each earlier day, most recent first."""
    volume = {}
    for n, value in enumerate(values, 1):
        for k in (-1, 0, 1):
            volume[H - n * step + timedelta(hours=k)] = (value, value // 4)
    return volume


@pytest.mark.parametrize(
    ("volume", "history_days", "expected"),
    [
        (days([10, 10, 10, 10, 10, 10, 10]), 30, (10.0, 2.0)),
        (days([10, 12, 200, 11, 9, 10, 10]), 30, (12.0, 3.0)),  # one odd day (an outage) does not raise the bar
        (days([3, 10, 10, 10, 10, 10, 2]), 30, (10.0, 2.0)),  # nor do slow days lower it
        (days([3, 10]), 2.5, (10.0, 2.0)),  # less than a week known: the busiest day
        (days([10, 12, 200]), 3.5, (200.0, 50.0)),
        (days([10]), 1.5, (10.0, 2.0)),  # a day and a half of history: one reference day
        ({}, 30, (0.0, 0.0)),  # quiet at this hour on every day known
        (days([10]), 0.5, None),  # not a single reference hour inside the history
    ],
)
def test_the_usual_volume_is_the_same_hour_on_a_busy_recent_day_not_an_odd_one(volume: dict, history_days: float,
                                                                        expected: tuple[float, float] | None) -> None:
    found = expected_per_hour(volume, T, history_from=H - timedelta(days=history_days), recent_days=7, weeks=0)
    assert found == expected


def test_the_hour_of_the_week_counts_when_it_is_busier_than_recent_days() -> None:
    volume = {**days([4, 4, 4, 4, 4, 4, 4]), **days([30, 30], step=timedelta(days=7))}
    found = expected_per_hour(volume, T, history_from=H - timedelta(days=15), recent_days=7, weeks=4)
    assert found == (30.0, 7.0), "two weeks known, both busy at this hour"
    older = expected_per_hour(volume, T, history_from=H - timedelta(days=30), recent_days=7, weeks=4)
    assert older == (15.0, 3.5), "four weeks known, two of them quiet at this hour"
    assert set(reference_hours(T, recent_days=1, weeks=1)) == {
        H - timedelta(days=1, hours=1), H - timedelta(days=1), H - timedelta(days=1) + timedelta(hours=1),
        H - timedelta(days=7, hours=1), H - timedelta(days=7), H - timedelta(days=7) + timedelta(hours=1)}


def test_a_weight_decays_by_half_each_half_life_and_counts_late_posts_decayed() -> None:
    half = timedelta(days=7)
    weight = Weight(0.0, 0.0, T)
    weight.add(T, complaint=True, half_life=half)
    assert weight.at(T + half, half) == pytest.approx((0.5, 0.5))
    weight.add(T + half, complaint=False, half_life=half)
    assert (weight.mentions, weight.complaints) == pytest.approx((1.5, 0.5))
    weight.add(T, complaint=False, half_life=half)  # a post from a week before as_of
    assert weight.mentions == pytest.approx(2.0)
    assert weight.at(T, half) == pytest.approx((2.0, 0.5)), "never grown back before as_of"


@pytest.mark.parametrize(
    ("others_per_hour", "expected"),
    [(None, (4.0, 2.0)), (10.0, (4.0, 2.0)), (40.0, (10.0, 5.0))],  # 40/h of others is 50/h with a 20% topic
)
def test_a_busier_brand_now_raises_a_topics_baseline_in_proportion(others_per_hour: float | None,
                                                                    expected: tuple[float, float]) -> None:
    assert topic_baseline(expected=(20.0, 6.0), topic=(20.0, 10.0), brand=100.0, window_topic=(0, 0),
                          window_brand=0, others_per_hour=others_per_hour) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("topic", "brand", "window_topic", "window_brand", "expected"),
    [
        ((10.0, 5.0), 100.0, (0, 0), 0, (2.0, 1.0)),
        ((30.0, 25.0), 120.0, (20, 20), 20, (2.0, 1.0)),  # the window's own posts never raise the bar
        ((0.0, 0.0), 100.0, (0, 0), 0, (0.0, 0.0)),  # a new word: no baseline (the floor applies)
        ((5.0, 5.0), 0.0, (5, 5), 3, (0.0, 0.0)),
    ],
)
def test_a_topics_baseline_is_its_share_of_the_brands_usual_volume(topic: tuple[float, float], brand: float,
                                                                    window_topic: tuple[int, int], window_brand: int,
                                                                    expected: tuple[float, float]) -> None:
    assert topic_baseline(expected=(20.0, 6.0), topic=topic, brand=brand, window_topic=window_topic,
                          window_brand=window_brand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tally", "baseline", "relaxed", "hot"),
    [
        (Tally(12, 12), (1.0, 0.0), False, True),
        (Tally(12, 7), (1.0, 0.0), False, False),  # too few people: one loud account is not a crisis
        (Tally(40, 10), (8.0, 0.0), False, False),  # ten people, one of them loud: 40/h is not 4x 8/h
        (Tally(9, 9), (0.0, 0.0), False, False),  # too few posts
        (Tally(12, 12), (0.0, 0.0), False, True),  # a brand-new word against the floor: 48/h >= 4 x 4/h
        (Tally(15, 15), (20.0, 0.0), False, False),  # 60/h is 3x a busy topic's 20/h: usual enough
        (Tally(30, 30), (20.0, 0.0), False, True),
        (Tally(3, 3, 11, 10), (40.0, 1.0), False, True),  # the complaints rise though the mentions do not
        (Tally(5, 4), (0.0, 0.0), True, True),  # relaxed: half the crowd, the same rise
        (Tally(5, 4), (6.0, 0.0), True, False),  # 20/h is not 4x a usual 6/h
    ],
)
def test_a_topic_is_hot_when_a_crowd_posts_far_above_its_baseline(tally: Tally, baseline: tuple[float, float],
                                                                   relaxed: bool, hot: bool) -> None:
    assert is_hot(tally, baseline=baseline, rules=RULES, relaxed=relaxed) is hot


@pytest.mark.parametrize(("baseline", "count"), [(0.0, 2), (4.0, 2), (10.0, 5), (100.0, 50)])
def test_a_spike_keeps_going_while_a_window_holds_twice_its_baseline(baseline: float, count: int) -> None:
    assert close_count(baseline, RULES) == count


@pytest.mark.parametrize(
    ("minutes_ago", "count", "quiet_at"),
    [
        ([1, 2, 3, 40], 3, 12),  # the third newest post (3 min ago) leaves the 15-minute window in 12 minutes
        ([1, 2], 3, -60),  # never as many: subsided when it opened (60 minutes ago)
        ([50, 51, 52], 1, -35),
    ],
)
def test_a_spike_subsides_when_its_kth_newest_post_leaves_the_window(minutes_ago: list[int], count: int,
                                                                     quiet_at: int) -> None:
    times = [T - timedelta(minutes=m) for m in minutes_ago]
    found = quiet_from(times, count=count, window=timedelta(minutes=15), opened_at=T - timedelta(minutes=60))
    assert found == T + timedelta(minutes=quiet_at)


@pytest.mark.parametrize(
    ("mentions", "last_level", "last_mentions", "due"),
    [(12, None, None, 0), (30, 0, 12, None), (36, 0, 12, 1), (100, 1, 36, None), (108, 1, 36, 2)],
)
def test_a_spike_is_mailed_when_it_opens_and_each_time_it_grows_by_the_factor(
        mentions: int, last_level: int | None, last_mentions: int | None, due: int | None) -> None:
    assert alert_level_due(mentions=mentions, last_level=last_level, last_mentions=last_mentions,
                           growth_factor=3.0) == due


def _spike(mentions: int) -> SpikeRecord:
    return SpikeRecord(7, "Acme", "open", ["login"], T, T, T, None, None, mentions, mentions, 0, 1.0, 40.0, 40.0, ["x"])


@pytest.mark.parametrize(
    ("mentions", "sent", "due"),
    [
        (12, [], [(0, "a@x.example"), (0, "b@x.example")]),
        (13, [(0, 12, "a@x.example", "sent"), (0, 12, "b@x.example", "sending")], []),
        (13, [(0, 12, "a@x.example", "sent"), (0, 12, "b@x.example", "failed")], [(0, "b@x.example")]),
        (13, [(0, 12, "a@x.example", "sent")], [(0, "b@x.example")]),  # a recipient added since
        (40, [(0, 12, "a@x.example", "sent"), (0, 12, "b@x.example", "failed")],
         [(1, "a@x.example"), (1, "b@x.example")]),  # a failed old level is superseded by the next
        (40, [(0, 12, "a@x.example", "sent"), (1, 36, "a@x.example", "sent"), (1, 36, "b@x.example", "sent")], []),
    ],
)
def test_the_alerts_due_are_the_next_level_or_the_last_one_not_yet_delivered(
        mentions: int, sent: list[tuple[int, int, str, str]], due: list[tuple[int, str]]) -> None:
    rows = [AlertSent(7, level, m, recipient, status) for level, m, recipient, status in sent]
    found = alerts_due(_spike(mentions), rows, recipients=["a@x.example", "b@x.example"], growth_factor=3.0)
    assert found == [AlertDue(7, level, recipient) for level, recipient in due]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"brands": [{"name": "Acme", "watch_terms": ["outage", " "]}]}, "brands.0.watch_terms"),
        ({"brands": [{"name": "Acme", "watch_terms": ["x" * 101]}]}, "brands.0.watch_terms"),
        ({"radar": {"recipients": ["duty@acme.example, boss@acme.example"]}}, "radar.recipients"),
        ({"radar": {"rise_factor": 1.0}}, "radar.rise_factor"),
        ({"radar": {"max_chance": 0}}, "radar.max_chance"),
        ({"radar": {"window_minutes": 0}}, "radar.window_minutes"),
    ],
)
def test_a_bad_radar_setting_stops_start_up_naming_the_key(data: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, origin="config.toml", env={})
    assert f"config.toml: {named}" in str(caught.value)
