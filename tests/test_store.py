"""Storing mentions: nothing lost, nothing twice, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from models.mentions import mark_deleted, store_batch
from models.tables import MENTION, Author, Mention, Source
from monitor.sources.base import ParsedAuthor, ParsedMention

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def mention(n: int, *, text: str | None = None, handle: str = "jane", platform: str = "x") -> ParsedMention:
    return ParsedMention(
        platform=platform, canonical_id=str(n), platform_id=str(n), text=text or f"post {n}",
        author=ParsedAuthor(handle=handle, id=f"id-{handle}", name=handle.title(), followers=10),
        created_at=WHEN, raw={"id": str(n)},
    )


def count(engine: Engine, table: type) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_overlapping_pages_store_each_mention_once(engine: Engine) -> None:
    first = store_batch(engine, mentions=[mention(n) for n in range(1, 6)], brand="Acme", source_id=None)
    second = store_batch(engine, mentions=[mention(n) for n in range(4, 9)], brand="Acme", source_id=None)
    assert (first.new, first.duplicates) == (5, 0)
    assert (second.new, second.duplicates) == (3, 2)
    assert count(engine, Mention) == 8
    assert count(engine, Author) == 1


def test_a_repeat_inside_one_batch_is_a_duplicate(engine: Engine) -> None:
    result = store_batch(engine, mentions=[mention(1), mention(1), mention(2)], brand="Acme", source_id=None)
    assert (result.new, result.duplicates) == (2, 1)


def test_the_same_id_on_two_platforms_is_two_mentions(engine: Engine) -> None:
    store_batch(engine, mentions=[mention(1), mention(1, platform="reddit")], brand="Acme", source_id=None)
    assert count(engine, Mention) == 2


def test_an_edit_updates_the_mention(engine: Engine) -> None:
    store_batch(engine, mentions=[mention(1, text="my order is late")], brand="Acme", source_id=None)
    edited = replace(mention(1, text="my order is late AND broken"), platform_id="99")
    result = store_batch(engine, mentions=[edited], brand="Acme", source_id=None)
    assert (result.new, result.edited) == (0, 1)
    with engine.connect() as connection:
        row = connection.execute(select(Mention.text, Mention.platform_id, Mention.edited_at)).one()  # type: ignore[call-overload]
    assert row.text == "my order is late AND broken" and row.platform_id == "99" and row.edited_at is not None


def test_the_cursor_is_saved_with_its_mentions(engine: Engine) -> None:
    with engine.begin() as connection:
        source_id = connection.execute(
            Source.__table__.insert().values(name="s", platform="x", brand="Acme")  # type: ignore[attr-defined]
        ).inserted_primary_key[0]
    store_batch(engine, mentions=[mention(1)], brand="Acme", source_id=source_id, next_cursor="c1", save_cursor=True)
    bad = ParsedMention(platform="x", canonical_id="2", text="x", author=ParsedAuthor(handle="h"), created_at=datetime(2026, 1, 1))
    with pytest.raises(StatementError, match="naive datetime"):
        store_batch(engine, mentions=[bad], brand="Acme", source_id=source_id, next_cursor="c2", save_cursor=True)
    with engine.connect() as connection:
        cursor = connection.execute(select(Source.cursor)).scalar_one()  # type: ignore[call-overload]
    assert cursor == "c1", "a batch that failed to store must not move the cursor"
    assert count(engine, Mention) == 1


def test_author_details_follow_the_latest_post(engine: Engine) -> None:
    store_batch(engine, mentions=[mention(1)], brand="Acme", source_id=None)
    grown = replace(mention(2), author=ParsedAuthor(handle="jane_new", id="id-jane", name="Jane D", followers=5000))
    store_batch(engine, mentions=[grown], brand="Acme", source_id=None)
    with engine.connect() as connection:
        author = connection.execute(select(Author.handle, Author.followers)).one()  # type: ignore[call-overload]
    assert (author.handle, author.followers) == ("jane_new", 5000)


def test_concurrent_writers_never_duplicate(engine: Engine) -> None:
    errors: list[BaseException] = []
    results = []

    def write(offset: int) -> None:
        try:
            for start in range(0, 200, 20):
                results.append(store_batch(
                    engine, mentions=[mention(n, handle=f"h{n % 7}") for n in range(start + offset, start + offset + 40)],
                    brand="Acme", source_id=None,
                ))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k * 10,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(engine, Mention) == len({n for k in range(3) for s in range(0, 200, 20) for n in range(s + k * 10, s + k * 10 + 40)})
    assert sum(r.new for r in results) == count(engine, Mention)


def test_a_deleted_mention_is_marked_not_removed(engine: Engine) -> None:
    store_batch(engine, mentions=[mention(1), mention(2)], brand="Acme", source_id=None)
    assert mark_deleted(engine, platform="x", canonical_ids=["1", "404"]) == 1
    with engine.connect() as connection:
        rows = connection.execute(select(Mention.canonical_id, Mention.deleted_at).order_by(Mention.id)).all()  # type: ignore[call-overload]
    assert [(r.canonical_id, r.deleted_at is not None) for r in rows] == [("1", True), ("2", False)]


def test_a_reply_whose_platform_names_no_root_joins_its_stored_parents_thread(engine: Engine) -> None:
    store_batch(engine, mentions=[replace(mention(1), conversation_id="root-1")], brand="Acme", source_id=None)
    store_batch(engine, mentions=[replace(mention(2), in_reply_to_id="1", conversation_id="2"),
                                  replace(mention(3), in_reply_to_id="1", conversation_id="elsewhere"),
                                  replace(mention(4), in_reply_to_id="unknown", conversation_id="4")],
                brand="Acme", source_id=None)
    with engine.connect() as connection:
        rows = connection.execute(select(MENTION.c.platform_id, MENTION.c.conversation_id)).all()
    threads = {row.platform_id: row.conversation_id for row in rows}
    assert threads == {"1": "root-1", "2": "root-1", "3": "elsewhere", "4": "4"}
