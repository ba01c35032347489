"""Reports: the read-only queries behind the care metrics, the weekly digest and the case histories.

Plain records out, no session kept: ``responders.metrics`` computes everything from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from models.case_states import FINISHED
from models.db import reading
from models.tables import AUTHOR, CASE, CASE_EVENT, DRAFT, MENTION, NOTIFICATION, SENTIMENT


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One case as the metrics see it: plain values, no session."""

    case_id: int
    brand: str
    platform: str
    agent: str | None
    state: str
    resolution: str | None
    category: str
    posted_at: datetime
    deadline_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    csat: int | None
    csat_requested_at: datetime | None
    reopens: int
    escalations: int
    replies_sent: int
    author_handle: str
    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class MentionRecord:
    created_at: datetime
    brand: str
    platform: str
    label: str
    is_complaint: bool


def _case_records(where: Any) -> Select[Any]:
    def count(query: Any) -> Any:
        return query.correlate(CASE).scalar_subquery()

    reopens = count(select(func.count()).select_from(CASE_EVENT)
                    .where(CASE_EVENT.c.case_id == CASE.c.id, CASE_EVENT.c.to_state == "reopened",
                           CASE_EVENT.c.from_state != "reopened"))
    escalations = count(select(func.count()).select_from(NOTIFICATION)
                        .where(NOTIFICATION.c.case_id == CASE.c.id, NOTIFICATION.c.status == "sent"))
    replies = count(select(func.count()).select_from(DRAFT)
                    .where(DRAFT.c.case_id == CASE.c.id, DRAFT.c.kind == "reply", DRAFT.c.status == "sent"))
    agent = count(select(DRAFT.c.agent).where(DRAFT.c.case_id == CASE.c.id, DRAFT.c.kind == "reply")
                  .order_by(DRAFT.c.id).limit(1))
    return (
        select(CASE.c.id, CASE.c.brand, CASE.c.platform, func.coalesce(agent, CASE.c.assignee), CASE.c.state,
               CASE.c.resolution, CASE.c.category, MENTION.c.created_at, CASE.c.deadline_at,
               CASE.c.first_response_at, CASE.c.resolved_at, CASE.c.csat, CASE.c.csat_requested_at,
               reopens, escalations, replies, AUTHOR.c.handle, MENTION.c.text, MENTION.c.url)
        .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
        .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
        .where(where)
        .order_by(MENTION.c.created_at, CASE.c.id)
    )


def case_records(engine: Engine, *, posted_from: datetime, posted_to: datetime) -> list[CaseRecord]:
    """Complaint cases whose complaint was posted in [posted_from, posted_to) (thank-you cases of the praise
    lane are no complaints)."""
    with reading(engine) as connection:
        rows = connection.execute(_case_records(and_(MENTION.c.created_at >= posted_from,
                                                     MENTION.c.created_at < posted_to, CASE.c.lane == "complaint")))
        return [CaseRecord(*row) for row in rows]


def open_case_records(engine: Engine, *, posted_before: datetime) -> list[CaseRecord]:
    """Every complaint case neither resolved nor withdrawn whose complaint was posted before ``posted_before``."""
    with reading(engine) as connection:
        rows = connection.execute(_case_records(and_(CASE.c.state.not_in(FINISHED), CASE.c.lane == "complaint",
                                                     MENTION.c.created_at < posted_before)))
        return [CaseRecord(*row) for row in rows]


def mention_records(engine: Engine, *, posted_from: datetime, posted_to: datetime,
                    exclude_handles: Sequence[str] = ()) -> list[MentionRecord]:
    """Mentions posted in [posted_from, posted_to) with their sentiment (``unscored`` before scoring)."""
    query = (
        select(MENTION.c.created_at, MENTION.c.brand, MENTION.c.platform,
               func.coalesce(SENTIMENT.c.label, "unscored"), func.coalesce(MENTION.c.is_complaint, False))
        .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
        .join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
        .where(MENTION.c.created_at >= posted_from, MENTION.c.created_at < posted_to,
               MENTION.c.deleted_at.is_(None))
    )
    if exclude_handles:
        query = query.where(func.lower(AUTHOR.c.handle).not_in([h.lower() for h in exclude_handles]))
    with reading(engine) as connection:
        return [MentionRecord(r[0], r[1], r[2], r[3], bool(r[4])) for r in connection.execute(query)]


def scorer_counts(engine: Engine, *, posted_from: datetime, posted_to: datetime) -> dict[str, int]:
    """How many mentions posted in [posted_from, posted_to) each model scored (unscored ones left out),
    most first."""
    query = (
        select(SENTIMENT.c.model, func.count())
        .join(MENTION, MENTION.c.id == SENTIMENT.c.mention_id)
        .where(MENTION.c.created_at >= posted_from, MENTION.c.created_at < posted_to,
               MENTION.c.deleted_at.is_(None), SENTIMENT.c.label != "unscored")
        .group_by(SENTIMENT.c.model)
    )
    with reading(engine) as connection:
        rows = [(str(model), int(count)) for model, count in connection.execute(query)]
    return dict(sorted(rows, key=lambda row: (-row[1], row[0])))


def latest_post_at(engine: Engine, *, before: datetime) -> datetime | None:
    """When the newest mention posted before ``before`` was written (deleted ones aside); None when none was."""
    with reading(engine) as connection:
        return connection.execute(select(func.max(MENTION.c.created_at))
                                  .where(MENTION.c.created_at < before, MENTION.c.deleted_at.is_(None))).scalar_one()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    from_state: str | None
    to_state: str
    cause: str
    actor: str | None
    mention_id: int | None


def case_history(engine: Engine, *, case_id: int) -> list[HistoryEntry]:
    """A case's recorded events, oldest first."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(CASE_EVENT.c.at, CASE_EVENT.c.from_state, CASE_EVENT.c.to_state, CASE_EVENT.c.cause, CASE_EVENT.c.actor,
                   CASE_EVENT.c.mention_id).where(CASE_EVENT.c.case_id == case_id).order_by(CASE_EVENT.c.at, CASE_EVENT.c.id))
        return [HistoryEntry(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class CaseThread:
    """Where a case's conversation is, and who the customer is: what a follow-up post needs."""

    case_id: int
    platform: str
    brand: str
    state: str
    conversation_id: str | None
    root_platform_id: str | None
    root_canonical_id: str
    author_handle: str
    author_key: str
    author_name: str | None
    language: str | None


def case_threads(engine: Engine, *, states: Sequence[str] = ("open",)) -> list[CaseThread]:
    """Cases in ``states`` with their thread and customer, oldest first."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(CASE.c.id, CASE.c.platform, CASE.c.brand, CASE.c.state, CASE.c.conversation_id,
                   MENTION.c.platform_id, MENTION.c.canonical_id, AUTHOR.c.handle, AUTHOR.c.key, AUTHOR.c.name,
                   CASE.c.language)
            .join(MENTION, MENTION.c.id == CASE.c.root_mention_id)
            .join(AUTHOR, AUTHOR.c.id == CASE.c.author_id)
            .where(CASE.c.state.in_(list(states)))
            .order_by(CASE.c.id)
        )
        return [CaseThread(*row) for row in rows]




def newest_scorer(engine: Engine) -> str | None:
    """The model that scored the newest scored mention (by id, so the primary key answers it); None when
    nothing has been scored yet."""
    query = (select(SENTIMENT.c.model).where(SENTIMENT.c.label != "unscored")
             .order_by(SENTIMENT.c.mention_id.desc()).limit(1))
    with reading(engine) as connection:
        return connection.execute(query).scalar_one_or_none()
