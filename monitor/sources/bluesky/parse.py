"""Pure parsers of Bluesky's XRPC views: notifications, post threads and post records, as the app view sent
them. Every mention passes through an Intake (monitor.sources.intake); an unreadable item becomes a BadRecord
and the rest of the page still goes in.

Identity fields (uri, cid, did, record, text) are strict: a wrong type is a ParseError. Decoration (counts,
display names, langs, unreadable client-declared times) is dropped when unusable, so a customer's post is
never lost over a like count. ``createdAt`` is declared by the poster's client: one outside the intake window
gives way to the server's ``indexedAt`` (or Jetstream's ``time_us``); only when neither is usable is the post
refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.sources.base import BadRecord, ParsedAuthor, ParsedMention, ParseError
from monitor.sources.common import count
from monitor.sources.intake import Intake

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
MENTION_REASONS = ("mention", "reply", "quote")
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"

_POST_URI = re.compile(r"^at://(?P<repo>[^/\s]+)/app\.bsky\.feed\.post/(?P<rkey>[A-Za-z0-9._:~-]{1,512})$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def kind_of(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{where} must be an object, got {kind_of(value)}")
    return value


def string_field(obj: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ParseError(f"{where}.{key} is missing")
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}.{key} must be a string, got {kind_of(value)}")
    if required and not value.strip():
        raise ParseError(f"{where}.{key} is empty")
    return value


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
        raise ParseError(f"{where} must be a string, got {kind_of(uri)}")
    match = _POST_URI.match(uri)
    if match is None:
        raise ParseError(f"{where} is not a post at-uri: {uri[:80]!r}")
    return match["repo"], match["rkey"]


def post_url(handle_or_did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def parse_author(profile: Any, where: str = "author") -> ParsedAuthor:
    """A profile view (basic, full or detailed) as an author; the handle falls back to the did."""
    obj = as_object(profile, where)
    did = string_field(obj, "did", where, required=True)
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
        followers=count(obj.get("followersCount")),
        verified=verified,
    )


def _reply_refs(record: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
    """(root uri, parent uri) of a post record's reply refs; (None, None) for a thread's first post."""
    reply = record.get("reply")
    if reply is None:
        return None, None
    reply = as_object(reply, f"{where}.reply")
    uris = []
    for key in ("root", "parent"):
        ref = as_object(reply.get(key), f"{where}.reply.{key}")
        uris.append(string_field(ref, "uri", f"{where}.reply.{key}", required=True))
    return uris[0], uris[1]


def _lang(record: Mapping[str, Any]) -> str | None:
    """The post's first declared language tag as given (intake normalises it)."""
    langs = record.get("langs")
    return langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None


def _created(record: Mapping[str, Any], fallback: datetime | None, intake: Intake) -> datetime | None:
    """``createdAt`` when it is readable and inside the window, else ``fallback`` (the server's time); a
    createdAt that had to give way is counted as repaired. ParseError when no time is usable."""
    declared = parse_timestamp(record.get("createdAt"))
    if declared is not None and intake.admits(declared):
        return declared
    if fallback is not None and intake.admits(fallback):
        intake.sanitised += declared is not None
        return fallback
    return intake.check_time(declared or fallback)


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


def mention_of(
    *,
    uri: Any,
    cid: str | None,
    record: Any,
    author: ParsedAuthor,
    raw: Mapping[str, Any],
    where: str,
    intake: Intake,
    indexed_at: Any = None,
    metrics: Mapping[str, int] | None = None,
    eligibility: tuple[bool, str | None] = (True, None),
) -> ParsedMention:
    repo, rkey = post_uri_parts(uri, f"{where}.uri")
    record = as_object(record, f"{where}.record")
    record_type = record.get("$type")
    if record_type is not None and record_type != POST_COLLECTION:
        raise ParseError(f"{where}.record is a {str(record_type)[:60]!r}, not a post")
    text = record.get("text")
    if not isinstance(text, str):
        raise ParseError(f"{where}.record.text is missing" if text is None
                         else f"{where}.record.text must be a string, got {kind_of(text)}")
    root_uri, parent_uri = _reply_refs(record, f"{where}.record")
    server_time = indexed_at if isinstance(indexed_at, datetime) else parse_timestamp(indexed_at)
    try:
        created = _created(record, server_time, intake)
    except ParseError as exc:
        raise ParseError(f"{where}: {exc}") from None
    handle = author.handle if not author.handle.startswith("did:") else repo
    return intake.admit(ParsedMention(
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
    ))


def _view_metrics(view: Mapping[str, Any]) -> dict[str, int]:
    pairs = (("likes", "likeCount"), ("reposts", "repostCount"), ("replies", "replyCount"))
    return {name: n for name, key in pairs if (n := count(view.get(key))) is not None}


def is_brand(author: ParsedAuthor, brand_handle: str | None) -> bool:
    return bool(brand_handle) and author.handle.lower() == (brand_handle or "").lstrip("@").lower()


def notification_items(payload: Any) -> list[Any]:
    body = as_object(payload, "listNotifications response")
    items = body.get("notifications")
    if not isinstance(items, list):
        raise ParseError(f"listNotifications response.notifications must be a list, got {kind_of(items)}")
    return items


