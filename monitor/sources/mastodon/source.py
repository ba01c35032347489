"""The Mastodon source: the brand account's mention notifications and configured hashtag timelines.

Talks to one instance through Mastodon.py (see client.py). Hashtag timelines make Mastodon.py read
``/api/v2/instance`` once per client to check the timeline is available; nothing else extra is requested.
The raw body of every answer is read from the HTTP response itself, so the pure parsers see the JSON exactly
as the instance sent it.

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

A thread whose root status is gone (404) reports the root as deleted. A source instance is not thread-safe
(neither is Mastodon.py); the scheduler runs one fetch at a time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from mastodon.errors import MastodonError, MastodonNotFoundError

from monitor.sources.base import (
    BadRecord,
    Batch,
    ParsedAuthor,
    ParsedMention,
    ParseError,
    SourceError,
    ThreadRef,
    credentials,
)
from monitor.sources.common import Clock, utcnow
from monitor.sources.intake import DEFAULT_RULES, IntakeRules
from monitor.sources.mastodon import SPEC, MastodonOptions
from monitor.sources.mastodon.client import DEFAULT_TIMEOUT, api_base_url, make_client, source_error
from monitor.sources.mastodon.parse import (
    as_array,
    host_of,
    index_statuses,
    notification_page,
    optional_id,
    parse_status,
    parse_timestamp,
    status_page,
)
from monitor.sources.spec import read_options

if TYPE_CHECKING:
    from monitor.config import Brand, SourceSettings

NOTIFICATIONS_MAX_LIMIT = 80  # Mastodon's cap for /api/v1/notifications
TIMELINE_MAX_LIMIT = 40  # and for timelines
SNOWFLAKE_MIN = 1 << 32  # smaller numeric ids are plain sequences, not (milliseconds << 16) snowflakes

log = logging.getLogger("closeloop.sources.mastodon")


@dataclass(frozen=True, slots=True)
class _Endpoint:
    key: str
    kind: Literal["notifications", "tag"]
    tag: str | None = None


def _newer(a: str | None, b: str | None) -> str | None:
    """The newer of two ids: numerically when both are numbers, else ``b`` (the one just read)."""
    if a is None or b is None:
        return b if b is not None else a
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return b


class MastodonSource:
    """Mentions from one Mastodon instance: notifications of type mention, and hashtag timelines."""

    platform = SPEC.name

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        access_token: str,
        brand_handle: str | None = None,
        hashtags: Sequence[str] = (),
        notifications: bool = True,
        limit: int = 40,
        timeout: float = DEFAULT_TIMEOUT,
        backfill_hours: float = 24.0,
        overlap_seconds: float = 600.0,
        clock: Clock = utcnow,
        intake: IntakeRules = DEFAULT_RULES,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.brand_handle = brand_handle
        self.instance = host_of(base_url)
        self.limit = limit
        self.backfill_hours = backfill_hours
        self.overlap_seconds = overlap_seconds
        self.clock = clock
        self.intake = intake
        self.endpoints = ([_Endpoint("notifications", "notifications")] if notifications else []) + [
            _Endpoint(f"tag:{tag.lower()}", "tag", tag) for tag in hashtags
        ]
        if not self.endpoints:
            raise SourceError(f"source {name!r}: a Mastodon source needs notifications or at least one hashtag",
                              permanent=True)
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
        intake = self.intake.at(self.clock())
        if endpoint.kind == "notifications":
            mentions, bad = notification_page(raw, brand_handle=self.brand_handle, instance=self.instance,
                                              intake=intake)
        else:
            mentions, bad = status_page(raw, brand_handle=self.brand_handle, instance=self.instance,
                                        what=endpoint.key, intake=intake)
        done = self._advance(endpoint, state, params, raw, newest, oldest)
        states = {**states, endpoint.key: state}
        rest = pending[1:] if done else pending
        log.info("source_polled source=%s endpoint=%s fetched=%d bad=%d sanitised=%d cycle_done=%s", self.name,
                 endpoint.key, len(mentions), len(bad), intake.sanitised, not rest)
        return Batch(mentions=mentions, next_cursor=self._dump(states, rest), bad=bad, exhausted=not rest,
                     sanitised=intake.sanitised)

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
        ids = [i for item in raw if isinstance(item, dict) and (i := optional_id(item.get("id"))) is not None]
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
        now = self.clock()
        horizon = now.timestamp() - self.backfill_hours * 3600
        window = self.intake.at(now)
        for item in reversed(raw):
            if not isinstance(item, dict):
                continue
            try:
                created = parse_timestamp(item.get("created_at"), "created_at")
            except ParseError:
                continue
            if created is not None and window.admits(created):  # a poisoned date says nothing
                return created.timestamp() < horizon
        return False

    # -- threads --------------------------------------------------------------------------------------
    def fetch_thread(self, ref: ThreadRef) -> Batch:
        """The case author's replies below the case's root status, posted after ``ref.since``.

        They carry the case's conversation id. A root that is gone (404) has no follow-ups and is reported
        deleted.
        """
        what = f"{self.name}: context of {ref.root_platform_id}"
        self._session.reset()
        try:
            self._client.status_context(ref.root_platform_id)
            raw = self._session.last_json()
        except MastodonNotFoundError:
            log.info("thread_gone source=%s status=%s", self.name, ref.root_platform_id)
            return Batch(mentions=[], next_cursor=None, deleted=[ref.root_canonical_id])
        except MastodonError as exc:
            raise source_error(exc, self._session, what, self.clock()) from exc
        except ParseError as exc:
            raise SourceError(f"{what}: malformed body: {exc}") from exc
        if not isinstance(raw, dict):
            raise SourceError(f"{what}: malformed body: expected a JSON object, got {type(raw).__name__}")
        try:
            known = index_statuses([*_as_list(raw.get("ancestors")), dict(ref.root_raw), *_as_list(raw.get("descendants"))])
            descendants = as_array(raw.get("descendants"), "context descendants")
        except ParseError as exc:
            raise SourceError(f"{what}: malformed body: {exc}") from exc
        conversation = ref.conversation_id or ref.root_platform_id
        intake = self.intake.at(self.clock())
        found: list[ParsedMention] = []
        bad: list[BadRecord] = []
        for position, item in enumerate(descendants):
            try:
                mention = parse_status(item, instance=self.instance, roots=known, intake=intake)
            except ParseError as exc:
                bad.append(BadRecord(f"descendants[{position}]", str(exc)))
                continue
            if not self._same_author(mention.author, ref):
                continue
            if mention.created_at is not None and mention.created_at <= ref.since:
                continue
            found.append(replace(mention, conversation_id=conversation))
        log.info("thread_polled source=%s status=%s follow_ups=%d bad=%d", self.name, ref.root_platform_id,
                 len(found), len(bad))
        return Batch(mentions=found, next_cursor=None, bad=bad, sanitised=intake.sanitised)

    @staticmethod
    def _same_author(author: ParsedAuthor, ref: ThreadRef) -> bool:
        if ref.author_id and author.id:
            return author.id == ref.author_id
        return author.handle.lower().lstrip("@") == ref.author_handle.lower().lstrip("@")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def build_source(settings: SourceSettings, brand: Brand, env: Mapping[str, str], *, clock: Clock = utcnow,
                 intake: IntakeRules = DEFAULT_RULES) -> MastodonSource:
    """A MastodonSource from config (options: MastodonOptions; the instance is ``api_base_url``, else
    ``instance``, else the domain of ``brands.handles.mastodon``). MissingCredentials naming the variables,
    SourceError(permanent) for a bad option or no instance to talk to."""
    secrets = credentials(settings.name, env, SPEC.read_credentials, settings.credentials_env)
    owner = f"source {settings.name!r}"
    try:
        options: MastodonOptions = read_options(MastodonOptions, settings.options, owner)
        base_url = api_base_url(options, brand)
    except ValueError as exc:
        raise SourceError(f"{owner}: {exc}" if not str(exc).startswith(owner) else str(exc), permanent=True) from None
    return MastodonSource(
        name=settings.name, base_url=base_url, access_token=secrets["access_token"],
        brand_handle=brand.handles.mastodon, hashtags=options.hashtags, notifications=options.notifications,
        limit=options.limit, timeout=options.timeout, backfill_hours=options.backfill_hours,
        overlap_seconds=options.overlap_seconds, clock=clock, intake=intake,
    )
