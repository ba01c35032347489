"""The replay source: mentions from a JSONL file in the format of ARCHITECTURE.md ("Replay JSONL").

The demo, the tests and the benchmarks read it. A bad line is reported with its line number and skipped;
the rest goes in. The cursor is ``"<byte offset>:<next line number>"`` of the first unread line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.sources.base import BadRecord, Batch, ParsedAuthor, ParsedMention, ParseError, SourceError

PLATFORMS = ("x", "reddit", "mastodon", "bluesky")
METRIC_KEYS = ("likes", "reposts", "replies")


def _text(record: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise ParseError(f"missing required field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseError(f"field {key!r} must be a string, got {type(value).__name__}")
    value = str(value)
    if required and not value.strip():
        raise ParseError(f"field {key!r} is empty")
    return value


def _count(record: Mapping[str, Any], key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParseError(f"field {key!r} must be a non-negative integer")
    return value


def parse_timestamp(value: str, field: str = "created_at") -> datetime:
    """An ISO 8601 timestamp with an offset (or Z), returned in UTC. A naive timestamp is an error."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise ParseError(f"field {field!r} is not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"field {field!r} has no timezone offset: {value[:40]!r}")
    return parsed.astimezone(UTC)


def parse_replay_record(record: Any, *, shift: timedelta = timedelta(0)) -> ParsedMention:
    """One decoded JSONL record as a mention; raises ParseError naming the field at fault."""
    if not isinstance(record, dict):
        raise ParseError(f"a line must hold a JSON object, got {type(record).__name__}")
    platform = _text(record, "platform", required=True)
    assert platform is not None
    if platform not in PLATFORMS:
        raise ParseError(f"unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")
    mention_id = _text(record, "id", required=True)
    text = record.get("text")
    if not isinstance(text, str):
        raise ParseError("missing required field 'text'" if text is None else "field 'text' must be a string")
    created = _text(record, "created_at", required=True)
    assert created is not None and mention_id is not None
    author = record.get("author")
    if not isinstance(author, dict):
        raise ParseError("missing required field 'author'" if author is None else "field 'author' must be an object")
    handle = _text(author, "handle", required=True)
    assert handle is not None
    verified = author.get("verified", False)
    if not isinstance(verified, bool):
        raise ParseError("field 'author.verified' must be true or false")
    metrics_in = record.get("metrics") or {}
    if not isinstance(metrics_in, dict):
        raise ParseError("field 'metrics' must be an object")
    metrics = {key: count for key in METRIC_KEYS if (count := _count(metrics_in, key)) is not None}
    lang = _text(record, "lang")
    return ParsedMention(
        platform=platform,
        canonical_id=mention_id,
        platform_id=mention_id,
        text=text,
        author=ParsedAuthor(
            handle=handle.lstrip("@"),
            id=_text(author, "id"),
            name=_text(author, "name"),
            followers=_count(author, "followers"),
            verified=verified,
        ),
        created_at=parse_timestamp(created) + shift,
        url=_text(record, "url"),
        in_reply_to_id=_text(record, "in_reply_to_id"),
        conversation_id=_text(record, "conversation_id"),
        lang=lang.lower() if lang else None,
        metrics=metrics,
        raw=record,
    )


def parse_replay_lines(lines: Iterable[tuple[int, str]], *, shift: timedelta = timedelta(0)) -> tuple[list[ParsedMention], list[BadRecord]]:
    """Parse numbered lines; blank lines are skipped, bad ones reported as ``line N: reason``."""
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(BadRecord(f"line {number}", f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        try:
            mentions.append(parse_replay_record(record, shift=shift))
        except ParseError as exc:
            bad.append(BadRecord(f"line {number}", str(exc)))
    return mentions, bad


def _decode_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 1
    try:
        offset, line = cursor.split(":", 1)
        return int(offset), int(line)
    except ValueError:
        raise SourceError(f"unreadable replay cursor {cursor!r}", permanent=True) from None


@dataclass
class ReplaySource:
    """Reads ``path`` from the cursor on, ``batch_size`` lines at a time. ``shift`` moves every timestamp."""

    name: str
    path: Path
    batch_size: int = 1000
    shift: timedelta = timedelta(0)
    platform: str = "replay"

    def fetch(self, cursor: str | None) -> Batch:
        offset, line_number = _decode_cursor(cursor)
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot open {self.path}: {exc.strerror}", permanent=True) from None
        with handle:
            size = self.path.stat().st_size
            if offset > size:  # the file was replaced by a shorter one: start again (dedupe keeps it safe)
                offset, line_number = 0, 1
            handle.seek(offset)
            numbered: list[tuple[int, str]] = []
            undecodable: list[BadRecord] = []
            while len(numbered) + len(undecodable) < self.batch_size:
                raw = handle.readline()
                if not raw:
                    break
                try:
                    numbered.append((line_number, raw.decode("utf-8")))
                except UnicodeDecodeError:
                    undecodable.append(BadRecord(f"line {line_number}", "not valid UTF-8"))
                line_number += 1
                offset = handle.tell()
            exhausted = offset >= size
        mentions, bad = parse_replay_lines(numbered, shift=self.shift)
        bad = sorted(undecodable + bad, key=lambda record: int(record.position.split()[1]))
        return Batch(mentions=mentions, next_cursor=f"{offset}:{line_number}", bad=bad, exhausted=exhausted)

    def count_lines(self) -> int:
        with self.path.open("rb") as handle:
            return sum(1 for _ in handle)
