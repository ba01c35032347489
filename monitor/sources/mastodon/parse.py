"""Pure parsers of Mastodon bodies: notification arrays, status arrays (a hashtag timeline, a context's
descendants) and single statuses, as the instance sent them. Every mention passes through an Intake
(monitor.sources.intake); an unreadable item becomes a BadRecord and the rest of the page still goes in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.sources.base import BadRecord, ParsedAuthor, ParsedMention, ParseError
from monitor.sources.common import count, iso_timestamp
from monitor.sources.intake import Intake
from monitor.sources.mastodon.html import html_to_text

PLATFORM = "mastodon"

_ELIGIBILITY: dict[str, tuple[bool, str]] = {
    "public": (True, "public post"),
    "unlisted": (True, "unlisted post: a public reply is allowed"),
    "private": (False, "followers-only post: a public reply would expose it; reply privately"),
    "direct": (False, "direct message: reply privately"),
}


def reply_eligibility(visibility: Any) -> tuple[bool, str]:
    """Whether a status of this visibility may take a public reply, and why."""
    if isinstance(visibility, str) and visibility in _ELIGIBILITY:
        return _ELIGIBILITY[visibility]
    shown = visibility if isinstance(visibility, str) else type(visibility).__name__
    return False, f"visibility {shown!r} unknown: reply privately"


def _id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseError(f"{what} is missing" if value is None else f"{what} must be a string")
    text = str(value)
    if not text.strip():
        raise ParseError(f"{what} is empty")
    return text


def optional_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        return None
    return str(value)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def parse_timestamp(value: Any, what: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset, in UTC; None when absent; ParseError when unreadable."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{what} must be a string")
    return iso_timestamp(value, what)


def host_of(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None


def _author(account: Any, instance: str | None) -> ParsedAuthor:
    if not isinstance(account, dict):
        raise ParseError("status account is missing" if account is None else "status account must be an object")
    acct = account.get("acct", account.get("username"))
    if not isinstance(acct, str) or not acct.strip().lstrip("@"):
        raise ParseError("status account has no acct")
    handle = acct.strip().lstrip("@")
    if "@" not in handle:
        domain = instance or host_of(account.get("url")) or host_of(account.get("uri"))
        if domain:
            handle = f"{handle}@{domain}"
    return ParsedAuthor(
        handle=handle,
        id=optional_id(account.get("id")),
        name=_optional_str(account.get("display_name")) or _optional_str(account.get("username")),
        followers=count(account.get("followers_count")),
        verified=False,
    )


def _is_brand(author: ParsedAuthor, account: Mapping[str, Any], brand_handle: str | None) -> bool:
    """Whether ``author`` is the brand's own account (its posts are not mentions)."""
    if not brand_handle:
        return False
    brand = brand_handle.strip().lstrip("@").lower()
    if author.handle.lower() == brand:
        return True
    acct = account.get("acct")
    # A local account (acct without a domain) on the instance we poll: compare usernames.
    return isinstance(acct, str) and "@" not in acct and acct.lower() == brand.split("@", 1)[0]


def _status_text(status: Mapping[str, Any]) -> str:
    content = status.get("content")
    if isinstance(content, str):
        body = html_to_text(content)
    elif isinstance(status.get("text"), str):  # the source form, as DELETE and edit answers give it
        body = str(status["text"]).strip()
    else:
        raise ParseError("status has no content" if content is None else "status content must be a string")
    spoiler = status.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        return f"{spoiler.strip()}\n\n{body}" if body else spoiler.strip()
    return body


def parse_status(
    status: Any, *, instance: str | None = None, roots: Mapping[str, Mapping[str, Any]] | None = None,
    intake: Intake | None = None,
) -> ParsedMention:
    """One status object as a safe mention; ParseError naming the field at fault.

    ``instance`` is the domain of the instance that served it (added to local handles); ``roots`` maps
    status ids to statuses of the same payload, to find the thread root through ``in_reply_to_id``.
    """
    if not isinstance(status, dict):
        raise ParseError(f"a status must be an object, got {type(status).__name__}")
    platform_id = _id(status.get("id"), "status id")
    canonical_id = _id(status.get("uri"), "status uri")
    text = _status_text(status)
    author = _author(status.get("account"), instance)
    in_reply_to = optional_id(status.get("in_reply_to_id"))
    eligible, reason = reply_eligibility(status.get("visibility"))
    metrics = {
        name: value
        for name, key in (("likes", "favourites_count"), ("reposts", "reblogs_count"), ("replies", "replies_count"))
        if (value := count(status.get(key))) is not None
    }
    return (intake or Intake()).admit(ParsedMention(
        platform=PLATFORM,
        canonical_id=canonical_id,
        text=text,
        author=author,
        created_at=parse_timestamp(status.get("created_at"), "status created_at"),
        platform_id=platform_id,
        url=_optional_str(status.get("url")) or canonical_id,
        in_reply_to_id=in_reply_to,
        conversation_id=_thread_root(platform_id, in_reply_to, roots or {}),
        lang=_optional_str(status.get("language")),
        metrics=metrics,
        reply_eligible=eligible,
        eligibility_reason=reason,
        raw=status,
    ))


