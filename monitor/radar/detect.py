"""When a topic is hot, when a spike subsides, when it has grown enough to mail again. Pure rules.

A topic is **hot** when, in the short window, its mentions (or its complaints) are at least ``min_mentions``
from at least ``min_authors`` distinct people, and those people — each counted once, so one loud account
cannot make a crowd — post at ``rise_factor`` times the topic's baseline or more, a count its baseline alone
would give with a chance of at most ``max_chance`` (a Poisson tail). The baseline is never counted lower
than ``floor_per_hour``: a quiet brand or a brand-new word needs a real crowd, and a busy topic needs more
than a lucky quarter hour. A spike **subsides** once the posts it holds, in a window, fall below ``close_factor`` times its
baseline (or the floor), and **closes** when they stay below that for ``quiet`` — a moment computed from
the posts' own times, so it does not depend on when the radar happens to look.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import RadarSettings

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Rules:
    window: timedelta
    rise_factor: float
    floor_per_hour: float
    min_mentions: int
    min_authors: int
    close_factor: float
    quiet: timedelta
    growth_factor: float
    max_chance: float

    @classmethod
    def from_settings(cls, radar: RadarSettings) -> Rules:
        return cls(window=timedelta(minutes=radar.window_minutes), rise_factor=radar.rise_factor,
                   floor_per_hour=radar.floor_per_hour, min_mentions=radar.min_mentions,
                   min_authors=radar.min_authors, close_factor=radar.close_factor,
                   quiet=timedelta(minutes=radar.quiet_minutes), growth_factor=radar.growth_factor,
                   max_chance=radar.max_chance)


@dataclass(frozen=True, slots=True)
class Tally:
    """A topic's posts in the window: how many, how many complaints, and by how many distinct people."""

    mentions: int
    authors: int
    complaints: int = 0
    complaint_authors: int = 0


def per_hour(count: int, window: timedelta) -> float:
    return count * (HOUR / window)


def poisson_tail(count: int, mean: float) -> float:
    """The chance of ``count`` or more events where ``mean`` are expected (Poisson), for count > mean."""
    if count <= mean:
        return 1.0
    if mean <= 0:
        return 0.0
    term = math.exp(-mean + count * math.log(mean) - math.lgamma(count + 1))
    total, k = term, count
    while term > total * 1e-9:
        k += 1
        term *= mean / k
        total += term
    return min(1.0, total)


def _rises(count: int, authors: int, baseline: float, rules: Rules, *, relaxed: bool) -> bool:
    least_mentions = math.ceil(rules.min_mentions / 2) if relaxed else rules.min_mentions
    least_authors = math.ceil(rules.min_authors / 2) if relaxed else rules.min_authors
    usual = max(baseline, rules.floor_per_hour)
    if count < least_mentions or authors < least_authors or per_hour(authors, rules.window) < rules.rise_factor * usual:
        return False
    return relaxed or poisson_tail(authors, usual * (rules.window / HOUR)) <= rules.max_chance


def is_hot(tally: Tally, *, baseline: tuple[float, float], rules: Rules, relaxed: bool = False) -> bool:
    """Whether a topic with this tally and this (mentions, complaints) baseline per hour is hot.

    ``relaxed`` halves the crowd needed and waives the chance (not the rise): used only to name what a
    brand-wide burst is about.
    """
    return (_rises(tally.mentions, tally.authors, baseline[0], rules, relaxed=relaxed)
            or _rises(tally.complaints, tally.complaint_authors, baseline[1], rules, relaxed=relaxed))


def excess(tally: Tally, *, baseline: tuple[float, float], window: timedelta) -> float:
    """Mentions in the window beyond what the baseline expects there: how much a topic explains a burst."""
    return tally.mentions - baseline[0] * (window / HOUR)


def close_count(baseline_per_hour: float, rules: Rules) -> int:
    """Fewest posts in a window that keep a spike with this baseline going."""
    return max(1, math.ceil(rules.close_factor * max(baseline_per_hour, rules.floor_per_hour) * (rules.window / HOUR)))


def quiet_from(times_newest_first: Sequence[datetime], *, count: int, window: timedelta,
               opened_at: datetime) -> datetime:
    """The moment from which every window holds fewer than ``count`` of these posts (given no later ones):
    the ``count``-th newest post leaves the window then. Never before the spike opened."""
    if len(times_newest_first) < count:
        return opened_at
    return max(opened_at, times_newest_first[count - 1] + window)


def alert_level_due(*, mentions: int, last_level: int | None, last_mentions: int | None,
                    growth_factor: float) -> int | None:
    """The alert to send now: 0 (opened) when none was sent, the next level when the spike has grown by
    ``growth_factor`` since the last one, else None."""
    if last_level is None or last_mentions is None:
        return 0
    if mentions >= last_mentions * growth_factor:
        return last_level + 1
    return None


__all__ = ["Rules", "Tally", "alert_level_due", "close_count", "excess", "is_hot", "per_hour", "poisson_tail",
           "quiet_from"]