def _notification(item: Any, where: str, brand_handle: str | None, intake: Intake) -> ParsedMention | None:
    obj = as_object(item, where)
    reason = string_field(obj, "reason", where, required=True)
    if reason not in MENTION_REASONS:
        return None
    author = parse_author(obj.get("author"), f"{where}.author")
    if is_brand(author, brand_handle):
        return None
    return mention_of(uri=obj.get("uri"), cid=string_field(obj, "cid", where, required=True), record=obj.get("record"),
                    author=author, raw=obj, where=where, intake=intake, indexed_at=obj.get("indexedAt"))


def notification_mentions(
    payload: Any, brand_handle: str | None, intake: Intake | None = None
) -> tuple[list[tuple[int, ParsedMention]], list[BadRecord]]:
    """The mentions of a listNotifications body with their index in it, and the items it could not read."""
    intake = intake or Intake()
    mentions: list[tuple[int, ParsedMention]] = []
    bad: list[BadRecord] = []
    for index, item in enumerate(notification_items(payload)):
        where = f"notifications[{index}]"
        try:
            mention = _notification(item, where, brand_handle, intake)
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
    mentions, bad = notification_mentions(payload, brand_handle)
    return _strict([m for _, m in mentions], bad)


def _thread_posts(thread: dict[str, Any], gone: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The post views of a thread view: ancestors root first, the anchor, then replies depth first. The
    at-uris of posts the view shows as not found (deleted) are added to ``gone``."""

    def post_of(node: Any, where: str) -> dict[str, Any] | None:
        node = as_object(node, where)
        node_type = node.get("$type")
        if node_type == NOT_FOUND or (node_type is None and "post" not in node and node.get("notFound")):
            uri = node.get("uri")
            if isinstance(uri, str) and _POST_URI.match(uri):
                gone.append(uri)
            return None
        if node_type not in (None, "app.bsky.feed.defs#threadViewPost"):
            return None  # notFoundPost, blockedPost, or a type newer than this parser
        if node_type is None and "post" not in node and (node.get("notFound") or node.get("blocked")):
            return None
        return as_object(node.get("post"), f"{where}.post")

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
            raise ParseError(f"{where}.replies must be a list, got {kind_of(replies)}")
        stack.extend(reversed([(f"{where}.replies[{index}]", child) for index, child in enumerate(replies)]))
    return posts


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """A getPostThread body: its mentions, the posts it could not read, the at-uris it shows deleted."""

    mentions: list[ParsedMention]
    bad: list[BadRecord]
    deleted: list[str]


def read_thread(payload: Any, brand_handle: str | None, intake: Intake | None = None) -> ThreadPage:
    """A getPostThread body as a ThreadPage; ParseError only when the body or its thread is not an object."""
    intake = intake or Intake()
    body = as_object(payload, "getPostThread response")
    thread = as_object(body.get("thread"), "getPostThread response.thread")
    gone: list[str] = []
    posts = _thread_posts(thread, gone)
    gate = _gate_reason(body.get("threadgate")) or next(
        (reason for _, view in posts if (reason := _gate_reason(view.get("threadgate")))), None)
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for where, view in posts:
        try:
            author = parse_author(view.get("author"), f"{where}.author")
            if is_brand(author, brand_handle):
                continue
            eligible = _eligibility(view)
            if eligible[0] and gate:
                eligible = (False, gate)
            mentions.append(mention_of(
                uri=view.get("uri"), cid=string_field(view, "cid", where, required=True), record=view.get("record"),
                author=author, raw=view, where=where, intake=intake, indexed_at=view.get("indexedAt"),
                metrics=_view_metrics(view), eligibility=eligible))
        except ParseError as exc:
            bad.append(BadRecord(where, str(exc)))
    return ThreadPage(mentions, bad, gone)


def parse_thread(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """An ``app.bsky.feed.getPostThread`` body as mentions, every post of the thread (ancestors first, then
    replies depth first), our own posts left out. Reply eligibility comes from ``viewer.replyDisabled``,
    a block, or a threadgate that allows nobody."""
    page = read_thread(payload, brand_handle)
    return _strict(page.mentions, page.bad)


def parse_post_record(
    payload: Any,
    *,
    uri: str | None = None,
    cid: str | None = None,
    author: ParsedAuthor | None = None,
    brand_handle: str | None = None,
    intake: Intake | None = None,
) -> list[ParsedMention]:
    """A post record as one mention: either ``com.atproto.repo.getRecord``'s ``{"uri", "cid", "value"}`` or a
    bare ``app.bsky.feed.post`` record with ``uri`` (and ``cid``) supplied. Without ``author`` the author
    is the repo's DID, with the DID as handle."""
    body = as_object(payload, "post record")
    record: Any = body
    if "value" in body:
        record = body["value"]
        uri = uri or string_field(body, "uri", "post record")
        cid = cid or string_field(body, "cid", "post record")
    if uri is None:
        raise ParseError("a bare post record needs its at-uri (uri=)")
    repo, _rkey = post_uri_parts(uri)
    author = author or ParsedAuthor(handle=repo, id=repo if repo.startswith("did:") else None)
    if is_brand(author, brand_handle):
        return []
    return [mention_of(uri=uri, cid=cid, record=record, author=author, raw=body, where="post record",
                     intake=intake or Intake())]

