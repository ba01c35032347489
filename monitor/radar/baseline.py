"""What a brand's usual rate is, for a topic, at a given moment. Pure arithmetic over counts.

A topic's baseline is its usual share of the brand's mentions times the brand's usual volume at that hour:

- the **volume** is read from hourly counts: the median, over the recent days, of the same hour (with the
  hours either side), and the same for the same hour of the week over past weeks; the higher of the two
  counts. A median ignores one odd day (yesterday's outage, a slow Sunday), the hour of the week knows that
  Monday morning is busier than Sunday night, and only hours inside the counted history are read.
- the **share** is a topic's exponentially decayed count over the brand's decayed count, both without the
  posts now in the window, so a burst never raises its own bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
_SPREAD = (-1, 0, 1)


def floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(slots=True)
class Weight:
    """A topic's decayed mention and complaint counts as of ``as_of`` (mutable: the sweep folds posts in)."""

    mentions: float
    complaints: float
    as_of: datetime

    def at(self, when: datetime, half_life: timedelta) -> tuple[float, float]:
        """The counts decayed to ``when`` (never grown: a moment before ``as_of`` reads the counts as they are)."""
        factor = _decay(when - self.as_of, half_life)
        return self.mentions * factor, self.complaints * factor

    def add(self, when: datetime, *, complaint: bool, half_life: timedelta) -> None:
        """Count one post written at ``when``; a post older than ``as_of`` counts already decayed."""
        if when >= self.as_of:
            factor = _decay(when - self.as_of, half_life)
            self.mentions, self.complaints, self.as_of = self.mentions * factor, self.complaints * factor, when
            weight = 1.0
        else:
            weight = _decay(self.as_of - when, half_life)
        self.mentions += weight
        self.complaints += weight if complaint else 0.0


def _decay(elapsed: timedelta, half_life: timedelta) -> float:
    if elapsed <= timedelta(0):
        return 1.0
    return float(0.5 ** (elapsed / half_life))


def reference_hours(at: datetime, *, recent_days: int, weeks: int) -> list[datetime]:
    """Every hour ``expected_per_hour`` may read for a moment in the hour of ``at``."""
    hour = floor_hour(at)
    anchors = [hour - d * DAY for d in range(1, recent_days + 1)] + [hour - w * WEEK for w in range(1, weeks + 1)]
    return sorted({anchor + k * HOUR for anchor in anchors for k in _SPREAD})


def expected_per_hour(volume: Mapping[datetime, tuple[int, int]], at: datetime, *, history_from: datetime,
                      recent_days: int, weeks: int) -> tuple[float, float] | None:
    """The usual (mentions, complaints) per hour at ``at``; None when no reference hour lies in the history.

    ``volume`` maps an hour to its counts (an hour without posts may be absent: it counts as zero);
    ``history_from`` is the first hour counted, so hours before it are unknown rather than quiet.
    """
    hour = floor_hour(at)

    def around(anchor: datetime) -> tuple[float, float] | None:
        if anchor - HOUR < history_from:
            return None
        counts = [volume.get(anchor + k * HOUR, (0, 0)) for k in _SPREAD]
        return sum(c[0] for c in counts) / len(counts), sum(c[1] for c in counts) / len(counts)

    estimates = []
    for anchors in ([hour - d * DAY for d in range(1, recent_days + 1)],
                    [hour - w * WEEK for w in range(1, weeks + 1)]):
        known = [v for v in (around(a) for a in anchors) if v is not None]
        if known:
            estimates.append((median(v[0] for v in known), median(v[1] for v in known)))
    if not estimates:
        return None
    return max(e[0] for e in estimates), max(e[1] for e in estimates)


def topic_baseline(*, expected: tuple[float, float], topic: tuple[float, float], brand: float,
                   window_topic: tuple[int, int], window_brand: int) -> tuple[float, float]:
    """A topic's usual (mentions, complaints) per hour: its decayed share of the brand's decayed mentions,
    both less what is in the window now, times the brand's usual volume per hour."""
    rest = max(1.0, brand - window_brand)
    share_mentions = max(0.0, topic[0] - window_topic[0]) / rest
    share_complaints = max(0.0, topic[1] - window_topic[1]) / rest
    return min(1.0, share_mentions) * expected[0], min(1.0, share_complaints) * expected[0]


def earliest(values: Iterable[datetime | None]) -> datetime | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


__all__ = ["DAY", "HOUR", "WEEK", "Weight", "earliest", "expected_per_hour", "floor_hour", "reference_hours",
           "topic_baseline"]
