"""Storage of the crisis radar's counts and spikes: each round reads, then writes all or nothing.

A round reads (without taking the write lock) the mentions after the progress row's cursor (by id, in
order, stopping at the first one that is neither triaged nor given up on) and the counts it needs; it
computes; then one short transaction moves the progress row from what it read to where it got — a
conditional UPDATE that says when another process got there first (``RoundLost``: nothing is written) —
and writes the new counts and every spike change. So two daemons never count a mention twice, and no
writer waits on the radar's arithmetic. This module is the only writer of spikes and their mentions.

Known limit: on PostgreSQL, mention ids come from a sequence, so a batch whose insert commits after a
later-numbered batch has already been scored, triaged and counted is skipped by the radar (never by the
desk). Batches commit in milliseconds and triage takes longer, so this needs a writer stalled mid-commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, distinct, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from models.db import insert_for as _insert
from models.db import reading
from models.tables import (
    Author,
    Case,
    Mention,
    RadarPost,
    RadarProgress,
    RadarTopic,
    RadarVolume,
    Spike,
    SpikeMention,
)

_mention = Mention.__table__  # type: ignore[attr-defined]
_author = Author.__table__  # type: ignore[attr-defined]
_case = Case.__table__  # type: ignore[attr-defined]
_progress = RadarProgress.__table__  # type: ignore[attr-defined]
_post = RadarPost.__table__  # type: ignore[attr-defined]
_volume = RadarVolume.__table__  # type: ignore[attr-defined]
_topic = RadarTopic.__table__  # type: ignore[attr-defined]
_spike = Spike.__table__  # type: ignore[attr-defined]
_link = SpikeMention.__table__  # type: ignore[attr-defined]
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Progress:
    last_mention_id: int
    evaluated_until: datetime | None


@dataclass(frozen=True, slots=True)
class NewMention:
    """A mention the radar has not counted yet, with what it needs to count it."""

    mention_id: int
    brand: str
    platform: str
    created_at: datetime
    author_id: int
    author_handle: str
    text: str
    language: str | None
    complaint: bool
    category: str | None


@dataclass(frozen=True, slots=True)
class StoredPost:
    mention_id: int
    brand: str
    platform: str
    at: datetime
    author_id: int
    complaint: bool
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredSpike:
    id: int
    brand: str
    seed: str
    members: list[str]
    opened_at: datetime
    started_at: datetime
    last_seen_at: datetime
    baseline_per_hour: float
    rate_per_hour: float
    peak_rate_per_hour: float
    links: dict[int, datetime]


@dataclass
class SpikeWrite:
    """What a round changes in one spike; ``id`` None opens it."""

    id: int | None
    brand: str
    seed: str
    members: list[str]
    opened_at: datetime
    started_at: datetime
    last_seen_at: datetime
    baseline_per_hour: float
    rate_per_hour: float
    peak_rate_per_hour: float
    closed_at: datetime | None
    ended_at: datetime | None
    link: list[StoredPost] = field(default_factory=list)
    unlink: list[int] = field(default_factory=list)


class RoundLost(RuntimeError):
    """Another process moved the radar's progress since this round read it; the round wrote nothing."""


