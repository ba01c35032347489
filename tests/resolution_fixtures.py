"""A fixture week with known answers: plain case records, and the same cases seeded into a database."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from models.reports import CaseRecord, MentionRecord
from models.tables import Author, Case, CaseEvent, Draft, Mention, Notification, Sentiment
from monitor.config import Settings, load_settings

WEEK = "2026-W47"  # Mon 16 Nov – Sun 22 Nov 2026, in UTC
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EVIL_HANDLE = "evil\r\nBcc: evil@x.example"
SCRIPT_TEXT = "<script>alert('x')</script> my parcel is lost"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def record(case_id: int, *, posted: datetime, platform: str = "x", agent: str | None = "Maria Jensen",
           state: str = "open", resolution: str | None = None, category: str = "delivery",
           responded_after: timedelta | None = None, resolved_after: timedelta | None = None, csat: int | None = None,
           csat_requested: bool = False, reopens: int = 0, escalations: int = 0, replies: int | None = None,
           handle: str | None = None, text: str | None = None) -> CaseRecord:
    return CaseRecord(
        case_id=case_id, brand="Acme", platform=platform, agent=agent, state=state, resolution=resolution,
        category=category, posted_at=posted, deadline_at=posted + timedelta(minutes=60),
        first_response_at=posted + responded_after if responded_after is not None else None,
        resolved_at=posted + resolved_after if resolved_after is not None else None, csat=csat,
        csat_requested_at=posted + timedelta(hours=6) if csat_requested else None, reopens=reopens,
        escalations=escalations, replies_sent=replies if replies is not None else int(responded_after is not None),
        author_handle=handle or f"customer{case_id}", text=text or f"complaint number {case_id}",
        url=f"https://x.example/customer{case_id}/status/{case_id}",
    )


THIS_WEEK = [
    record(1, posted=at(17, 10), responded_after=timedelta(minutes=30), state="resolved", resolution="confirmed",
           resolved_after=timedelta(hours=5), csat=5, csat_requested=True),
    record(2, posted=at(17, 11), responded_after=timedelta(minutes=90), state="responded", handle=EVIL_HANDLE,
           text=SCRIPT_TEXT, escalations=1),
    record(3, posted=at(18, 9), platform="reddit", agent="Aino Virtanen", category="billing",
           responded_after=timedelta(minutes=20), state="resolved", resolution="agent",
           resolved_after=timedelta(hours=2), replies=2),
    record(4, posted=at(19, 14), platform="reddit", agent=None, state="reopened", reopens=1),
]
LAST_WEEK = [
    record(5, posted=at(10, 8), category="billing", responded_after=timedelta(minutes=45), state="resolved",
           resolution="confirmed", resolved_after=timedelta(hours=10), csat=3, csat_requested=True),
    record(6, posted=at(11, 8), category="billing", responded_after=timedelta(hours=3), state="unresolved"),
]
EXTRA_THIS_WEEK = [  # (posted, label, handle) of mentions that are no case roots
    (at(18, 11), "negative", "customer3"),
    (at(20, 12), "positive", "happy_customer"),
]


def mention_records() -> tuple[list[MentionRecord], list[MentionRecord]]:
    this = [MentionRecord(c.posted_at, "Acme", c.platform, "negative", True) for c in THIS_WEEK]
    this += [MentionRecord(posted, "Acme", "x", label, False) for posted, label, _h in EXTRA_THIS_WEEK]
    last = [MentionRecord(c.posted_at, "Acme", c.platform, "negative", True) for c in LAST_WEEK]
    return this, last


def seed(engine: Engine) -> None:
    """The fixture's cases as database rows, as the pipeline, outbox and tracker would have left them."""
    authors: dict[str, int] = {}
    mention_ids: dict[int, int] = {}
    with engine.begin() as connection:
        def author(handle: str, platform: str) -> int:
            key = f"{platform}:{handle}"
            if key not in authors:
                authors[key] = connection.execute(insert(Author).values(
                    platform=platform, key=key, handle=handle, first_seen_at=NOW).returning(Author.__table__.c.id)).scalar_one()  # type: ignore[attr-defined]
            return authors[key]

        def mention(handle: str, platform: str, posted: datetime, text: str, label: str, pid: str, url: str | None,
                    complaint: bool) -> int:
            mid = connection.execute(insert(Mention).values(
                platform=platform, canonical_id=pid, platform_id=pid, brand="Acme", author_id=author(handle, platform),
                text=text, url=url, created_at=posted, fetched_at=posted, conversation_id=pid, triaged_at=posted,
                is_complaint=complaint, language="en").returning(Mention.__table__.c.id)).scalar_one()  # type: ignore[attr-defined]
            connection.execute(insert(Sentiment).values(mention_id=mid, label=label, score=0.9, model="fixture",
                                                        scored_at=posted))
            return int(mid)

        for case in THIS_WEEK + LAST_WEEK:
            root = mention(case.author_handle, case.platform, case.posted_at, case.text, "negative",
                           f"root-{case.case_id}", case.url, True)
            mention_ids[case.case_id] = root
            values: dict[str, Any] = dict(
                id=case.case_id, brand=case.brand, platform=case.platform, author_id=authors[f"{case.platform}:{case.author_handle}"],
                root_mention_id=root, conversation_id=f"root-{case.case_id}", state=case.state,
                resolution=case.resolution, category=case.category, language="en", opened_at=case.posted_at,
                deadline_at=case.deadline_at, first_response_at=case.first_response_at, resolved_at=case.resolved_at,
                csat=case.csat, csat_requested_at=case.csat_requested_at, updated_at=case.posted_at,
                resolved_by=case.agent if case.resolution == "agent" else None)
            connection.execute(insert(Case).values(**values))
            connection.execute(update_root(root, case.case_id))
            connection.execute(insert(CaseEvent).values(case_id=case.case_id, at=case.posted_at, from_state=None,
                                                        to_state="open", cause="complaint", mention_id=root))
            for n in range(case.replies_sent):
                target = root
                if n:
                    posted, label, handle = EXTRA_THIS_WEEK[0]
                    target = mention(handle, case.platform, posted, "still broken", label, f"extra-{case.case_id}",
                                     None, False)
                assert case.first_response_at is not None
                connection.execute(insert(Draft).values(
                    case_id=case.case_id, mention_id=target, kind="reply", status="sent", language="en",
                    category=case.category, text="reply", quote="", agent=case.agent or "Care Team", sent_at=case.first_response_at,
                    platform_reply_id=f"r-{case.case_id}-{n}", created_at=case.posted_at, updated_at=case.posted_at))
            if case.agent and not case.replies_sent:
                connection.execute(insert(Draft).values(
                    case_id=case.case_id, mention_id=root, kind="reply", status="draft", language="en",
                    category=case.category, text="reply", quote="", agent=case.agent, created_at=case.posted_at,
                    updated_at=case.posted_at))
            for _ in range(case.reopens):
                connection.execute(insert(CaseEvent).values(case_id=case.case_id, at=case.posted_at + timedelta(days=1),
                                                            from_state="resolved", to_state="reopened",
                                                            cause="customer_negative_in_thread"))
            for n in range(case.escalations):
                connection.execute(insert(Notification).values(case_id=case.case_id, reason=f"reason{n}",
                                                               recipient="boss@acme.example", status="sent",
                                                               created_at=NOW, sent_at=NOW))
        for posted, label, handle in EXTRA_THIS_WEEK[1:]:
            mention(handle, "x", posted, "love it", label, "extra-happy", None, False)


def update_root(mention_id: int, case_id: int) -> Any:
    from sqlalchemy import update

    return update(Mention).where(Mention.id == mention_id).values(case_id=case_id)  # type: ignore[arg-type]


REPO = Path(__file__).resolve().parent.parent


def lexicon_settings() -> Settings:
    """The documented config.toml, scored by the offline lexicon."""
    base = load_settings(REPO / "config.toml", env={})
    return base.model_copy(update={"scoring": base.scoring.model_copy(update={"backend": "lexicon"})})


@dataclass
class Inbox:
    """What a real SMTP server (aiosmtpd) received: (envelope recipients, raw message) per message."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=default) for _to, raw in self.messages]  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_smtp(**options: Any) -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
