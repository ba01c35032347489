"""Pure parsers of Reddit bodies: Listings (search, subreddit comments, inbox mentions, a user's comments)
and comment threads (``[submission Listing, comment Listing]``). Every mention passes through an Intake
(monitor.sources.intake); a malformed child becomes a BadRecord and the rest of the page still goes in."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.sources.base import BadRecord, ParsedAuthor, ParsedMention, ParseError
from monitor.sources.common import epoch_timestamp, number, short
from monitor.sources.intake import Intake

PLATFORM = "reddit"
WEB_URL = "https://www.reddit.com"
GONE = ("[deleted]", "[removed]")
"""What Reddit leaves in place of a post its author deleted or a moderator removed."""

CONTEXT_LINK = re.compile(r"/comments/([0-9a-z]+)/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One Listing: its mentions, the children it rejected, Reddit's paging anchors and how many children."""

    mentions: list[ParsedMention]
    bad: list[BadRecord]
    after: str | None
    before: str | None
    size: int


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _req_str(data: Mapping[str, Any], key: str) -> str:
    value = _opt_str(data, key)
    if value is None:
        raise ParseError(f"missing required field {key!r}")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # however large: intake clamps counts
    as_number = number(value)
    if as_number is None:
        raise ParseError(f"field {key!r} must be a number, got {short(value)}")
    return int(as_number)


def _opt_bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ParseError(f"field {key!r} must be true or false, got {short(value)}")
    return value


def is_gone(mention: ParsedMention) -> bool:
    """Whether Reddit shows the post as deleted by its author or removed by a moderator (nothing to answer)."""
    raw = mention.raw
    body = raw.get("body") if mention.canonical_id.startswith("t1_") else raw.get("selftext")
    return (isinstance(body, str) and body.strip() in GONE) or bool(raw.get("removed_by_category"))


def _eligibility(kind: str, data: Mapping[str, Any], author: str, text: str, brand_handle: str | None
                 ) -> tuple[bool, str]:
    if _opt_bool(data, "locked"):
        return False, "thread locked" if kind == "t3" else "comment locked"
    if _opt_bool(data, "archived"):
        return False, "archived: too old for replies"
    if text.strip() in GONE:
        return False, f"{text.strip()[1:-1]}: nothing left to answer"
    if author == "[deleted]":
        return False, "the author's account is deleted"
    if brand_handle and author.lower() == brand_handle.lower():
        return False, "posted by the brand's own account"
    return True, "open for replies"


def parse_thing(child: Any, *, brand_handle: str | None = None, intake: Intake | None = None) -> ParsedMention:
    """One listing child (``{"kind": "t1"|"t3", "data": {...}}``) as a safe mention; ParseError when malformed.

    Inbox mentions (message-shaped t1 without ``permalink``/``link_id``) take their url and thread from
    ``context``. ``raw`` is the child's ``data`` object.
    """
    if not isinstance(child, dict):
        raise ParseError(f"a listing child must be an object, got {type(child).__name__}")
    kind = child.get("kind")
    if kind not in ("t1", "t3"):
        raise ParseError(f"unsupported kind {short(kind)} (expected t1 or t3)")
    data = child.get("data")
    if not isinstance(data, dict):
        raise ParseError(f"{kind} has no 'data' object")
    thing_id = _opt_str(data, "id")
    fullname = _opt_str(data, "name") or (f"{kind}_{thing_id}" if thing_id else None)
    if not fullname:
        raise ParseError(f"{kind} has neither 'name' nor 'id'")
    author = _opt_str(data, "author") or "[deleted]"
    context = _opt_str(data, "context")
    if kind == "t3":
        title = _req_str(data, "title")
        selftext = _opt_str(data, "selftext") or ""
        text = f"{title}\n\n{selftext}" if selftext else title
        conversation: str | None = fullname
        in_reply_to = None
    else:
        text = _req_str(data, "body")
        conversation = _opt_str(data, "link_id")
        if conversation is None and context and (found := CONTEXT_LINK.search(context)):
            conversation = f"t3_{found.group(1)}"
        in_reply_to = _opt_str(data, "parent_id")
    link = _opt_str(data, "permalink") or context
    score, replies = _opt_int(data, "score"), _opt_int(data, "num_comments")
    metrics = {"likes": max(score, 0)} if score is not None else {}
    if kind == "t3" and replies is not None:
        metrics["replies"] = max(replies, 0)
    eligible, reason = _eligibility(kind, data, author, text, brand_handle)
    created = data.get("created_utc")
    return (intake or Intake()).admit(ParsedMention(
        platform=PLATFORM,
        canonical_id=fullname,
        platform_id=fullname,
        text=text,
        author=ParsedAuthor(handle=author, id=_opt_str(data, "author_fullname")),
        created_at=None if created is None else epoch_timestamp(created, "field 'created_utc'"),
        url=(WEB_URL + link if link.startswith("/") else link) if link else None,
        in_reply_to_id=in_reply_to,
        conversation_id=conversation,
        metrics=metrics,
        reply_eligible=eligible,
        eligibility_reason=reason,
        raw=data,
    ))


