"""Where a post enters, it is made safe: Intake.admit and the shared helpers, from tables."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.tables import Author, Mention
from monitor.sources.base import ParsedAuthor, ParsedMention, ParseError
from monitor.sources.common import INT_MAX, count, iso_timestamp, permanent_status, retry_after
from monitor.sources.intake import (
    AUTHOR_KEY_MAX,
    EARLIEST_POST,
    HANDLE_MAX,
    ID_MAX,
    NAME_MAX,
    RAW_MAX_DEPTH,
    REASON_MAX,
    Intake,
    IntakeRules,
    clean,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE = ParsedMention(
    platform="x", canonical_id="1", platform_id="1", text="@acme my order never arrived",
    author=ParsedAuthor(handle="jane_doe", id="783214", name="Jane Doe", followers=1520),
    created_at=NOW - timedelta(minutes=5), url="https://x.com/jane_doe/status/1", lang="en",
    metrics={"likes": 3}, raw={"id": "1", "text": "@acme my order never arrived"},
)


def intake() -> Intake:
    return IntakeRules().at(NOW)


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


# (what changes, the field read back, what it must be, how many fields count as repaired)
REPAIRED: list[tuple[str, dict[str, Any], Any, Any, int]] = [
    ("nothing", {}, lambda m: m.text, BASE.text, 0),
    ("lone surrogate in text", {"text": "broken \ud83d"}, lambda m: m.text, "broken \ufffd", 1),
    ("NUL in text", {"text": "a\x00b"}, lambda m: m.text, "a\ufffdb", 1),
    ("surrogate pair as two code points", {"text": "\ud83d\ude00"}, lambda m: m.text, "\ufffd\ufffd", 1),
    ("a 1 MB text stays whole", {"text": "x" * 1_000_000}, lambda m: len(m.text), 1_000_000, 0),
    ("surrogate in the handle", {"author": ParsedAuthor(handle="ja\udc00ne")}, lambda m: m.author.handle,
     "ja\ufffdne", 1),
    ("NUL in the name", {"author": ParsedAuthor(handle="j", name="J\x00")}, lambda m: m.author.name, "J\ufffd", 1),
    ("a name longer than its column", {"author": ParsedAuthor(handle="j", name="n" * 900)},
     lambda m: len(m.author.name or ""), NAME_MAX, 1),
    ("followers over 2^63", {"author": ParsedAuthor(handle="j", followers=2**70)}, lambda m: m.author.followers,
     INT_MAX, 1),
    ("negative followers", {"author": ParsedAuthor(handle="j", followers=-5)}, lambda m: m.author.followers, 0, 1),
    ("a huge metric", {"metrics": {"likes": 2**64}}, lambda m: m.metrics, {"likes": INT_MAX}, 1),
    ("a metric that is not a count", {"metrics": {"likes": "many"}}, lambda m: m.metrics, {}, 1),
    ("surrogate in the url", {"url": "https://x.com/\ud83d"}, lambda m: m.url, "https://x.com/\ufffd", 1),
    ("a language tag with a region", {"lang": "en-US"}, lambda m: m.lang, "en", 0),
    ("an undetermined language", {"lang": "und"}, lambda m: m.lang, None, 0),
    ("no created_at", {"created_at": None}, lambda m: m.created_at, None, 0),
    ("the earliest day itself", {"created_at": EARLIEST_POST}, lambda m: m.created_at, EARLIEST_POST, 0),
    ("a day of clock skew", {"created_at": NOW + timedelta(hours=23)}, lambda m: m.created_at,
     NOW + timedelta(hours=23), 0),
    ("a reason longer than its column", {"eligibility_reason": "r" * 600}, lambda m: len(m.eligibility_reason or ""),
     REASON_MAX, 1),
    ("raw with a surrogate, a NUL key and NaN", {"raw": {"t": "\ud83d", "k\x00": 1, "n": float("nan")}},
     lambda m: m.raw, {"t": "\ufffd", "k\ufffd": 1, "n": None}, 1),
    ("raw nested too deep", {"raw": {"v": deep(RAW_MAX_DEPTH + 5)}}, lambda m: m.raw["v"] is not None, True, 1),
]


@pytest.mark.parametrize(("what", "change", "read", "expected", "repaired"), REPAIRED,
                         ids=[row[0] for row in REPAIRED])
def test_admit_repairs_free_text_and_clamps_counts(what: str, change: dict[str, Any], read: Any, expected: Any,
                                                   repaired: int) -> None:
    window = intake()
    mention = window.admit(replace(BASE, **change))
    assert read(mention) == expected
    assert window.sanitised == repaired


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("surrogate in the id", {"canonical_id": "1\ud83d"}, "the post's id holds a lone surrogate or a NUL"),
    ("NUL in the platform id", {"platform_id": "1\x00"}, "platform id holds a lone surrogate or a NUL"),
    ("an id longer than its column", {"canonical_id": "9" * (ID_MAX + 1)}, f"longer than {ID_MAX} characters"),
    ("an empty id", {"canonical_id": " "}, "the post's id is empty"),
    ("a conversation id with a surrogate", {"conversation_id": "\udfff"}, "conversation_id holds"),
    ("an author id with a NUL", {"author": ParsedAuthor(handle="j", id="7\x00")}, "the author's id holds"),
    ("an author id too long", {"author": ParsedAuthor(handle="j", id="7" * (AUTHOR_KEY_MAX + 1))},
     f"longer than {AUTHOR_KEY_MAX}"),
    ("a handle too long", {"author": ParsedAuthor(handle="h" * (HANDLE_MAX + 1), id="7")},
     f"handle is longer than {HANDLE_MAX}"),
    ("an empty handle", {"author": ParsedAuthor(handle="  ")}, "handle is empty"),
    ("year 1", {"created_at": datetime(1, 1, 1, tzinfo=UTC)},
     "created_at 0001-01-01T00:00:00+00:00 is before the earliest allowed post date 2006-03-21"),
    ("the day before the first tweet", {"created_at": EARLIEST_POST - timedelta(seconds=1)}, "before the earliest"),
    ("year 9999", {"created_at": datetime(9999, 12, 31, 23, 30, tzinfo=UTC)},
     "created_at 9999-12-31T23:30:00+00:00 is in the future"),
    ("two days ahead", {"created_at": NOW + timedelta(days=2)}, "is in the future"),
]


@pytest.mark.parametrize(("what", "change", "reason"), REFUSED, ids=[row[0] for row in REFUSED])
def test_admit_refuses_what_cannot_be_stored_with_a_reason(what: str, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        intake().admit(replace(BASE, **change))


def test_clean_raw_is_kept_as_the_same_object() -> None:
    assert intake().admit(BASE).raw is BASE.raw


def test_the_window_is_configurable() -> None:
    strict = IntakeRules(earliest=NOW - timedelta(days=1), future_tolerance=timedelta(0)).at(NOW)
    with pytest.raises(ParseError, match="before the earliest allowed post date 2026-11-19"):
        strict.admit(replace(BASE, created_at=NOW - timedelta(days=2)))
    with pytest.raises(ParseError, match="in the future"):
        strict.admit(replace(BASE, created_at=NOW + timedelta(seconds=1)))


def test_the_limits_are_the_columns_the_fields_land_in() -> None:
    mention, author = Mention.__table__.c, Author.__table__.c  # type: ignore[attr-defined]
    assert {mention.canonical_id.type.length, mention.platform_id.type.length, mention.in_reply_to_id.type.length,
            mention.conversation_id.type.length} == {ID_MAX}
    assert (author.key.type.length, author.handle.type.length, author.name.type.length) == \
        (AUTHOR_KEY_MAX, HANDLE_MAX, NAME_MAX)
    assert mention.eligibility_reason.type.length == REASON_MAX
    assert INT_MAX == 2**31 - 1  # author.followers is an INTEGER: 32 bits on PostgreSQL


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-20T09:14:03Z", datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)),
    ("2026-11-20T11:14:03+02:00", datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)),
    ("2026-11-20T09:14:03", "has no timezone offset"),
    ("yesterday", "is not an ISO 8601 timestamp"),
    ("0001-01-01T00:00:00+05:00", "is outside the years a date can hold"),
    ("9999-12-31T23:59:59-05:00", "is outside the years a date can hold"),
])
def test_iso_timestamps_never_raise_anything_but_parse_error(value: str, expected: Any) -> None:
    if isinstance(expected, datetime):
        assert iso_timestamp(value, "created_at") == expected
    else:
        with pytest.raises(ParseError, match=f"created_at {expected}"):
            iso_timestamp(value, "created_at")


@pytest.mark.parametrize(("value", "expected"), [
    (5, 5), (0, 0), (2**63, INT_MAX), (-1, None), (True, None), (1.5, None), ("7", None), (None, None),
])
def test_count(value: Any, expected: int | None) -> None:
    assert count(value) == expected


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-rate-limit-reset": str(int(NOW.timestamp()) + 90)}, 90),
    ({"X-RateLimit-Reset": (NOW + timedelta(seconds=30)).isoformat()}, 30),
    ({"retry-after": "17"}, 17),
    ({"Retry-After": "Fri, 20 Nov 2026 12:01:00 GMT"}, 60),
    ({"x-rate-limit-reset": str(int(NOW.timestamp()) - 50)}, 1),
    ({"retry-after": "soon"}, 60),
    ({}, 60),
])
def test_retry_after_reads_reset_then_retry_after_then_a_minute(headers: dict[str, str], expected: float) -> None:
    reset = next((k for k in headers if "reset" in k.lower()), "x-rate-limit-reset")
    assert retry_after(headers, NOW, reset_header=reset) == pytest.approx(expected)


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (401, True), (404, True), (408, False), (409, False),
                                                   (425, False), (429, False), (500, False), (503, False)])
def test_permanent_status(status: int, permanent: bool) -> None:
    assert permanent_status(status) is permanent


def test_clean_replaces_only_what_storage_refuses() -> None:
    assert clean("Björk 😡 אבג \t\n") == "Björk 😡 אבג \t\n"
    assert clean("\x00\ud800\udfff") == "\ufffd\ufffd\ufffd"