def _thread_root(status_id: str, in_reply_to: str | None, known: Mapping[str, Mapping[str, Any]]) -> str:
    """The root of the thread as far as ``known`` statuses show it; the status's own id when the chain
    leaves the payload (Mastodon's API exposes no conversation id for statuses)."""
    root, parent, seen = status_id, in_reply_to, {status_id}
    while parent is not None and parent in known and parent not in seen:
        seen.add(parent)
        root, parent = parent, optional_id(known[parent].get("in_reply_to_id"))
    return root if parent is None else status_id


def index_statuses(statuses: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    known: dict[str, Mapping[str, Any]] = {}
    for status in statuses:
        if isinstance(status, dict) and (key := optional_id(status.get("id"))) is not None:
            known[key] = status
    return known


def as_array(payload: Any, what: str) -> list[Any]:
    if not isinstance(payload, list):
        raise ParseError(f"{what}: expected a JSON array, got {type(payload).__name__}")
    return payload


def _keep(mention: ParsedMention, brand_handle: str | None) -> bool:
    account = mention.raw.get("account")
    return not _is_brand(mention.author, account if isinstance(account, dict) else {}, brand_handle)


def notification_page(
    payload: Any, *, brand_handle: str | None = None, instance: str | None = None, intake: Intake | None = None
) -> tuple[list[ParsedMention], list[BadRecord]]:
    """Mentions of a notifications page, and the items that could not be read (the rest still count).

    ParseError only when the page itself is not an array. Notifications of other types are skipped.
    """
    intake = intake or Intake()
    items = as_array(payload, "notifications")
    statuses = [item.get("status") for item in items if isinstance(item, dict)]
    known = index_statuses(statuses)
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for position, item in enumerate(items):
        where = f"notifications[{position}]"
        try:
            if not isinstance(item, dict):
                raise ParseError(f"a notification must be an object, got {type(item).__name__}")
            _id(item.get("id"), "notification id")
            kind = item.get("type")
            if not isinstance(kind, str):
                raise ParseError("notification type is missing" if kind is None else "notification type must be a string")
            if kind != "mention":
                continue
            if item.get("status") is None:
                raise ParseError("mention notification has no status")
            mention = parse_status(item["status"], instance=instance, roots=known, intake=intake)
        except ParseError as exc:
            bad.append(BadRecord(position=_where(where, item), reason=str(exc)))
            continue
        if _keep(mention, brand_handle):
            mentions.append(mention)
    return mentions, bad


def status_page(
    payload: Any, *, brand_handle: str | None = None, instance: str | None = None, what: str = "statuses",
    intake: Intake | None = None,
) -> tuple[list[ParsedMention], list[BadRecord]]:
    """Mentions of a list of statuses (a timeline page, a context's descendants) and the unreadable items.

    Boosts and the brand's own statuses are skipped. ParseError only when the page is not an array.
    """
    intake = intake or Intake()
    items = as_array(payload, what)
    known = index_statuses(items)
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("reblog"), dict):
            continue
        try:
            mention = parse_status(item, instance=instance, roots=known, intake=intake)
        except ParseError as exc:
            bad.append(BadRecord(position=_where(f"{what}[{position}]", item), reason=str(exc)))
            continue
        if _keep(mention, brand_handle):
            mentions.append(mention)
    return mentions, bad


def _where(position: str, item: Any) -> str:
    item_id = optional_id(item.get("id")) if isinstance(item, dict) else None
    return f"{position} id={item_id}" if item_id else position


def _strict(result: tuple[list[ParsedMention], list[BadRecord]], what: str) -> list[ParsedMention]:
    mentions, bad = result
    if bad:
        raise ParseError(f"{what}: {bad[0].position}: {bad[0].reason}")
    return mentions


def parse_notifications(
    payload: Any, *, brand_handle: str | None = None, instance: str | None = None
) -> list[ParsedMention]:
    """GET /api/v1/notifications body -> the mentions in it (other notification types are skipped).

    ParseError naming the item at fault when any notification is malformed.
    """
    return _strict(notification_page(payload, brand_handle=brand_handle, instance=instance), "notifications")


def parse_statuses(payload: Any, *, brand_handle: str | None = None, instance: str | None = None) -> list[ParsedMention]:
    """A JSON array of statuses (GET /api/v1/timelines/tag/:hashtag, a context's ``descendants``) -> mentions.

    ParseError naming the item at fault when any status is malformed.
    """
    return _strict(status_page(payload, brand_handle=brand_handle, instance=instance), "statuses")


def parse_context(payload: Any, *, brand_handle: str | None = None, instance: str | None = None) -> list[ParsedMention]:
    """GET /api/v1/statuses/:id/context body -> the mentions among its descendants."""
    if not isinstance(payload, dict):
        raise ParseError(f"context: expected a JSON object, got {type(payload).__name__}")
    return parse_statuses(payload.get("descendants"), brand_handle=brand_handle, instance=instance)
