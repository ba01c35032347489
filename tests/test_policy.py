"""Scheduling policy: back-off, rate limits, continuing passes."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.policy import MAX_BACKOFF, backoff, next_after_rate_limit, next_after_success

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(("errors", "base"), [(1, 1), (2, 2), (3, 4), (5, 16), (7, 60), (40, 60)])
def test_backoff_doubles_per_error_up_to_an_hour_with_jitter(errors: int, base: int) -> None:
    rng = random.Random(1)
    waits = [backoff(error_count=errors, interval=MINUTE, rng=rng) for _ in range(200)]
    assert all(base * 0.8 * MINUTE <= w <= base * 1.2 * MINUTE for w in waits)
    assert len({round(w.total_seconds(), 3) for w in waits}) > 50, "jitter spreads retries"
    assert max(waits) <= MAX_BACKOFF * 1.2


def test_backoff_starts_at_the_first_error() -> None:
    with pytest.raises(ValueError):
        backoff(error_count=0, interval=MINUTE)


def test_a_rate_limit_waits_exactly_until_the_reset_but_at_least_a_second() -> None:
    assert next_after_rate_limit(now=NOW, retry_after=120, interval=MINUTE) == NOW + timedelta(seconds=120)
    assert next_after_rate_limit(now=NOW, retry_after=0, interval=MINUTE) == NOW + timedelta(seconds=1)


def test_a_pass_with_pages_left_continues_at_once() -> None:
    assert next_after_success(now=NOW, interval=MINUTE, more_pages=True) == NOW
    assert next_after_success(now=NOW, interval=MINUTE, more_pages=False) == NOW + MINUTE
