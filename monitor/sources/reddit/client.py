"""The Reddit client: praw/prawcore adapted to a scheduler that owns all waiting.

The client built by ``make_reddit`` never sleeps and never retries (prawcore would retry timeouts and 5xx,
POSTs included, and sleep on rate-limit headers); the Reddit poster uses it too. Failures are described
with a kind (``describe_failure``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import praw
import prawcore
import requests
from praw.exceptions import PRAWException, RedditAPIException

from monitor.sources.base import ParseError
from monitor.sources.common import DEFAULT_RETRY_AFTER, Clock, never_sent, retry_after_seconds, utcnow
from monitor.sources.reddit import RedditOptions

if TYPE_CHECKING:
    from monitor.config import Brand

API_URL = "https://oauth.reddit.com"
AUTH_URL = "https://www.reddit.com"
RATE_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")
MAX_RESET = 86400.0  # a reset further away than a day is not believed


@dataclass
class RateLimitState:
    """Reddit's quota as its last answer stated it (``x-ratelimit-remaining``/``-reset``), against ``clock``."""

    clock: Clock = utcnow
    remaining: float | None = None
    reset_at: datetime | None = None

    def record(self, headers: Mapping[str, str]) -> None:
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            remaining = reset = math.nan
        if not (math.isfinite(remaining) and math.isfinite(reset)):
            self.remaining = self.reset_at = None
            return
        self.remaining = remaining
        self.reset_at = self.clock() + timedelta(seconds=min(max(reset, 0.0), MAX_RESET))

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
        candidates = [max(seconds, 0.0)] if (seconds := retry_after_seconds(headers.get("retry-after"),
                                                                            self.clock())) is not None else []
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
        return not never_sent(self.original)


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


def client_options(options: RedditOptions, brand: Brand) -> dict[str, Any]:
    """The client settings every Reddit source and poster share: URLs, user agent, timeout."""
    api_url = str(options.api_base_url or API_URL).rstrip("/")
    # Reddit hands out tokens on www.reddit.com; a stand-in API (a fake, a proxy) serves both.
    auth_url = str(options.auth_base_url or (AUTH_URL if api_url == API_URL else api_url))
    agent = options.user_agent or f"closeloop/0.1 by {brand.handles.reddit or brand.name}"
    return {"api_url": api_url, "auth_url": auth_url, "user_agent": agent, "timeout": options.timeout}


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
        except (ValueError, AttributeError, RecursionError):
            detail = None
        suffix = f" ({str(detail)[:80]})" if detail else ""
        return f"HTTP {status}{suffix}", status in (400, 401, 403, 404)
    if isinstance(exc, RedditAPIException):
        return "; ".join(f"{item.error_type}: {item.message}" for item in exc.items), True
    if isinstance(exc, ParseError):
        return f"malformed response: {exc}", False
    return f"{type(exc).__name__}: {exc}", False


CLIENT_ERRORS = (prawcore.PrawcoreException, PRAWException, ParseError)
