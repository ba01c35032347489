"""Care metrics: pure functions over plain case and mention records.

A case belongs to the ISO week (in ``app.timezone``) in which its complaint was *posted*, and its outcome is
read as of the records given. Response times run from the post's ``created_at`` to our first reply. p90 is
the nearest-rank percentile. Rates are None, not 0, where nothing was there to count. A case the customer
withdrew (deleted the complaint before we answered) is counted apart: it is a complaint, but no rate counts
it as one we failed to answer or resolve.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from models.case_states import FINISHED
from models.reports import CaseRecord, MentionRecord

LABELS = ("negative", "neutral", "positive", "unscored")


def iso_week(moment: datetime, timezone: str) -> str:
    """``2026-W47``: the ISO week of ``moment`` in ``timezone``."""
    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(week: str) -> tuple[int, int]:
    try:
        year, number = week.split("-W")
        parsed = int(year), int(number)
        date.fromisocalendar(parsed[0], parsed[1], 1)
    except ValueError:
        raise ValueError(f"not an ISO week like 2026-W47: {week!r}") from None
    return parsed


def week_bounds(week: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of ``week`` as aware datetimes: Monday 00:00 to the next Monday 00:00 in ``timezone``."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    zone = ZoneInfo(timezone)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    following = monday + timedelta(days=7)
    return start, datetime(following.year, following.month, following.day, tzinfo=zone)


def previous_week(week: str) -> str:
    year, number = parse_week(week)
    earlier = date.fromisocalendar(year, number, 1) - timedelta(days=7)
    y, w, _ = earlier.isocalendar()
    return f"{y}-W{w:02d}"


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def first_response_minutes(case: CaseRecord) -> float | None:
    if case.first_response_at is None:
        return None
    return max(0.0, (case.first_response_at - case.posted_at).total_seconds() / 60)


def resolution_hours(case: CaseRecord) -> float | None:
    if case.state != "resolved" or case.resolved_at is None:
        return None
    return max(0.0, (case.resolved_at - case.posted_at).total_seconds() / 3600)


def is_first_contact_resolution(case: CaseRecord) -> bool:
    """Resolved after our first reply alone: one reply sent, never reopened."""
    return case.state == "resolved" and case.replies_sent == 1 and case.reopens == 0


def answered_unresolved(cases: Iterable[CaseRecord]) -> list[CaseRecord]:
    """Cases we replied to that are not resolved, oldest complaint first: the ones a reply count hides."""
    return sorted((c for c in cases if c.first_response_at is not None and c.state not in FINISHED),
                  key=lambda c: (c.posted_at, c.case_id))


@dataclass(frozen=True, slots=True)
class WeekMetrics:
    mentions: int
    complaints: int
    answered: int
    answered_within_target: int
    within_target_rate: float | None
    median_first_response_minutes: float | None
    p90_first_response_minutes: float | None
    resolved: int
    resolution_rate: float | None
    median_resolution_hours: float | None
    answered_unresolved: int
    first_contact_resolutions: int
    first_contact_resolution_rate: float | None
    reopened: int
    reopen_rate: float | None
    escalations: int
    csat_requested: int
    csat_answers: int
    csat_average: float | None
    csat_response_rate: float | None
    withdrawn: int = 0



def week_metrics(cases: Sequence[CaseRecord], mentions: Sequence[MentionRecord], *, target_minutes: int) -> WeekMetrics:
    """The week's numbers for ``cases`` (complaints posted that week) and ``mentions`` (posted that week)."""
    responses = [m for m in (first_response_minutes(c) for c in cases) if m is not None]
    within = sum(1 for m in responses if m <= target_minutes)
    withdrawn = sum(1 for c in cases if c.state == "withdrawn")
    standing = len(cases) - withdrawn  # complaints the customer did not take back
    resolved = [c for c in cases if c.state == "resolved"]
    hours = [h for h in (resolution_hours(c) for c in resolved) if h is not None]
    fcr = sum(1 for c in resolved if is_first_contact_resolution(c))
    reopened = sum(1 for c in cases if c.reopens > 0)
    requested = [c for c in cases if c.csat_requested_at is not None or c.csat is not None]
    scores = [c.csat for c in cases if c.csat is not None]
    return WeekMetrics(
        mentions=len(mentions),
        complaints=len(cases),
        answered=len(responses),
        answered_within_target=within,
        within_target_rate=_rate(within, standing),
        median_first_response_minutes=median(responses),
        p90_first_response_minutes=percentile(responses, 0.9),
        resolved=len(resolved),
        resolution_rate=_rate(len(resolved), standing),
        median_resolution_hours=median(hours),
        answered_unresolved=len(answered_unresolved(cases)),
        first_contact_resolutions=fcr,
        first_contact_resolution_rate=_rate(fcr, len(resolved)),
        reopened=reopened,
        reopen_rate=_rate(reopened, standing),
        escalations=sum(c.escalations for c in cases),
        csat_requested=len(requested),
        csat_answers=len(scores),
        csat_average=statistics.fmean(scores) if scores else None,
        csat_response_rate=_rate(len(scores), len(requested)),
        withdrawn=withdrawn,
    )


