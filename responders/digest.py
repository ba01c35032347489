"""The weekly digest for management: what was resolved, not just what was replied to.

``build_digest`` reads one ISO week's records; ``assemble_digest`` (pure) turns records into the numbers and
lists; ``render_html`` / ``render_text`` fill ``templates/digest.html`` (autoescaped: post text is data) and
``templates/digest.txt``; ``charts`` draws PNGs with matplotlib's Agg backend, sent as inline CID images.
``send_weekly_digest`` claims each (week, recipient) delivery before sending it, so each recipient gets each
week's digest exactly once across restarts and daemons. matplotlib is imported only when charts are drawn.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FunctionLoader, StrictUndefined
from sqlalchemy.engine import Engine

from models.notifications import claim_digest_delivery, digest_deliveries, mark_digest_delivery
from models.outbox import held_replies
from models.reports import (
    CaseRecord,
    MentionRecord,
    case_records,
    mention_records,
    open_case_records,
    scorer_counts,
)
from monitor.config import Settings
from responders.digest_charts import (
    charts,
    duration_minutes,
    target_label,
)
from responders.digest_spikes import SpikeRow, spike_rows, week_spikes
from responders.mailer import InlineImage, Mailer, MailError, Outgoing, build_message
from responders.metrics import (
    Funnel,
    TopicChange,
    WeekMetrics,
    answered_unresolved,
    breakdown,
    daily_volume,
    first_response_minutes,
    funnel,
    iso_week,
    longest_open,
    previous_week,
    rising_topics,
    week_bounds,
    week_metrics,
)

log = logging.getLogger("closeloop.digest")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LIST_LIMIT = 10
EXCERPT = 140


@dataclass(frozen=True, slots=True)
class CaseLine:
    """A case as a digest lists it."""

    case_id: int
    handle: str
    platform: str
    state: str
    excerpt: str
    url: str | None
    age: str
    agent: str | None


@dataclass(frozen=True, slots=True)
class Headline:
    label: str
    value: str
    previous: str
    delta: str
    better: bool | None


@dataclass(frozen=True, slots=True)
class Digest:
    week: str
    previous_week: str
    timezone: str
    starts: date
    ends: date
    target_minutes: int
    this: WeekMetrics
    last: WeekMetrics
    headlines: list[Headline]
    daily: dict[date, Counter[str]]
    response_minutes: list[float]
    funnel: Funnel
    answered_unresolved: list[CaseLine]
    oldest_open: list[CaseLine]
    rising: list[TopicChange]
    by_platform: dict[str, WeekMetrics]
    by_agent: dict[str, WeekMetrics]
    by_brand: dict[str, WeekMetrics] = field(default_factory=dict)
    held_replies: int = 0
    """Approved replies the outbox holds now (it cannot send them); not a weekly number."""
    spikes: list[SpikeRow] = field(default_factory=list)
    scorers: dict[str, int] = field(default_factory=dict)
    """The models that scored the week's posts, with how many each (the footer names them)."""

    @property
    def scored_by(self) -> str:
        """The footer's line: "cardiffnlp/twitter-xlm-roberta-base-sentiment@f3e34b6 (212 posts)"."""
        if not self.scorers:
            return "no posts scored this week"
        return ", ".join(f"{model} ({count} post{'s' if count != 1 else ''})" for model, count in self.scorers.items())


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}/5"


def _age(posted_at: datetime, now: datetime) -> str:
    return duration_minutes(max(0.0, (now - posted_at).total_seconds() / 60))


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def _line(case: CaseRecord, now: datetime) -> CaseLine:
    url = case.url if case.url and case.url.startswith(("https://", "http://")) else None
    return CaseLine(case.case_id, case.author_handle, case.platform, case.state, _excerpt(case.text), url,
                    _age(case.posted_at, now), case.agent)


def _headline(label: str, this: float | None, last: float | None, show: Any, *, points: bool) -> Headline:
    if this is None or last is None:
        return Headline(label, show(this), show(last), "", None)
    change = this - last
    delta = f"{change * 100:+.0f} pts" if points else f"{change:+.1f}"
    return Headline(label, show(this), show(last), delta, None if abs(change) < 1e-9 else change > 0)


