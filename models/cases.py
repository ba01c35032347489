"""The pipeline's storage steps after ingest: scoring, triage into cases, drafting, and the open queue.

Every step reads work that is pending in the database and records its result there, so a crash at any point
leaves the next run to pick up exactly where this one stopped, and no step is done twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.engine import Connection, Engine

from models.db import insert_for as _insert
from models.db import reading
from models.tables import Author, Case, CaseEvent, Draft, Mention, Sentiment
from models.types import utcnow

_author = Author.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
_sentiment = Sentiment.__table__  # type: ignore[attr-defined]
_case = Case.__table__  # type: ignore[attr-defined]
_event = CaseEvent.__table__  # type: ignore[attr-defined]
_draft = Draft.__table__  # type: ignore[attr-defined]

ACTIVE_STATES = ("open", "responded", "reopened")
QUEUE_STATES = ("open", "reopened")


@dataclass(frozen=True, slots=True)
class ToScore:
    mention_id: int
    text: str
    lang_hint: str | None


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    mention_id: int
    language: str | None
    label: str
    score: float
    model: str


def mentions_to_score(engine: Engine, *, limit: int) -> list[ToScore]:
    """Mentions without a sentiment, oldest first."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(_mention.c.id, _mention.c.text, _mention.c.lang_hint)
            .outerjoin(_sentiment, _sentiment.c.mention_id == _mention.c.id)
            .where(_sentiment.c.mention_id.is_(None))
            .order_by(_mention.c.id)
            .limit(limit)
        )
        return [ToScore(row.id, row.text, row.lang_hint) for row in rows]


def record_sentiments(engine: Engine, *, scores: Sequence[ScoreRecord], now: datetime | None = None) -> None:
    """Store scores and detected languages; a mention scored meanwhile by another worker keeps its first score."""
    if not scores:
        return
    now = now or utcnow()
    ordered = sorted(scores, key=lambda s: s.mention_id)  # one lock order for concurrent scorers
    with engine.begin() as connection:
        connection.execute(
            _insert(connection, _sentiment).on_conflict_do_nothing(index_elements=["mention_id"]),
            [{"mention_id": s.mention_id, "label": s.label, "score": s.score, "model": s.model, "scored_at": now}
             for s in ordered],
        )
        connection.execute(
            update(_mention).where(_mention.c.id == bindparam("b_id")).values(language=bindparam("b_language")),
            [{"b_id": s.mention_id, "b_language": s.language} for s in ordered],
        )


@dataclass(frozen=True, slots=True)
class ToTriage:
    mention_id: int
    platform: str
    brand: str
    text: str
    language: str | None
    created_at: datetime
    conversation_id: str | None
    in_reply_to_id: str | None
    author_id: int
    author_handle: str
    author_followers: int | None
    author_verified: bool
    label: str
    score: float


def mentions_to_triage(engine: Engine, *, limit: int) -> list[ToTriage]:
    """Scored mentions not yet triaged, oldest post first (so a thread's first complaint opens its case)."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(
                _mention.c.id, _mention.c.platform, _mention.c.brand, _mention.c.text, _mention.c.language,
                _mention.c.created_at, _mention.c.conversation_id, _mention.c.in_reply_to_id, _mention.c.author_id,
                _author.c.handle, _author.c.followers, _author.c.verified, _sentiment.c.label, _sentiment.c.score,
            )
            .join(_sentiment, _sentiment.c.mention_id == _mention.c.id)
            .join(_author, _author.c.id == _mention.c.author_id)
            .where(_mention.c.triaged_at.is_(None), _mention.c.deleted_at.is_(None))
            .order_by(_mention.c.created_at, _mention.c.id)
            .limit(limit)
        )
        return [
            ToTriage(r.id, r.platform, r.brand, r.text, r.language, r.created_at, r.conversation_id,
                     r.in_reply_to_id, r.author_id, r.handle, r.followers, bool(r.verified), r.label, r.score)
            for r in rows
        ]


def count_prior_complaints(connection: Connection, *, author_id: int, before: datetime, since: datetime) -> int:
    """Cases this author opened between ``since`` and ``before``."""
    return int(
        connection.execute(
            select(func.count())
            .select_from(_case)
            .join(_mention, _mention.c.id == _case.c.root_mention_id)
            .where(_case.c.author_id == author_id, _mention.c.created_at >= since, _mention.c.created_at < before)
        ).scalar_one()
    )


def _thread_case(connection: Connection, item: ToTriage) -> int | None:
    """The author's active case in the same thread, if any."""
    keys = [k for k in (item.conversation_id, item.in_reply_to_id) if k]
    if not keys:
        return None
    thread = select(_mention.c.case_id).where(
        _mention.c.platform == item.platform,
        _mention.c.case_id.is_not(None),
        (_mention.c.conversation_id.in_(keys)) | (_mention.c.platform_id.in_(keys)),
    )
    row = connection.execute(
        select(_case.c.id)
        .where(_case.c.id.in_(thread), _case.c.author_id == item.author_id, _case.c.state.in_(ACTIVE_STATES))
        .order_by(_case.c.id.desc())
        .limit(1)
    ).first()
    return row.id if row else None


