"""Reddit: keyword search of submissions, new comments in chosen subreddits, and the account's username mentions.

Talks to Reddit through praw/prawcore, adapted to a scheduler that owns all waiting: the client built by
``make_reddit`` never sleeps and never retries (prawcore would retry timeouts and 5xx, POSTs included, and
sleep on rate-limit headers). Every fetch is one HTTP request for one page of one endpoint.

Cursor (JSON, owned here)::

    {"v": 1, "pending": ["search", "mentions"],
     "endpoints": {"search": {"hwm": 1763640000.0, "pass": {"anchors": ["t3_b", "t3_a"], "top": 1763643600.0,
                                                           "pages": 2}}}}

Each endpoint keeps a high-water mark ``hwm`` (``created_utc`` of the newest item of its last finished pass).
A pass walks the newest-first listing from the top with ``after`` until it reaches an item older than
``hwm - overlap``, then adopts the newest ``created_utc`` it saw as the new mark: never before its last page,
so a pass interrupted by a crash, an error or a rate limit resumes from its saved ``after`` anchor and loses
nothing. An anchor that left the listing (deleted, removed) makes Reddit answer with an empty page; the pass
then tries the page's previous items as anchors, and after those restarts from the top, where the
``created_utc`` mark decides where to stop. ``max_pages`` bounds a pass, so nothing stalls the source forever.
``pending`` holds the endpoints still to finish in this round; ``Batch.exhausted`` is True when it is empty.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import praw
import prawcore
import requests
from praw.exceptions import PRAWException, RedditAPIException

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

PLATFORM = "reddit"
READ_CREDENTIALS: dict[str, str] = {"client_id": "REDDIT_CLIENT_ID", "client_secret": "REDDIT_CLIENT_SECRET"}
USER_CREDENTIALS: dict[str, str] = {"username": "REDDIT_USERNAME", "password": "REDDIT_PASSWORD"}
POST_CREDENTIALS: dict[str, str] = {**READ_CREDENTIALS, **USER_CREDENTIALS}

API_URL = "https://oauth.reddit.com"
AUTH_URL = "https://www.reddit.com"
WEB_URL = "https://www.reddit.com"
ENDPOINTS = ("search", "comments", "mentions")
RATE_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")
DEFAULT_RETRY_AFTER = 60.0
MAX_ANCHORS = 3

log = logging.getLogger("closeloop.sources.reddit")


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- parsing (pure) -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One Listing: its mentions, the children it rejected, Reddit's paging anchors and how many children."""

    mentions: list[ParsedMention]
    bad: list[BadRecord]
    after: str | None
    before: str | None
    size: int


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParseError(f"field {key!r} must be a number, got {_short(value)}")
    return int(value)


def _opt_bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ParseError(f"field {key!r} must be true or false, got {_short(value)}")
    return value


def _timestamp(data: Mapping[str, Any], key: str = "created_utc") -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"field {key!r} must be seconds since the epoch, got {_short(value)}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"field {key!r} is not a usable time: {_short(value)}") from None


_CONTEXT_LINK = re.compile(r"/comments/([0-9a-z]+)/", re.IGNORECASE)


def _eligibility(kind: str, data: Mapping[str, Any], author: str, text: str, brand_handle: str | None
                 ) -> tuple[bool, str]:
    if _opt_bool(data, "locked"):
        return False, "thread locked" if kind == "t3" else "comment locked"
    if _opt_bool(data, "archived"):
        return False, "archived: too old for replies"
    if text.strip() in ("[deleted]", "[removed]"):
        return False, f"{text.strip()[1:-1]}: nothing left to answer"
    if author == "[deleted]":
        return False, "the author's account is deleted"
    if brand_handle and author.lower() == brand_handle.lower():
        return False, "posted by the brand's own account"
    return True, "open for replies"


