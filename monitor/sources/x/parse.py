"""Pure parsers of X API v2 bodies: ``{"data", "includes", "meta", "errors"}`` as X sends them.

Strict about identity (ids, text), tolerant of absent optional fields (a v2 response without expansions has
no author or ``created_at``). Every mention passes through an Intake (monitor.sources.intake) before it is
returned; a single unreadable tweet becomes a BadRecord and the rest of its page still goes in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.sources.base import BadRecord, ParsedAuthor, ParsedMention, ParseError
from monitor.sources.common import count, digits, iso_timestamp
from monitor.sources.intake import Intake

PLATFORM = "x"
TWITTER_EPOCH_MS = 1288834974657
METRICS = {"like_count": "likes", "retweet_count": "reposts", "reply_count": "replies", "quote_count": "quotes"}


@dataclass(frozen=True, slots=True)
class Page:
    """One response body of a tweet-listing endpoint: its mentions, the tweets it could not read, ``meta``,
    the ``errors`` X added, and the tweets those errors say are gone (deleted)."""

    mentions: list[ParsedMention]
    bad: list[BadRecord] = field(default_factory=list)
    newest_id: str | None = None
    next_token: str | None = None
    errors: list[Mapping[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def is_tweet_id(value: Any) -> bool:
    """X ids are decimal strings (JSON numbers would lose precision)."""
    return digits(value)


def snowflake_time(tweet_id: str) -> datetime:
    """When a tweet was created, from its id (X ids are Snowflakes: milliseconds since X's epoch << 22)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


def _string(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def _tweet_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**20:
        return str(value)
    if is_tweet_id(value):
        return str(value)
    if value is None:
        raise ParseError(f"{what} is missing")
    raise ParseError(f"{what} must be a numeric id string, got {str(value)[:40]!r}")


def mentions_handle(text: str, mentioned: list[str], handle: str) -> bool:
    """Whether a tweet mentions @handle: in its entities, or as a whole @word in its text (case-insensitive)."""
    if handle.lower() in (m.lower() for m in mentioned):
        return True
    return re.search(rf"(?<![\w@])@{re.escape(handle)}(?!\w)", text, re.IGNORECASE) is not None


def _eligibility(text: str, mentioned: list[str], brand_handle: str | None) -> tuple[bool, str]:
    if not brand_handle:
        return False, "no X handle is configured for the brand, so X's mention rule cannot be checked"
    handle = brand_handle.lstrip("@")
    if mentions_handle(text, mentioned, handle):
        return True, f"the author mentioned @{handle}"
    return False, f"X allows API replies only where the author mentioned @{handle}"


def _author(author_id: str | None, user: Mapping[str, Any] | None, where: str) -> ParsedAuthor:
    if user is None:
        return ParsedAuthor(handle=author_id or "unknown", id=author_id)
    username = _string(user, "username", f"{where} author")
    metrics = user.get("public_metrics")
    verified = user.get("verified")
    return ParsedAuthor(
        handle=(username or author_id or "unknown").lstrip("@") or author_id or "unknown",
        id=author_id,
        name=_string(user, "name", f"{where} author"),
        followers=count(metrics.get("followers_count")) if isinstance(metrics, dict) else None,
        verified=verified if isinstance(verified, bool) else False,
    )


def parse_tweet(item: Any, users: Mapping[str, Mapping[str, Any]], *, brand_handle: str | None = None,
                where: str = "tweet", intake: Intake | None = None) -> ParsedMention:
    """One v2 tweet object (plus the expanded users by id) as a safe mention; ParseError names the fault."""
    if not isinstance(item, dict):
        raise ParseError(f"{where} must be an object, got {type(item).__name__}")
    tweet_id = _tweet_id(item.get("id"), f"{where} id")
    where = f"{where} (id {tweet_id})"
    text = item.get("text")
    if not isinstance(text, str):
        raise ParseError(f"{where}: text is missing" if text is None else f"{where}: text must be a string")
    history = item.get("edit_history_tweet_ids")
    if history is not None and not isinstance(history, list):
        raise ParseError(f"{where}: edit_history_tweet_ids must be a list")
    canonical = _tweet_id(history[0], f"{where} edit_history_tweet_ids[0]") if history else tweet_id
    author_id = item.get("author_id")
    author_id = _tweet_id(author_id, f"{where} author_id") if author_id is not None else None
    created = _string(item, "created_at", where)
    in_reply_to = None
    referenced = item.get("referenced_tweets")
    if referenced is not None:
        if not isinstance(referenced, list) or not all(isinstance(r, dict) for r in referenced):
            raise ParseError(f"{where}: referenced_tweets must be a list of objects")
        replied = [r for r in referenced if r.get("type") == "replied_to"]
        in_reply_to = _tweet_id(replied[0].get("id"), f"{where} replied_to id") if replied else None
    entities = item.get("entities")
    mentions = entities.get("mentions") if isinstance(entities, dict) else None
    mentioned = [m["username"] for m in mentions if isinstance(m, dict) and isinstance(m.get("username"), str)] \
        if isinstance(mentions, list) else []
    metrics_in = item.get("public_metrics")
    metrics = {}
    if isinstance(metrics_in, dict):
        metrics = {name: n for key, name in METRICS.items() if (n := count(metrics_in.get(key))) is not None}
    lang = _string(item, "lang", where)
    author = _author(author_id, users.get(author_id) if author_id else None, where)
    eligible, reason = _eligibility(text, mentioned, brand_handle)
    known_handle = author.handle if author.handle not in {author_id, "unknown"} else None
    mention = ParsedMention(
        platform=PLATFORM,
        canonical_id=canonical,
        platform_id=tweet_id,
        text=text,
        author=author,
        created_at=iso_timestamp(created, f"{where}: created_at") if created is not None else None,
        url=f"https://x.com/{known_handle}/status/{tweet_id}" if known_handle else f"https://x.com/i/web/status/{tweet_id}",
        in_reply_to_id=in_reply_to,
        conversation_id=_string(item, "conversation_id", where),
        lang=lang,
        metrics=metrics,
        reply_eligible=eligible,
        eligibility_reason=reason,
        raw=item,
    )
    try:
        return (intake or Intake()).admit(mention)
    except ParseError as exc:
        raise ParseError(f"{where}: {exc}") from None


def _deleted(errors: list[Any]) -> list[str]:
    """Tweets X says no longer exist (a ``resource-not-found`` error about a tweet, e.g. a deleted parent)."""
    return [str(e["resource_id"]) for e in errors
            if isinstance(e, dict) and str(e.get("type", "")).endswith("/resource-not-found")
            and e.get("resource_type") == "tweet" and is_tweet_id(e.get("resource_id"))]


def parse_page(payload: Any, *, brand_handle: str | None = None, endpoint: str = "search",
               intake: Intake | None = None) -> Page:
    """A v2 tweet-listing body ({"data", "includes", "meta", "errors"}) as a Page.

    Raises ParseError when the envelope is malformed (not an object, none of data/meta/errors, wrong types);
    a single unreadable tweet becomes a BadRecord and the rest of the page still goes in.
    """
    intake = intake or Intake()
    if not isinstance(payload, dict):
        raise ParseError(f"{endpoint}: the body must be a JSON object, got {type(payload).__name__}")
    if not any(key in payload for key in ("data", "meta", "errors")):
        raise ParseError(f"{endpoint}: the body has none of data, meta or errors")
    data = payload.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ParseError(f"{endpoint}: data must be a list, got {type(data).__name__}")
    errors = payload.get("errors")
    if errors is not None and not isinstance(errors, list):
        raise ParseError(f"{endpoint}: errors must be a list")
    includes = payload.get("includes")
    if includes is not None and not isinstance(includes, dict):
        raise ParseError(f"{endpoint}: includes must be an object")
    users_in = (includes or {}).get("users")
    if users_in is not None and not isinstance(users_in, list):
        raise ParseError(f"{endpoint}: includes.users must be a list")
    users = {str(u["id"]): u for u in users_in or [] if isinstance(u, dict) and isinstance(u.get("id"), str | int)}
    meta = payload.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise ParseError(f"{endpoint}: meta must be an object")
    meta = meta or {}
    newest = _tweet_id(meta["newest_id"], f"{endpoint}: meta.newest_id") if meta.get("newest_id") is not None else None
    next_token = meta.get("next_token")
    if next_token is not None and (not isinstance(next_token, str) or not next_token):
        raise ParseError(f"{endpoint}: meta.next_token must be a non-empty string")
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for index, item in enumerate(data):
        try:
            mentions.append(parse_tweet(item, users, brand_handle=brand_handle, where=f"{endpoint} data[{index}]",
                                        intake=intake))
        except ParseError as exc:
            bad.append(BadRecord(f"{endpoint} data[{index}]", str(exc)))
    kept_errors: list[Mapping[str, Any]] = [e for e in errors or [] if isinstance(e, dict)]
    return Page(mentions, bad, newest, next_token, kept_errors, _deleted(kept_errors))


def _strict(payload: Any, brand_handle: str | None, endpoint: str) -> list[ParsedMention]:
    page = parse_page(payload, brand_handle=brand_handle, endpoint=endpoint)
    if page.bad:
        raise ParseError(page.bad[0].reason)
    return page.mentions


def parse_search(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """GET /2/tweets/search/recent body -> mentions, bare (no expansions) or full (includes.users).

    Pure. Absent optional fields give None (an unexpanded author is known by author_id, else "unknown");
    partial ``errors`` are tolerated; anything malformed, down to one tweet, raises ParseError.
    """
    return _strict(payload, brand_handle, "search")


def parse_mentions(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """GET /2/users/:id/mentions body -> mentions; the same shape and rules as parse_search."""
    return _strict(payload, brand_handle, "mentions")


def parse_created_tweet(payload: Any) -> str:
    """The new tweet's id from a POST /2/tweets body ({"data": {"id", "text"}}); ParseError otherwise."""
    data = payload.get("data") if isinstance(payload, dict) else None
    tweet_id = data.get("id") if isinstance(data, dict) else None
    if not is_tweet_id(tweet_id):
        raise ParseError("POST /2/tweets: the body has no data.id")
    return str(tweet_id)
