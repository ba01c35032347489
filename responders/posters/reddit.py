"""Replying on Reddit: one comment under the mention, through praw, never retried.

The client is ``make_reddit``'s (monitor.sources.reddit.client): prawcore's retries of timeouts and 5xx (POSTs
included) and praw's re-POST after a RATELIMIT answer are off, so a reply is sent at most once per call.
Reddit takes no idempotency key; a lost outcome is settled by ``find_reply`` over our own comments.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import praw
import prawcore
from praw.exceptions import PRAWException, RedditAPIException

from monitor.config import Brand
from monitor.sources.base import ParseError, credentials
from monitor.sources.reddit import SPEC, RedditOptions
from monitor.sources.reddit.client import (
    RateLimitState,
    TransportError,
    client_options,
    describe_failure,
    make_reddit,
)
from monitor.sources.reddit.parse import normalise_text, read_listing
from monitor.sources.spec import read_options
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget

log = logging.getLogger("closeloop.posters.reddit")

# Reddit's json.errors codes that a later attempt may get past; every other code is a refusal.
TRANSIENT_API_ERRORS = {"RATELIMIT"}


def target_fullname(target: ReplyTarget) -> str:
    """The fullname to answer (``t1_…`` comment or ``t3_…`` submission); PostError when there is none."""
    for candidate in (target.canonical_id, target.platform_id, target.raw.get("name")):
        if isinstance(candidate, str) and candidate[:3] in ("t1_", "t3_") and len(candidate) > 3:
            return candidate
    raise PostError(f"reddit: {target.canonical_id!r} is not a comment or submission fullname", permanent=True)


def _is_reply_request(method: str | None, url: str | None) -> bool:
    return (method or "").upper() == "POST" and urlsplit(url or "").path.rstrip("/").endswith("/api/comment")


@dataclass
class RedditPoster:
    """Replies as ``username`` (a script app's account) and finds its own replies among its comments."""

    reddit: praw.Reddit
    username: str
    rate_limit: RateLimitState
    connect: Callable[[], praw.Reddit] | None = None  # makes a fresh client after Reddit refuses our token
    max_pages: int = 10
    platform: str = SPEC.name

    def post_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> str:
        """Comment ``text`` under ``target``; returns the new comment's fullname.

        PostError(permanent=True): locked/archived thread, deleted parent, 4xx. PostError(permanent=False):
        answered 429/RATELIMIT, 401 (the token is replaced for the next call), or the request never left
        (token fetch failed, connection refused).
        OutcomeUnknown: timeout, dropped connection or 5xx after the comment was sent.
        """
        fullname = target_fullname(target)
        thing_id = fullname[3:]
        parent = self.reddit.comment(thing_id) if fullname.startswith("t1_") else self.reddit.submission(thing_id)
        try:
            created = parent.reply(text)
            reply = getattr(created, "fullname", None)
        except (prawcore.PrawcoreException, PRAWException) as exc:
            self._forget_refused_token(exc)
            raise self._post_error(fullname, exc) from exc
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            # praw could not read Reddit's 200: the comment may exist.
            raise OutcomeUnknown(f"reddit reply to {fullname}: unreadable answer ({type(exc).__name__})") from exc
        if not isinstance(reply, str) or not reply.startswith("t1_"):
            raise OutcomeUnknown(f"reddit reply to {fullname}: accepted, but Reddit named no new comment")
        log.info("reply_posted platform=reddit parent=%s reply=%s key=%s", fullname, reply, idempotency_key)
        return reply

    def _forget_refused_token(self, exc: Exception) -> None:
        if isinstance(exc, prawcore.InvalidToken) and self.connect is not None:
            self.reddit = self.connect()

    def _post_error(self, fullname: str, exc: Exception) -> PostError:
        where = f"reddit reply to {fullname}"
        if isinstance(exc, RedditAPIException):
            codes = [item.error_type for item in exc.items]
            message, _ = describe_failure(exc)
            return PostError(f"{where}: {message}", permanent=not set(codes) <= TRANSIENT_API_ERRORS)
        if isinstance(exc, prawcore.TooManyRequests):
            wait = self.rate_limit.retry_after(exc.response.headers)
            return PostError(f"{where}: HTTP 429; retry after {wait:.0f}s", permanent=False)
        if isinstance(exc, TransportError):
            if _is_reply_request(exc.method, exc.url) and exc.maybe_delivered:
                return OutcomeUnknown(f"{where}: no answer after sending ({exc})")
            return PostError(f"{where}: not sent ({exc})", permanent=False)
        if isinstance(exc, prawcore.ResponseException):
            request = exc.response.request
            sent = _is_reply_request(request.method, request.url)
            status = exc.response.status_code
            if sent and (status >= 500 or isinstance(exc, prawcore.BadJSON)):
                # Reddit is known to publish a comment and still answer 5xx: only our comments can tell.
                return OutcomeUnknown(f"{where}: HTTP {status} after sending")
            if sent and status == 401:
                # Our token was refused before anything was published; the next attempt gets a new one.
                return PostError(f"{where}: HTTP 401, access token refused", permanent=False)
        elif isinstance(exc, PRAWException):
            # Raised by praw after Reddit answered 200 (reading the answer): the comment may exist.
            return OutcomeUnknown(f"{where}: {type(exc).__name__} after sending: {exc}")
        message, permanent = describe_failure(exc)
        return PostError(f"{where}: {message}", permanent=permanent)

    def find_reply(self, *, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """Our comment under ``target`` with this text (whitespace-normalised) made at or after ``since``.

        Walks our newest comments page by page until one is older than ``since`` (at most ``max_pages``).
        Raises PostError(permanent=False) when Reddit cannot be asked, so the caller tries again later.
        """
        fullname = target_fullname(target)
        wanted = normalise_text(text)
        after: str | None = None
        for _ in range(self.max_pages):
            params: dict[str, str | int] = {"limit": 100, "sort": "new"}
            if after:
                params["after"] = after
            try:
                payload = self.reddit.request(method="GET", path=f"user/{self.username}/comments/", params=params)
                page = read_listing(payload)
            except (prawcore.PrawcoreException, PRAWException, ParseError) as exc:
                self._forget_refused_token(exc)
                message, _ = describe_failure(exc)
                raise PostError(f"reddit: cannot read our comments: {message}", permanent=False) from exc
            for comment in page.mentions:
                if comment.created_at is not None and comment.created_at < since:
                    return None
                if (comment.in_reply_to_id == fullname and comment.author.handle.lower() == self.username.lower()
                        and normalise_text(comment.text) == wanted):
                    return comment.canonical_id
            if page.after is None:
                return None
            after = page.after
        return None


def build_poster(brand: Brand, options: Mapping[str, Any], env: Mapping[str, str]) -> RedditPoster:
    """A RedditPoster from the brand's Reddit source options (``api_base_url``, ``auth_base_url``,
    ``user_agent``, ``timeout``) and REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, REDDIT_USERNAME, REDDIT_PASSWORD
    (renamed by ``credentials_env``)."""
    name = f"{brand.name} poster"
    secrets = credentials(name, env, SPEC.post_credentials, options.get("credentials_env", {}))
    try:
        parsed: RedditOptions = read_options(RedditOptions, options, name)
    except ValueError as exc:
        raise PostError(str(exc), permanent=True) from None
    rate_limit = RateLimitState()
    connect = functools.partial(make_reddit, client_id=secrets["client_id"], client_secret=secrets["client_secret"],
                                username=secrets["username"], password=secrets["password"], rate_limit=rate_limit,
                                **client_options(parsed, brand))
    return RedditPoster(reddit=connect(), connect=connect, username=secrets["username"], rate_limit=rate_limit)