def parse_thing(child: Any, *, brand_handle: str | None = None) -> ParsedMention:
    """One listing child (``{"kind": "t1"|"t3", "data": {...}}``) as a mention; ParseError when malformed.

    Inbox mentions (message-shaped t1 without ``permalink``/``link_id``) take their url and thread from
    ``context``. ``raw`` is the child's ``data`` object.
    """
    if not isinstance(child, dict):
        raise ParseError(f"a listing child must be an object, got {type(child).__name__}")
    kind = child.get("kind")
    if kind not in ("t1", "t3"):
        raise ParseError(f"unsupported kind {_short(kind)} (expected t1 or t3)")
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
        if conversation is None and context and (found := _CONTEXT_LINK.search(context)):
            conversation = f"t3_{found.group(1)}"
        in_reply_to = _opt_str(data, "parent_id")
    link = _opt_str(data, "permalink") or context
    score, replies = _opt_int(data, "score"), _opt_int(data, "num_comments")
    metrics = {"likes": max(score, 0)} if score is not None else {}
    if kind == "t3" and replies is not None:
        metrics["replies"] = max(replies, 0)
    eligible, reason = _eligibility(kind, data, author, text, brand_handle)
    return ParsedMention(
        platform=PLATFORM,
        canonical_id=fullname,
        platform_id=fullname,
        text=text,
        author=ParsedAuthor(handle=author, id=_opt_str(data, "author_fullname")),
        created_at=_timestamp(data),
        url=(WEB_URL + link if link.startswith("/") else link) if link else None,
        in_reply_to_id=in_reply_to,
        conversation_id=conversation,
        metrics=metrics,
        reply_eligible=eligible,
        eligibility_reason=reason,
        raw=data,
    )


def _listing_envelope(payload: Any, where: str) -> tuple[list[Any], str | None, str | None]:
    if not isinstance(payload, dict) or payload.get("kind") != "Listing":
        raise ParseError(f"{where}: expected a Listing object, got {_short(payload)}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ParseError(f"{where}: the Listing has no 'data' object")
    children = data.get("children")
    if not isinstance(children, list):
        raise ParseError(f"{where}: the Listing has no 'children' list")
    return children, _opt_str(data, "after"), _opt_str(data, "before")


def read_listing(payload: Any, *, brand_handle: str | None = None) -> ListingPage:
    """A Listing body: a malformed envelope raises ParseError; a malformed child becomes a BadRecord.

    ``more`` placeholders are skipped: they are not posts.
    """
    children, after, before = _listing_envelope(payload, "listing")
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for position, child in enumerate(children):
        if isinstance(child, dict) and child.get("kind") == "more":
            continue
        try:
            mentions.append(parse_thing(child, brand_handle=brand_handle))
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


def read_thread(payload: Any, *, brand_handle: str | None = None) -> tuple[list[ParsedMention], list[BadRecord]]:
    """A ``/comments/<id>`` body (``[submission Listing, comment Listing]``) flattened in reading order
    (each post before its replies). Malformed envelopes raise ParseError; malformed posts become BadRecords."""
    if not isinstance(payload, list) or not payload:
        raise ParseError(f"thread: expected an array of Listings, got {_short(payload)}")
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
            mentions.append(parse_thing(child, brand_handle=brand_handle))
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


# -- the client: praw that never sleeps and never retries --------------------------------------------------


@dataclass
class RateLimitState:
    """Reddit's quota as its last answer stated it (``x-ratelimit-remaining``/``-reset``), against ``clock``."""

    clock: Callable[[], datetime] = _utcnow
    remaining: float | None = None
    reset_at: datetime | None = None

    def record(self, headers: Mapping[str, str]) -> None:
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            self.remaining = self.reset_at = None
            return
        self.remaining = remaining
        self.reset_at = self.clock() + timedelta(seconds=max(reset, 0.0))

    def seconds_to_reset(self) -> float | None:
        if self.reset_at is None:
            return None
        return max((self.reset_at - self.clock()).total_seconds(), 0.0)

    def wait_seconds(self) -> float | None:
        """Seconds until the quota resets when the last answer said it is spent; None when we may call."""
        if self.remaining is None or self.remaining > 0:
            return None
        seconds = self.seconds_to_reset()
        return seconds if seconds else None

    def retry_after(self, headers: Mapping[str, str]) -> float:
        """Seconds to wait after a 429: the longer of Retry-After (seconds or HTTP date) and the reset."""
        candidates = []
        value = headers.get("retry-after")
        if value:
            try:
                candidates.append(max(float(value), 0.0))
            except ValueError:
                try:
                    when = parsedate_to_datetime(value)
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=UTC)
                    candidates.append(max((when - self.clock()).total_seconds(), 0.0))
                except (TypeError, ValueError, IndexError):
                    pass
        reset = self.seconds_to_reset()
        if reset is not None:
            candidates.append(reset)
        return max(candidates) if candidates and max(candidates) > 0 else DEFAULT_RETRY_AFTER


