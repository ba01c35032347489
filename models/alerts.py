"""Reading spikes (for `closeloop alerts`, the mail, /metrics, and later the console and the digest) and
claiming their alert mails.

Spikes are written only by the radar's rounds (models.radar). An alert mail is claimed by inserting its
unique (spike, level, recipient) row as ``sending`` before anything is sent: a row that exists is never sent
again, except one marked ``failed`` (the server refused it), which may be claimed again — as escalations do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from models.db import insert_for as _insert
from models.db import reading
from models.tables import Author, Mention, Spike, SpikeMention, SpikeNotification

_spike = Spike.__table__  # type: ignore[attr-defined]
_link = SpikeMention.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_author = Author.__table__  # type: ignore[attr-defined]
_notification = SpikeNotification.__table__  # type: ignore[attr-defined]
REACH_CANDIDATES = 500


@dataclass(frozen=True, slots=True)
class SpikeRecord:
    id: int
    brand: str
    state: str
    topic: list[str]
    started_at: datetime
    opened_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    closed_at: datetime | None
    mentions: int
    authors: int
    complaints: int
    baseline_per_hour: float
    rate_per_hour: float
    peak_rate_per_hour: float
    platforms: list[str]


@dataclass(frozen=True, slots=True)
class SpikePost:
    mention_id: int
    case_id: int | None
    platform: str
    text: str
    url: str | None
    language: str | None
    created_at: datetime
    author_handle: str
    author_name: str | None
    followers: int
    reach: int


def _records(rows: Any) -> list[SpikeRecord]:
    return [SpikeRecord(r.id, r.brand, r.state, list(r.topic), r.started_at, r.opened_at, r.last_seen_at, r.ended_at,
                        r.closed_at, r.mentions, r.authors, r.complaints, r.baseline_per_hour, r.rate_per_hour,
                        r.peak_rate_per_hour, list(r.platforms)) for r in rows]


def list_spikes(engine: Engine, *, include_closed: bool = False, brand: str | None = None,
                opened_from: datetime | None = None, opened_to: datetime | None = None,
                limit: int | None = None) -> list[SpikeRecord]:
    """Spikes newest first: open ones, or every one with ``include_closed``; optionally of one brand and
    opened in [opened_from, opened_to) (the digest's week)."""
    query = select(_spike).order_by(_spike.c.opened_at.desc(), _spike.c.id.desc())
    if not include_closed:
        query = query.where(_spike.c.state == "open")
    if brand is not None:
        query = query.where(_spike.c.brand == brand)
    if opened_from is not None:
        query = query.where(_spike.c.opened_at >= opened_from)
    if opened_to is not None:
        query = query.where(_spike.c.opened_at < opened_to)
    if limit is not None:
        query = query.limit(limit)
    with reading(engine) as connection:
        return _records(connection.execute(query))


def spike(engine: Engine, *, spike_id: int) -> SpikeRecord | None:
    with reading(engine) as connection:
        found = _records(connection.execute(select(_spike).where(_spike.c.id == spike_id)))
        return found[0] if found else None


def reach(followers: int | None, metrics: dict[str, int] | None) -> int:
    """How many people a post likely reached: its author's followers plus its likes and reposts."""
    metrics = metrics or {}
    return (followers or 0) + int(metrics.get("likes") or 0) + int(metrics.get("reposts") or 0)


def spike_posts(engine: Engine, *, spike_id: int, limit: int) -> list[SpikePost]:
    """A spike's mentions with the widest reach first (ties: earliest first)."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(_mention.c.id, _mention.c.case_id, _mention.c.platform, _mention.c.text, _mention.c.url,
                   _mention.c.language, _mention.c.created_at, _mention.c.metrics, _author.c.handle,
                   _author.c.name, _author.c.followers)
            .join(_link, _link.c.mention_id == _mention.c.id)
            .join(_author, _author.c.id == _mention.c.author_id)
            .where(_link.c.spike_id == spike_id)
            .order_by(func.coalesce(_author.c.followers, 0).desc(), _mention.c.id)
            .limit(REACH_CANDIDATES)
        ).all()
    posts = [SpikePost(r.id, r.case_id, r.platform, r.text, r.url, r.language, r.created_at, r.handle, r.name,
                       r.followers or 0, reach(r.followers, r.metrics)) for r in rows]
    posts.sort(key=lambda p: (-p.reach, p.created_at, p.mention_id))
    return posts[:limit]


def spike_mention_ids(engine: Engine, *, spike_id: int) -> list[int]:
    """Every mention a spike holds, oldest first."""
    with reading(engine) as connection:
        return [r.mention_id for r in connection.execute(
            select(_link.c.mention_id).where(_link.c.spike_id == spike_id).order_by(_link.c.at, _link.c.mention_id))]


def spike_case_ids(engine: Engine, *, spike_id: int) -> list[int]:
    """The cases of a spike's mentions (each once, in order of their first mention): what a group reply
    answers. A mention without a case (praise, chatter) adds none."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(_mention.c.case_id, func.min(_link.c.at).label("first"))
            .join(_link, _link.c.mention_id == _mention.c.id)
            .where(_link.c.spike_id == spike_id, _mention.c.case_id.is_not(None))
            .group_by(_mention.c.case_id)
            .order_by("first", _mention.c.case_id))
        return [int(r.case_id) for r in rows]