class RadarRound:
    """The storage of one round: its reads (``radar_reading``) or its writes (``radar_writing``)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def progress(self) -> Progress:
        row = self.connection.execute(
            select(_progress.c.last_mention_id, _progress.c.evaluated_until).where(_progress.c.id == 1)).first()
        return Progress(row.last_mention_id, row.evaluated_until) if row else Progress(0, None)

    def new_mentions(self, *, after: int, limit: int,
                     given_up_before: datetime) -> tuple[list[NewMention], int, bool]:
        """Mentions after id ``after`` to count now, in id order; the id the cursor moves to; whether more wait.

        Stops at the first mention not triaged yet (its complaint flag and category are still to come),
        unless it was fetched before ``given_up_before``: then it is counted as it is. Deleted mentions are
        passed over, counted nowhere.
        """
        rows = self.connection.execute(
            select(_mention.c.id, _mention.c.brand, _mention.c.platform, _mention.c.created_at, _mention.c.author_id,
                   _author.c.handle, _mention.c.text, _mention.c.language, _mention.c.lang_hint,
                   _mention.c.is_complaint, _mention.c.triaged_at, _mention.c.deleted_at, _mention.c.fetched_at,
                   _case.c.category)
            .join(_author, _author.c.id == _mention.c.author_id)
            .outerjoin(_case, _case.c.id == _mention.c.case_id)
            .where(_mention.c.id > after)
            .order_by(_mention.c.id)
            .limit(limit)
        ).all()
        found: list[NewMention] = []
        cursor = after
        for row in rows:
            if row.triaged_at is None and row.deleted_at is None and row.fetched_at >= given_up_before:
                return found, cursor, False
            cursor = row.id
            if row.deleted_at is not None:
                continue
            found.append(NewMention(row.id, row.brand, row.platform, row.created_at, row.author_id, row.handle,
                                    row.text, row.language or row.lang_hint, bool(row.is_complaint),
                                    row.category if row.is_complaint else None))
        return found, cursor, len(rows) == limit

    def window_posts(self, *, brands: Iterable[str] | None, since: datetime) -> list[StoredPost]:
        """The counted posts of these brands (None: of every brand) written after ``since``."""
        query = select(_post).where(_post.c.at > since).order_by(_post.c.at)
        if brands is not None:
            names = sorted(set(brands))
            if not names:
                return []
            query = query.where(_post.c.brand.in_(names))
        rows = self.connection.execute(query)
        return [StoredPost(r.mention_id, r.brand, r.platform, r.at, r.author_id, bool(r.complaint), tuple(r.topics))
                for r in rows]

    def weights(self, *, brand: str, topics: Iterable[str]) -> dict[tuple[str, str], tuple[float, float, datetime]]:
        """(platform, topic) -> (decayed mentions, decayed complaints, as of) for these topics of a brand."""
        wanted = sorted(set(topics))
        found: dict[tuple[str, str], tuple[float, float, datetime]] = {}
        for start in range(0, len(wanted), CHUNK):
            rows = self.connection.execute(
                select(_topic).where(_topic.c.brand == brand, _topic.c.topic.in_(wanted[start:start + CHUNK])))
            for r in rows:
                found[(r.platform, r.topic)] = (r.mentions, r.complaints, r.as_of)
        return found

    def volumes(self, *, brand: str, hours: Sequence[datetime] | None = None,
                between: tuple[datetime, datetime] | None = None) -> dict[tuple[str, datetime], tuple[int, int]]:
        """(platform, hour) -> (mentions, complaints) for a brand, at these hours or between two."""
        query = select(_volume.c.platform, _volume.c.hour, _volume.c.mentions, _volume.c.complaints).where(
            _volume.c.brand == brand)
        found: dict[tuple[str, datetime], tuple[int, int]] = {}
        if between is not None:
            query = query.where(_volume.c.hour >= between[0], _volume.c.hour <= between[1])
            chunks: list[Any] = [query]
        else:
            wanted = sorted(set(hours or ()))
            chunks = [query.where(_volume.c.hour.in_(wanted[i:i + CHUNK])) for i in range(0, len(wanted), CHUNK)]
        for chunk in chunks:
            for r in self.connection.execute(chunk):
                found[(r.platform, r.hour)] = (r.mentions, r.complaints)
        return found

    def history_from(self, *, brands: Iterable[str], everything: str) -> dict[str, datetime]:
        """The first counted hour of each brand (platform ``everything``)."""
        names = sorted(set(brands))
        if not names:
            return {}
        rows = self.connection.execute(
            select(_volume.c.brand, func.min(_volume.c.hour).label("first"))
            .where(_volume.c.brand.in_(names), _volume.c.platform == everything).group_by(_volume.c.brand))
        return {r.brand: r.first for r in rows}

    def open_spikes(self, *, links_since: datetime, newest_links: int) -> list[StoredSpike]:
        """Open spikes, each with its mentions written after ``links_since`` and at least its newest ones."""
        spikes = []
        for r in self.connection.execute(select(_spike).where(_spike.c.state == "open").order_by(_spike.c.id)):
            newest = select(_link.c.mention_id).where(_link.c.spike_id == r.id).order_by(
                _link.c.at.desc()).limit(newest_links)
            links = {row.mention_id: row.at for row in self.connection.execute(
                select(_link.c.mention_id, _link.c.at).where(
                    _link.c.spike_id == r.id, or_(_link.c.at > links_since, _link.c.mention_id.in_(newest))))}
            spikes.append(StoredSpike(r.id, r.brand, r.seed, list(r.members), r.opened_at, r.started_at,
                                      r.last_seen_at, r.baseline_per_hour, r.rate_per_hour, r.peak_rate_per_hour,
                                      links))
        return spikes

    def record_counts(self, *, posts: Sequence[StoredPost], volume: dict[tuple[str, str, datetime], list[int]],
                      weights: dict[tuple[str, str, str], tuple[float, float, datetime]]) -> None:
        """Keep the window's new posts, add to the hourly counts, replace the topics' decayed counts."""
        c = self.connection
        if posts:
            c.execute(_insert(c, _post).on_conflict_do_nothing(index_elements=["mention_id"]),
                      [{"mention_id": p.mention_id, "brand": p.brand, "platform": p.platform, "at": p.at,
                        "author_id": p.author_id, "complaint": p.complaint, "topics": sorted(p.topics)}
                       for p in sorted(posts, key=lambda p: p.mention_id)])
        if volume:
            statement = _insert(c, _volume)
            statement = statement.on_conflict_do_update(
                index_elements=["brand", "platform", "hour"],
                set_={"mentions": _volume.c.mentions + statement.excluded.mentions,
                      "complaints": _volume.c.complaints + statement.excluded.complaints})
            c.execute(statement, [{"brand": b, "platform": p, "hour": h, "mentions": n[0], "complaints": n[1]}
                                  for (b, p, h), n in sorted(volume.items())])
        if weights:
            statement = _insert(c, _topic)
            statement = statement.on_conflict_do_update(
                index_elements=["brand", "platform", "topic"],
                set_={"mentions": statement.excluded.mentions, "complaints": statement.excluded.complaints,
                      "as_of": statement.excluded.as_of})
            rows = [{"brand": b, "platform": p, "topic": t, "mentions": w[0], "complaints": w[1], "as_of": w[2]}
                    for (b, p, t), w in sorted(weights.items())]
            for start in range(0, len(rows), CHUNK * 4):
                c.execute(statement, rows[start:start + CHUNK * 4])

    def record_spike(self, *, change: SpikeWrite, now: datetime) -> int:
        """Open or update one spike, link and unlink its mentions, and recount what it holds."""
        c = self.connection
        values = {"brand": change.brand, "seed": change.seed, "members": change.members,
                  "opened_at": change.opened_at, "started_at": change.started_at,
                  "last_seen_at": change.last_seen_at, "baseline_per_hour": change.baseline_per_hour,
                  "rate_per_hour": change.rate_per_hour, "peak_rate_per_hour": change.peak_rate_per_hour,
                  "state": "closed" if change.closed_at else "open", "closed_at": change.closed_at,
                  "ended_at": change.ended_at, "updated_at": now}
        if change.id is None:
            spike_id = int(c.execute(_insert(c, _spike).returning(_spike.c.id),
                                     {**values, "topic": [], "platforms": []}).scalar_one())
        else:
            spike_id = change.id
            c.execute(update(_spike).where(_spike.c.id == spike_id).values(**values))
        if change.unlink:
            c.execute(delete(_link).where(_link.c.spike_id == spike_id, _link.c.mention_id.in_(change.unlink)))
        if change.link:
            c.execute(_insert(c, _link).on_conflict_do_nothing(index_elements=["spike_id", "mention_id"]),
                      [{"spike_id": spike_id, "mention_id": p.mention_id, "author_id": p.author_id,
                        "platform": p.platform, "at": p.at, "complaint": p.complaint}
                       for p in sorted(change.link, key=lambda p: p.mention_id)])
        counts = c.execute(
            select(func.count().label("mentions"), func.count(distinct(_link.c.author_id)).label("authors"),
                   func.coalesce(func.sum(case((_link.c.complaint, 1), else_=0)), 0).label("complaints"),
                   func.min(_link.c.at).label("first"), func.max(_link.c.at).label("last"))
            .where(_link.c.spike_id == spike_id)).one()
        platforms = sorted(r.platform for r in c.execute(
            select(_link.c.platform).where(_link.c.spike_id == spike_id).distinct()))
        ends = {"started_at": counts.first, "last_seen_at": counts.last} if counts.mentions else {}
        c.execute(update(_spike).where(_spike.c.id == spike_id).values(
            mentions=counts.mentions, authors=counts.authors, complaints=int(counts.complaints), platforms=platforms,
            **ends))
        return spike_id

    def spike_texts(self, *, spike_id: int, limit: int) -> list[tuple[str, str | None]]:
        """(text, language) of a spike's newest mentions, for naming it."""
        rows = self.connection.execute(
            select(_mention.c.text, _mention.c.language).join(_link, _link.c.mention_id == _mention.c.id)
            .where(_link.c.spike_id == spike_id).order_by(_link.c.at.desc()).limit(limit))
        return [(r.text, r.language) for r in rows]

    def name_spike(self, *, spike_id: int, topic: Sequence[str]) -> None:
        self.connection.execute(update(_spike).where(_spike.c.id == spike_id).values(topic=list(topic)))

    def prune(self, *, posts_before: datetime, hours_before: datetime | None, topics_before: datetime | None) -> None:
        """Forget posts no window needs, hourly counts no baseline reads, topics decayed to nothing."""
        c = self.connection
        c.execute(delete(_post).where(_post.c.at <= posts_before))
        if hours_before is not None:
            c.execute(delete(_volume).where(_volume.c.hour < hours_before))
        if topics_before is not None:
            c.execute(delete(_topic).where(_topic.c.as_of < topics_before))


