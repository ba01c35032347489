"""What a brand's usual rate is, for a topic, at a given moment. Pure arithmetic over counts.

A topic's baseline is its usual share of the brand's mentions times the brand's usual volume at that hour:

- the **volume** is read from hourly counts of the same hour (with the hours either side): on the recent
  days, the second-highest of them (the highest while less than a week is known: a first Monday is not
  judged against a Saturday), and over past weeks at the same hour of the week, their median; the higher
  of the two counts. One odd day (yesterday's outage) never raises the bar and a slow one (a Sunday, a slow
  news day) never lowers it; the hour of the week knows that Monday morning is busier than Sunday night.
  Only hours inside the counted history are read: an hour before it is unknown, not quiet.
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
        if when == self.as_of:
            self.mentions += 1.0
            self.complaints += 1.0 if complaint else 0.0
            return
        if when > self.as_of:
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
    recent = [v for v in (around(hour - d * DAY) for d in range(1, recent_days + 1)) if v is not None]
    if recent:
        pick = max if hour - history_from < WEEK else _second_highest
        estimates.append((pick([v[0] for v in recent]), pick([v[1] for v in recent])))
    weekly = [v for v in (around(hour - w * WEEK) for w in range(1, weeks + 1)) if v is not None]
    if weekly:
        estimates.append((median(v[0] for v in weekly), median(v[1] for v in weekly)))
    if not estimates:
        return None
    return max(e[0] for e in estimates), max(e[1] for e in estimates)


def _second_highest(values: list[float]) -> float:
    ordered = sorted(values, reverse=True)
    return ordered[1] if len(ordered) >= 3 else ordered[0]


def topic_baseline(*, expected: tuple[float, float], topic: tuple[float, float], brand: float,
                   window_topic: tuple[int, int], window_brand: int,
                   others_per_hour: float | None = None) -> tuple[float, float]:
    """A topic's usual (mentions, complaints) per hour: its decayed share of the brand's decayed mentions,
    both less what is in the window now, times the brand's volume per hour — the usual one, or, given the
    rate of the brand's other posts now (``others_per_hour``), the volume they imply if the topic held its
    usual share, when that is more."""
    rest = max(1.0, brand - window_brand)
    share_mentions = min(1.0, max(0.0, topic[0] - window_topic[0]) / rest)
    share_complaints = min(1.0, max(0.0, topic[1] - window_topic[1]) / rest)
    volume = expected[0]
    if others_per_hour is not None and share_mentions < 1.0:
        volume = max(volume, others_per_hour / (1.0 - share_mentions))
    return share_mentions * volume, share_complaints * volume


def earliest(values: Iterable[datetime | None]) -> datetime | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


__all__ = ["DAY", "HOUR", "WEEK", "Weight", "earliest", "expected_per_hour", "floor_hour", "reference_hours",
           "topic_baseline"]
