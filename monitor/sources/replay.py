"""The replay source: mentions from a JSONL file in the format of ARCHITECTURE.md ("Replay JSONL").

The demo, the tests and the benchmarks read it. A bad line is reported with its line number and skipped;
the rest goes in: no line, however it is poisoned (invalid UTF-8 or JSON, nesting too deep, numbers too long,
dates out of range, lone surrogates, NULs), fails its batch, and the cursor always moves past it. A UTF-8
byte order mark on line 1 is ignored. The cursor is ``"<byte offset>:<next line number>"`` of the first
unread line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.sources.base import BadRecord, Batch, ParsedAuthor, ParsedMention, ParseError, SourceError
from monitor.sources.common import Clock, iso_timestamp, utcnow
from monitor.sources.intake import DEFAULT_RULES, Intake, IntakeRules
from monitor.sources.platforms import PLATFORMS

METRIC_KEYS = ("likes", "reposts", "replies")
BOM = "\ufeff"

log = logging.getLogger("closeloop.sources.replay")


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
    return value  # however large: intake clamps it to what the database holds


def parse_timestamp(value: str, field: str = "created_at") -> datetime:
    """An ISO 8601 timestamp with an offset (or Z), returned in UTC. A naive timestamp is an error."""
    return iso_timestamp(value, f"field {field!r}")


def parse_replay_record(record: Any, *, shift: timedelta = timedelta(0), intake: Intake | None = None
                        ) -> ParsedMention:
    """One decoded JSONL record as a safe mention; raises ParseError naming the field at fault."""
    if not isinstance(record, dict):
        raise ParseError(f"a line must hold a JSON object, got {type(record).__name__}")
    platform = _text(record, "platform", required=True)
    assert platform is not None
    if platform not in PLATFORMS:
        raise ParseError(f"unknown platform {platform[:40]!r} (expected one of {', '.join(PLATFORMS)})")
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
    try:
        created_at = parse_timestamp(created) + shift
    except OverflowError:
        raise ParseError(f"field 'created_at' moved by {shift} is outside the years a date can hold") from None
    return (intake or Intake()).admit(ParsedMention(
        platform=platform,
        canonical_id=mention_id,
        platform_id=mention_id,
        text=text,
        author=ParsedAuthor(
            handle=handle.lstrip("@") or handle,
            id=_text(author, "id"),
            name=_text(author, "name"),
            followers=_count(author, "followers"),
            verified=verified,
        ),
        created_at=created_at,
        url=_text(record, "url"),
        in_reply_to_id=_text(record, "in_reply_to_id"),
        conversation_id=_text(record, "conversation_id"),
        lang=_text(record, "lang"),
        metrics=metrics,
        raw=record,
    ))


def _decoded(line: str) -> Any:
    """The JSON of one line; ParseError saying why it is not JSON (syntax, nesting, numbers too long)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ParseError("not valid JSON (nested too deep)") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise ParseError(f"not valid JSON ({str(exc)[:80]})") from None


def parse_replay_lines(lines: Iterable[tuple[int, str]], *, shift: timedelta = timedelta(0),
                       intake: Intake | None = None) -> tuple[list[ParsedMention], list[BadRecord]]:
    """Parse numbered lines; blank lines are skipped, bad ones reported as ``line N: reason``. Never raises."""
    intake = intake or Intake()
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for number, line in lines:
        if number == 1:
            line = line.removeprefix(BOM)
        if not line.strip():
            continue
        try:
            mentions.append(parse_replay_record(_decoded(line), shift=shift, intake=intake))
        except ParseError as exc:
            bad.append(BadRecord(f"line {number}", str(exc)))
        except Exception as exc:  # a poison no rule above foresaw: it stops its line, never the batch
            log.exception("replay_line_unreadable line=%d", number)
            bad.append(BadRecord(f"line {number}", f"unreadable ({type(exc).__name__})"))
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
    """Reads ``path`` from the cursor on, ``batch_size`` lines at a time. ``shift`` moves every timestamp;
    ``clock`` and ``intake`` set the window a post's date must fall in."""

    name: str
    path: Path
    batch_size: int = 1000
    shift: timedelta = timedelta(0)
    clock: Clock = utcnow
    intake: IntakeRules = field(default=DEFAULT_RULES)
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
        intake = self.intake.at(self.clock())
        mentions, bad = parse_replay_lines(numbered, shift=self.shift, intake=intake)
        bad = sorted(undecodable + bad, key=lambda record: int(record.position.split()[1]))
        return Batch(mentions=mentions, next_cursor=f"{offset}:{line_number}", bad=bad, exhausted=exhausted,
                     sanitised=intake.sanitised)

    def count_lines(self) -> int:
        with self.path.open("rb") as handle:
            return sum(1 for _ in handle)
