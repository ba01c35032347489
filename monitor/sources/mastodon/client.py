"""The Mastodon client: Mastodon.py that throws on rate limits (never sleeps), never checks versions and never
retries, over a session that keeps the raw last response; and Mastodon's failures as SourceError with a kind.
The Mastodon poster uses it too."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

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

from monitor.sources.base import ParseError, RateLimited, SourceError
from monitor.sources.common import retry_after as _retry_after
from monitor.sources.mastodon import MastodonOptions

if TYPE_CHECKING:
    from monitor.config import Brand

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "closeloop (+Mastodon.py)"


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
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ParseError(f"the body is not JSON ({exc.__class__.__name__})") from None

    def last_status(self) -> int | None:
        return self.last_response.status_code if self.last_response is not None else None


def api_base_url(options: MastodonOptions, brand: Brand) -> str:
    """Where the instance's API lives: options ``api_base_url`` (or ``instance``), else the domain of the
    brand's Mastodon handle; ValueError when neither is set."""
    value = options.api_base_url or options.instance
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
    return _retry_after(response.headers if response is not None else {}, now, reset_header="X-RateLimit-Reset")


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