def spikes_of_cases(engine: Engine, *, case_ids: Sequence[int]) -> dict[int, list[int]]:
    """case id -> the spikes holding any of its mentions (for a banner or a badge on a case)."""
    if not case_ids:
        return {}
    with reading(engine) as connection:
        rows = connection.execute(
            select(_mention.c.case_id, _link.c.spike_id).distinct()
            .join(_link, _link.c.mention_id == _mention.c.id)
            .where(_mention.c.case_id.in_(list(case_ids)))
            .order_by(_mention.c.case_id, _link.c.spike_id))
        found: dict[int, list[int]] = {}
        for r in rows:
            found.setdefault(int(r.case_id), []).append(int(r.spike_id))
        return found


def open_spike_counts(engine: Engine) -> dict[str, int]:
    """brand -> how many spikes are open now."""
    with reading(engine) as connection:
        return {r.brand: int(r.n) for r in connection.execute(
            select(_spike.c.brand, func.count().label("n")).where(_spike.c.state == "open").group_by(_spike.c.brand))}


@dataclass(frozen=True, slots=True)
class AlertSent:
    spike_id: int
    level: int
    mentions: int
    recipient: str
    status: str


def spike_alerts(engine: Engine, *, spike_ids: Sequence[int]) -> list[AlertSent]:
    """Every alert mail claimed for these spikes."""
    if not spike_ids:
        return []
    with reading(engine) as connection:
        return [AlertSent(r.spike_id, r.level, r.mentions, r.recipient, r.status) for r in connection.execute(
            select(_notification).where(_notification.c.spike_id.in_(list(spike_ids)))
            .order_by(_notification.c.spike_id, _notification.c.level, _notification.c.recipient))]


def claim_spike_alert(engine: Engine, *, spike_id: int, level: int, recipient: str, mentions: int,
                      now: datetime) -> bool:
    """Claim one alert mail before sending it; False when another process (or an earlier run) has it."""
    keys = {"spike_id": spike_id, "level": level, "recipient": recipient}
    with engine.begin() as connection:
        inserted = connection.execute(
            _insert(connection, _notification)
            .values(**keys, mentions=mentions, status="sending", created_at=now)
            .on_conflict_do_nothing(index_elements=list(keys)).returning(_notification.c.id)
        ).first()
        if inserted is not None:
            return True
        retried = connection.execute(
            update(_notification).where(*(_notification.c[k] == v for k, v in keys.items()),
                                        _notification.c.status == "failed")
            .values(status="sending", mentions=mentions, created_at=now, last_error=None))
        return retried.rowcount == 1


def mark_spike_alert(engine: Engine, *, spike_id: int, level: int, recipient: str, sent: bool, now: datetime,
                     error: str | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(_notification).where(_notification.c.spike_id == spike_id, _notification.c.level == level,
                                        _notification.c.recipient == recipient, _notification.c.status == "sending")
            .values(status="sent" if sent else "failed", sent_at=now if sent else None, last_error=error))


__all__ = ["AlertSent", "SpikePost", "SpikeRecord", "claim_spike_alert", "list_spikes", "mark_spike_alert",
           "open_spike_counts", "reach", "spike", "spike_alerts", "spike_case_ids", "spike_mention_ids",
           "spike_posts", "spikes_of_cases"]
