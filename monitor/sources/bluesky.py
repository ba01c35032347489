"""Bluesky: mentions from our notifications, keyword posts from Jetstream, follow-ups from threads.

Reads go through atproto's ``Client`` and one session per source object, which lives across scheduler
ticks: ``com.atproto.server.createSession`` once, ``refreshSession`` when the PDS answers ExpiredToken (the
client also refreshes by itself shortly before the access token expires), never a login per poll.

Keyword monitoring reads Jetstream, Bluesky's JSON firehose (``searchPosts`` is not meant for monitoring),
and matches ``brand.keywords`` locally. Deleted posts seen on the stream are counted in the logs but not
returned: ``Batch`` has no field for deletions (``parse_jetstream_deletion`` exposes them).

The cursor is JSON owned by this module::

    {"v": 1, "phase": "notifications" | "stream",
     "hw": {"at": indexedAt, "uri": at-uri} | null,   # newest notification of the last complete pass
     "page": listNotifications cursor | null,         # a pass in progress: the next page to read
     "top": {"at": ..., "uri": ...} | null,           # the newest notification of the pass in progress
     "time_us": int | null, "streak": int}            # last Jetstream event processed; full batches in a row

A notifications pass reads newest first, one page per ``fetch``, down to ``hw`` (``backfill_hours`` back on
the first run). ``top`` becomes ``hw`` only when the pass ends, so a crash or a rate limit mid-pass resumes
from the saved page and loses nothing. Then Jetstream batches follow from ``time_us`` minus
``stream_rewind_seconds``; repeats are fine, storage dedupes on the at-uri.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from atproto_client import Client, Session, SessionEvent, models
from atproto_client import exceptions as atp
from atproto_client.models.common import XrpcError
from atproto_client.request import Request
from atproto_core.exceptions import AtProtocolError
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException
from websockets.sync.client import connect as websocket_connect

from monitor.config import Brand, SourceSettings
from monitor.sources.base import (
    BadRecord,
    Batch,
    ParsedAuthor,
    ParsedMention,
    ParseError,
    RateLimited,
    SourceError,
    ThreadRef,
    credentials,
)

PLATFORM = "bluesky"
READ_CREDENTIALS: dict[str, str] = {"app_password": "BLUESKY_APP_PASSWORD"}
POST_CREDENTIALS: dict[str, str] = {"app_password": "BLUESKY_APP_PASSWORD"}

DEFAULT_API_BASE_URL = "https://bsky.social"
DEFAULT_JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
POST_COLLECTION = "app.bsky.feed.post"
MENTION_REASONS = ("mention", "reply", "quote")
NOTIFICATIONS = "app.bsky.notification.listNotifications"
THREAD = "app.bsky.feed.getPostThread"
PROFILES = "app.bsky.actor.getProfiles"
PROFILES_PER_CALL = 25  # the lexicon's maximum for getProfiles and getPosts

log = logging.getLogger("closeloop.sources.bluesky")
T = TypeVar("T")

_POST_URI = re.compile(r"^at://(?P<repo>[^/\s]+)/app\.bsky\.feed\.post/(?P<rkey>[A-Za-z0-9._:~-]{1,512})$")
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


# -- pure parsing ---------------------------------------------------------------------------------------
# Identity fields (uri, cid, did, record, text) are strict: a wrong type is a ParseError. Decoration
# (counts, display names, langs, unreadable client-declared times) is dropped when unusable, so a customer's
# post is never lost over a like count.


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{where} must be an object, got {_kind(value)}")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ParseError(f"{where}.{key} is missing")
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}.{key} must be a string, got {_kind(value)}")
    if required and not value.strip():
        raise ParseError(f"{where}.{key} is empty")
    return value


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_timestamp(value: Any) -> datetime | None:
    """An AT Protocol datetime in UTC; None when absent or unreadable (``createdAt`` is client-declared)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def post_uri_parts(uri: Any, where: str = "uri") -> tuple[str, str]:
    """(repo, rkey) of a post's at-uri; ParseError when it is not ``at://<repo>/app.bsky.feed.post/<rkey>``."""
    if not isinstance(uri, str):
        raise ParseError(f"{where} must be a string, got {_kind(uri)}")
    match = _POST_URI.match(uri)
    if match is None:
        raise ParseError(f"{where} is not a post at-uri: {uri[:80]!r}")
    return match["repo"], match["rkey"]


