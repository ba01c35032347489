"""Jetstream, Bluesky's JSON firehose: reading a slice of it, and the pure parsers of its events.

Keyword monitoring reads Jetstream (``searchPosts`` is not meant for monitoring) and matches the brand's
keywords locally. Events name their author by DID only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException
from websockets.sync.client import connect as websocket_connect

from monitor.sources.base import BadRecord, ParsedAuthor, ParsedMention, ParseError, SourceError
from monitor.sources.bluesky import BlueskyOptions
from monitor.sources.bluesky.parse import POST_COLLECTION, as_object, mention_of, string_field
from monitor.sources.intake import Intake, is_clean

_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")

Events = list[tuple[int, dict[str, Any]]]


def time_us(event: Mapping[str, Any]) -> int | None:
    """The event's ``time_us`` (microseconds since the epoch, Jetstream's clock), when it is one."""
    value = event.get("time_us")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def as_time(microseconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(microseconds / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_jetstream_event(event: Any, *, intake: Intake | None = None) -> ParsedMention | None:
    """A Jetstream (v1 JSON) event as a safe mention: a post created or updated; None for every other event.

    The event names the author by DID only: the mention's handle is the DID until someone resolves it.
    """
    obj = as_object(event, "jetstream event")
    kind = string_field(obj, "kind", "jetstream event", required=True)
    if kind != "commit":
        return None
    did = string_field(obj, "did", "jetstream event", required=True)
    assert did is not None
    if not did.startswith("did:") or any(c.isspace() or c == "/" for c in did):
        raise ParseError(f"jetstream event.did is not a DID: {did[:60]!r}")
    stamp = time_us(obj)
    if stamp is None:
        raise ParseError("jetstream event.time_us must be a non-negative integer")
    commit = as_object(obj.get("commit"), "jetstream event.commit")
    if string_field(commit, "collection", "jetstream event.commit", required=True) != POST_COLLECTION:
        return None
    operation = string_field(commit, "operation", "jetstream event.commit", required=True)
    if operation not in ("create", "update"):
        return None
    rkey = string_field(commit, "rkey", "jetstream event.commit", required=True)
    assert rkey is not None
    if not _RKEY.match(rkey):
        raise ParseError(f"jetstream event.commit.rkey is not a record key: {rkey[:60]!r}")
    cid = string_field(commit, "cid", "jetstream event.commit", required=True)
    uri = f"at://{did}/{POST_COLLECTION}/{rkey}"
    raw = {"did": did, "time_us": stamp, "operation": operation}
    return mention_of(uri=uri, cid=cid, record=commit.get("record"), author=ParsedAuthor(handle=did, id=did),
                      raw=raw, where="jetstream event.commit", intake=intake or Intake(), indexed_at=as_time(stamp))


def parse_jetstream_deletion(event: Any) -> str | None:
    """The at-uri of the post a Jetstream event deletes; None for every other event. Never raises."""
    if not isinstance(event, dict) or event.get("kind") != "commit" or not isinstance(event.get("commit"), dict):
        return None
    commit, did = event["commit"], event.get("did")
    if commit.get("operation") != "delete" or commit.get("collection") != POST_COLLECTION:
        return None
    rkey = commit.get("rkey")
    if not isinstance(did, str) or not did.startswith("did:") or any(c.isspace() or c == "/" for c in did) \
            or not is_clean(did) or not isinstance(rkey, str) or not _RKEY.match(rkey):
        return None
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """Case-insensitive match of any keyword starting a word ("acme's", "#acme", "@acme.bsky.social" and
    Korean "아크미에서" match "acme"/"아크미"; "megaacme" does not). None when there are no keywords."""
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + ")", re.IGNORECASE)


def stream_url(base: str, cursor_us: int) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("wantedCollections", "cursor")]
    query += [("wantedCollections", POST_COLLECTION), ("cursor", str(cursor_us))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def read_stream(options: BlueskyOptions, *, start: int, previous: int, horizon: int, latest: int
                ) -> tuple[Events, list[BadRecord], bool]:
    """Events from ``start`` on until ``stream_batch`` of them are newer than ``previous`` (full), one is at or
    past ``horizon`` (caught up), the stream idles, or the time budget runs out. An event stamped after
    ``latest`` (microseconds) is a bad record, so a poisoned clock can never carry the cursor into the future.
    """
    url = stream_url(options.jetstream_url, start)
    events: Events = []
    bad: list[BadRecord] = []
    counted = 0
    deadline = time.monotonic() + options.stream_seconds
    try:
        with websocket_connect(url, open_timeout=options.timeout_seconds, close_timeout=1,
                               max_size=4 * 2**20) as websocket:
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    frame = websocket.recv(timeout=min(remaining, options.stream_idle_seconds))
                except (TimeoutError, ConnectionClosed):
                    break
                position = f"jetstream frame {len(events) + len(bad) + 1}"
                try:
                    event = json.loads(frame)
                except (ValueError, UnicodeDecodeError, RecursionError):
                    bad.append(BadRecord(position, "not JSON"))
                    continue
                stamp = time_us(event) if isinstance(event, dict) else None
                if stamp is None:
                    bad.append(BadRecord(position, "an event without a time_us"))
                    continue
                if stamp > latest:
                    bad.append(BadRecord(position, f"time_us {stamp} is in the future"))
                    continue
                events.append((stamp, event))
                counted += stamp > previous
                if counted >= options.stream_batch:
                    return events, bad, stamp < horizon
                if stamp >= horizon:
                    break
    except InvalidURI as exc:
        raise SourceError(f"bluesky jetstream_url is not a websocket URL: {exc}", permanent=True) from exc
    except (OSError, TimeoutError, WebSocketException) as exc:
        if not events:
            raise SourceError(f"bluesky jetstream: {type(exc).__name__}: {exc}", permanent=False) from exc
    return events, bad, False
