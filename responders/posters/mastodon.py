"""The Mastodon poster: a public reply through Mastodon.py, exactly once.

``status_post`` carries the outbox's idempotency key as the ``Idempotency-Key`` header, which Mastodon
honours for an hour (a resend with the same key returns the first status), and the client never retries:
Mastodon.py retries only on rate limits in its "wait" mode, which is off, and the HTTP adapter has
``max_retries=0``. On Mastodon a reply reaches its parent's author only if it mentions them, so a reply
that does not already mention the author starts with ``@acct`` (``mention_author``, on by default).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

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

from monitor.config import Brand
from monitor.sources.base import ParseError, credentials
from monitor.sources.common import never_sent
from monitor.sources.mastodon import SPEC, MastodonOptions
from monitor.sources.mastodon.client import DEFAULT_TIMEOUT, api_base_url, http_status, make_client
from monitor.sources.mastodon.html import html_to_text
from monitor.sources.mastodon.parse import parse_timestamp
from monitor.sources.spec import read_options
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget

log = logging.getLogger("closeloop.posters.mastodon")

PLATFORM = SPEC.name

PAGE_SIZE = 40
FIND_PAGES = 5  # how many pages of our own statuses find_reply reads, newest first
_SPACE = re.compile(r"\s+")
_MENTION = re.compile(r"(?<![\w/])@(\w+)@[\w.\-]+\w")


def comparable(text: str) -> str:
    """Text as find_reply compares it: whitespace collapsed, ``@user@domain`` as ``@user`` (Mastodon shows
    remote mentions without their domain), case kept."""
    return _SPACE.sub(" ", _MENTION.sub(r"@\1", text)).strip()


def _author_acct(target: ReplyTarget) -> str:
    account = target.raw.get("account")
    acct = account.get("acct") if isinstance(account, Mapping) else None
    return (acct if isinstance(acct, str) and acct.strip() else target.author_handle).strip().lstrip("@")


def _mentions(text: str, acct: str) -> bool:
    user = acct.split("@", 1)[0]
    return re.search(rf"(?<![\w/])@{re.escape(user)}(?![\w])", text, re.IGNORECASE) is not None


class MastodonPoster:
    """Replies as the brand's account on one instance (the one its sources poll: status ids are local)."""

    platform = PLATFORM

    def __init__(
        self, *, base_url: str, access_token: str, timeout: float = DEFAULT_TIMEOUT, mention_author: bool = True
    ) -> None:
        self.base_url = base_url
        self.mention_author = mention_author
        self._client, self._session = make_client(base_url=base_url, access_token=access_token, timeout=timeout)
        self._account_id: str | None = None

    def compose(self, target: ReplyTarget, text: str) -> str:
        """The text as it is published: with ``@acct`` in front when it does not mention the author yet."""
        acct = _author_acct(target)
        if not self.mention_author or not acct or _mentions(text, acct):
            return text
        return f"@{acct} {text}"

    def post_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> str:
        """Publish ``text`` as a public reply to ``target``; returns the new status id.

        PostError(permanent=True): the parent is gone (404), refused (401/403/422, other 4xx), or not
        public (a public reply would expose a private post). PostError(permanent=False): 429 or 5xx, or no
        connection could be made. OutcomeUnknown: the request went out and no usable answer came back.
        """
        visibility = target.raw.get("visibility")
        if visibility in ("private", "direct"):
            raise PostError(f"status {target.platform_id} is {visibility}: a public reply would expose it",
                            permanent=True)
        body = self.compose(target, text)
        self._session.reset()
        try:
            status = self._client.status_post(body, in_reply_to_id=target.platform_id,
                                              idempotency_key=idempotency_key, visibility="public")
        except MastodonError as exc:
            found = self._posted_anyway()
            if found is not None:  # the instance answered 2xx with a status; the library tripped on headers
                return found
            raise self._error(exc, f"reply to {target.platform_id}") from exc
        reply_id = self._posted_anyway() or (status.get("id") if isinstance(status, Mapping) else None)
        if reply_id is None:
            raise OutcomeUnknown(f"reply to {target.platform_id}: the answer has no status id")
        log.info("reply_posted platform=mastodon parent=%s id=%s", target.platform_id, reply_id)
        return str(reply_id)

    def post_status(self, *, text: str, idempotency_key: str) -> str:
        """Publish ``text`` as a public post of the brand's own (a status update, no reply); returns its id.
        Errors as ``post_reply``'s; the idempotency key makes the instance refuse a repeat within an hour."""
        self._session.reset()
        try:
            status = self._client.status_post(text, idempotency_key=idempotency_key, visibility="public")
        except MastodonError as exc:
            found = self._posted_anyway()
            if found is not None:
                return found
            raise self._error(exc, "status update") from exc
        post_id = self._posted_anyway() or (status.get("id") if isinstance(status, Mapping) else None)
        if post_id is None:
            raise OutcomeUnknown("status update: the answer has no status id")
        log.info("status_posted platform=mastodon id=%s", post_id)
        return str(post_id)

    def _posted_anyway(self) -> str | None:
        status = self._session.last_status()
        if status is None or not 200 <= status < 300:
            return None
        try:
            body = self._session.last_json()
        except ParseError:
            return None
        reply_id = body.get("id") if isinstance(body, dict) else None
        return str(reply_id) if isinstance(reply_id, str | int) and not isinstance(reply_id, bool) else None

    def _error(self, exc: MastodonError, what: str) -> PostError:
        status = http_status(exc, self._session)
        if isinstance(exc, MastodonNetworkError):
            if never_sent(exc):
                return PostError(f"{what}: could not connect to {self.base_url}; nothing was sent")
            return OutcomeUnknown(f"{what}: no answer from {self.base_url} ({str(exc)[:160]})")
        if status is not None and 200 <= status < 300:
            return OutcomeUnknown(f"{what}: the instance answered {status} with an unreadable body")
        if isinstance(exc, MastodonRatelimitError) or status == 429:
            return PostError(f"{what}: rate limited (429)")
        if isinstance(exc, MastodonServerError) or (status is not None and status >= 500):
            return PostError(f"{what}: server error ({status})")
        if isinstance(exc, MastodonNotFoundError) or status == 404:
            return PostError(f"{what}: the status is gone or not visible to us (404)", permanent=True)
        if isinstance(exc, MastodonUnauthorizedError) or status == 401:
            return PostError(f"{what}: the access token was rejected (401)", permanent=True)
        if isinstance(exc, MastodonIllegalArgumentError):  # raised before any request is made
            return PostError(f"{what}: {str(exc)[:200]}", permanent=True)
        if isinstance(exc, MastodonAPIError) and status is not None and 400 <= status < 500:
            detail = exc.args[3] if len(exc.args) > 3 and exc.args[3] else exc.args[2] if len(exc.args) > 2 else ""
            return PostError(f"{what}: refused ({status}): {str(detail)[:200]}", permanent=True)
        return OutcomeUnknown(f"{what}: {type(exc).__name__}: {str(exc)[:160]}")

    # -- reconciliation -------------------------------------------------------------------------------
    def _our_id(self) -> str:
        if self._account_id is None:
            account = self._call(self._client.account_verify_credentials, "verify_credentials")
            self._account_id = str(account["id"])
        return self._account_id

    def _call(self, method: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        self._session.reset()
        try:
            return method(*args, **kwargs)
        except MastodonError as exc:
            status = http_status(exc, self._session)
            permanent = status in (401, 403) or isinstance(exc, MastodonUnauthorizedError)
            raise PostError(f"{what}: {type(exc).__name__} ({status})", permanent=permanent) from exc

    def find_reply(self, *, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """Our own status replying to ``target`` with ``text`` (as published, HTML stripped, whitespace
        normalised), created at or after ``since``; reads up to FIND_PAGES pages of our statuses."""
        our_id = self._our_id()
        wanted = {comparable(text), comparable(self.compose(target, text))}
        max_id: str | None = None
        for _ in range(FIND_PAGES):
            self._call(self._client.account_statuses, "account_statuses", our_id, limit=PAGE_SIZE,
                       exclude_reblogs=True, max_id=max_id)
            try:
                page = self._session.last_json()
            except ParseError as exc:
                raise PostError(f"account_statuses: malformed body: {exc}") from exc
            if not isinstance(page, list) or not page:
                return None
            for status in page:
                if self._is_reply(status, target=target, wanted=wanted, since=since, our_id=our_id):
                    log.info("reply_found platform=mastodon parent=%s id=%s", target.platform_id, status["id"])
                    return str(status["id"])
            oldest = page[-1] if isinstance(page[-1], dict) else {}
            created = _created(oldest)
            if created is not None and created < since:
                return None
            max_id = str(oldest.get("id")) if oldest.get("id") else None
            if max_id is None:
                return None
        return None

    @staticmethod
    def _is_reply(status: Any, *, target: ReplyTarget, wanted: set[str], since: datetime, our_id: str) -> bool:
        if not isinstance(status, dict) or status.get("reblog"):
            return False
        account = status.get("account")
        if not isinstance(account, dict) or str(account.get("id")) != our_id:
            return False
        if str(status.get("in_reply_to_id")) != target.platform_id:
            return False
        created = _created(status)
        if created is None or created < since:
            return False
        content = status.get("content")
        plain = html_to_text(content) if isinstance(content, str) else status.get("text")
        return isinstance(plain, str) and comparable(plain) in wanted


def _created(status: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_timestamp(status.get("created_at"), "created_at")
    except ParseError:
        return None


def build_poster(brand: Brand, options: Mapping[str, Any], env: Mapping[str, str]) -> MastodonPoster:
    """A MastodonPoster for ``brand``; MissingCredentials naming the variables, PostError(permanent) for
    bad options.

    Options: api_base_url (or instance; default https://<domain of brands.handles.mastodon>), timeout (10 s),
    mention_author (true), credentials_env ({}). Env: MASTODON_ACCESS_TOKEN (needs write:statuses, read).
    """
    owner = f"{brand.name} poster"
    secrets = credentials(owner, env, SPEC.post_credentials, options.get("credentials_env", {}))
    try:
        parsed: MastodonOptions = read_options(MastodonOptions, options, owner)
        base_url = api_base_url(parsed, brand)
    except ValueError as exc:
        raise PostError(str(exc) if str(exc).startswith(owner) else f"{owner}: {exc}", permanent=True) from None
    return MastodonPoster(base_url=base_url, access_token=secrets["access_token"], timeout=parsed.timeout,
                          mention_author=parsed.mention_author)


__all__ = ["MastodonPoster", "build_poster", "comparable"]
