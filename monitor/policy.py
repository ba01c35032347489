"""Pure scheduling policy: when a source polls next after success, failure or a rate limit."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=1)
JITTER = 0.2


def backoff(*, error_count: int, interval: timedelta, rng: random.Random | None = None) -> timedelta:
    """The wait after the ``error_count``-th transient error in a row: the interval doubled per error,
    capped at an hour, with ±20 % jitter so that many sources failing together do not retry together."""
    if error_count < 1:
        raise ValueError("error_count starts at 1")
    base = min(interval * (2 ** min(error_count - 1, 16)), MAX_BACKOFF)
    factor = 1 + JITTER * (2 * (rng or random).random() - 1)
    return base * factor


def next_after_rate_limit(*, now: datetime, retry_after: float, interval: timedelta) -> datetime:
    """Poll again when the platform said, never sooner than a second, never later than the reset says."""
    return now + timedelta(seconds=max(1.0, retry_after))


def next_after_success(*, now: datetime, interval: timedelta, more_pages: bool) -> datetime:
    """A pass cut short with pages left continues at once; a finished one waits the interval."""
    return now if more_pages else now + interval