def assemble_digest(*, week: str, timezone: str, target_minutes: int, now: datetime, cases: Sequence[CaseRecord],
                    previous_cases: Sequence[CaseRecord], mentions: Sequence[MentionRecord],
                    previous_mentions: Sequence[MentionRecord], open_cases: Sequence[CaseRecord],
                    held_replies: int = 0, spikes: Sequence[SpikeRow] = ()) -> Digest:
    """The digest's numbers and lists from plain records (pure)."""
    start, end = week_bounds(week, timezone)
    this = week_metrics(cases, mentions, target_minutes=target_minutes)
    last = week_metrics(previous_cases, previous_mentions, target_minutes=target_minutes)
    headlines = [
        _headline(f"Answered {target_label(target_minutes)}", this.within_target_rate, last.within_target_rate,
                  percent, points=True),
        _headline("Resolved", this.resolution_rate, last.resolution_rate, percent, points=True),
        _headline("CSAT", this.csat_average, last.csat_average, score, points=False),
    ]
    return Digest(
        week=week, previous_week=previous_week(week), timezone=timezone, starts=start.date(),
        ends=(end - timedelta(days=1)).date(), target_minutes=target_minutes, this=this, last=last,
        headlines=headlines, daily=daily_volume(mentions, week=week, timezone=timezone),
        response_minutes=[m for m in (first_response_minutes(c) for c in cases) if m is not None],
        funnel=funnel(cases, target_minutes=target_minutes),
        answered_unresolved=[_line(c, now) for c in answered_unresolved(cases)][:LIST_LIMIT],
        oldest_open=[_line(c, now) for c in longest_open(open_cases, limit=LIST_LIMIT)],
        rising=rising_topics(cases, previous_cases),
        by_platform=breakdown(cases, mentions, by="platform", target_minutes=target_minutes),
        by_agent=breakdown(cases, mentions, by="agent", target_minutes=target_minutes),
        by_brand=breakdown(cases, mentions, by="brand", target_minutes=target_minutes),
        held_replies=held_replies, spikes=list(spikes),
    )


def _own_handles(settings: Settings) -> list[str]:
    return [h.lstrip("@") for b in settings.brands
            for h in (b.handles.x, b.handles.reddit, b.handles.mastodon, b.handles.bluesky) if h]


def build_digest(engine: Engine, settings: Settings, *, week: str, now: datetime) -> Digest:
    """The digest of ``week`` (ISO, in app.timezone) as the database has it at ``now``."""
    timezone = settings.app.timezone
    start, end = week_bounds(week, timezone)
    before_start, _ = week_bounds(previous_week(week), timezone)
    own = _own_handles(settings)
    digest = assemble_digest(
        week=week, timezone=timezone, target_minutes=settings.app.response_target_minutes, now=now,
        cases=case_records(engine, posted_from=start, posted_to=end),
        previous_cases=case_records(engine, posted_from=before_start, posted_to=start),
        mentions=mention_records(engine, posted_from=start, posted_to=end, exclude_handles=own),
        previous_mentions=mention_records(engine, posted_from=before_start, posted_to=start, exclude_handles=own),
        open_cases=open_case_records(engine, posted_before=end),
        held_replies=len(held_replies(engine)),
        spikes=spike_rows(week_spikes(engine, start=start, end=end), timezone=timezone, now=now),
    )
    return replace(digest, scorers=scorer_counts(engine, posted_from=start, posted_to=end))


# --- rendering ----------------------------------------------------------------------------------------------

def _template_source(name: str) -> str:
    return resources.files("responders").joinpath(f"templates/{name}").read_text(encoding="utf-8")