def breakdown(cases: Sequence[CaseRecord], mentions: Sequence[MentionRecord], *, by: str,
              target_minutes: int) -> dict[str, WeekMetrics]:
    """``week_metrics`` per brand, platform or agent (mentions have no agent: they count for none)."""
    if by not in ("brand", "platform", "agent"):
        raise ValueError(f"cannot break down by {by!r}")

    def key(record: CaseRecord | MentionRecord) -> str:
        return str(getattr(record, by, None) or "(none)")

    groups = sorted({key(c) for c in cases} | ({key(m) for m in mentions} if by != "agent" else set()))
    return {
        group: week_metrics([c for c in cases if key(c) == group],
                            [m for m in mentions if by != "agent" and key(m) == group], target_minutes=target_minutes)
        for group in groups
    }


def by_week(cases: Iterable[CaseRecord], timezone: str) -> dict[str, list[CaseRecord]]:
    weeks: dict[str, list[CaseRecord]] = {}
    for case in cases:
        weeks.setdefault(iso_week(case.posted_at, timezone), []).append(case)
    return dict(sorted(weeks.items()))


def daily_volume(mentions: Iterable[MentionRecord], *, week: str, timezone: str) -> dict[date, Counter[str]]:
    """Mentions per local day of ``week`` and sentiment label; every day of the week is present."""
    start, _end = week_bounds(week, timezone)
    days: dict[date, Counter[str]] = {(start + timedelta(days=i)).date(): Counter() for i in range(7)}
    zone = ZoneInfo(timezone)
    for mention in mentions:
        day = mention.created_at.astimezone(zone).date()
        if day in days:
            days[day][mention.label if mention.label in LABELS else "unscored"] += 1
    return days


@dataclass(frozen=True, slots=True)
class Funnel:
    complaints: int
    answered: int
    within_target: int
    resolved: int
    confirmed_by_customer: int


def funnel(cases: Sequence[CaseRecord], *, target_minutes: int) -> Funnel:
    """Complaints → answered → within target → resolved → resolved by the customer's own word or rating."""
    responses = [first_response_minutes(c) for c in cases]
    return Funnel(
        complaints=len(cases),
        answered=sum(1 for m in responses if m is not None),
        within_target=sum(1 for m in responses if m is not None and m <= target_minutes),
        resolved=sum(1 for c in cases if c.state == "resolved"),
        confirmed_by_customer=sum(1 for c in cases if c.state == "resolved" and c.resolution in ("confirmed", "csat")),
    )


def longest_open(cases: Iterable[CaseRecord], *, limit: int = 5) -> list[CaseRecord]:
    """Cases neither resolved nor withdrawn, oldest complaint first."""
    return sorted((c for c in cases if c.state not in FINISHED), key=lambda c: (c.posted_at, c.case_id))[:limit]


@dataclass(frozen=True, slots=True)
class TopicChange:
    topic: str
    this_week: int
    last_week: int

    @property
    def change(self) -> int:
        return self.this_week - self.last_week


def rising_topics(this_week: Iterable[CaseRecord], last_week: Iterable[CaseRecord], *, limit: int = 5,
                  topic: Callable[[CaseRecord], str] = lambda c: c.category) -> list[TopicChange]:
    """Complaint topics that grew most against the previous week (largest increase first; growth only)."""
    now, before = Counter(topic(c) for c in this_week), Counter(topic(c) for c in last_week)
    changes = [TopicChange(t, now[t], before[t]) for t in now if now[t] > before[t]]
    return sorted(changes, key=lambda c: (-c.change, -c.this_week, c.topic))[:limit]


__all__ = [
    "Funnel", "TopicChange", "WeekMetrics", "answered_unresolved", "breakdown", "by_week", "daily_volume",
    "first_response_minutes", "funnel", "is_first_contact_resolution", "iso_week", "longest_open", "median",
    "parse_week", "percentile", "previous_week", "resolution_hours", "rising_topics", "week_bounds", "week_metrics",
]