def _listing_envelope(payload: Any, where: str) -> tuple[list[Any], str | None, str | None]:
    if not isinstance(payload, dict) or payload.get("kind") != "Listing":
        raise ParseError(f"{where}: expected a Listing object, got {short(payload)}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ParseError(f"{where}: the Listing has no 'data' object")
    children = data.get("children")
    if not isinstance(children, list):
        raise ParseError(f"{where}: the Listing has no 'children' list")
    return children, _opt_str(data, "after"), _opt_str(data, "before")


def read_listing(payload: Any, *, brand_handle: str | None = None, intake: Intake | None = None) -> ListingPage:
    """A Listing body: a malformed envelope raises ParseError; a malformed child becomes a BadRecord.

    ``more`` placeholders are skipped: they are not posts.
    """
    intake = intake or Intake()
    children, after, before = _listing_envelope(payload, "listing")
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for position, child in enumerate(children):
        if isinstance(child, dict) and child.get("kind") == "more":
            continue
        try:
            mentions.append(parse_thing(child, brand_handle=brand_handle, intake=intake))
        except ParseError as exc:
            bad.append(BadRecord(f"children[{position}]", str(exc)))
    return ListingPage(mentions, bad, after, before, len(children))


def parse_listing(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """A Listing body (search, subreddit comments, inbox mentions, a user's comments) as mentions.

    Strict: any malformed child raises ParseError naming its position.
    """
    page = read_listing(payload, brand_handle=brand_handle)
    if page.bad:
        raise ParseError(f"listing {page.bad[0].position}: {page.bad[0].reason}")
    return page.mentions


def read_thread(payload: Any, *, brand_handle: str | None = None, intake: Intake | None = None
                ) -> tuple[list[ParsedMention], list[BadRecord]]:
    """A ``/comments/<id>`` body (``[submission Listing, comment Listing]``) flattened in reading order
    (each post before its replies). Malformed envelopes raise ParseError; malformed posts become BadRecords."""
    intake = intake or Intake()
    if not isinstance(payload, list) or not payload:
        raise ParseError(f"thread: expected an array of Listings, got {short(payload)}")
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    stack: list[tuple[str, Any]] = []

    def push(where: str, listing: Any) -> None:
        children, _after, _before = _listing_envelope(listing, where)
        stack.extend((f"{where}.children[{i}]", child) for i, child in reversed(list(enumerate(children))))

    for index in reversed(range(len(payload))):
        push(f"thread[{index}]", payload[index])
    while stack:
        where, child = stack.pop()
        if isinstance(child, dict) and child.get("kind") == "more":
            continue
        try:
            mentions.append(parse_thing(child, brand_handle=brand_handle, intake=intake))
        except ParseError as exc:
            bad.append(BadRecord(where, str(exc)))
            continue
        replies = child["data"].get("replies")
        if replies not in (None, ""):
            push(f"{where}.replies", replies)
    return mentions, bad


def parse_thread(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """Strict form of ``read_thread``: any malformed post raises ParseError naming where it was."""
    mentions, bad = read_thread(payload, brand_handle=brand_handle)
    if bad:
        raise ParseError(f"{bad[0].position}: {bad[0].reason}")
    return mentions


def normalise_text(text: str) -> str:
    """Text as compared when looking for our own reply: entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(text).split())
