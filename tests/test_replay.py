"""The replay source: the JSONL format of ARCHITECTURE.md, bad lines reported by number, batches by cursor."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.tables import Mention
from monitor.config import parse_settings
from monitor.pipeline import fetch_and_store, process_pending
from monitor.scoring import build_scorer
from monitor.sources.base import ParseError, SourceError
from monitor.sources.intake import IntakeRules
from monitor.sources.replay import ReplaySource, parse_replay_lines, parse_replay_record

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

FULL = {
    "platform": "x", "id": "1578516295611748353", "text": "@acme my order never arrived",
    "created_at": "2026-11-20T09:14:03+00:00",
    "author": {"id": "783214", "handle": "jane_doe", "name": "Jane Doe", "followers": 1520, "verified": False},
    "url": "https://x.com/jane_doe/status/1578516295611748353",
    "in_reply_to_id": None, "conversation_id": "1578516295611748353", "lang": None,
    "metrics": {"likes": 3, "reposts": 0, "replies": 1},
}


def test_it_parses_the_documented_example() -> None:
    mention = parse_replay_record(FULL)
    assert mention.platform == "x"
    assert mention.canonical_id == "1578516295611748353"
    assert mention.author.handle == "jane_doe" and mention.author.followers == 1520
    assert mention.created_at == datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)
    assert mention.metrics == {"likes": 3, "reposts": 0, "replies": 1}
    assert mention.raw == FULL


def test_only_the_required_fields_are_required() -> None:
    minimal = {"platform": "reddit", "id": "t3_abc", "text": "meh", "created_at": "2026-11-20T09:14:03Z",
               "author": {"handle": "u1"}}
    mention = parse_replay_record(minimal)
    assert mention.author.name is None and mention.url is None and mention.metrics == {}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"platform": None}, "missing required field 'platform'"),
        ({"platform": "myspace"}, "unknown platform 'myspace'"),
        ({"id": None}, "missing required field 'id'"),
        ({"id": ""}, "field 'id' is empty"),
        ({"text": None}, "missing required field 'text'"),
        ({"text": 5}, "field 'text' must be a string"),
        ({"created_at": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"created_at": "2026-11-20T09:14:03"}, "has no timezone offset"),
        ({"author": None}, "missing required field 'author'"),
        ({"author": {"name": "x"}}, "missing required field 'handle'"),
        ({"author": {"handle": "a", "followers": -3}}, "'followers' must be a non-negative integer"),
        ({"author": {"handle": "a", "verified": "yes"}}, "'author.verified' must be true or false"),
        ({"metrics": [1]}, "field 'metrics' must be an object"),
    ],
)
def test_a_malformed_record_is_refused_naming_the_field(change: dict, reason: str) -> None:
    record = {**FULL, **change}
    with pytest.raises(ParseError, match=reason):
        parse_replay_record(record)


def test_bad_lines_are_reported_by_number_and_the_rest_goes_in() -> None:
    good = json.dumps(FULL)
    other = json.dumps({**FULL, "id": "2"})
    lines = [(1, good), (2, "{not json"), (3, ""), (4, "[1, 2]"), (5, other), (6, json.dumps({**FULL, "text": None}))]
    mentions, bad = parse_replay_lines(lines)
    assert [m.canonical_id for m in mentions] == ["1578516295611748353", "2"]
    assert [(b.position, b.reason.split(" (")[0]) for b in bad] == [
        ("line 2", "not valid JSON"),
        ("line 4", "a line must hold a JSON object, got list"),
        ("line 6", "missing required field 'text'"),
    ]


def _write(path: Path, count: int, *, broken: set[int] = frozenset()) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for n in range(1, count + 1):
            handle.write("garbage\n" if n in broken else json.dumps({**FULL, "id": str(n)}) + "\n")


def test_reading_in_batches_by_cursor_gives_every_line_once(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    _write(path, 11, broken={4, 9})
    source = ReplaySource(name="r", path=path, batch_size=3)
    seen: list[str] = []
    bad: list[str] = []
    cursor = None
    while True:
        batch = source.fetch(cursor)
        seen += [m.canonical_id for m in batch.mentions]
        bad += [b.position for b in batch.bad]
        cursor = batch.next_cursor
        if batch.exhausted:
            break
    assert seen == [str(n) for n in range(1, 12) if n not in {4, 9}]
    assert bad == ["line 4", "line 9"]
    assert source.fetch(cursor).mentions == []  # nothing new: nothing again


def test_lines_appended_later_are_read_from_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    _write(path, 2)
    source = ReplaySource(name="r", path=path)
    first = source.fetch(None)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({**FULL, "id": "3"}) + "\n")
    assert [m.canonical_id for m in source.fetch(first.next_cursor).mentions] == ["3"]


def test_invalid_utf8_is_a_bad_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(json.dumps(FULL).encode() + b"\n\xff\xfe\n")
    batch = ReplaySource(name="r", path=path).fetch(None)
    assert len(batch.mentions) == 1 and [(b.position, b.reason) for b in batch.bad] == [("line 2", "not valid UTF-8")]


def test_a_missing_file_is_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        ReplaySource(name="r", path=tmp_path / "absent.jsonl").fetch(None)
    assert caught.value.permanent


def test_shift_moves_timestamps() -> None:
    mention = parse_replay_record(FULL, shift=timedelta(hours=2))
    assert mention.created_at == datetime(2026, 11, 20, 11, 14, 3, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_line_yields_a_mention_or_a_reported_bad_line(line: str) -> None:
    mentions, bad = parse_replay_lines([(1, line)])
    assert len(mentions) + len(bad) == (1 if line.strip() else 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(FULL)), json_values, max_size=6))
def test_any_record_shape_yields_a_mention_or_a_parse_error(changes: dict) -> None:
    with contextlib.suppress(ParseError):
        parse_replay_record({**FULL, **changes})


# -- poisoned lines: each stops only itself ------------------------------------------------------------


def _line(**changes: Any) -> str:
    return json.dumps({**FULL, **changes})


POISON = [
    ("year 1 with an offset", _line(id="p1", created_at="0001-01-01T00:00:00+05:00"),
     "field 'created_at' is outside the years a date can hold"),
    ("year 1", _line(id="p2", created_at="0001-01-01T00:00:00+00:00"), "before the earliest allowed post date"),
    ("year 9999", _line(id="p3", created_at="9999-12-31T23:30:00+00:00"), "is in the future"),
    ("a lone surrogate in the id", _line(id="p4\ud83d"), "the post's id holds a lone surrogate"),
    ("an integer too long to read", '{"id": ' + "9" * 5000 + "}", "not valid JSON (Exceeds the limit"),
    ("nesting too deep", "[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deep)"),
    ("shifted past the last year", _line(id="p5", created_at="9999-12-31T23:59:59+00:00"), "in the future"),
]


@pytest.mark.parametrize(("what", "line", "reason"), POISON, ids=[p[0] for p in POISON])
def test_a_poisoned_line_is_a_bad_line_with_its_reason(what: str, line: str, reason: str) -> None:
    mentions, bad = parse_replay_lines([(1, json.dumps({**FULL, "id": "good"})), (2, line)])
    assert [m.canonical_id for m in mentions] == ["good"]
    assert [b.position for b in bad] == ["line 2"] and reason in bad[0].reason


def test_repaired_fields_go_in_and_are_counted() -> None:
    intake = IntakeRules().at(NOW)
    line = _line(text="my order \ud83d never came\u0000", author={"handle": "ja\ud800ne", "followers": 2**70})
    [mention], bad = parse_replay_lines([(1, line)], intake=intake)
    assert bad == [] and mention.text == "my order \ufffd never came\ufffd"
    assert mention.author.handle == "ja\ufffdne" and mention.author.followers == 2**31 - 1
    assert intake.sanitised == 4  # text, handle, followers, and the raw record


def test_a_byte_order_mark_on_line_one_is_not_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(FULL).encode() + b"\n" + _line(id="2").encode() + b"\n")
    batch = ReplaySource(name="r", path=path).fetch(None)
    assert [m.canonical_id for m in batch.mentions] == ["1578516295611748353", "2"] and batch.bad == []


def test_the_cursor_always_moves_past_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([line for _, line, _ in POISON] + [_line(id="last")]) + "\n", "utf-8")
    source = ReplaySource(name="r", path=path, batch_size=3)
    cursor, seen, bad = None, [], []
    for _ in range(10):
        batch = source.fetch(cursor)
        assert batch.next_cursor != cursor, "every batch moves the cursor"
        seen += [m.canonical_id for m in batch.mentions]
        bad += [b.position for b in batch.bad]
        cursor = batch.next_cursor
        if batch.exhausted:
            break
    assert seen == ["last"] and bad == [f"line {n}" for n in range(1, len(POISON) + 1)]


def test_a_poisoned_file_stores_its_good_lines_and_triage_still_opens_cases(engine: Engine, tmp_path: Path) -> None:
    """Issue 9's reproduction: year 1 and year 9999 dates, a lone surrogate, followers over 2^63, a NUL."""
    now = datetime.now(UTC)
    good = [{**FULL, "id": f"g{n}", "created_at": (now - timedelta(minutes=n)).isoformat(),
             "text": f"@acme my order never arrived and I want a refund, terrible #{n}"} for n in range(3)]
    lines = [json.dumps(good[0]), *(line for _, line, _ in POISON),
             json.dumps({**good[1], "text": good[1]["text"] + " \ud83d\u0000",
                         "author": {"handle": "big", "followers": 2**70}}), json.dumps(good[2])]
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    settings = parse_settings({"scoring": {"backend": "lexicon"}}, env={})

    report = fetch_and_store(engine, ReplaySource(name="r", path=path, batch_size=4), brand="Acme", source_id=None)
    process_pending(engine, settings, build_scorer(settings.scoring), report=report)

    assert report.new == 3 and len(report.bad) == len(POISON)
    assert report.sanitised == 3  # g1: its text, its followers, and its raw record
    assert report.cases_opened >= 1
    with engine.connect() as connection:
        stored = dict(connection.execute(select(Mention.canonical_id, Mention.text)).all())  # type: ignore[call-overload]
    assert set(stored) == {"g0", "g1", "g2"} and stored["g1"].endswith(" \ufffd\ufffd")
