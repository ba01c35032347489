"""Mentions and their authors: what a source parsed, stored deduplicated on (platform, canonical_id), in bulk,
with the source's cursor in the same transaction; and deletions marked.

``ParsedAuthor`` and ``ParsedMention`` are defined here, where they are stored; ``monitor.sources.base``
re-exports them for the sources that produce them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection, Engine

from models.db import insert_for as _insert
from models.db import writing
from models.tables import AUTHOR, CASE, DRAFT, MENTION, SOURCE
from models.types import utcnow


@dataclass(frozen=True, slots=True)
class ParsedAuthor:
    handle: str
    id: str | None = None
    name: str | None = None
    followers: int | None = None
    verified: bool = False


@dataclass(frozen=True, slots=True)
class ParsedMention:
    """A mention as a source parsed it, before storage.

    ``canonical_id`` is unique per platform (X: edit_history_tweet_ids[0]; Reddit: fullname; Mastodon: status
    uri; Bluesky: at-uri). ``created_at`` is timezone-aware UTC, or None where the payload lacks it.
    """

    platform: str
    canonical_id: str
    text: str
    author: ParsedAuthor
    created_at: datetime | None = None
    platform_id: str | None = None
    url: str | None = None
    in_reply_to_id: str | None = None
    conversation_id: str | None = None
    lang: str | None = None
    metrics: Mapping[str, int] = field(default_factory=dict)
    reply_eligible: bool | None = None
    eligibility_reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class LeaseLost(RuntimeError):
    """Another daemon holds the source now; this one must stop working on it."""


@dataclass(frozen=True, slots=True)
class StoreResult:
    received: int
    new: int
    edited: int
    duplicates: int
    new_ids: tuple[int, ...]


def author_key(author: ParsedAuthor) -> str:
    """The platform's user id where known, else the handle folded to lower case."""
    return author.id if author.id else "@" + author.handle.lower()


def _upsert_authors(connection: Connection, mentions: Sequence[ParsedMention], now: datetime) -> dict[tuple[str, str], int]:
    wanted: dict[tuple[str, str], ParsedAuthor] = {}
    for mention in mentions:
        wanted[(mention.platform, author_key(mention.author))] = mention.author
    ids: dict[tuple[str, str], int] = {}
    known: dict[tuple[str, str], tuple[Any, ...]] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, key in wanted:
        by_platform.setdefault(platform, []).append(key)
    for platform, keys in by_platform.items():
        rows = connection.execute(
            select(AUTHOR.c.id, AUTHOR.c.key, AUTHOR.c.handle, AUTHOR.c.name, AUTHOR.c.followers, AUTHOR.c.verified)
            .where(AUTHOR.c.platform == platform, AUTHOR.c.key.in_(keys))
        )
        for row in rows:
            ids[(platform, row.key)] = row.id
            known[(platform, row.key)] = (row.handle, row.name, row.followers, row.verified)
    missing = [
        {
            "platform": platform,
            "key": key,
            "handle": a.handle,
            "name": a.name,
            "followers": a.followers,
            "verified": a.verified,
            "first_seen_at": now,
        }
        for (platform, key), a in sorted(wanted.items(), key=lambda item: item[0])
        if (platform, key) not in ids
    ]  # sorted: concurrent writers take the unique index's locks in one order, so they never deadlock
    if missing:
        statement = _insert(connection, AUTHOR).on_conflict_do_nothing(index_elements=["platform", "key"])
        connection.execute(statement, missing)
        missing_by_platform: dict[str, list[str]] = {}
        for (platform, key) in wanted:
            if (platform, key) not in ids:
                missing_by_platform.setdefault(platform, []).append(key)
        for platform, keys in missing_by_platform.items():
            for inserted in connection.execute(
                select(AUTHOR.c.id, AUTHOR.c.key).where(AUTHOR.c.platform == platform, AUTHOR.c.key.in_(keys))
            ):
                ids[(platform, inserted.key)] = inserted.id
    changed = []
    for (platform, key), a in wanted.items():
        before = known.get((platform, key))
        if before is None or before == (a.handle, a.name, a.followers, a.verified):
            continue
        changed.append({
            "b_id": ids[(platform, key)], "b_handle": a.handle,
            "b_name": a.name if a.name is not None else before[1],
            "b_followers": a.followers if a.followers is not None else before[2], "b_verified": a.verified,
        })
    changed.sort(key=lambda row: row["b_id"])  # one lock order for every writer
    if changed:  # follower counts move with nearly every post: one executemany, not a statement per author
        connection.execute(
            update(AUTHOR).where(AUTHOR.c.id == bindparam("b_id")).values(
                handle=bindparam("b_handle"), name=bindparam("b_name"), followers=bindparam("b_followers"),
                verified=bindparam("b_verified")),
            changed,
        )
    return ids


def _row(mention: ParsedMention, *, author_id: int, brand: str, source_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "platform": mention.platform,
        "canonical_id": mention.canonical_id,
        "platform_id": mention.platform_id or mention.canonical_id,
        "source_id": source_id,
        "brand": brand,
        "author_id": author_id,
        "text": mention.text,
        "url": mention.url,
        "created_at": mention.created_at or now,
        "created_at_known": mention.created_at is not None,
        "fetched_at": now,
        "in_reply_to_id": mention.in_reply_to_id,
        "conversation_id": mention.conversation_id,
        "lang_hint": mention.lang,
        "metrics": dict(mention.metrics) or None,
        "raw": dict(mention.raw) or None,
        "reply_eligible": mention.reply_eligible,
        "eligibility_reason": mention.eligibility_reason,
    }


