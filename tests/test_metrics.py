"""Care metrics over a fixture week with known answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from responders.metrics import (
    answered_unresolved,
    breakdown,
    daily_volume,
    funnel,
    iso_week,
    longest_open,
    percentile,
    previous_week,
    rising_topics,
    week_bounds,
    week_metrics,
)
from tests.resolution_fixtures import LAST_WEEK, THIS_WEEK, WEEK, mention_records


def test_the_fixture_week_has_its_known_numbers() -> None:
    mentions, _ = mention_records()
    m = week_metrics(THIS_WEEK, mentions, target_minutes=60)
    assert (m.mentions, m.complaints, m.answered, m.answered_within_target) == (6, 4, 3, 2)
    assert m.within_target_rate == 0.5
    assert (m.median_first_response_minutes, m.p90_first_response_minutes) == (30.0, 90.0)
    assert (m.resolved, m.resolution_rate, m.median_resolution_hours) == (2, 0.5, 3.5)
    assert m.answered_unresolved == 1
    assert (m.first_contact_resolutions, m.first_contact_resolution_rate) == (1, 0.5)
    assert (m.reopened, m.reopen_rate, m.escalations) == (1, 0.25, 1)
    assert (m.csat_requested, m.csat_answers, m.csat_average, m.csat_response_rate) == (1, 1, 5.0, 1.0)


def test_answered_but_unresolved_lists_what_a_reply_count_hides() -> None:
    assert [c.case_id for c in answered_unresolved(THIS_WEEK)] == [2]
    assert [c.case_id for c in longest_open(THIS_WEEK + LAST_WEEK)] == [6, 2, 4]


def test_an_empty_week_has_no_rates_rather_than_zero() -> None:
    m = week_metrics([], [], target_minutes=60)
    assert m.within_target_rate is None and m.csat_average is None and m.median_first_response_minutes is None


def test_breakdowns_by_platform_and_agent() -> None:
    mentions, _ = mention_records()
    platforms = breakdown(THIS_WEEK, mentions, by="platform", target_minutes=60)
    assert {k: v.complaints for k, v in platforms.items()} == {"reddit": 2, "x": 2}
    assert platforms["x"].mentions == 4
    agents = breakdown(THIS_WEEK, mentions, by="agent", target_minutes=60)
    assert {k: v.resolved for k, v in agents.items()} == {"(none)": 0, "Aino Virtanen": 1, "Maria Jensen": 1}
    with pytest.raises(ValueError):
        breakdown(THIS_WEEK, mentions, by="colour", target_minutes=60)


def test_the_funnel_and_rising_topics() -> None:
    f = funnel(THIS_WEEK, target_minutes=60)
    assert (f.complaints, f.answered, f.within_target, f.resolved, f.confirmed_by_customer) == (4, 3, 2, 2, 1)
    rising = rising_topics(THIS_WEEK, LAST_WEEK)
    assert [(t.topic, t.this_week, t.last_week, t.change) for t in rising] == [("delivery", 3, 0, 3)]


def test_daily_volume_has_every_day_of_the_week() -> None:
    mentions, _ = mention_records()
    days = daily_volume(mentions, week=WEEK, timezone="UTC")
    assert len(days) == 7
    assert sum(sum(c.values()) for c in days.values()) == 6
    assert days[datetime(2026, 11, 20).date()]["positive"] == 1


def test_iso_weeks_are_read_in_the_configured_timezone() -> None:
    late_sunday_utc = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert iso_week(late_sunday_utc, "UTC") == "2026-W47"
    assert iso_week(late_sunday_utc, "Europe/Copenhagen") == "2026-W48"
    start, end = week_bounds("2026-W47", "Europe/Copenhagen")
    assert start.isoformat() == "2026-11-16T00:00:00+01:00" and (end - start).days == 7
    assert previous_week("2026-W01") == "2025-W52"
    with pytest.raises(ValueError):
        week_bounds("2026-47", "UTC")


def test_p90_is_the_nearest_rank() -> None:
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([], 0.9) is None