def record_triage(
    engine: Engine,
    *,
    item: ToTriage,
    complaint: bool,
    category: str,
    deadline: datetime,
    repeat_window: timedelta,
    now: datetime | None = None,
) -> tuple[int | None, bool]:
    """Record the triage of one mention; a complaint joins the author's case in its thread or opens one.

    Returns (case id, whether it was opened now). A post in the thread of the author's active case joins that
    case whatever its sentiment (a "thanks, fixed!" is how a case gets resolved); any other post that is no
    complaint stays out of cases. Only the first triage of a mention counts: a concurrent second one finds
    it already triaged and changes nothing.
    """
    now = now or utcnow()
    with engine.begin() as connection:
        claimed = connection.execute(
            update(_mention)
            .where(_mention.c.id == item.mention_id, _mention.c.triaged_at.is_(None))
            .values(triaged_at=now, is_complaint=complaint)
        )
        if claimed.rowcount != 1:
            return None, False
        case_id = _thread_case(connection, item)
        if case_id is None and not complaint:
            return None, False
        opened = case_id is None
        if case_id is None:
            prior = count_prior_complaints(
                connection, author_id=item.author_id, before=item.created_at, since=item.created_at - repeat_window
            )
            case_id = connection.execute(
                _insert(connection, _case).returning(_case.c.id),
                {
                    "brand": item.brand, "platform": item.platform, "author_id": item.author_id,
                    "root_mention_id": item.mention_id, "conversation_id": item.conversation_id, "state": "open",
                    "category": category, "language": item.language, "prior_complaints": prior,
                    "opened_at": now, "deadline_at": deadline, "updated_at": now,
                },
            ).scalar_one()
            connection.execute(
                _insert(connection, _event),
                {"case_id": case_id, "at": now, "from_state": None, "to_state": "open",
                 "cause": "complaint", "mention_id": item.mention_id},
            )
        connection.execute(update(_mention).where(_mention.c.id == item.mention_id).values(case_id=case_id))
        return int(case_id), opened


@dataclass(frozen=True, slots=True)
class ToDraft:
    case_id: int
    mention_id: int
    platform: str
    brand: str
    text: str
    language: str | None
    author_handle: str
    author_name: str | None