def _join_known_threads(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Give a reply whose parser could not see its thread's root (``conversation_id`` missing or its own id,
    as on Mastodon when the parent is not in the payload) the conversation of its parent, where the parent is
    a stored mention or one of our sent replies. Rows are changed in place; others are left as parsed."""
    orphans = [row for row in rows if row["in_reply_to_id"]
               and row["conversation_id"] in (None, row["platform_id"], row["canonical_id"])]
    by_platform: dict[str, set[str]] = {}
    for row in orphans:
        by_platform.setdefault(row["platform"], set()).add(row["in_reply_to_id"])
    known: dict[tuple[str, str], str] = {}
    for platform, parents in by_platform.items():
        for parent, conversation in connection.execute(
            select(DRAFT.c.platform_reply_id, CASE.c.conversation_id).join(CASE, CASE.c.id == DRAFT.c.case_id)
            .where(CASE.c.platform == platform, DRAFT.c.platform_reply_id.in_(sorted(parents)))
        ):
            if conversation:
                known[(platform, parent)] = conversation
        for parent, conversation in connection.execute(
            select(MENTION.c.platform_id, MENTION.c.conversation_id)
            .where(MENTION.c.platform == platform, MENTION.c.platform_id.in_(sorted(parents)))
        ):
            if conversation:
                known[(platform, parent)] = conversation
    for row in orphans:
        row["conversation_id"] = known.get((row["platform"], row["in_reply_to_id"]), row["conversation_id"])


def store_mentions_in(
    connection: Connection,
    *,
    mentions: Sequence[ParsedMention],
    brand: str,
    source_id: int | None,
    now: datetime | None = None,
) -> StoreResult:
    """Store a batch inside the caller's transaction. Never duplicates a mention; an edit updates its text.

    Safe under concurrent writers: the unique key decides, and a row another writer stored first counts as a
    duplicate here.
    """
    now = now or utcnow()
    latest: dict[tuple[str, str], ParsedMention] = {}
    for mention in mentions:
        latest[(mention.platform, mention.canonical_id)] = mention  # the last version in a batch wins
    unique = list(latest.values())
    if not unique:
        return StoreResult(len(mentions), 0, 0, len(mentions), ())
    author_ids = _upsert_authors(connection, unique, now)

    existing: dict[tuple[str, str], tuple[int, str, str | None]] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, canonical_id in latest:
        by_platform.setdefault(platform, []).append(canonical_id)
    for platform, canonical_ids in by_platform.items():
        for row in connection.execute(
            select(MENTION.c.id, MENTION.c.canonical_id, MENTION.c.text, MENTION.c.platform_id).where(
                MENTION.c.platform == platform, MENTION.c.canonical_id.in_(canonical_ids)
            )
        ):
            existing[(platform, row.canonical_id)] = (row.id, row.text, row.platform_id)

    fresh = [
        _row(m, author_id=author_ids[(m.platform, author_key(m.author))], brand=brand, source_id=source_id, now=now)
        for key, m in sorted(latest.items(), key=lambda item: item[0])
        if key not in existing
    ]  # sorted, like the authors: one lock order for concurrent writers
    _join_known_threads(connection, fresh)
    new_ids: list[int] = []
    if fresh:
        statement = (
            _insert(connection, MENTION)
            .on_conflict_do_nothing(index_elements=["platform", "canonical_id"])
            .returning(MENTION.c.id)
        )
        new_ids = [row.id for row in connection.execute(statement, fresh)]

    edited = 0
    for key, mention in sorted(latest.items(), key=lambda item: item[0]):
        found = existing.get(key)
        if found is None:
            continue
        mention_id, text, platform_id = found
        new_platform_id = mention.platform_id or mention.canonical_id
        if mention.text != text or (new_platform_id != platform_id and mention.platform != "replay"):
            connection.execute(
                update(MENTION)
                .where(MENTION.c.id == mention_id)
                .values(text=mention.text, platform_id=new_platform_id, edited_at=now, raw=dict(mention.raw) or None)
            )
            edited += 1
    return StoreResult(
        received=len(mentions),
        new=len(new_ids),
        edited=edited,
        duplicates=len(mentions) - len(new_ids) - edited,
        new_ids=tuple(new_ids),
    )


def store_batch(
    engine: Engine,
    *,
    mentions: Sequence[ParsedMention],
    brand: str,
    source_id: int | None,
    next_cursor: str | None = None,
    save_cursor: bool = False,
    lease_owner: str | None = None,
    now: datetime | None = None,
) -> StoreResult:
    """Store mentions and (when ``save_cursor``) the source's next cursor in one transaction.

    The cursor is never saved without the mentions it produced, so a crash between the two is impossible.
    With ``lease_owner``, the cursor moves only while that owner still holds the source's lease; otherwise
    LeaseLost is raised and nothing of the batch is written (the new holder will fetch it again).
    """
    with writing(engine) as connection:
        result = store_mentions_in(connection, mentions=mentions, brand=brand, source_id=source_id, now=now)
        if save_cursor and source_id is not None:
            condition = [SOURCE.c.id == source_id]
            if lease_owner is not None:
                condition.append(SOURCE.c.lease_owner == lease_owner)
            moved = connection.execute(update(SOURCE).where(*condition).values(cursor=next_cursor))
            if moved.rowcount != 1:
                raise LeaseLost(f"source {source_id} is no longer leased to {lease_owner}")
        return result


def mark_deleted(engine: Engine, *, platform: str, canonical_ids: Sequence[str], now: datetime | None = None) -> int:
    """Mark mentions deleted by their author; they stay for the record but leave the queue."""
    with writing(engine) as connection:
        result = connection.execute(
            update(MENTION)
            .where(MENTION.c.platform == platform, MENTION.c.canonical_id.in_(list(canonical_ids)),
                   MENTION.c.deleted_at.is_(None))
            .values(deleted_at=now or utcnow())
        )
        return result.rowcount or 0