@cache
def _environments() -> tuple[Environment, Environment]:
    filters = {"percent": percent, "minutes": duration_minutes, "score": score}
    html = Environment(loader=FunctionLoader(_template_source), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)
    text = Environment(loader=FunctionLoader(_template_source), autoescape=False, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    for environment in (html, text):
        environment.filters.update(filters)
    return html, text


def _context(digest: Digest, images: dict[str, str]) -> dict[str, Any]:
    return {"d": digest, "images": images, "target": target_label(digest.target_minutes)}


def render_html(digest: Digest, images: Sequence[InlineImage] | dict[str, str] = ()) -> str:
    """The HTML digest; ``images`` are the inline charts (``cid:`` links) or, for a preview, data URLs."""
    sources = images if isinstance(images, dict) else {
        image.filename.split(".")[0].split("-")[0]: f"cid:{image.cid}" for image in images}
    return _environments()[0].get_template("digest.html").render(**_context(digest, sources))


def render_text(digest: Digest) -> str:
    return _environments()[1].get_template("digest.txt").render(**_context(digest, {}))


def preview_html(digest: Digest) -> str:
    """A self-contained HTML file: the charts as data URLs instead of CID references."""
    import base64

    data = {image.filename.split(".")[0].split("-")[0]: "data:image/png;base64," + base64.b64encode(image.data).decode()
            for image in charts(digest)}
    return render_html(digest, data)


def subject(digest: Digest) -> str:
    head = digest.headlines
    return (f"closeloop weekly digest {digest.week}: {head[0].value} answered {target_label(digest.target_minutes)}, "
            f"{head[1].value} resolved, CSAT {head[2].value}")


# --- sending ------------------------------------------------------------------------------------------------

def send_weekly_digest(engine: Engine, settings: Settings, mailer: Mailer, *, week: str, now: datetime) -> int:
    """Send ``week``'s digest to each configured recipient who has not had it; returns how many were sent.

    Each (week, recipient) row is claimed before the message goes out. A claimed row is never sent again
    (exactly once, or — if the process dies mid-send — at most once), except one the server refused, which a
    later call retries.
    """
    recipients = list(dict.fromkeys(settings.digest.recipients))
    delivered = digest_deliveries(engine, week=week)
    if not [r for r in recipients if delivered.get(r) in (None, "failed")]:
        return 0
    digest = build_digest(engine, settings, week=week, now=now)
    images = charts(digest)
    html, text, title = render_html(digest, images), render_text(digest), subject(digest)
    sent = 0
    for recipient in recipients:
        if not claim_digest_delivery(engine, week=week, recipient=recipient, now=now):
            continue
        message = build_message(Outgoing(sender=settings.smtp.sender, recipient=recipient, subject=title, text=text,
                                         html=html, images=images, headers={"X-Closeloop-Week": week}))
        try:
            mailer.send(message)
        except MailError as exc:
            mark_digest_delivery(engine, week=week, recipient=recipient, sent=False, now=now, error=str(exc))
            log.warning("digest_failed week=%s recipient=%s error=%r", week, recipient, str(exc))
            continue
        mark_digest_delivery(engine, week=week, recipient=recipient, sent=True, now=now,
                             message_id=str(message["Message-ID"]))
        log.info("digest_sent week=%s recipient=%s", week, recipient)
        sent += 1
    return sent


def digest_due(now: datetime, settings: Settings) -> str | None:
    """The week whose digest is due at ``now``: the last completed ISO week, once this week's configured
    day and hour (in app.timezone) have come; None before then. Calling it again the same week returns the
    same week, and the delivery claims make the repeat a no-op."""
    zone = ZoneInfo(settings.app.timezone)
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    send_day = monday + timedelta(days=WEEKDAYS.index(settings.digest.weekday))
    send_at = datetime(send_day.year, send_day.month, send_day.day, settings.digest.hour, tzinfo=zone)
    if local < send_at:
        return None
    return iso_week(datetime(monday.year, monday.month, monday.day, tzinfo=zone) - timedelta(days=1),
                    settings.app.timezone)


__all__ = ["Digest", "assemble_digest", "build_digest", "charts", "digest_due", "preview_html", "render_html",
           "render_text", "send_weekly_digest", "subject"]