class TransportError(prawcore.PrawcoreException):
    """A request that got no HTTP answer (timeout, refused or dropped connection).

    Deliberately not a ``prawcore.RequestException``: prawcore retries those, and we retry nothing.
    """

    def __init__(self, original: Exception, *, method: str, url: str) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original
        self.method = method.upper()
        self.url = url

    @property
    def maybe_delivered(self) -> bool:
        """False only when the request provably never left: the connection could not be made."""
        if isinstance(self.original, requests.exceptions.ConnectTimeout):
            return False
        if isinstance(self.original, requests.exceptions.ConnectionError):
            reason = self.original.args[0] if self.original.args else None
            reason = getattr(reason, "reason", reason)
            return type(reason).__name__ != "NewConnectionError"
        return True


class RequestRejected(prawcore.ResponseException):
    """A 400 answer. Raised by the requestor rather than prawcore's BadRequest, whose handler in praw fails
    with KeyError on a body without ``reason``."""


class _Requestor(prawcore.Requestor):
    """prawcore's requestor, made to fit a scheduler (praw's documented ``requestor_class`` hook).

    - its own ``timeout`` wins over prawcore's per-request default;
    - transport failures raise TransportError and 400/401/403/5xx/408 raise their error here, before
      prawcore's session can retry them;
    - the rate-limit headers go to a RateLimitState and are removed, so prawcore's limiter never sleeps.
    """

    def __init__(self, *, rate_limit: RateLimitState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate_limit = rate_limit

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        method, url = str(args[0]), str(args[1])
        try:
            response = super().request(*args, timeout=self.timeout, **kwargs)
        except prawcore.RequestException as exc:
            raise TransportError(exc.original_exception, method=method, url=url) from None
        self.rate_limit.record(response.headers)
        for name in RATE_HEADERS:
            response.headers.pop(name, None)
        status = response.status_code
        if status == 429 and response.headers.get("retry-after"):
            # prawcore reads Retry-After as seconds only; an HTTP date would crash it.
            response.headers["retry-after"] = f"{self.rate_limit.retry_after(response.headers):.0f}"
        if status == 400:
            raise RequestRejected(response)
        if status == 401:
            raise prawcore.InvalidToken(response)
        if status == 403:
            raise prawcore.Forbidden(response)
        if status >= 500 or status == 408:
            raise prawcore.ServerError(response)
        return response


def make_reddit(*, client_id: str, client_secret: str, user_agent: str, username: str | None = None,
                password: str | None = None, api_url: str = API_URL, auth_url: str = AUTH_URL,
                timeout: float = 16.0, rate_limit: RateLimitState | None = None) -> praw.Reddit:
    """A praw client that never sleeps and never retries a request, GET or POST.

    With ``username``/``password`` it is a script app acting as that account; without, application-only.
    praw's own re-POST after a RATELIMIT answer is off (``ratelimit_seconds=-1``).
    """
    return praw.Reddit(
        client_id=client_id, client_secret=client_secret, username=username, password=password,
        refresh_token=None, user_agent=user_agent, oauth_url=api_url.rstrip("/"),
        reddit_url=auth_url.rstrip("/"), short_url="https://redd.it", check_for_updates=False,
        check_for_async=False, ratelimit_seconds=-1, requestor_class=_Requestor,
        requestor_kwargs={"timeout": timeout, "rate_limit": rate_limit or RateLimitState()},
    )


def describe_failure(exc: Exception) -> tuple[str, bool]:
    """A failed call as (message, permanent). Auth, missing things and bad requests are permanent."""
    if isinstance(exc, prawcore.OAuthException):
        return f"authentication failed: {exc.error}", True
    if isinstance(exc, TransportError):
        return f"no answer: {exc}", False
    if isinstance(exc, prawcore.BadJSON):
        return f"malformed body (HTTP {exc.response.status_code}, not JSON)", False
    if isinstance(exc, prawcore.Redirect):
        return f"redirected to {exc.path} (a subreddit that does not exist?)", True
    if isinstance(exc, prawcore.ResponseException):
        status = exc.response.status_code
        try:
            body = exc.response.json()
            detail = body.get("reason") or body.get("message") or body.get("error")
        except (ValueError, AttributeError):
            detail = None
        suffix = f" ({str(detail)[:80]})" if detail else ""
        return f"HTTP {status}{suffix}", status in (400, 401, 403, 404)
    if isinstance(exc, RedditAPIException):
        return "; ".join(f"{item.error_type}: {item.message}" for item in exc.items), True
    if isinstance(exc, ParseError):
        return f"malformed response: {exc}", False
    return f"{type(exc).__name__}: {exc}", False


CLIENT_ERRORS = (prawcore.PrawcoreException, PRAWException, ParseError)


# -- the source ----------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_endpoint(state: Any) -> None:
    if not isinstance(state, dict) or not _is_number(state.get("hwm")):
        raise ValueError("an endpoint has no high-water mark")
    run = state.get("pass")
    if run is None:
        return
    if not (isinstance(run, dict) and isinstance(run.get("anchors"), list)
            and all(isinstance(a, str) for a in run["anchors"]) and isinstance(run.get("pages"), int)
            and (run.get("top") is None or _is_number(run["top"]))):
        raise ValueError("a pass is not {anchors, top, pages}")


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    """The cursor's state; a cursor this module did not write is a permanent error (nothing to resume)."""
    if not cursor:
        return {"v": 1, "pending": [], "endpoints": {}}
    try:
        state = json.loads(cursor)
        if not isinstance(state, dict) or state.get("v") != 1:
            raise ValueError("not a version 1 cursor")
        if not isinstance(state.get("pending"), list) or not isinstance(state.get("endpoints"), dict):
            raise ValueError("missing 'pending' or 'endpoints'")
        for endpoint in state["endpoints"].values():
            _check_endpoint(endpoint)
        return state
    except ValueError as exc:
        raise SourceError(f"unreadable reddit cursor ({exc}): {cursor[:80]!r}", permanent=True) from None


@dataclass
class RedditSource:
    """Polls Reddit for ``brand``: search (``query`` in ``subreddits``), new comments there matching the
    brand's keywords, and the account's username mentions; whichever ``endpoints`` are on."""

    name: str
    reddit: praw.Reddit
    brand: Brand
    subreddits: tuple[str, ...] = ("all",)
    endpoints: tuple[str, ...] = ("search",)
    query: str = ""
    page_size: int = 100
    backfill: timedelta = timedelta(hours=24)
    overlap: timedelta = timedelta(minutes=2)
    max_pages: int = 10
    rate_limit: RateLimitState = field(default_factory=RateLimitState)
    connect: Callable[[], praw.Reddit] | None = None  # makes a fresh client after Reddit refuses our token
    platform: str = PLATFORM

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.rate_limit.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        """The daemon hands every source its clock; the rate-limit arithmetic reads the same one."""
        self.rate_limit.clock = clock

    # -- requests
    def _path(self, endpoint: str) -> str:
        subs = "+".join(self.subreddits)
        return {"search": f"r/{subs}/search/", "comments": f"r/{subs}/comments/",
                "mentions": "message/mentions/"}[endpoint]

    def _params(self, endpoint: str) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": self.page_size}
        if endpoint == "search":
            restrict = "false" if self.subreddits == ("all",) else "true"
            params.update({"q": self.query, "sort": "new", "restrict_sr": restrict, "t": "all", "type": "link"})
        return params

    def _get(self, what: str, path: str, params: dict[str, str | int]) -> Any:
        wait = self.rate_limit.wait_seconds()
        if wait is not None:
            raise RateLimited(wait, f"reddit {what}: quota spent")
        try:
            return self.reddit.request(method="GET", path=path, params=params)
        except CLIENT_ERRORS as exc:
            if isinstance(exc, prawcore.InvalidToken) and self.connect is not None:
                self.reddit = self.connect()  # never send a refused token again
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: Exception) -> SourceError:
        if isinstance(exc, prawcore.TooManyRequests):
            return RateLimited(self.rate_limit.retry_after(exc.response.headers), f"reddit {what}: HTTP 429")
        message, permanent = describe_failure(exc)
        return SourceError(f"reddit {what}: {message}", permanent=permanent)

    def _wanted(self, endpoint: str, mention: ParsedMention) -> bool:
        own = self.brand.handles.reddit
        if own and mention.author.handle.lower() == own.lower():
            return False
        if endpoint == "comments":
            text = mention.text.lower()
            terms = [*(self.brand.keywords or (self.brand.name,)), *([f"u/{own}"] if own else [])]
            return any(term.lower() in text for term in terms)
        return True

    # -- the interface
    def fetch(self, cursor: str | None) -> Batch:
        """One page of one endpoint; ``exhausted`` once every endpoint finished its pass this round."""
        state = _load_cursor(cursor)
        pending = [e for e in state["pending"] if e in self.endpoints] or list(self.endpoints)
        endpoint = pending[0]
        initial = (self.clock() - self.backfill).timestamp()
        current = state["endpoints"].get(endpoint) or {"hwm": initial, "pass": None}
        run = current.get("pass") or {"anchors": [], "top": None, "pages": 0}
        params = self._params(endpoint)
        if run["anchors"]:
            params["after"] = run["anchors"][0]
        payload = self._get(endpoint, self._path(endpoint), params)
        try:
            page = read_listing(payload, brand_handle=self.brand.handles.reddit)
        except ParseError as exc:
            raise self._error(endpoint, exc) from exc
        step = advance_pass(current, run, page, overlap=self.overlap, max_pages=self.max_pages)
        if step.truncated:
            log.warning("source_pass_truncated source=%s endpoint=%s pages=%d", self.name, endpoint, self.max_pages)
        mentions = [m for m in step.kept if self._wanted(endpoint, m)]
        state["endpoints"][endpoint] = step.state
        state["pending"] = pending[1:] if step.done else pending
        log.info("source_polled source=%s endpoint=%s fetched=%d kept=%d bad=%d pass_done=%s", self.name,
                 endpoint, page.size, len(mentions), len(page.bad), step.done)
        return Batch(mentions=mentions, next_cursor=json.dumps(state, separators=(",", ":")), bad=page.bad,
                     exhausted=not state["pending"])

    def fetch_thread(self, ref: ThreadRef) -> list[ParsedMention]:
        """The case author's posts in the submission's comment tree after ``ref.since``, oldest first.

        Comments behind ``more`` placeholders are not expanded. A thread that is gone (404) has none.
        """
        submission = _submission_of(ref)
        if submission is None or ref.author_handle == "[deleted]":
            log.warning("thread_unknown source=%s root=%s", self.name, ref.root_canonical_id)
            return []
        try:
            payload = self._get("thread", f"comments/{submission}/", {"sort": "new", "limit": 500})
        except SourceError as exc:
            if isinstance(exc.__cause__, prawcore.NotFound):
                return []
            raise
        try:
            posts, bad = read_thread(payload, brand_handle=self.brand.handles.reddit)
        except ParseError as exc:
            raise self._error("thread", exc) from exc
        author = ref.author_handle.lower()
        later = [p for p in posts if p.author.handle.lower() == author and p.created_at is not None
                 and p.created_at > ref.since and p.canonical_id != ref.root_canonical_id]
        log.info("thread_polled source=%s thread=t3_%s posts=%d later=%d bad=%d", self.name, submission,
                 len(posts), len(later), len(bad))
        return sorted(later, key=lambda p: p.created_at or ref.since)


