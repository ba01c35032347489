"""The Bluesky client: one logged-in atproto session per owner (a source or a poster), and Bluesky's failures
as SourceError with a kind. The Bluesky poster uses it too.

Reads go through atproto's ``Client``: ``com.atproto.server.createSession`` once, ``refreshSession`` when the
PDS answers ExpiredToken (the client also refreshes by itself shortly before the access token expires),
never a login per poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from atproto_client import Client, Session, SessionEvent
from atproto_client import exceptions as atp
from atproto_client.models.common import XrpcError
from atproto_client.request import Request

from monitor.sources.base import ParseError, RateLimited, SourceError
from monitor.sources.common import DEFAULT_RETRY_AFTER, permanent_status, retry_after

if TYPE_CHECKING:
    from monitor.config import Brand

log = logging.getLogger("closeloop.sources.bluesky")
T = TypeVar("T")


def xrpc_error(exc: BaseException) -> str | None:
    """The XRPC error name of a failed call (``ExpiredToken``, ``RateLimitExceeded``, ...), if it has one."""
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    if isinstance(content, XrpcError):
        return content.error
    if isinstance(content, dict) and isinstance(content.get("error"), str):
        return str(content["error"])
    return None


def retry_after_seconds(exc: BaseException, now: datetime, default: float = DEFAULT_RETRY_AFTER) -> float:
    """Seconds until the PDS's ``ratelimit-reset`` (epoch seconds), else its ``retry-after``, else ``default``;
    never less than one second."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return retry_after({str(k): str(v) for k, v in dict(headers).items()}, now, reset_header="ratelimit-reset",
                       default=default)


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
        return SourceError(f"bluesky {endpoint}: {exc}", permanent=permanent_status(status))
    return SourceError(f"bluesky {endpoint}: {type(exc).__name__}: {exc}", permanent=False)


def bluesky_handle(handle: str | None, brand: Brand, owner: str) -> str:
    """The account's handle: the ``handle`` option, else ``brand.handles.bluesky``."""
    chosen = handle or brand.handles.bluesky
    if not isinstance(chosen, str) or not chosen.strip():
        raise SourceError(f"{owner} needs a Bluesky handle: set brands.handles.bluesky or options.handle",
                          permanent=True)
    return chosen.strip().lstrip("@")