def post_url(handle_or_did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def parse_author(profile: Any, where: str = "author") -> ParsedAuthor:
    """A profile view (basic, full or detailed) as an author; the handle falls back to the did."""
    obj = _object(profile, where)
    did = _string(obj, "did", where, required=True)
    assert did is not None
    if not did.startswith("did:"):
        raise ParseError(f"{where}.did is not a DID: {did[:60]!r}")
    handle = obj.get("handle")
    handle = handle.strip().lstrip("@") if isinstance(handle, str) else ""
    if not handle or handle == "handle.invalid":
        handle = did
    name = obj.get("displayName")
    verification = obj.get("verification")
    verified = isinstance(verification, dict) and verification.get("verifiedStatus") == "valid"
    return ParsedAuthor(
        handle=handle,
        id=did,
        name=name.strip() if isinstance(name, str) and name.strip() else None,
        followers=_count(obj.get("followersCount")),
        verified=verified,
    )


def _reply_refs(record: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
    """(root uri, parent uri) of a post record's reply refs; (None, None) for a thread's first post."""
    reply = record.get("reply")
    if reply is None:
        return None, None
    reply = _object(reply, f"{where}.reply")
    uris = []
    for key in ("root", "parent"):
        ref = _object(reply.get(key), f"{where}.reply.{key}")
        uris.append(_string(ref, "uri", f"{where}.reply.{key}", required=True))
    return uris[0], uris[1]


def _lang(record: Mapping[str, Any]) -> str | None:
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str) and langs[0].strip():
        return langs[0].strip().split("-")[0].lower()
    return None


def _gate_reason(gate: Any) -> str | None:
    """Why a threadgate shuts us out, when its record allows nobody to reply."""
    if isinstance(gate, dict) and isinstance(gate.get("record"), dict) and gate["record"].get("allow") == []:
        return "the thread's author turned replies off (threadgate)"
    return None


def _eligibility(view: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Reply eligibility from a post view: closed when the app view says so for our account."""
    viewer = view.get("viewer")
    if isinstance(viewer, dict) and viewer.get("replyDisabled") is True:
        return False, "replies to this post are closed to our account (threadgate)"
    author = view.get("author")
    author_viewer = author.get("viewer") if isinstance(author, dict) else None
    if isinstance(author_viewer, dict) and author_viewer.get("blockedBy") is True:
        return False, "the author blocks our account"
    gate = _gate_reason(view.get("threadgate"))
    if gate:
        return False, gate
    return True, None


def _mention(
    *,
    uri: Any,
    cid: str | None,
    record: Any,
    author: ParsedAuthor,
    raw: Mapping[str, Any],
    where: str,
    indexed_at: Any = None,
    metrics: Mapping[str, int] | None = None,
    eligibility: tuple[bool, str | None] = (True, None),
) -> ParsedMention:
    repo, rkey = post_uri_parts(uri, f"{where}.uri")
    record = _object(record, f"{where}.record")
    record_type = record.get("$type")
    if record_type is not None and record_type != POST_COLLECTION:
        raise ParseError(f"{where}.record is a {str(record_type)[:60]!r}, not a post")
    text = record.get("text")
    if not isinstance(text, str):
        raise ParseError(f"{where}.record.text is missing" if text is None
                         else f"{where}.record.text must be a string, got {_kind(text)}")
    root_uri, parent_uri = _reply_refs(record, f"{where}.record")
    created = parse_timestamp(record.get("createdAt")) or parse_timestamp(indexed_at)
    handle = author.handle if not author.handle.startswith("did:") else repo
    return ParsedMention(
        platform=PLATFORM,
        canonical_id=uri,
        platform_id=uri,
        text=text,
        author=author,
        created_at=created,
        url=post_url(handle, rkey),
        in_reply_to_id=parent_uri,
        conversation_id=root_uri or uri,
        lang=_lang(record),
        metrics=dict(metrics or {}),
        reply_eligible=eligibility[0],
        eligibility_reason=eligibility[1],
        raw={**raw, "uri": uri, "cid": cid, "record": record},
    )


def _view_metrics(view: Mapping[str, Any]) -> dict[str, int]:
    pairs = (("likes", "likeCount"), ("reposts", "repostCount"), ("replies", "replyCount"))
    return {name: count for name, key in pairs if (count := _count(view.get(key))) is not None}


def _is_brand(author: ParsedAuthor, brand_handle: str | None) -> bool:
    return bool(brand_handle) and author.handle.lower() == (brand_handle or "").lstrip("@").lower()


def _notification_items(payload: Any) -> list[Any]:
    body = _object(payload, "listNotifications response")
    items = body.get("notifications")
    if not isinstance(items, list):
        raise ParseError(f"listNotifications response.notifications must be a list, got {_kind(items)}")
    return items


def _notification(item: Any, where: str, brand_handle: str | None) -> ParsedMention | None:
    obj = _object(item, where)
    reason = _string(obj, "reason", where, required=True)
    if reason not in MENTION_REASONS:
        return None
    author = parse_author(obj.get("author"), f"{where}.author")
    if _is_brand(author, brand_handle):
        return None
    return _mention(uri=obj.get("uri"), cid=_string(obj, "cid", where, required=True), record=obj.get("record"),
                    author=author, raw=obj, where=where, indexed_at=obj.get("indexedAt"))


def _notification_mentions(
    payload: Any, brand_handle: str | None
) -> tuple[list[tuple[int, ParsedMention]], list[BadRecord]]:
    mentions: list[tuple[int, ParsedMention]] = []
    bad: list[BadRecord] = []
    for index, item in enumerate(_notification_items(payload)):
        where = f"notifications[{index}]"
        try:
            mention = _notification(item, where, brand_handle)
        except ParseError as exc:
            bad.append(BadRecord(where, str(exc)))
            continue
        if mention is not None:
            mentions.append((index, mention))
    return mentions, bad


def _strict(mentions: list[ParsedMention], bad: list[BadRecord]) -> list[ParsedMention]:
    if bad:
        raise ParseError(bad[0].reason)
    return mentions


def parse_notifications(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """An ``app.bsky.notification.listNotifications`` body as mentions: the items whose reason is a mention,
    a reply or a quote (likes, follows and reposts are not mentions); our own posts are left out."""
    mentions, bad = _notification_mentions(payload, brand_handle)
    return _strict([m for _, m in mentions], bad)


def _thread_posts(thread: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The post views of a thread view: ancestors root first, the anchor, then replies depth first."""

    def post_of(node: Any, where: str) -> dict[str, Any] | None:
        node = _object(node, where)
        node_type = node.get("$type")
        if node_type not in (None, "app.bsky.feed.defs#threadViewPost"):
            return None  # notFoundPost, blockedPost, or a type newer than this parser
        if node_type is None and "post" not in node and (node.get("notFound") or node.get("blocked")):
            return None
        return _object(node.get("post"), f"{where}.post")

    ancestors: list[tuple[str, dict[str, Any]]] = []
    node: Any = thread.get("parent")
    where = "thread.parent"
    while node is not None:
        post = post_of(node, where)
        if post is None:
            break
        ancestors.append((where, post))
        node = node.get("parent")
        where += ".parent"
    posts = list(reversed(ancestors))
    stack: list[tuple[str, Any]] = [("thread", thread)]
    while stack:
        where, node = stack.pop()
        post = post_of(node, where)
        if post is None:
            continue
        posts.append((where, post))
        replies = node.get("replies")
        if replies is None:
            continue
        if not isinstance(replies, list):
            raise ParseError(f"{where}.replies must be a list, got {_kind(replies)}")
        stack.extend(reversed([(f"{where}.replies[{index}]", child) for index, child in enumerate(replies)]))
    return posts


def _thread_mentions(payload: Any, brand_handle: str | None) -> tuple[list[ParsedMention], list[BadRecord]]:
    body = _object(payload, "getPostThread response")
    thread = _object(body.get("thread"), "getPostThread response.thread")
    posts = _thread_posts(thread)
    gate = _gate_reason(body.get("threadgate")) or next(
        (reason for _, view in posts if (reason := _gate_reason(view.get("threadgate")))), None)
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for where, view in posts:
        try:
            author = parse_author(view.get("author"), f"{where}.author")
            if _is_brand(author, brand_handle):
                continue
            eligible = _eligibility(view)
            if eligible[0] and gate:
                eligible = (False, gate)
            mentions.append(_mention(
                uri=view.get("uri"), cid=_string(view, "cid", where, required=True), record=view.get("record"),
                author=author, raw=view, where=where, indexed_at=view.get("indexedAt"),
                metrics=_view_metrics(view), eligibility=eligible))
        except ParseError as exc:
            bad.append(BadRecord(where, str(exc)))
    return mentions, bad


def parse_thread(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """An ``app.bsky.feed.getPostThread`` body as mentions, every post of the thread (ancestors first, then
    replies depth first), our own posts left out. Reply eligibility comes from ``viewer.replyDisabled``,
    a block, or a threadgate that allows nobody."""
    return _strict(*_thread_mentions(payload, brand_handle))


def parse_post_record(
    payload: Any,
    *,
    uri: str | None = None,
    cid: str | None = None,
    author: ParsedAuthor | None = None,
    brand_handle: str | None = None,
) -> list[ParsedMention]:
    """A post record as one mention: either ``com.atproto.repo.getRecord``'s ``{"uri", "cid", "value"}`` or a
    bare ``app.bsky.feed.post`` record with ``uri`` (and ``cid``) supplied. Without ``author`` the author
    is the repo's DID, with the DID as handle."""
    body = _object(payload, "post record")
    record: Any = body
    if "value" in body:
        record = body["value"]
        uri = uri or _string(body, "uri", "post record")
        cid = cid or _string(body, "cid", "post record")
    if uri is None:
        raise ParseError("a bare post record needs its at-uri (uri=)")
    repo, _rkey = post_uri_parts(uri)
    author = author or ParsedAuthor(handle=repo, id=repo if repo.startswith("did:") else None)
    if _is_brand(author, brand_handle):
        return []
    return [_mention(uri=uri, cid=cid, record=record, author=author, raw=body, where="post record")]


def _time_us(event: Mapping[str, Any]) -> int | None:
    value = event.get("time_us")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_jetstream_event(event: Any) -> ParsedMention | None:
    """A Jetstream (v1 JSON) event as a mention: a post created or updated; None for every other event.

    The event names the author by DID only: the mention's handle is the DID until someone resolves it.
    """
    obj = _object(event, "jetstream event")
    kind = _string(obj, "kind", "jetstream event", required=True)
    if kind != "commit":
        return None
    did = _string(obj, "did", "jetstream event", required=True)
    assert did is not None
    if not did.startswith("did:") or any(c.isspace() or c == "/" for c in did):
        raise ParseError(f"jetstream event.did is not a DID: {did[:60]!r}")
    time_us = _time_us(obj)
    if time_us is None:
        raise ParseError("jetstream event.time_us must be a non-negative integer")
    commit = _object(obj.get("commit"), "jetstream event.commit")
    if _string(commit, "collection", "jetstream event.commit", required=True) != POST_COLLECTION:
        return None
    operation = _string(commit, "operation", "jetstream event.commit", required=True)
    if operation not in ("create", "update"):
        return None
    rkey = _string(commit, "rkey", "jetstream event.commit", required=True)
    assert rkey is not None
    if not _RKEY.match(rkey):
        raise ParseError(f"jetstream event.commit.rkey is not a record key: {rkey[:60]!r}")
    cid = _string(commit, "cid", "jetstream event.commit", required=True)
    uri = f"at://{did}/{POST_COLLECTION}/{rkey}"
    raw = {"did": did, "time_us": time_us, "operation": operation}
    return _mention(uri=uri, cid=cid, record=commit.get("record"), author=ParsedAuthor(handle=did, id=did),
                    raw=raw, where="jetstream event.commit")


def parse_jetstream_deletion(event: Any) -> str | None:
    """The at-uri of the post a Jetstream event deletes; None for every other event. Never raises."""
    if not isinstance(event, dict) or event.get("kind") != "commit" or not isinstance(event.get("commit"), dict):
        return None
    commit, did = event["commit"], event.get("did")
    if commit.get("operation") != "delete" or commit.get("collection") != POST_COLLECTION:
        return None
    rkey = commit.get("rkey")
    if not isinstance(did, str) or not did.startswith("did:") or not isinstance(rkey, str) or not _RKEY.match(rkey):
        return None
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """Case-insensitive match of any keyword starting a word ("acme's", "#acme", "@acme.bsky.social" and
    Korean "아크미에서" match "acme"/"아크미"; "megaacme" does not). None when there are no keywords."""
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + ")", re.IGNORECASE)


# -- the session ----------------------------------------------------------------------------------------


def xrpc_error(exc: BaseException) -> str | None:
    """The XRPC error name of a failed call (``ExpiredToken``, ``RateLimitExceeded``, ...), if it has one."""
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    if isinstance(content, XrpcError):
        return content.error
    if isinstance(content, dict) and isinstance(content.get("error"), str):
        return str(content["error"])
    return None


def retry_after_seconds(exc: BaseException, now: datetime, default: float = 60.0) -> float:
    """Seconds until the PDS's ``ratelimit-reset`` (epoch seconds), else its ``retry-after``, else ``default``."""
    response = getattr(exc, "response", None)
    headers: Mapping[str, Any] = getattr(response, "headers", None) or {}
    try:
        return max(0.0, float(int(headers["ratelimit-reset"])) - now.timestamp())
    except (KeyError, TypeError, ValueError):
        pass
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, TypeError, ValueError):
        return default


class BlueskySession:
    """One logged-in atproto ``Client``, kept for the life of its owner (a source or a poster).

    Logs in (createSession) on first use only. When the PDS answers ExpiredToken it refreshes
    (refreshSession), and logs in again only if the refresh is refused. The one repeat it makes is a call
    after such a refresh, and only when the caller allows it (reads). httpx under atproto does not retry.
    Raises atproto's and httpx's exceptions; the caller maps them to its own errors.
    """

    def __init__(self, *, base_url: str, handle: str, app_password: str, timeout_seconds: float) -> None:
        self.base_url = base_url
        self.handle = handle
        self._password = app_password
        self.timeout_seconds = timeout_seconds
        self._client: Client | None = None
        self._login_lock = threading.Lock()
        self.did: str | None = None

    def client(self) -> Client:
        """The logged-in client; the first call logs in."""
        with self._login_lock:
            if self._client is None:
                client = Client(base_url=self.base_url,
                                request=Request(timeout=httpx.Timeout(self.timeout_seconds)))
                client.on_session_change(self._session_changed)
                client.login(self.handle, self._password, fetch_bsky_profile=False)
                self._client = client
            return self._client

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        self.did = session.did
        log.info("bluesky_session event=%s handle=%s did=%s", event.value, session.handle, session.did)

    def call(self, fn: Callable[[Client], T], *, retry_after_refresh: bool = True) -> T:
        client = self.client()
        try:
            return fn(client)
        except atp.BadRequestError as exc:
            if xrpc_error(exc) != "ExpiredToken":
                raise
            self._refresh(client)
            if not retry_after_refresh:
                raise
        return fn(client)

    def _refresh(self, client: Client) -> None:
        try:
            # atproto refreshes by itself only ahead of the expiry its own clock sees; a PDS that says
            # ExpiredToken earlier (clock skew, revoked token) needs the same refresh on demand, which the
            # SDK does not expose publicly.
            client._refresh_and_set_session()
        except (atp.BadRequestError, atp.UnauthorizedError, atp.LoginRequiredError) as exc:
            log.info("bluesky_session_refresh_refused handle=%s error=%s", self.handle, xrpc_error(exc))
            client.login(self.handle, self._password, fetch_bsky_profile=False)

    def query(self, nsid: str, params: Any) -> dict[str, Any]:
        """The raw JSON body of an XRPC query (a read; repeated once after a token refresh)."""
        response = self.call(lambda client: client.invoke_query(nsid, params=params))
        if not isinstance(response.content, dict):
            raise ParseError(f"{nsid} answered {response.status_code} without a JSON object")
        return response.content


def source_error(exc: Exception, endpoint: str, now: datetime) -> SourceError:
    """A failed read as a SourceError: 429 -> RateLimited, 400/401/403/404 -> permanent, the rest transient."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, atp.RateLimitExceededError):
        return RateLimited(retry_after_seconds(exc, now), f"bluesky {endpoint} rate limited")
    if isinstance(exc, ParseError | ValueError | atp.ModelError):
        return SourceError(f"bluesky {endpoint}: malformed response: {str(exc)[:200]}", permanent=False)
    if isinstance(exc, httpx.HTTPError | atp.NetworkError):  # includes timeouts, 409/413/502
        return SourceError(f"bluesky {endpoint}: {type(exc).__name__}: {exc}", permanent=False)
    if isinstance(exc, atp.UnauthorizedError):
        return SourceError(f"bluesky {endpoint}: not authorised ({exc}); check the handle and "
                           "the app password", permanent=True)
    if isinstance(exc, atp.BadRequestError):
        error = xrpc_error(exc)
        return SourceError(f"bluesky {endpoint}: {exc}", permanent=error not in ("ExpiredToken", "InvalidToken"))
    if isinstance(exc, atp.RequestErrorBase) and exc.response is not None:
        status = exc.response.status_code
        return SourceError(f"bluesky {endpoint}: {exc}", permanent=status < 500 and status != 408)
    return SourceError(f"bluesky {endpoint}: {type(exc).__name__}: {exc}", permanent=False)


# -- the source -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlueskyOptions:
    """``settings.options`` for Bluesky sources and posters (unknown keys are left to other readers)."""

    api_base_url: str = DEFAULT_API_BASE_URL
    timeout_seconds: float = 10.0
    page_size: int = 50
    backfill_hours: float = 24.0
    thread_depth: int = 100
    keywords_stream: bool = True
    jetstream_url: str = DEFAULT_JETSTREAM_URL
    stream_batch: int = 500
    stream_seconds: float = 5.0
    stream_idle_seconds: float = 1.0
    stream_rewind_seconds: float = 3.0
    stream_batches_per_pass: int = 10
    find_reply_pages: int = 5

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> BlueskyOptions:
        """Validated options; SourceError(permanent) naming the key of a bad value."""
        limits: dict[str, tuple[float, float]] = {
            "timeout_seconds": (0.01, 600), "page_size": (1, 100), "backfill_hours": (0, 24 * 365),
            "thread_depth": (0, 1000), "stream_batch": (1, 100_000), "stream_seconds": (0.001, 600),
            "stream_idle_seconds": (0.001, 600), "stream_rewind_seconds": (0, 3600),
            "stream_batches_per_pass": (1, 10_000), "find_reply_pages": (1, 100),
        }
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in options or options[name] is None:
                continue
            value = options[name]
            default = getattr(cls(), name)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, str):
                ok = isinstance(value, str) and bool(value.strip())
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok and name in limits:
                low, high = limits[name]
                ok = low <= value <= high
            if not ok:
                raise SourceError(f"bluesky option {name!r} has a bad value {value!r}", permanent=True)
            values[name] = value.rstrip("/") if isinstance(value, str) else value
        return cls(**values)


def bluesky_handle(options: Mapping[str, Any], brand: Brand, owner: str) -> str:
    """The account's handle: ``options["handle"]``, else ``brand.handles.bluesky``."""
    handle = options.get("handle") or brand.handles.bluesky
    if not isinstance(handle, str) or not handle.strip():
        raise SourceError(f"{owner} needs a Bluesky handle: set brands.handles.bluesky or options.handle",
                          permanent=True)
    return handle.strip().lstrip("@")


@dataclass(frozen=True, slots=True)
class _Mark:
    at: datetime
    uri: str

    def encode(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "uri": self.uri}

    @classmethod
    def decode(cls, value: Any) -> _Mark | None:
        if value is None:
            return None
        at = parse_timestamp(value.get("at")) if isinstance(value, dict) else None
        if at is None or not isinstance(value.get("uri"), str):
            raise ValueError("bad mark")
        return cls(at, value["uri"])


@dataclass(frozen=True, slots=True)
class _Cursor:
    phase: str = "notifications"
    hw: _Mark | None = None
    page: str | None = None
    top: _Mark | None = None
    time_us: int | None = None
    streak: int = 0

    def encode(self) -> str:
        return json.dumps({
            "v": 1, "phase": self.phase, "hw": self.hw.encode() if self.hw else None, "page": self.page,
            "top": self.top.encode() if self.top else None, "time_us": self.time_us, "streak": self.streak,
        }, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != 1 or data.get("phase") not in ("notifications",
                                                                                               "stream"):
                raise ValueError("not a version 1 bluesky cursor")
            page, time_us, streak = data.get("page"), data.get("time_us"), data.get("streak", 0)
            if (page is not None and not isinstance(page, str)) or (
                    time_us is not None and (not isinstance(time_us, int) or isinstance(time_us, bool))) or (
                    not isinstance(streak, int)):
                raise ValueError("bad field")
            return cls(data["phase"], _Mark.decode(data.get("hw")), page, _Mark.decode(data.get("top")),
                       time_us, streak)
        except (ValueError, TypeError, AttributeError):
            raise SourceError(f"unreadable bluesky cursor {text[:120]!r}", permanent=True) from None


def _notification_key(item: Any) -> tuple[datetime | None, str | None]:
    if not isinstance(item, dict):
        return None, None
    uri = item.get("uri")
    return parse_timestamp(item.get("indexedAt")), uri if isinstance(uri, str) else None


def _not_older(at: datetime | None, floor: datetime) -> bool:
    return at is None or at >= floor


class _ProfileCache:
    """Authors by DID from ``app.bsky.actor.getProfiles``, batched and kept ``ttl``; failures are tolerated."""

    def __init__(self, *, ttl: timedelta = timedelta(hours=24), max_size: int = 20_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[str, tuple[datetime, ParsedAuthor]] = {}

    def lookup(self, dids: Iterable[str], session: BlueskySession, now: datetime) -> dict[str, ParsedAuthor]:
        wanted = list(dict.fromkeys(dids))
        missing = [d for d in wanted if d not in self._entries or now - self._entries[d][0] > self.ttl]
        for start in range(0, len(missing), PROFILES_PER_CALL):
            chunk = missing[start:start + PROFILES_PER_CALL]
            try:
                body = session.query(PROFILES, models.AppBskyActorGetProfiles.Params(actors=chunk))
                profiles = body.get("profiles")
            except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
                log.warning("bluesky_profiles_unresolved count=%d error=%s", len(missing) - start,
                            xrpc_error(exc) or type(exc).__name__)
                break
            for profile in profiles if isinstance(profiles, list) else []:
                try:
                    author = parse_author(profile, "profile")
                except ParseError:
                    continue
                self._entries[author.id or ""] = (now, author)
        if len(self._entries) > self.max_size:
            for did in list(self._entries)[: len(self._entries) - self.max_size]:
                del self._entries[did]
        return {d: self._entries[d][1] for d in wanted if d in self._entries}

    def rename(self, did: str, handle: str) -> None:
        if did in self._entries:
            seen, author = self._entries[did]
            self._entries[did] = (seen, replace(author, handle=handle))


def _with_author(mention: ParsedMention, author: ParsedAuthor | None) -> ParsedMention:
    if author is None:
        return mention
    repo, rkey = post_uri_parts(mention.canonical_id)
    handle = author.handle if not author.handle.startswith("did:") else repo
    return replace(mention, author=author, url=post_url(handle, rkey))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _stream_url(base: str, cursor_us: int) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("wantedCollections", "cursor")]
    query += [("wantedCollections", POST_COLLECTION), ("cursor", str(cursor_us))]
    return urlunsplit(parts._replace(query=urlencode(query)))


class BlueskySource:
    """Mentions of one Bluesky account (notifications) and of the brand's keywords (Jetstream).

    ``fetch`` reads one page per call (see the module's docstring for the cursor); ``fetch_thread`` reads
    an open case's thread. The object keeps its session and a profile cache across calls.
    """

    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        session: BlueskySession,
        brand_handle: str,
        keywords: Iterable[str] = (),
        options: BlueskyOptions | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.session = session
        self.brand_handle = brand_handle
        self.options = options or BlueskyOptions()
        self.clock = clock
        self.pattern = keyword_pattern(keywords)
        self.profiles = _ProfileCache()

    @property
    def streams_keywords(self) -> bool:
        return self.options.keywords_stream and self.pattern is not None

    def fetch(self, cursor: str | None) -> Batch:
        state = _Cursor.decode(cursor)
        if state.phase == "stream" and self.streams_keywords:
            return self._fetch_stream(state)
        return self._fetch_notifications(state)

    # -- notifications --------------------------------------------------------------------------------
    def _fetch_notifications(self, state: _Cursor) -> Batch:
        now = self.clock()
        params = models.AppBskyNotificationListNotifications.Params(
            limit=self.options.page_size, cursor=state.page, reasons=list(MENTION_REASONS))
        try:
            body = self.session.query(NOTIFICATIONS, params)
            found, bad = _notification_mentions(body, self.brand_handle)
            items = _notification_items(body)
        except Exception as exc:
            raise source_error(exc, NOTIFICATIONS, now) from exc
        floor = state.hw.at if state.hw else now - timedelta(hours=self.options.backfill_hours)
        keys = [_notification_key(item) for item in items]
        mentions = [m for index, m in found if _not_older(keys[index][0], floor)]
        hw_key = (state.hw.at, state.hw.uri) if state.hw else None
        reached = any(at is not None and (at < floor or (at, uri) == hw_key) for at, uri in keys)
        dated = [_Mark(at, uri) for at, uri in keys if at is not None and uri is not None]
        top = state.top if state.page is not None else max(dated, key=lambda m: (m.at, m.uri), default=None)
        api_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) and body.get("cursor") else None
        done = reached or api_cursor is None or not items
        mentions = self._with_profiles(mentions, now)
        if done:
            hw = state.hw
            if top is not None and (hw is None or (top.at, top.uri) > (hw.at, hw.uri)):
                hw = top
            stream = self.streams_keywords
            next_state = replace(state, phase="stream" if stream else "notifications", hw=hw, page=None,
                                 top=None, streak=0)
            exhausted = not stream
        else:
            next_state = replace(state, page=api_cursor, top=top)
            exhausted = False
        log.debug("bluesky_page source=%s feed=notifications items=%d mentions=%d bad=%d pass_done=%s",
                  self.name, len(items), len(mentions), len(bad), done)
        return Batch(mentions=mentions, next_cursor=next_state.encode(), bad=bad, exhausted=exhausted)

    def _with_profiles(self, mentions: list[ParsedMention], now: datetime) -> list[ParsedMention]:
        dids = [m.author.id for m in mentions if m.author.id]
        if not dids:
            return mentions
        found = self.profiles.lookup(dids, self.session, now)
        return [_with_author(m, found.get(m.author.id or "")) for m in mentions]

    # -- Jetstream ------------------------------------------------------------------------------------
    def _fetch_stream(self, state: _Cursor) -> Batch:
        now = self.clock()
        now_us = int(now.timestamp() * 1_000_000)
        rewind = int(self.options.stream_rewind_seconds * 1_000_000)
        if state.time_us is None:  # the first run starts a few seconds back from now
            start = previous = max(0, now_us - rewind)
        else:
            previous, start = state.time_us, max(0, state.time_us - rewind)
        try:
            self.session.client()  # our DID, to leave our own posts out
        except Exception as exc:
            raise source_error(exc, "com.atproto.server.createSession", now) from exc
        events, bad, full = self._read_stream(start=start, previous=previous, horizon=now_us)
        matched: list[ParsedMention] = []
        deleted = 0
        last = previous
        for time_us, event in events:
            last = max(last, time_us)
            identity = event.get("identity")
            if event.get("kind") == "identity" and isinstance(identity, dict) and isinstance(
                    identity.get("handle"), str):
                self.profiles.rename(str(event.get("did")), identity["handle"])
            if parse_jetstream_deletion(event):
                deleted += 1
                continue
            try:
                mention = parse_jetstream_event(event)
            except ParseError as exc:
                bad.append(BadRecord(f"jetstream time_us={time_us}", str(exc)))
                continue
            if mention is None or mention.author.id == self.session.did:
                continue
            if self.pattern is not None and self.pattern.search(mention.text):
                matched.append(mention)
        mentions = self._with_profiles(matched, now)
        streak = state.streak + 1 if full else 0
        more = full and streak < self.options.stream_batches_per_pass
        next_state = replace(state, phase="stream" if more else "notifications", time_us=last,
                             streak=streak if more else 0)
        log.debug("bluesky_page source=%s feed=jetstream events=%d matched=%d deleted=%d bad=%d full=%s",
                  self.name, len(events), len(mentions), deleted, len(bad), full)
        return Batch(mentions=mentions, next_cursor=next_state.encode(), bad=bad, exhausted=not full)

    def _read_stream(self, *, start: int, previous: int, horizon: int) -> tuple[list[tuple[int, dict[str, Any]]],
                                                                              list[BadRecord], bool]:
        """Events from ``start`` on until ``stream_batch`` of them are newer than ``previous`` (full), one is
        at or past ``horizon`` (caught up), the stream idles, or the time budget runs out."""
        url = _stream_url(self.options.jetstream_url, start)
        events: list[tuple[int, dict[str, Any]]] = []
        bad: list[BadRecord] = []
        counted = 0
        deadline = time.monotonic() + self.options.stream_seconds
        try:
            with websocket_connect(url, open_timeout=self.options.timeout_seconds, close_timeout=1,
                                   max_size=4 * 2**20) as websocket:
                while (remaining := deadline - time.monotonic()) > 0:
                    try:
                        frame = websocket.recv(timeout=min(remaining, self.options.stream_idle_seconds))
                    except (TimeoutError, ConnectionClosed):
                        break
                    try:
                        event = json.loads(frame)
                    except (ValueError, UnicodeDecodeError):
                        bad.append(BadRecord(f"jetstream frame {len(events) + len(bad) + 1}", "not JSON"))
                        continue
                    time_us = _time_us(event) if isinstance(event, dict) else None
                    if time_us is None:
                        bad.append(BadRecord(f"jetstream frame {len(events) + len(bad) + 1}",
                                             "an event without a time_us"))
                        continue
                    events.append((time_us, event))
                    counted += time_us > previous
                    if counted >= self.options.stream_batch:
                        return events, bad, time_us < horizon
                    if time_us >= horizon:
                        break
        except InvalidURI as exc:
            raise SourceError(f"bluesky jetstream_url is not a websocket URL: {exc}", permanent=True) from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            if not events:
                raise SourceError(f"bluesky jetstream: {type(exc).__name__}: {exc}", permanent=False) from exc
        return events, bad, False

    # -- threads ----------------------------------------------------------------------------------------
    def fetch_thread(self, ref: ThreadRef) -> list[ParsedMention]:
        """The case author's posts in the thread of ``ref`` created after ``ref.since``, oldest first.

        A thread whose root is gone (NotFound) has no follow-ups: it returns an empty list.
        """
        now = self.clock()
        root = ref.conversation_id or ref.root_platform_id
        params = models.AppBskyFeedGetPostThread.Params(uri=root, depth=self.options.thread_depth, parent_height=0)
        try:
            body = self.session.query(THREAD, params)
            mentions, bad = _thread_mentions(body, self.brand_handle)
        except atp.BadRequestError as exc:
            if xrpc_error(exc) == "NotFound":
                log.info("bluesky_thread_gone source=%s uri=%s", self.name, root)
                return []
            raise source_error(exc, THREAD, now) from exc
        except Exception as exc:
            raise source_error(exc, THREAD, now) from exc
        for record in bad:
            log.warning("bad_record source=%s position=%r reason=%r", self.name, record.position, record.reason)

        def by_customer(m: ParsedMention) -> bool:
            if ref.author_id:
                return m.author.id == ref.author_id
            return m.author.handle.lower() == ref.author_handle.lstrip("@").lower()

        later = [m for m in mentions if by_customer(m) and m.canonical_id != ref.root_canonical_id
                 and m.created_at is not None and m.created_at > ref.since]
        return sorted(later, key=lambda m: m.created_at or ref.since)


def build_source(
    settings: SourceSettings, brand: Brand, env: Mapping[str, str], *, clock: Callable[[], datetime] | None = None
) -> BlueskySource:
    """A Bluesky source for ``settings``; no network until the first fetch. Raises MissingCredentials
    naming BLUESKY_APP_PASSWORD (or its override), SourceError(permanent) for a bad option or no handle."""
    secrets = credentials(settings.name, env, READ_CREDENTIALS, settings.credentials_env)
    options = BlueskyOptions.from_mapping(settings.options)
    handle = bluesky_handle(settings.options, brand, f"source {settings.name!r}")
    session = BlueskySession(base_url=options.api_base_url, handle=handle, app_password=secrets["app_password"],
                             timeout_seconds=options.timeout_seconds)
    return BlueskySource(name=settings.name, session=session, brand_handle=handle, keywords=brand.keywords,
                         options=options, clock=clock or _utcnow)
