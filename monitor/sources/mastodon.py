"""The Mastodon source: the brand account's mention notifications and configured hashtag timelines.

Talks to one instance through Mastodon.py with ``ratelimit_method="throw"`` (the library never sleeps) and
``version_check_mode="none"`` (it never asks /api/v1/instance for a version). Hashtag timelines make
Mastodon.py read ``/api/v2/instance`` once per client to check the timeline is available; nothing else
extra is requested. The raw body of every answer is read from the HTTP response itself, so the pure
``parse_*`` functions see the JSON exactly as the instance sent it.

Cursor: ``{"v": 1, "endpoints": {key: state}, "pending": [key, ...]}`` with one state per endpoint
(``notifications``, ``tag:<name>``). A poll cycle visits every endpoint in ``pending``, one page per
``fetch``; ``Batch.exhausted`` is False until the cycle is done. An endpoint's state is:

- ``min_id``: the newest id read (Mastodon's ``min_id`` returns the page immediately newer than it,
  so paging forward from it can skip nothing);
- ``page``: while a forward pass is still paging, where the next page starts;
- ``max_id``: on an endpoint's first poll, how far back the backfill has read (it pages into the past
  until ``backfill_hours`` before now or the end of the timeline, then stops).

Hashtag timelines are ordered by status id, and a status that federates late carries an id from its own
``created_at``, which can be older than ``min_id``. Each forward pass over a tag therefore starts
``overlap_seconds`` of snowflake time below ``min_id``; the repeats are deduplicated by storage.
Notification ids are assigned on arrival, so notifications need no overlap.

A source instance is not thread-safe (neither is Mastodon.py); the scheduler runs one fetch at a time.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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

PLATFORM = "mastodon"
READ_CREDENTIALS: dict[str, str] = {"access_token": "MASTODON_ACCESS_TOKEN"}
POST_CREDENTIALS: dict[str, str] = {"access_token": "MASTODON_ACCESS_TOKEN"}

DEFAULT_TIMEOUT = 10.0
DEFAULT_LIMIT = 40
DEFAULT_BACKFILL_HOURS = 24.0
DEFAULT_OVERLAP_SECONDS = 600.0
NOTIFICATIONS_MAX_LIMIT = 80  # Mastodon's cap for /api/v1/notifications
TIMELINE_MAX_LIMIT = 40  # and for timelines
DEFAULT_RETRY_AFTER = 60.0
USER_AGENT = "closeloop (+Mastodon.py)"
SNOWFLAKE_MIN = 1 << 32  # smaller numeric ids are plain sequences, not (milliseconds << 16) snowflakes

log = logging.getLogger("closeloop.sources.mastodon")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- HTML to text ------------------------------------------------------------------------------------

_BLOCKS = frozenset({"blockquote", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ol", "pre", "ul"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pending = 0  # newlines owed at a block boundary, written before the next text

    def _boundary(self, newlines: int) -> None:
        self._pending = max(self._pending, newlines)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            self._boundary(2)
        elif tag in _BLOCKS:
            self._boundary(1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._boundary(2)
        elif tag in _BLOCKS:
            self._boundary(1)

    def handle_data(self, data: str) -> None:
        if self._pending and not data.strip():
            return  # whitespace next to a block boundary means nothing
        if self._pending and self.parts:
            self.parts.append("\n" * self._pending)
        self._pending = 0
        self.parts.append(data)


_TAG = re.compile(r"<[^>]*>")
_MANY_NEWLINES = re.compile(r"[ \t]*\n[ \t]*(?:\n[ \t]*)+")


def html_to_text(content: str) -> str:
    """Mastodon status HTML as plain text: tags stripped, ``<br>`` a newline, paragraphs a blank line,
    entities unescaped. Link text is kept whole (Mastodon hides part of long URLs in invisible spans)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(content)
        extractor.close()
        text = "".join(extractor.parts)
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        text = unescape(_TAG.sub("", content))
    text = _MANY_NEWLINES.sub("\n\n", text.replace("\r\n", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# -- parsing -----------------------------------------------------------------------------------------

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


def _optional_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        return None
    return str(value)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_timestamp(value: Any, what: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset, in UTC; None when absent; ParseError when unreadable."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{what} must be a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"{what} is not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ParseError(f"{what} has no timezone: {value[:40]!r}")
    return parsed.astimezone(UTC)


def _host(url: Any) -> str | None:
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
        domain = instance or _host(account.get("url")) or _host(account.get("uri"))
        if domain:
            handle = f"{handle}@{domain}"
    return ParsedAuthor(
        handle=handle,
        id=_optional_id(account.get("id")),
        name=_optional_str(account.get("display_name")) or _optional_str(account.get("username")),
        followers=_count(account.get("followers_count")),
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
    status: Any, *, instance: str | None = None, roots: Mapping[str, Mapping[str, Any]] | None = None
) -> ParsedMention:
    """One status object as a mention; ParseError naming the field at fault.

    ``instance`` is the domain of the instance that served it (added to local handles); ``roots`` maps
    status ids to statuses of the same payload, to find the thread root through ``in_reply_to_id``.
    """
    if not isinstance(status, dict):
        raise ParseError(f"a status must be an object, got {type(status).__name__}")
    platform_id = _id(status.get("id"), "status id")
    canonical_id = _id(status.get("uri"), "status uri")
    text = _status_text(status)
    author = _author(status.get("account"), instance)
    in_reply_to = _optional_id(status.get("in_reply_to_id"))
    eligible, reason = reply_eligibility(status.get("visibility"))
    metrics = {
        name: value
        for name, key in (("likes", "favourites_count"), ("reposts", "reblogs_count"), ("replies", "replies_count"))
        if (value := _count(status.get(key))) is not None
    }
    return ParsedMention(
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
    )


def _thread_root(status_id: str, in_reply_to: str | None, known: Mapping[str, Mapping[str, Any]]) -> str:
    """The root of the thread as far as ``known`` statuses show it; the status's own id when the chain
    leaves the payload (Mastodon's API exposes no conversation id for statuses)."""
    root, parent, seen = status_id, in_reply_to, {status_id}
    while parent is not None and parent in known and parent not in seen:
        seen.add(parent)
        root, parent = parent, _optional_id(known[parent].get("in_reply_to_id"))
    return root if parent is None else status_id


def _index(statuses: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    known: dict[str, Mapping[str, Any]] = {}
    for status in statuses:
        if isinstance(status, dict) and (key := _optional_id(status.get("id"))) is not None:
            known[key] = status
    return known


def _list(payload: Any, what: str) -> list[Any]:
    if not isinstance(payload, list):
        raise ParseError(f"{what}: expected a JSON array, got {type(payload).__name__}")
    return payload


def _keep(mention: ParsedMention, brand_handle: str | None) -> bool:
    account = mention.raw.get("account")
    return not _is_brand(mention.author, account if isinstance(account, dict) else {}, brand_handle)


def notification_page(
    payload: Any, *, brand_handle: str | None = None, instance: str | None = None
) -> tuple[list[ParsedMention], list[BadRecord]]:
    """Mentions of a notifications page, and the items that could not be read (the rest still count).

    ParseError only when the page itself is not an array. Notifications of other types are skipped.
    """
    items = _list(payload, "notifications")
    statuses = [item.get("status") for item in items if isinstance(item, dict)]
    known = _index(statuses)
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
            mention = parse_status(item["status"], instance=instance, roots=known)
        except ParseError as exc:
            bad.append(BadRecord(position=_where(where, item), reason=str(exc)))
            continue
        if _keep(mention, brand_handle):
            mentions.append(mention)
    return mentions, bad


def status_page(
    payload: Any, *, brand_handle: str | None = None, instance: str | None = None, what: str = "statuses"
) -> tuple[list[ParsedMention], list[BadRecord]]:
    """Mentions of a list of statuses (a timeline page, a context's descendants) and the unreadable items.

    Boosts and the brand's own statuses are skipped. ParseError only when the page is not an array.
    """
    items = _list(payload, what)
    known = _index(items)
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("reblog"), dict):
            continue
        try:
            mention = parse_status(item, instance=instance, roots=known)
        except ParseError as exc:
            bad.append(BadRecord(position=_where(f"{what}[{position}]", item), reason=str(exc)))
            continue
        if _keep(mention, brand_handle):
            mentions.append(mention)
    return mentions, bad


def _where(position: str, item: Any) -> str:
    item_id = _optional_id(item.get("id")) if isinstance(item, dict) else None
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


# -- the client and its errors -----------------------------------------------------------------------


class CapturingSession(requests.Session):
    """A requests session that never retries and keeps the last HTTP response it received.

    Mastodon.py turns bodies into typed objects and drops response headers from its errors; the last
    response gives the raw JSON for the pure parsers and the rate-limit headers for retry-after.
    """

    def __init__(self) -> None:
        super().__init__()
        no_retries = HTTPAdapter(max_retries=Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0))
        self.mount("https://", no_retries)
        self.mount("http://", no_retries)
        self.last_response: requests.Response | None = None
        self.hooks["response"].append(self._capture)

    def _capture(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_response = response

    def reset(self) -> None:
        self.last_response = None

    def last_json(self) -> Any:
        """The last response's body as JSON; ParseError when there is none or it is not JSON."""
        if self.last_response is None:
            raise ParseError("no response was received")
        try:
            return json.loads(self.last_response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"the body is not JSON ({exc.__class__.__name__})") from None

    def last_status(self) -> int | None:
        return self.last_response.status_code if self.last_response is not None else None


def api_base_url(options: Mapping[str, Any], brand: Brand) -> str:
    """Where the instance's API lives: options ``api_base_url`` (or ``instance``), else the domain of the
    brand's Mastodon handle; ValueError when neither is set."""
    value = options.get("api_base_url") or options.get("instance")
    if not value and brand.handles.mastodon and "@" in brand.handles.mastodon.strip().lstrip("@"):
        value = brand.handles.mastodon.strip().lstrip("@").split("@", 1)[1]
    if not value or not isinstance(value, str):
        raise ValueError("set options.api_base_url (or a brand handle user@instance) for Mastodon")
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def make_client(*, base_url: str, access_token: str, timeout: float) -> tuple[Mastodon, CapturingSession]:
    """A Mastodon.py client that throws on rate limits (never sleeps), never checks versions, never retries."""
    session = CapturingSession()
    client = Mastodon(
        api_base_url=base_url,
        access_token=access_token,
        ratelimit_method="throw",
        request_timeout=timeout,
        version_check_mode="none",
        session=session,
        user_agent=USER_AGENT,
    )
    return client, session


def retry_after(response: requests.Response | None, now: datetime) -> float:
    """Seconds to wait after a 429: ``X-RateLimit-Reset`` (ISO 8601, or epoch seconds) less ``now``,
    else ``Retry-After`` (seconds or an HTTP date), else a minute. Never less than one second."""
    headers = response.headers if response is not None else {}
    reset = headers.get("X-RateLimit-Reset")
    seconds: float | None = None
    if reset:
        reset = reset.strip()
        try:
            if reset.isdigit():
                seconds = float(reset) - now.timestamp()
            else:
                at = datetime.fromisoformat(reset)
                seconds = ((at if at.tzinfo else at.replace(tzinfo=UTC)) - now).total_seconds()
        except ValueError:
            seconds = None
    if seconds is None and headers.get("Retry-After"):
        value = headers["Retry-After"].strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(value) - now).total_seconds()
            except (TypeError, ValueError):
                seconds = None
    return max(1.0, DEFAULT_RETRY_AFTER if seconds is None else seconds)


def http_status(exc: MastodonError, session: CapturingSession) -> int | None:
    """The HTTP status behind a Mastodon.py error, from the error or else the last response."""
    if len(exc.args) > 1 and isinstance(exc.args[1], int):
        return exc.args[1]
    return session.last_status()


def source_error(exc: MastodonError, session: CapturingSession, what: str, now: datetime) -> SourceError:
    """A Mastodon.py error as the SourceError the scheduler acts on."""
    status = http_status(exc, session)
    if isinstance(exc, MastodonRatelimitError):
        if status == 429:
            return RateLimited(retry_after(session.last_response, now), f"{what}: rate limited")
        return SourceError(f"{what}: unusable rate-limit headers ({exc})")
    if isinstance(exc, MastodonNetworkError):
        return SourceError(f"{what}: network error: {_short(exc)}")
    if isinstance(exc, MastodonUnauthorizedError) or status == 401:
        return SourceError(f"{what}: the access token was rejected (401)", permanent=True)
    if isinstance(exc, MastodonServerError) or (status is not None and status >= 500):
        return SourceError(f"{what}: server error ({status})")
    if isinstance(exc, MastodonIllegalArgumentError):
        return SourceError(f"{what}: bad request: {exc}", permanent=True)
    if isinstance(exc, MastodonAPIError) and status is not None and 200 <= status < 300:
        return SourceError(f"{what}: malformed body ({status})")
    if status == 403:
        return SourceError(f"{what}: forbidden (403): the token lacks the read scope or the account is suspended",
                           permanent=True)
    if isinstance(exc, MastodonNotFoundError) or status == 404:
        return SourceError(f"{what}: not found (404): check api_base_url", permanent=True)
    if status is not None and status in (400, 410, 422):
        return SourceError(f"{what}: refused ({status}): {_short(exc)}", permanent=True)
    return SourceError(f"{what}: {type(exc).__name__} ({status}): {_short(exc)}")


def _short(exc: BaseException) -> str:
    return str(exc)[:200]


# -- the source --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Endpoint:
    key: str
    kind: Literal["notifications", "tag"]
    tag: str | None = None


_HASHTAG = re.compile(r"\w+")


def _normalise_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(t, str) for t in value):
        raise ValueError("options.hashtags must be a list of strings")
    tags: list[str] = []
    for tag in value:
        name = tag.strip().lstrip("#").strip()
        if not _HASHTAG.fullmatch(name):
            raise ValueError(f"options.hashtags: {tag!r} is not a hashtag")
        if name.lower() not in [t.lower() for t in tags]:
            tags.append(name)
    return tags


def _newer(a: str | None, b: str | None) -> str | None:
    """The newer of two ids: numerically when both are numbers, else ``b`` (the one just read)."""
    if a is None or b is None:
        return b if b is not None else a
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return b


class MastodonSource:
    """Mentions from one Mastodon instance: notifications of type mention, and hashtag timelines."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        access_token: str,
        brand_handle: str | None = None,
        hashtags: Sequence[str] = (),
        notifications: bool = True,
        limit: int = DEFAULT_LIMIT,
        timeout: float = DEFAULT_TIMEOUT,
        backfill_hours: float = DEFAULT_BACKFILL_HOURS,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
        clock: Clock = _utcnow,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.brand_handle = brand_handle
        self.instance = _host(base_url)
        self.limit = limit
        self.backfill_hours = backfill_hours
        self.overlap_seconds = overlap_seconds
        self.clock = clock
        self.endpoints = ([_Endpoint("notifications", "notifications")] if notifications else []) + [
            _Endpoint(f"tag:{tag.lower()}", "tag", tag) for tag in _normalise_tags(list(hashtags))
        ]
        if not self.endpoints:
            raise ValueError("a Mastodon source needs notifications or at least one hashtag")
        self._client, self._session = make_client(base_url=base_url, access_token=access_token, timeout=timeout)

    # -- cursor ---------------------------------------------------------------------------------------
    def _load(self, cursor: str | None) -> tuple[dict[str, dict[str, str]], list[str]]:
        keys = [e.key for e in self.endpoints]
        if cursor is None:
            return {}, keys
        try:
            data = json.loads(cursor)
            states = data["endpoints"]
            pending = data["pending"]
            if not isinstance(states, dict) or not isinstance(pending, list):
                raise TypeError
            clean = {
                key: {k: str(v) for k, v in state.items() if k in ("min_id", "page", "max_id") and v is not None}
                for key, state in states.items()
                if key in keys and isinstance(state, dict)
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SourceError(f"{self.name}: unreadable cursor {cursor[:80]!r}", permanent=True) from None
        pending = [key for key in pending if key in keys]
        return clean, pending or keys

    @staticmethod
    def _dump(states: Mapping[str, Mapping[str, str]], pending: Sequence[str]) -> str:
        return json.dumps({"v": 1, "endpoints": states, "pending": list(pending)}, sort_keys=True)

    # -- fetching -------------------------------------------------------------------------------------
    def fetch(self, cursor: str | None) -> Batch:
        """One page of one endpoint of the current poll cycle; see the module docstring for the cursor."""
        states, pending = self._load(cursor)
        endpoint = next(e for e in self.endpoints if e.key == pending[0])
        state = dict(states.get(endpoint.key, {}))
        params = self._page_params(endpoint, state)
        raw, newest, oldest = self._request(endpoint, params)
        if endpoint.kind == "notifications":
            mentions, bad = notification_page(raw, brand_handle=self.brand_handle, instance=self.instance)
        else:
            mentions, bad = status_page(raw, brand_handle=self.brand_handle, instance=self.instance,
                                        what=endpoint.key)
        done = self._advance(endpoint, state, params, raw, newest, oldest)
        states = {**states, endpoint.key: state}
        rest = pending[1:] if done else pending
        log.info("source_polled source=%s endpoint=%s fetched=%d bad=%d cycle_done=%s", self.name, endpoint.key,
                 len(mentions), len(bad), not rest)
        return Batch(mentions=mentions, next_cursor=self._dump(states, rest), bad=bad, exhausted=not rest)

    def _page_limit(self, endpoint: _Endpoint) -> int:
        cap = NOTIFICATIONS_MAX_LIMIT if endpoint.kind == "notifications" else TIMELINE_MAX_LIMIT
        return max(1, min(self.limit, cap))

    def _page_params(self, endpoint: _Endpoint, state: Mapping[str, str]) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self._page_limit(endpoint)}
        if "max_id" in state:  # backfilling into the past
            params["max_id"] = state["max_id"]
        elif "page" in state:  # a forward pass in progress
            params["min_id"] = state["page"]
        elif "min_id" in state:  # a new forward pass
            params["min_id"] = self._overlapped(endpoint, state["min_id"])
        return params

    def _overlapped(self, endpoint: _Endpoint, min_id: str) -> str:
        if endpoint.kind != "tag" or not min_id.isdigit() or int(min_id) < SNOWFLAKE_MIN:
            return min_id
        return str(max(0, int(min_id) - (int(self.overlap_seconds * 1000) << 16)))

    def _request(self, endpoint: _Endpoint, params: Mapping[str, Any]) -> tuple[Any, str | None, str | None]:
        """The raw body of one page and its newest and oldest ids (from the Link header, else the items)."""
        what = f"{self.name}: {endpoint.key}"
        self._session.reset()
        try:
            if endpoint.kind == "notifications":
                self._client.notifications(types=["mention"], **params)
            else:
                assert endpoint.tag is not None
                self._client.timeline_hashtag(endpoint.tag, **params)
            raw = self._session.last_json()
        except MastodonError as exc:
            raise source_error(exc, self._session, what, self.clock()) from exc
        except ParseError as exc:
            raise SourceError(f"{what}: malformed body: {exc}") from exc
        if not isinstance(raw, list):
            raise SourceError(f"{what}: malformed body: expected a JSON array, got {type(raw).__name__}")
        ids = [i for item in raw if isinstance(item, dict) and (i := _optional_id(item.get("id"))) is not None]
        newest = self._link_id("prev", ("min_id", "since_id")) or (ids[0] if ids else None)
        oldest = self._link_id("next", ("max_id",)) or (ids[-1] if ids else None)
        return raw, newest, oldest

    def _link_id(self, rel: str, names: Sequence[str]) -> str | None:
        """An id from the last response's Link header (Mastodon's own pagination), if it has one."""
        response = self._session.last_response
        url = (response.links.get(rel) or {}).get("url") if response is not None else None
        if not url:
            return None
        query = parse_qs(urlsplit(url).query)
        for name in names:
            if query.get(name) and query[name][0].strip():
                return query[name][0].strip()
        return None

    def _advance(
        self, endpoint: _Endpoint, state: dict[str, str], params: Mapping[str, Any], raw: list[Any],
        newest: str | None, oldest: str | None,
    ) -> bool:
        """Move the endpoint's state past the page just read; True when the endpoint is done this cycle."""
        full = len(raw) >= params["limit"]
        if not state:  # first poll ever: the newest page, then backfill
            state["min_id"] = newest or "0"
            if full and oldest is not None and not self._before_horizon(raw):
                state["max_id"] = oldest
                return False
            return True
        if "max_id" in state:
            if raw and oldest is not None and not self._before_horizon(raw):
                state["max_id"] = oldest
                return False
            del state["max_id"]
            return True
        state.pop("page", None)
        if not raw or newest is None:
            return True
        state["min_id"] = _newer(state.get("min_id"), newest) or newest
        if full:
            state["page"] = newest
            return False
        return True

    def _before_horizon(self, raw: list[Any]) -> bool:
        """Whether the page reaches back past ``backfill_hours`` before now (backfill stops there)."""
        horizon = self.clock().timestamp() - self.backfill_hours * 3600
        for item in reversed(raw):
            if not isinstance(item, dict):
                continue
            try:
                created = parse_timestamp(item.get("created_at"), "created_at")
            except ParseError:
                continue
            if created is not None:
                return created.timestamp() < horizon
        return False

    # -- threads --------------------------------------------------------------------------------------
    def fetch_thread(self, ref: ThreadRef) -> list[ParsedMention]:
        """The case author's replies below the case's root status, posted after ``ref.since``.

        They carry the case's conversation id. A root that is gone (404) has no follow-ups: [].
        """
        what = f"{self.name}: context of {ref.root_platform_id}"
        self._session.reset()
        try:
            self._client.status_context(ref.root_platform_id)
            raw = self._session.last_json()
        except MastodonNotFoundError:
            log.info("thread_gone source=%s status=%s", self.name, ref.root_platform_id)
            return []
        except MastodonError as exc:
            raise source_error(exc, self._session, what, self.clock()) from exc
        except ParseError as exc:
            raise SourceError(f"{what}: malformed body: {exc}") from exc
        if not isinstance(raw, dict):
            raise SourceError(f"{what}: malformed body: expected a JSON object, got {type(raw).__name__}")
        try:
            known = _index([*_as_list(raw.get("ancestors")), dict(ref.root_raw), *_as_list(raw.get("descendants"))])
            descendants = _list(raw.get("descendants"), "context descendants")
        except ParseError as exc:
            raise SourceError(f"{what}: malformed body: {exc}") from exc
        conversation = ref.conversation_id or ref.root_platform_id
        found: list[ParsedMention] = []
        for position, item in enumerate(descendants):
            try:
                mention = parse_status(item, instance=self.instance, roots=known)
            except ParseError as exc:
                log.warning("thread_bad_record source=%s position=%d reason=%r", self.name, position, str(exc))
                continue
            if not self._same_author(mention.author, ref):
                continue
            if mention.created_at is not None and mention.created_at <= ref.since:
                continue
            found.append(replace(mention, conversation_id=conversation))
        log.info("thread_polled source=%s status=%s follow_ups=%d", self.name, ref.root_platform_id, len(found))
        return found

    @staticmethod
    def _same_author(author: ParsedAuthor, ref: ThreadRef) -> bool:
        if ref.author_id and author.id:
            return author.id == ref.author_id
        return author.handle.lower().lstrip("@") == ref.author_handle.lower().lstrip("@")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def build_source(
    settings: SourceSettings, brand: Brand, env: Mapping[str, str], *, clock: Clock | None = None
) -> MastodonSource:
    """A MastodonSource from config; MissingCredentials naming the variables, SourceError(permanent) for
    bad options.

    Options: api_base_url (or instance; default https://<domain of brands.handles.mastodon>),
    hashtags ([]), notifications (true), limit (40; notifications cap at 80, timelines at 40),
    timeout (10 s), backfill_hours (24), overlap_seconds (600).
    """
    secrets = credentials(settings.name, env, READ_CREDENTIALS, settings.credentials_env)
    options = settings.options
    try:
        return MastodonSource(
            name=settings.name,
            base_url=api_base_url(options, brand),
            access_token=secrets["access_token"],
            brand_handle=brand.handles.mastodon,
            hashtags=_normalise_tags(options.get("hashtags")),
            notifications=bool(options.get("notifications", True)),
            limit=int(options.get("limit", DEFAULT_LIMIT)),
            timeout=float(options.get("timeout", DEFAULT_TIMEOUT)),
            backfill_hours=float(options.get("backfill_hours", DEFAULT_BACKFILL_HOURS)),
            overlap_seconds=float(options.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)),
            clock=clock or _utcnow,
        )
    except (TypeError, ValueError) as exc:
        raise SourceError(f"source {settings.name!r}: {exc}", permanent=True) from None


__all__ = [
    "PLATFORM",
    "POST_CREDENTIALS",
    "READ_CREDENTIALS",
    "CapturingSession",
    "MastodonSource",
    "api_base_url",
    "build_source",
    "html_to_text",
    "make_client",
    "notification_page",
    "parse_context",
    "parse_notifications",
    "parse_status",
    "parse_statuses",
    "reply_eligibility",
    "retry_after",
    "status_page",
]
