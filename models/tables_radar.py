"""The crisis radar's tables: its counting progress, the recent posts and hourly volumes it counts, and the
spikes it opens with their mentions and alert mails. Written only by models.radar and models.alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import JSONText, UTCDateTime, utcnow


def _when() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class RadarProgress(SQLModel, table=True):
    """How far the crisis radar has counted: every mention up to ``last_mention_id``, every moment up to
    ``evaluated_until``. One row; the radar locks it for its round, so rounds never overlap."""

    __tablename__ = "radar_progress"

    id: int = Field(default=1, primary_key=True)
    last_mention_id: int = 0
    evaluated_until: datetime | None = _when()
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class RadarPost(SQLModel, table=True):
    """A recent mention as the radar counts it (its topic keys); kept only as long as the short window needs."""

    __tablename__ = "radar_post"
    __table_args__ = (Index("ix_radar_post_brand_at", "brand", "at"), Index("ix_radar_post_at", "at"))

    mention_id: int = Field(primary_key=True, foreign_key="mention.id")
    brand: str = Field(max_length=200)
    platform: str = Field(max_length=20)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    author_id: int
    complaint: bool = False
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSONText(), nullable=False))


class RadarVolume(SQLModel, table=True):
    """Mentions and complaints of a brand per platform (``*``: all) per hour: the seasonal baseline."""

    __tablename__ = "radar_volume"

    brand: str = Field(primary_key=True, max_length=200)
    platform: str = Field(primary_key=True, max_length=20)
    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    mentions: int = 0
    complaints: int = 0


class RadarTopic(SQLModel, table=True):
    """A topic's usual weight in a brand's mentions: decayed counts as of ``as_of`` (topic ``*``: all)."""

    __tablename__ = "radar_topic"

    brand: str = Field(primary_key=True, max_length=200)
    platform: str = Field(primary_key=True, max_length=20)
    topic: str = Field(primary_key=True, max_length=200)
    mentions: float = 0.0
    complaints: float = 0.0
    as_of: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class Spike(SQLModel, table=True):
    """A burst of mentions about one thing for one brand, from when it opens until it subsides.

    ``members`` are the ``platform|topic`` keys that ran hot in it; the mentions it holds are in
    ``spike_mention`` (and through them its cases).
    """

    __tablename__ = "spike"
    __table_args__ = (Index("ix_spike_state_opened", "state", "opened_at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=200, index=True)
    state: str = Field(default="open", max_length=20)
    seed: str = Field(max_length=250)
    members: list[str] = Field(default_factory=list, sa_column=Column(JSONText(), nullable=False))
    topic: list[str] = Field(default_factory=list, sa_column=Column(JSONText(), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = _when()
    closed_at: datetime | None = _when()
    mentions: int = 0
    authors: int = 0
    complaints: int = 0
    baseline_per_hour: float = 0.0
    rate_per_hour: float = 0.0
    peak_rate_per_hour: float = 0.0
    platforms: list[str] = Field(default_factory=list, sa_column=Column(JSONText(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SpikeMention(SQLModel, table=True):
    """A mention inside a spike (its case, if any, is ``mention.case_id``)."""

    __tablename__ = "spike_mention"

    spike_id: int = Field(primary_key=True, foreign_key="spike.id")
    mention_id: int = Field(primary_key=True, foreign_key="mention.id", index=True)
    author_id: int
    platform: str = Field(max_length=20)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    complaint: bool = False


class SpikeNotification(SQLModel, table=True):
    """One spike alert mail to one recipient (level 0: opened; n: the n-th growth, sent when the spike had
    ``mentions``): at most once, ever."""

    __tablename__ = "spike_notification"
    __table_args__ = (UniqueConstraint("spike_id", "level", "recipient", name="uq_spike_notification"),)

    id: int | None = Field(default=None, primary_key=True)
    spike_id: int = Field(foreign_key="spike.id")
    level: int
    mentions: int = 0
    recipient: str = Field(max_length=300)
    status: str = Field(default="sending", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
