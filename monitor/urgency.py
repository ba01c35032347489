"""Urgency ranking: a pure function of a mention, its author's history and the clock.

No database, no I/O, no clock reads: the caller passes ``now``. The score is 0..100, the sum of
five capped components, each with the human-readable reasons that explain it:

=================  =====  ==============================================================
component          max    how
=================  =====  ==============================================================
negativity         40     negative: 40 x label confidence; unscored: a fixed 20 (a human
                          must look); neutral or positive: 0
reach              20     20 x (log10(followers) - 2) / 4, so 0 at <= 100 followers and 20
                          at >= 1M; a verified account adds 5, still capped at 20
severity           20     10 for the first severity word, 5 for each further one
repeat complainer  10     5 per earlier complaint by the author within the repeat window
time pressure      10     10 x time_pressure(): 0 with the full target left, rising
                          linearly to 1 at the deadline and staying there once breached
=================  =====  ==============================================================

Reasons are ordered by how much each one adds to the score, ties in the table's order.
The response clock starts at the post's ``created_at``, not when it was fetched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.languages import normalise_language
from monitor.phrases import find_phrases

NEGATIVITY_MAX = 40.0
UNSCORED_NEGATIVITY = 20.0
REACH_MAX = 20.0
REACH_FLOOR_FOLLOWERS = 100
REACH_CEILING_FOLLOWERS = 1_000_000
VERIFIED_BONUS = 5.0
SEVERITY_MAX = 20.0
SEVERITY_FIRST = 10.0
SEVERITY_EACH_MORE = 5.0
REPEAT_MAX = 10.0
REPEAT_EACH = 5.0
TIME_MAX = 10.0

FOLLOWERS_SHOWN_FROM = 1000
UNSCORED_REASON = "unscored — needs a human look"

SENTIMENT_LABELS = frozenset({"negative", "neutral", "positive", "unscored"})
ENGLISH = "en"


@dataclass(frozen=True, slots=True)
class UrgencyInput:
    """What the ranker needs to know about one mention."""

    text: str
    language: str | None
    sentiment_label: str  # negative | neutral | positive | unscored
    sentiment_score: float  # confidence of the label, 0..1
    followers: int | None
    verified: bool
    created_at: datetime  # tz-aware UTC, when the customer posted
    prior_complaints: int  # this author's earlier complaints within the repeat window, not this one


@dataclass(frozen=True, slots=True)
class Urgency:
    """A ranked mention: higher ``score`` is more urgent; ``minutes_left`` is negative once breached."""

    score: float
    reasons: tuple[str, ...]
    deadline: datetime
    minutes_left: float


def severity_hits(text: str, language: str | None, severity_words: Mapping[str, Sequence[str]]) -> list[str]:
    """The severity words found in ``text``, in config order, each once.

    Words of the post's language and English (people mix them) are checked; when the language is
    unknown (``None``) every language's words are. Matching is the shared phrase matcher's
    (``monitor.phrases``): case-insensitive and whole-word, multi-word phrases allowed, substrings for
    languages written without reliable word breaks (``monitor.languages.NO_WORD_BREAKS``). Inflected forms
    are not inferred: list them in the config.
    """
    post_language = normalise_language(language)
    hits: list[str] = []
    seen: set[str] = set()
    for config_language, words in severity_words.items():
        key = normalise_language(config_language) or config_language
        if post_language is not None and key not in (post_language, ENGLISH):
            continue
        for word in words:
            needle = word.strip().casefold()
            if not needle or needle in seen:
                continue
            if find_phrases(text, (word.strip(),), key):
                seen.add(needle)
                hits.append(word.strip())
    return hits


def time_pressure(minutes_left: float, target_minutes: int) -> float:
    """The time component alone, 0..1: 0 with the full target (or more) left, 1 at or past the deadline.

    Linear in between, so a queue can re-rank as the clock moves without recomputing the rest.
    """
    if target_minutes <= 0:
        raise ValueError(f"target_minutes must be positive, got {target_minutes}")
    return min(1.0, max(0.0, 1.0 - minutes_left / target_minutes))


def format_followers(followers: int) -> str:
    """``850 followers``, ``12.4k followers``, ``1.2M followers``: truncated, never rounded up."""
    if followers < 1000:
        return f"{followers} followers"
    unit, divisor = ("k", 1000) if followers < 1_000_000 else ("M", 1_000_000)
    whole, tenth = divmod(followers // (divisor // 10), 10)
    number = f"{whole}.{tenth}" if tenth else f"{whole}"
    return f"{number}{unit} followers"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``12th``, ``13th``, ``21st``, ``22nd``, ..."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _format_duration(minutes: int) -> str:
    """``45 min``, ``60 min``, ``1 h 5 min``, ``2 h``: hours only past 60 minutes."""
    if minutes <= 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def time_reason(minutes_left: float) -> str:
    """``18 min left`` (whole minutes, rounded down) or, once past the deadline, ``breached by 5 min``.

    At exactly the deadline nothing is breached yet ("0 min left"); a breach shows at least 1 min.
    """
    if minutes_left >= 0:
        return f"{_format_duration(math.floor(minutes_left))} left"
    return f"breached by {_format_duration(max(1, math.floor(-minutes_left)))}"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _reach(followers: int) -> float:
    if followers <= REACH_FLOOR_FOLLOWERS:
        return 0.0
    low, high = math.log10(REACH_FLOOR_FOLLOWERS), math.log10(REACH_CEILING_FOLLOWERS)
    return REACH_MAX * min(1.0, (math.log10(followers) - low) / (high - low))


def _ordered(contributions: Iterable[tuple[float, str | None]]) -> tuple[str, ...]:
    """Shown reasons by contribution, largest first; ties keep their listed order (the sort is stable)."""
    return tuple(reason for _, reason in sorted(contributions, key=lambda pair: -pair[0]) if reason)


def rank(
    item: UrgencyInput,
    *,
    now: datetime,
    target_minutes: int,
    severity_words: Mapping[str, Sequence[str]],
    repeat_window_days: int = 7,
) -> Urgency:
    """Score one mention against the response target at ``now``.

    Raises ``ValueError`` for a naive ``now`` or ``created_at``, a non-positive target or an unknown
    sentiment label. Out-of-range numbers are clamped: a score outside 0..1, negative followers or
    prior complaints.
    """
    _require_aware("now", now)
    _require_aware("created_at", item.created_at)
    if target_minutes <= 0:
        raise ValueError(f"target_minutes must be positive, got {target_minutes}")
    if item.sentiment_label not in SENTIMENT_LABELS:
        raise ValueError(f"unknown sentiment label {item.sentiment_label!r}")

    contributions: list[tuple[float, str | None]] = []  # None: counted, not shown

    confidence = min(1.0, max(0.0, item.sentiment_score))
    if item.sentiment_label == "negative":
        contributions.append((NEGATIVITY_MAX * confidence, f"negative {confidence:.2f}"))
    elif item.sentiment_label == "unscored":
        contributions.append((UNSCORED_NEGATIVITY, UNSCORED_REASON))

    severity = 0.0
    for word in severity_hits(item.text, item.language, severity_words):
        step = SEVERITY_EACH_MORE if severity else SEVERITY_FIRST
        added = min(step, SEVERITY_MAX - severity)
        severity += added
        contributions.append((added, f"mentions {word}"))

    followers = max(0, item.followers or 0)
    reach = _reach(followers)
    contributions.append((reach, format_followers(followers) if followers >= FOLLOWERS_SHOWN_FROM else None))
    if item.verified:
        contributions.append((min(REACH_MAX, reach + VERIFIED_BONUS) - reach, "verified account"))

    prior = max(0, item.prior_complaints)
    if prior:
        days = "day" if repeat_window_days == 1 else "days"
        reason = f"{ordinal(prior + 1)} complaint in {repeat_window_days} {days}"
        contributions.append((min(REPEAT_MAX, REPEAT_EACH * prior), reason))

    deadline = item.created_at + timedelta(minutes=target_minutes)
    minutes_left = (deadline - now).total_seconds() / 60
    contributions.append((TIME_MAX * time_pressure(minutes_left, target_minutes), time_reason(minutes_left)))

    score = min(100.0, max(0.0, sum(points for points, _ in contributions)))
    return Urgency(score=score, reasons=_ordered(contributions), deadline=deadline, minutes_left=minutes_left)
