"""The weekly digest's crisis radar section: the week's spikes and how long each lasted (open ones: ongoing).

``week_spikes`` reads the spikes that were open at any time in the week; ``spike_rows`` (pure) turns them into
what the digest lists. Topic words come from posts: the templates escape them (HTML) or print them as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from models.alerts import SpikeRecord, list_spikes

LONGEST_SPIKE = timedelta(days=7)
"""How far before the week a spike still open in it may have begun (older ones are not looked for)."""


@dataclass(frozen=True, slots=True)
class SpikeRow:
    spike_id: int
    brand: str
    topic: str
    began: str
    lasted: str
    ongoing: bool
    mentions: int
    authors: int
    platforms: str


def _lasted(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 90:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def spike_rows(spikes: Sequence[SpikeRecord], *, timezone: str, now: datetime) -> list[SpikeRow]:
    """Pure: one row per spike, oldest first; a closed one lasted from its first mention until it subsided,
    an open one is ``ongoing`` (for so far)."""
    zone = ZoneInfo(timezone)
    rows = []
    for spike in sorted(spikes, key=lambda s: (s.started_at, s.id)):
        ongoing = spike.state == "open"
        end = now if ongoing else (spike.ended_at or spike.closed_at or spike.last_seen_at)
        lasted = _lasted(end - spike.started_at)
        rows.append(SpikeRow(spike.id, spike.brand, ", ".join(spike.topic[:6]) or "(a rise in volume)",
                             f"{spike.started_at.astimezone(zone):%a %d %b %H:%M}",
                             f"ongoing ({lasted} so far)" if ongoing else lasted, ongoing, spike.mentions,
                             spike.authors, ", ".join(spike.platforms)))
    return rows


def week_spikes(engine: Engine, *, start: datetime, end: datetime) -> list[SpikeRecord]:
    """Spikes open at any time in [start, end): begun before the end, and not subsided before the start."""
    candidates = list_spikes(engine, include_closed=True, opened_from=start - LONGEST_SPIKE, opened_to=end)
    return [s for s in candidates if s.started_at < end
            and (s.state == "open" or (s.ended_at or s.closed_at or s.last_seen_at) >= start)]


__all__ = ["SpikeRow", "spike_rows", "week_spikes"]