@dataclass(frozen=True, slots=True)
class PassStep:
    """One page's effect on an endpoint: the mentions to keep, its next state, whether the pass is done, and
    whether it ended at ``max_pages`` before reaching the mark (items older than the last page may be missed)."""

    kept: list[ParsedMention]
    state: dict[str, Any]
    done: bool
    truncated: bool = False


def advance_pass(current: Mapping[str, Any], run: Mapping[str, Any], page: ListingPage, *, overlap: timedelta,
                 max_pages: int) -> PassStep:
    """Pure cursor step for one endpoint: ``current`` is its state, ``run`` its pass, ``page`` the answer."""
    hwm = float(current["hwm"])
    floor = hwm - overlap.total_seconds()
    anchors = list(run["anchors"])
    pages = int(run["pages"]) + 1
    top = run.get("top")
    if anchors and page.size == 0:
        # The anchor left the listing: try the page's earlier items, then the top (the mark decides the stop).
        if pages < max_pages:
            return PassStep([], {"hwm": hwm, "pass": {"anchors": anchors[1:], "top": top, "pages": pages}}, False)
        return PassStep([], {"hwm": max(hwm, top or hwm), "pass": None}, True, truncated=True)
    stamps = [m.created_at.timestamp() for m in page.mentions if m.created_at is not None]
    if stamps:
        top = max([*stamps, top] if top is not None else stamps)
    kept = [m for m in page.mentions if m.created_at is None or m.created_at.timestamp() >= floor]
    reached = any(stamp < floor for stamp in stamps)
    if reached or page.after is None or pages >= max_pages:
        finished = {"hwm": max(hwm, top if top is not None else hwm), "pass": None}
        return PassStep(kept, finished, True, truncated=not reached and page.after is not None)
    earlier = [m.canonical_id for m in reversed(page.mentions) if m.canonical_id != page.after]
    next_anchors = [page.after, *earlier][:MAX_ANCHORS]
    return PassStep(kept, {"hwm": hwm, "pass": {"anchors": next_anchors, "top": top, "pages": pages}}, False)


