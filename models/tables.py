"""SQLModel tables: the whole durable state of closeloop.

Names mean one thing each: a *source* is a configured feed of mentions, a *mention* one public post, an
*author* the person behind it, a *case* one customer's complaint thread, a *draft* a reply to a mention
(and, once approved, the outbox entry that posts it), the *audit log* who did what, a *spike* a burst of
mentions about one thing that the crisis radar raised.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.types import JSONText, UTCDateTime, utcnow


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONText(), nullable=nullable))


class Source(SQLModel, table=True):
    """A configured feed. The row is the schedule: it is due when ``next_poll_at`` has passed."""

    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    platform: str = Field(max_length=20)
    brand: str = Field(max_length=200)
    enabled: bool = True
    cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_poll_at: datetime | None = _when(index=True)
    last_polled_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    error_count: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when()


class Author(SQLModel, table=True):
    """A person on one platform, keyed by the platform's user id where known, else the handle."""

    __tablename__ = "author"
    __table_args__ = (UniqueConstraint("platform", "key", name="uq_author_platform_key"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    key: str = Field(max_length=300)
    handle: str = Field(max_length=300)
    name: str | None = Field(default=None, max_length=500)
    followers: int | None = None
    verified: bool = False
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Mention(SQLModel, table=True):
    """One public post, unique on (platform, canonical_id); edits update it, deletions mark it."""

    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("platform", "canonical_id", name="uq_mention_platform_canonical_id"),
        Index("ix_mention_untriaged", "triaged_at", "id"),
        Index("ix_mention_author_created", "author_id", "created_at"),
        # Partial: only quarantined rows are in it, so no planner uses it for the "not quarantined" side.
        Index("ix_mention_quarantined", "quarantined_at", sqlite_where=text("quarantined_at IS NOT NULL"),
              postgresql_where=text("quarantined_at IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    canonical_id: str = Field(max_length=500)
    platform_id: str | None = Field(default=None, max_length=500)
    source_id: int | None = Field(default=None, foreign_key="source.id")
    brand: str = Field(max_length=200)
    author_id: int = Field(foreign_key="author.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at_known: bool = True
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    in_reply_to_id: str | None = Field(default=None, max_length=500)
    conversation_id: str | None = Field(default=None, max_length=500, index=True)
    lang_hint: str | None = Field(default=None, max_length=20)
    language: str | None = Field(default=None, max_length=20)
    metrics: dict[str, int] | None = _json()
    raw: dict[str, Any] | None = _json()
    reply_eligible: bool | None = None
    eligibility_reason: str | None = Field(default=None, max_length=500)
    edited_at: datetime | None = _when()
    deleted_at: datetime | None = _when()
    triaged_at: datetime | None = _when()
    is_complaint: bool | None = None
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    # A mention that failed in scoring, triage or drafting: set aside with the stage and the error, never
    # taken into a batch again (see models.quarantine).
    quarantined_at: datetime | None = _when()
    quarantine_stage: str | None = Field(default=None, max_length=20)
    quarantine_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Sentiment(SQLModel, table=True):
    """The current sentiment of a mention and the model that produced it."""

    __tablename__ = "sentiment"

    mention_id: int = Field(primary_key=True, foreign_key="mention.id")
    label: str = Field(max_length=20)
    score: float
    model: str = Field(max_length=300)
    scored_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Case(SQLModel, table=True):
    """One customer's complaint thread, tracked from open until the customer confirms it resolved.

    Its ``state`` and its CaseEvent rows are written only by ``models.cases`` (the door), by applying the
    pure state machine of ``models.case_states``.
    """

    __tablename__ = "case"
    __table_args__ = (Index("ix_case_state_deadline", "state", "deadline_at"),)

    id: int | None = Field(default=None, primary_key=True)
    brand: str = Field(max_length=200)
    platform: str = Field(max_length=20)
    author_id: int = Field(foreign_key="author.id", index=True)
    # No foreign key: mention.case_id points back here, and a cycle of keys cannot be created in order.
    root_mention_id: int = Field(unique=True)
    conversation_id: str | None = Field(default=None, max_length=500)
    state: str = Field(default="open", max_length=20)
    resolution: str | None = Field(default=None, max_length=20)
    # "complaint": the care desk's work, measured against the response and resolution targets; "praise": a
    # thank-you to answer, kept out of the queue's clock, escalations and the resolution metrics.
    lane: str = Field(default="complaint", max_length=20, sa_column_kwargs={"server_default": "complaint"})
    category: str = Field(default="general", max_length=40)
    language: str | None = Field(default=None, max_length=20)
    prior_complaints: int = 0
    opened_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    deadline_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    first_response_at: datetime | None = _when()
    resolved_at: datetime | None = _when()
    assignee: str | None = Field(default=None, max_length=200)
    csat: int | None = None
    followup_at: datetime | None = _when(index=True)
    resolution_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    resolved_by: str | None = Field(default=None, max_length=200)
    csat_requested_at: datetime | None = _when()
    editing_by: str | None = Field(default=None, max_length=200)
    editing_until: datetime | None = _when()
    # Snoozed: out of the needs-action lane until ``snoozed_until`` passes or, with ``snooze_until_post`` (or
    # any snooze), until the customer posts in the case's thread again (models.cases wakes it).
    snoozed_until: datetime | None = _when()
    snooze_until_post: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CaseEvent(SQLModel, table=True):
    """One transition of a case, with its cause, so a case's history explains itself."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    cause: str = Field(max_length=200)
    actor: str | None = Field(default=None, max_length=200)
    mention_id: int | None = Field(default=None, foreign_key="mention.id")


class Draft(SQLModel, table=True):
    """A reply to one mention. Its status is the outbox state machine of ARCHITECTURE.md."""

    __tablename__ = "draft"
    __table_args__ = (
        UniqueConstraint("mention_id", "kind", name="uq_draft_mention_kind"),
        Index("ix_draft_status", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    mention_id: int = Field(foreign_key="mention.id")
    kind: str = Field(default="reply", max_length=20)
    # What the drafter read the post as (complaint, question, praise, other): the style guide asks for an
    # apology only where the post needs one.
    intent: str | None = Field(default=None, max_length=20)
    status: str = Field(default="draft", max_length=20)
    language: str = Field(max_length=20)
    category: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))
    quote: str = Field(default="", sa_column=Column(Text, nullable=False))
    agent: str = Field(max_length=200)
    style_issues: list[dict[str, str]] | None = _json()
    text_hash: str | None = Field(default=None, max_length=64)
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: datetime | None = _when()
    platform_reply_id: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = _when()
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when()
    # An agent handed the draft to the approvers ("ready for approval"); editing it takes that back.
    ready_by: str | None = Field(default=None, max_length=200)
    ready_at: datetime | None = _when()
    # An approval from the console can be undone until then; the outbox claims no draft before it.
    send_after: datetime | None = _when()
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AuditEntry(SQLModel, table=True):
    """Append-only: who did what, when, from where. Database triggers refuse updates and deletes."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=50)
    case_id: int | None = Field(default=None, index=True)
    draft_id: int | None = None
    text_hash: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    address: str | None = Field(default=None, max_length=100)


class User(SQLModel, table=True):
    """A person on the social team. Roles: viewer < agent < approver < admin."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=20)
    # How this person signs the replies they approve (e.g. "– Maria"); None: their name after a dash.
    signature: str | None = Field(default=None, max_length=200)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class WebSession(SQLModel, table=True):
    """A console login. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    csrf_token: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    address: str | None = Field(default=None, max_length=100)


class LoginAttempt(SQLModel, table=True):
    """Every login try, for throttling by name and by address."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_name_at", "name", "at"), Index("ix_login_attempt_address_at", "address", "at"))

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    address: str | None = Field(default=None, max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    ok: bool = False


class Notification(SQLModel, table=True):
    """An escalation email: at most one per case and reason, ever."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("case_id", "reason", name="uq_notification_case_reason"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    reason: str = Field(max_length=50)
    recipient: str = Field(max_length=300)
    status: str = Field(default="sending", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _when()


class DigestDelivery(SQLModel, table=True):
    """One week's digest to one recipient: at most once, across restarts and daemons."""

    __tablename__ = "digest_delivery"
    __table_args__ = (UniqueConstraint("week", "recipient", name="uq_digest_week_recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(max_length=10)
    recipient: str = Field(max_length=300)
    status: str = Field(default="sending", max_length=20)
    message_id: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RequestBudget(SQLModel, table=True):
    """Requests spent on one platform credential in its current window, shared by every daemon."""

    __tablename__ = "request_budget"

    credential_key: str = Field(primary_key=True, max_length=300)
    window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used: int = 0
    limit: int


# The crisis radar's tables, registered on the same metadata and importable from here.
from models.tables_radar import (  # noqa: E402
    RadarPost,
    RadarProgress,
    RadarTopic,
    RadarVolume,
    Spike,
    SpikeMention,
    SpikeNotification,
)
from models.tables_spike_groups import SpikeReply, SpikeStatusUpdate  # noqa: E402

DRAFT_KINDS = ("reply", "csat")
ROLES = ("viewer", "agent", "approver", "admin")
DRAFT_STATUSES = ("draft", "approved", "held", "sending", "sent", "unknown", "failed", "rejected")
"""``held``: approved, but the outbox cannot send it (no poster or credentials for its platform, or the post
takes no API reply); the reason is in ``last_error``, and it goes back to ``approved`` once it can be sent."""

# The tables as SQLAlchemy Core handles, for the storage modules' queries (one name per table, said once).
SOURCE = SQLModel.metadata.tables["source"]
AUTHOR = SQLModel.metadata.tables["author"]
MENTION = SQLModel.metadata.tables["mention"]
SENTIMENT = SQLModel.metadata.tables["sentiment"]
CASE = SQLModel.metadata.tables["case"]
CASE_EVENT = SQLModel.metadata.tables["case_event"]
DRAFT = SQLModel.metadata.tables["draft"]
AUDIT = SQLModel.metadata.tables["audit_log"]
USER = SQLModel.metadata.tables["user_account"]
WEB_SESSION = SQLModel.metadata.tables["web_session"]
LOGIN_ATTEMPT = SQLModel.metadata.tables["login_attempt"]
NOTIFICATION = SQLModel.metadata.tables["notification"]
DIGEST_DELIVERY = SQLModel.metadata.tables["digest_delivery"]
REQUEST_BUDGET = SQLModel.metadata.tables["request_budget"]
SPIKE_STATES = ("open", "closed")
RADAR_TABLES = (RadarPost, RadarProgress, RadarTopic, RadarVolume, Spike, SpikeMention, SpikeNotification, SpikeReply,
                SpikeStatusUpdate)