@contextmanager
def radar_reading(engine: Engine) -> Iterator[RadarRound]:
    """A round's reads, from one snapshot, without the write lock."""
    with reading(engine) as connection:
        yield RadarRound(connection)


@contextmanager
def radar_writing(engine: Engine, *, read: Progress, reached: Progress, now: datetime) -> Iterator[RadarRound]:
    """A round's writes in one transaction that first moves the progress from ``read`` to ``reached``;
    ``RoundLost`` (and nothing written) when another process moved it first. Committed when the block
    succeeds."""
    with engine.begin() as connection:
        connection.execute(_insert(connection, _progress).on_conflict_do_nothing(index_elements=["id"]),
                           {"id": 1, "last_mention_id": 0, "evaluated_until": None, "updated_at": now})
        moved = connection.execute(
            update(_progress)
            .where(_progress.c.id == 1, _progress.c.last_mention_id == read.last_mention_id,
                   _progress.c.evaluated_until.is_not_distinct_from(read.evaluated_until))
            .values(last_mention_id=reached.last_mention_id, evaluated_until=reached.evaluated_until,
                    updated_at=now))
        if moved.rowcount != 1:
            raise RoundLost(f"the radar's progress moved past {read.last_mention_id} meanwhile")
        yield RadarRound(connection)


def radar_pending(engine: Engine) -> tuple[bool, bool]:
    """(any mention after the radar's cursor, any open spike): whether a round has anything to do."""
    with reading(engine) as connection:
        cursor = connection.execute(select(_progress.c.last_mention_id).where(_progress.c.id == 1)).scalar()
        newer = connection.execute(select(_mention.c.id).where(_mention.c.id > (cursor or 0)).limit(1)).first()
        spike = connection.execute(select(_spike.c.id).where(_spike.c.state == "open").limit(1)).first()
        return newer is not None, spike is not None


__all__ = ["NewMention", "Progress", "RadarRound", "RoundLost", "SpikeWrite", "StoredPost", "StoredSpike",
           "radar_pending", "radar_reading", "radar_writing"]