def _submission_of(ref: ThreadRef) -> str | None:
    candidates: Iterable[Any] = (ref.conversation_id, ref.root_raw.get("link_id"), ref.root_canonical_id,
                                 ref.root_raw.get("name"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith("t3_") and len(candidate) > 3:
            return candidate[3:]
    context = ref.root_raw.get("context")
    if isinstance(context, str) and (found := _CONTEXT_LINK.search(context)):
        return found.group(1)
    return None


def _subreddits(value: Any, source: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise SourceError(f"source {source!r}: option 'subreddits' must be a list of subreddit names",
                          permanent=True)
    cleaned = tuple(re.sub(r"^/?r/", "", n.strip()) for n in names)
    if not all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in cleaned):
        raise SourceError(f"source {source!r}: option 'subreddits' holds a name that is not a subreddit",
                          permanent=True)
    return cleaned


def default_query(brand: Brand) -> str:
    """Reddit search syntax for the brand's keywords (or its name): ``acme OR "acme corp"``."""
    terms = brand.keywords or (brand.name,)
    return " OR ".join(f'"{t}"' if " " in t else t for t in terms)


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float, source: str) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SourceError(f"source {source!r}: option {key!r} must be a number from {low:g} to {high:g}",
                          permanent=True)
    return float(value)


def client_options(options: Mapping[str, Any], brand: Brand, source: str) -> dict[str, Any]:
    """The client settings every Reddit source and poster share: URLs, user agent, timeout."""
    api_url = str(options.get("api_base_url") or API_URL).rstrip("/")
    # Reddit hands out tokens on www.reddit.com; a stand-in API (a fake, a proxy) serves both.
    auth_url = str(options.get("auth_base_url") or (AUTH_URL if api_url == API_URL else api_url))
    agent = str(options.get("user_agent") or f"closeloop/0.1 by {brand.handles.reddit or brand.name}")
    timeout = _number(options, "timeout", 16.0, 0.01, 300.0, source)
    return {"api_url": api_url, "auth_url": auth_url, "user_agent": agent, "timeout": timeout}


def build_source(settings: SourceSettings, brand: Brand, env: Mapping[str, str], *,
                 clock: Callable[[], datetime] | None = None) -> RedditSource:
    """A RedditSource from config. Options (all optional):

    ``subreddits`` (["all"]), ``search`` (True), ``query`` (the brand's keywords joined with OR),
    ``comments`` (False), ``inbox`` (True when REDDIT_USERNAME/REDDIT_PASSWORD are set), ``page_size`` (100),
    ``backfill_hours`` (24: how far back a new source starts), ``overlap_seconds`` (120), ``max_pages`` (10
    per pass), ``timeout`` (16 s), ``user_agent``, ``api_base_url`` (https://oauth.reddit.com),
    ``auth_base_url`` (https://www.reddit.com for the real API, else api_base_url).
    """
    options = settings.options
    secrets = credentials(settings.name, env, READ_CREDENTIALS, settings.credentials_env)
    user_names = {role: settings.credentials_env.get(role, default) for role, default in USER_CREDENTIALS.items()}
    has_user = all(env.get(name) for name in user_names.values())
    inbox = options.get("inbox", has_user)
    if inbox:
        secrets.update(credentials(settings.name, env, {**READ_CREDENTIALS, **USER_CREDENTIALS},
                                   settings.credentials_env))
    wanted = {"search": bool(options.get("search", True)), "comments": bool(options.get("comments", False)),
              "mentions": bool(inbox)}
    endpoints = tuple(e for e in ENDPOINTS if wanted[e])
    if not endpoints:
        raise SourceError(f"source {settings.name!r}: search, comments and inbox are all off", permanent=True)
    rate_limit = RateLimitState(clock=clock or _utcnow)
    client = client_options(options, brand, settings.name)
    connect = functools.partial(make_reddit, client_id=secrets["client_id"], client_secret=secrets["client_secret"],
                                username=secrets.get("username"), password=secrets.get("password"),
                                rate_limit=rate_limit, **client)
    return RedditSource(
        name=settings.name, reddit=connect(), connect=connect, brand=brand, subreddits=_subreddits(options.get("subreddits", ["all"]),
                                                                                settings.name),
        endpoints=endpoints, query=str(options.get("query") or default_query(brand)),
        page_size=int(_number(options, "page_size", 100, 1, 100, settings.name)),
        backfill=timedelta(hours=_number(options, "backfill_hours", 24, 0, 24 * 30, settings.name)),
        overlap=timedelta(seconds=_number(options, "overlap_seconds", 120, 0, 86400, settings.name)),
        max_pages=int(_number(options, "max_pages", 10, 1, 100, settings.name)),
        rate_limit=rate_limit,
    )


def normalise_text(text: str) -> str:
    """Text as compared when looking for our own reply: entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(text).split())