def cases_to_draft(engine: Engine, *, limit: int) -> list[ToDraft]:
    """Open cases whose root mention has no reply draft yet."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(_case.c.id, _mention.c.id.label("mention_id"), _mention.c.platform, _case.c.brand,
                   _mention.c.text, _mention.c.language, _author.c.handle, _author.c.name)
            .join(_mention, _mention.c.id == _case.c.root_mention_id)
            .join(_author, _author.c.id == _case.c.author_id)
            .outerjoin(_draft, and_(_draft.c.mention_id == _mention.c.id, _draft.c.kind == "reply"))
            .where(_case.c.state.in_(QUEUE_STATES), _draft.c.id.is_(None))
            .order_by(_case.c.id)
            .limit(limit)
        )
        return [ToDraft(r.id, r.mention_id, r.platform, r.brand, r.text, r.language, r.handle, r.name) for r in rows]


def record_draft(
    engine: Engine,
    *,
    case_id: int,
    mention_id: int,
    language: str,
    category: str,
    text: str,
    quote: str,
    agent: str,
    style_issues: Sequence[dict[str, str]],
    now: datetime | None = None,
) -> bool:
    """Store a reply draft; False when the mention already has one (drafting is never done twice)."""
    now = now or utcnow()
    with engine.begin() as connection:
        inserted = connection.execute(
            _insert(connection, _draft).on_conflict_do_nothing(index_elements=["mention_id", "kind"])
            .returning(_draft.c.id),
            {"case_id": case_id, "mention_id": mention_id, "kind": "reply", "status": "draft", "language": language,
             "category": category, "text": text, "quote": quote, "agent": agent, "style_issues": list(style_issues),
             "created_at": now, "updated_at": now},
        ).first()
        return inserted is not None


@dataclass(frozen=True, slots=True)
class QueueRow:
    case_id: int
    state: str
    brand: str
    category: str
    prior_complaints: int
    deadline_at: datetime
    mention_id: int
    platform: str
    text: str
    url: str | None
    language: str | None
    created_at: datetime
    reply_eligible: bool | None
    author_handle: str
    author_name: str | None
    followers: int | None
    verified: bool
    label: str
    score: float
    model: str
    draft_id: int | None
    draft_text: str | None
    draft_language: str | None
    draft_status: str | None
    draft_issues: list[dict[str, str]] | None


def open_queue(engine: Engine, *, limit: int | None = None) -> list[QueueRow]:
    """Cases waiting for a reply, with what the ranker and the desk need. Unordered: urgency is computed
    at read time, because the clock is part of it."""
    query = (
        select(
            _case.c.id, _case.c.state, _case.c.brand, _case.c.category, _case.c.prior_complaints, _case.c.deadline_at,
            _mention.c.id.label("mention_id"), _mention.c.platform, _mention.c.text, _mention.c.url,
            _mention.c.language, _mention.c.created_at, _mention.c.reply_eligible,
            _author.c.handle, _author.c.name, _author.c.followers, _author.c.verified,
            _sentiment.c.label, _sentiment.c.score, _sentiment.c.model,
            _draft.c.id.label("draft_id"), _draft.c.text.label("draft_text"),
            _draft.c.language.label("draft_language"), _draft.c.status.label("draft_status"),
            _draft.c.style_issues,
        )
        .join(_mention, _mention.c.id == _case.c.root_mention_id)
        .join(_author, _author.c.id == _case.c.author_id)
        .join(_sentiment, _sentiment.c.mention_id == _mention.c.id)
        .outerjoin(_draft, and_(_draft.c.mention_id == _mention.c.id, _draft.c.kind == "reply"))
        .where(_case.c.state.in_(QUEUE_STATES))
        .order_by(_case.c.deadline_at)
    )
    if limit is not None:
        query = query.limit(limit)
    with reading(engine) as connection:
        return [QueueRow(*row) for row in connection.execute(query)]  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class ThreadToFollow:
    case_id: int
    platform: str
    brand: str
    conversation_id: str | None
    root_platform_id: str
    root_canonical_id: str
    author_handle: str
    author_key: str
    since: datetime
    root_raw: dict[str, Any] | None


def claim_threads_to_follow(engine: Engine, *, now: datetime, every: timedelta, platforms: Sequence[str],
                            limit: int) -> list[ThreadToFollow]:
    """Active cases whose thread is due a look for the customer's later posts. Claiming moves each case's
    ``followup_at`` one interval on, so two daemons never follow the same thread in the same interval."""
    if not platforms:
        return []
    newest = (select(func.max(_mention.c.created_at)).where(_mention.c.case_id == _case.c.id)
              .correlate(_case).scalar_subquery())
    with engine.begin() as connection:
        query = (
            select(_case.c.id)
            .where(_case.c.state.in_(ACTIVE_STATES), _case.c.platform.in_(list(platforms)),
                   (_case.c.followup_at.is_(None)) | (_case.c.followup_at <= now))
            .order_by(_case.c.followup_at, _case.c.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [row.id for row in connection.execute(query)]
        if not ids:
            return []
        connection.execute(update(_case).where(_case.c.id.in_(ids)).values(followup_at=now + every))
        rows = connection.execute(
            select(_case.c.id, _case.c.platform, _case.c.brand, _case.c.conversation_id, _mention.c.platform_id,
                   _mention.c.canonical_id, _author.c.handle, _author.c.key, newest.label("since"), _mention.c.raw)
            .join(_mention, _mention.c.id == _case.c.root_mention_id)
            .join(_author, _author.c.id == _case.c.author_id)
            .where(_case.c.id.in_(ids))
            .order_by(_case.c.id)
        )
        return [ThreadToFollow(*row) for row in rows]  # type: ignore[call-arg]


def postpone_followup(engine: Engine, *, case_id: int, until: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(update(_case).where(_case.c.id == case_id).values(followup_at=until))
