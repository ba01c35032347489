"""A spike as a duty manager reads it: as JSON (`closeloop alerts --json`) and as plain lines (the terminal,
the mail's text part). Pure. Post texts and handles are attacker-controlled: here they are only data (the
callers escape them for HTML and strip control characters for terminals and headers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.alerts import SpikePost, SpikeRecord

SAMPLE = 3
"""Post texts in a spike's JSON ``sample``."""
TOP_POSTS = 5
"""Posts, widest reach first, in a spike's JSON and its alert mail."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def spike_json(spike: SpikeRecord, posts: Sequence[SpikePost]) -> dict[str, Any]:
    """The JSON object of one alert (the interface of `closeloop alerts --json`)."""
    return {
        "kind": "spike",
        "id": spike.id,
        "brand": spike.brand,
        "state": spike.state,
        "topic": list(spike.topic),
        "started_at": _iso(spike.started_at),
        "opened_at": _iso(spike.opened_at),
        "last_seen_at": _iso(spike.last_seen_at),
        "ended_at": _iso(spike.ended_at),
        "closed_at": _iso(spike.closed_at),
        "mentions": spike.mentions,
        "authors": spike.authors,
        "complaints": spike.complaints,
        "baseline_per_hour": round(spike.baseline_per_hour, 2),
        "rate_per_hour": round(spike.rate_per_hour, 2),
        "peak_rate_per_hour": round(spike.peak_rate_per_hour, 2),
        "platforms": list(spike.platforms),
        "sample": [p.text for p in posts[:SAMPLE]],
        "top_posts": [
            {"mention_id": p.mention_id, "case_id": p.case_id, "platform": p.platform, "author": p.author_handle,
             "followers": p.followers, "reach": p.reach, "url": p.url, "language": p.language,
             "created_at": _iso(p.created_at), "text": p.text}
            for p in posts[:TOP_POSTS]
        ],
    }


def local_time(value: datetime, timezone: str) -> str:
    """``value`` in the configured timezone, with UTC beside it when they differ."""
    local = value.astimezone(ZoneInfo(timezone))
    utc = f"{value:%Y-%m-%d %H:%M} UTC"
    return utc if timezone == "UTC" else f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({utc})"


def topic_title(spike: SpikeRecord, *, words: int = 4) -> str:
    return ", ".join(spike.topic[:words]) if spike.topic else "(no single topic: volume)"


def one_line(text: str, *, limit: int = 280) -> str:
    """A post's text on one line, shortened: for listings (it stays plain text)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def spike_lines(spike: SpikeRecord, posts: Sequence[SpikePost], *, timezone: str) -> list[str]:
    """What a duty manager needs, as plain lines: the topic, when it began, how big, against what, where."""
    state = "open" if spike.state == "open" else (
        f"closed (subsided {local_time(spike.ended_at, timezone)})" if spike.ended_at else "closed")
    lines = [
        f"Spike #{spike.id} for {spike.brand}: {', '.join(spike.topic) or '(no single topic: a rise in volume)'}",
        f"  began {local_time(spike.started_at, timezone)}, detected {local_time(spike.opened_at, timezone)}; {state}",
        f"  {spike.mentions} mentions by {spike.authors} distinct authors so far ({spike.complaints} complaints)",
        f"  rate {spike.rate_per_hour:.0f}/hour (peak {spike.peak_rate_per_hour:.0f}/hour); usual for these "
        f"topics at this hour: {spike.baseline_per_hour:.1f}/hour",
        f"  platforms: {', '.join(spike.platforms) or '—'}",
    ]
    if posts:
        lines.append("  top posts by reach:")
        for post in posts[:TOP_POSTS]:
            lines.append(f"    @{one_line(post.author_handle, limit=60)} ({post.platform}, reach {post.reach:,}): "
                         f"{one_line(post.text)}")
            if post.url:
                lines.append(f"      {one_line(post.url, limit=300)}")
    return lines


__all__ = ["SAMPLE", "TOP_POSTS", "local_time", "one_line", "spike_json", "spike_lines", "topic_title"]
