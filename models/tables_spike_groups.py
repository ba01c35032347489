"""A spike's group reply and its status updates. Written only by models.spike_groups.

The replies themselves are ordinary drafts (one per case, posted by the outbox); ``spike_reply`` records which
draft answered which case for which spike, so a group is answered at most once per case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class SpikeReply(SQLModel, table=True):
    """One case answered by its spike's group reply: the draft the approval made or approved."""

    __tablename__ = "spike_reply"
    __table_args__ = (UniqueConstraint("spike_id", "case_id", name="uq_spike_reply_case"),)

    id: int | None = Field(default=None, primary_key=True)
    spike_id: int = Field(foreign_key="spike.id", index=True)
    case_id: int = Field(foreign_key="case.id")
    draft_id: int = Field(foreign_key="draft.id", unique=True)
    language: str = Field(max_length=20)
    approved_by: str = Field(max_length=200)
    approved_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SpikeStatusUpdate(SQLModel, table=True):
    """A status update about a spike, posted once from the brand's account on one platform (not a reply).

    ``status``: ``sending`` (claimed, the platform is being called), ``sent``, ``unknown`` (the call may have
    reached the platform), ``failed``, or ``not_supported`` (the platform's poster cannot publish a top-level
    post; ``last_error`` says so).
    """

    __tablename__ = "spike_status_update"
    __table_args__ = (UniqueConstraint("spike_id", "platform", name="uq_spike_status_platform"),)

    id: int | None = Field(default=None, primary_key=True)
    spike_id: int = Field(foreign_key="spike.id", index=True)
    brand: str = Field(max_length=200)
    platform: str = Field(max_length=20)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="sending", max_length=20)
    platform_post_id: str | None = Field(default=None, max_length=500)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
