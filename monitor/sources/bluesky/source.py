"""The Bluesky source: mentions from our notifications, keyword posts from Jetstream, follow-ups from threads.

The source keeps one session (client.py) and a profile cache across scheduler ticks. Deleted posts seen on
the stream, and posts a thread shows as not found, are returned in ``Batch.deleted``.

The cursor is JSON owned by this module::

    {"v": 1, "phase": "notifications" | "stream",
     "hw": {"at": indexedAt, "uri": at-uri} | null,   # newest notification of the last complete pass
     "page": listNotifications cursor | null,         # a pass in progress: the next page to read
     "top": {"at": ..., "uri": ...} | null,           # the newest notification of the pass in progress
     "time_us": int | null, "streak": int}            # last Jetstream event processed; full batches in a row

A notifications pass reads newest first, one page per ``fetch``, down to ``hw`` (``backfill_hours`` back on
the first run). ``top`` becomes ``hw`` only when the pass ends, so a crash or a rate limit mid-pass resumes
from the saved page and loses nothing. Then Jetstream batches follow from ``time_us`` minus
``stream_rewind_seconds``; repeats are fine, storage dedupes on the at-uri. A time outside the intake window
never moves a mark: a poisoned date cannot carry the cursor into the future.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from atproto_client import exceptions as atp
from atproto_client import models
from atproto_core.exceptions import AtProtocolError

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
from monitor.sources.bluesky import SPEC, BlueskyOptions
from monitor.sources.bluesky.client import BlueskySession, bluesky_handle, source_error, xrpc_error
from monitor.sources.bluesky.jetstream import (
    keyword_pattern,
    parse_jetstream_deletion,
    parse_jetstream_event,
    read_stream,
)
from monitor.sources.bluesky.parse import (
    MENTION_REASONS,
    notification_items,
    notification_mentions,
    parse_author,
    parse_timestamp,
    post_uri_parts,
    post_url,
    read_thread,
)
from monitor.sources.common import Clock, utcnow
from monitor.sources.intake import DEFAULT_RULES, Intake, IntakeRules
from monitor.sources.spec import read_options

if TYPE_CHECKING:
    from monitor.config import Brand, SourceSettings

NOTIFICATIONS = "app.bsky.notification.listNotifications"
THREAD = "app.bsky.feed.getPostThread"
PROFILES = "app.bsky.actor.getProfiles"
PROFILES_PER_CALL = 25  # the lexicon's maximum for getProfiles and getPosts

log = logging.getLogger("closeloop.sources.bluesky")


@dataclass(frozen=True, slots=True)
class _Mark:
    at: datetime
    uri: str

    def encode(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "uri": self.uri}

    @classmethod
    def decode(cls, value: Any) -> _Mark | None:
        if value is None:
            return None
        at = parse_timestamp(value.get("at")) if isinstance(value, dict) else None
        if at is None or not isinstance(value.get("uri"), str):
            raise ValueError("bad mark")
        return cls(at, value["uri"])


@dataclass(frozen=True, slots=True)
class _Cursor:
    phase: str = "notifications"
    hw: _Mark | None = None
    page: str | None = None
    top: _Mark | None = None
    time_us: int | None = None
    streak: int = 0

    def encode(self) -> str:
        return json.dumps({
            "v": 1, "phase": self.phase, "hw": self.hw.encode() if self.hw else None, "page": self.page,
            "top": self.top.encode() if self.top else None, "time_us": self.time_us, "streak": self.streak,
        }, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != 1 or data.get("phase") not in ("notifications",
                                                                                               "stream"):
                raise ValueError("not a version 1 bluesky cursor")
            page, time_us, streak = data.get("page"), data.get("time_us"), data.get("streak", 0)
            if (page is not None and not isinstance(page, str)) or (
                    time_us is not None and (not isinstance(time_us, int) or isinstance(time_us, bool))) or (
                    not isinstance(streak, int)):
                raise ValueError("bad field")
            return cls(data["phase"], _Mark.decode(data.get("hw")), page, _Mark.decode(data.get("top")),
                       time_us, streak)
        except (ValueError, TypeError, AttributeError):
            raise SourceError(f"unreadable bluesky cursor {text[:120]!r}", permanent=True) from None


def _notification_key(item: Any, window: Intake) -> tuple[datetime | None, str | None]:
    """A notification's place in the feed: its indexedAt (None when unreadable or outside the window) and uri."""
    if not isinstance(item, dict):
        return None, None
    uri = item.get("uri")
    at = parse_timestamp(item.get("indexedAt"))
    return (at if at is not None and window.admits(at) else None), uri if isinstance(uri, str) else None


def _not_older(at: datetime | None, floor: datetime) -> bool:
    return at is None or at >= floor


class _ProfileCache:
    """Authors by DID from ``app.bsky.actor.getProfiles``, batched and kept ``ttl``; failures are tolerated."""

    def __init__(self, *, ttl: timedelta = timedelta(hours=24), max_size: int = 20_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[str, tuple[datetime, ParsedAuthor]] = {}

    def lookup(self, dids: Iterable[str], session: BlueskySession, now: datetime) -> dict[str, ParsedAuthor]:
        wanted = list(dict.fromkeys(dids))
        missing = [d for d in wanted if d not in self._entries or now - self._entries[d][0] > self.ttl]
        for start in range(0, len(missing), PROFILES_PER_CALL):
            chunk = missing[start:start + PROFILES_PER_CALL]
            try:
                body = session.query(PROFILES, models.AppBskyActorGetProfiles.Params(actors=chunk))
                profiles = body.get("profiles")
            except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
                log.warning("bluesky_profiles_unresolved count=%d error=%s", len(missing) - start,
                            xrpc_error(exc) or type(exc).__name__)
                break
            for profile in profiles if isinstance(profiles, list) else []:
                try:
                    author = parse_author(profile, "profile")
                except ParseError:
                    continue
                self._entries[author.id or ""] = (now, author)
        if len(self._entries) > self.max_size:
            for did in list(self._entries)[: len(self._entries) - self.max_size]:
                del self._entries[did]
        return {d: self._entries[d][1] for d in wanted if d in self._entries}

    def rename(self, did: str, handle: str) -> None:
        if did in self._entries:
            seen, author = self._entries[did]
            self._entries[did] = (seen, replace(author, handle=handle))


def _with_author(mention: ParsedMention, author: ParsedAuthor | None) -> ParsedMention:
    if author is None:
        return mention
    repo, rkey = post_uri_parts(mention.canonical_id)
    handle = author.handle if not author.handle.startswith("did:") else repo
    return replace(mention, author=author, url=post_url(handle, rkey))


class BlueskySource:
    """Mentions of one Bluesky account (notifications) and of the brand's keywords (Jetstream).

    ``fetch`` reads one page per call (see the module's docstring for the cursor); ``fetch_thread`` reads
    an open case's thread. The object keeps its session and a profile cache across calls.
    """

    platform = SPEC.name

    def __init__(
        self,
        *,
        name: str,
        session: BlueskySession,
        brand_handle: str,
        keywords: Iterable[str] = (),
        options: BlueskyOptions | None = None,
        clock: Clock = utcnow,
        intake: IntakeRules = DEFAULT_RULES,
    ) -> None:
        self.name = name
        self.session = session
        self.brand_handle = brand_handle
        self.options = options or BlueskyOptions()
        self.clock = clock
        self.intake = intake
        self.pattern = keyword_pattern(keywords)
        self.profiles = _ProfileCache()

    @property
    def streams_keywords(self) -> bool:
        return self.options.keywords_stream and self.pattern is not None

    def fetch(self, cursor: str | None) -> Batch:
        state = _Cursor.decode(cursor)
        if state.phase == "stream" and self.streams_keywords:
            return self._fetch_stream(state)
        return self._fetch_notifications(state)

    # -- notifications --------------------------------------------------------------------------------
    def _fetch_notifications(self, state: _Cursor) -> Batch:
        now = self.clock()
        params = models.AppBskyNotificationListNotifications.Params(
            limit=self.options.page_size, cursor=state.page, reasons=list(MENTION_REASONS))
        intake = self.intake.at(now)
        try:
            body = self.session.query(NOTIFICATIONS, params)
            found, bad = notification_mentions(body, self.brand_handle, intake)
            items = notification_items(body)
        except Exception as exc:
            raise source_error(exc, NOTIFICATIONS, now) from exc
        floor = state.hw.at if state.hw else now - timedelta(hours=self.options.backfill_hours)
        keys = [_notification_key(item, intake) for item in items]
        mentions = [m for index, m in found if _not_older(keys[index][0], floor)]
        hw_key = (state.hw.at, state.hw.uri) if state.hw else None
        reached = any(at is not None and (at < floor or (at, uri) == hw_key) for at, uri in keys)
        dated = [_Mark(at, uri) for at, uri in keys if at is not None and uri is not None]
        top = state.top if state.page is not None else max(dated, key=lambda m: (m.at, m.uri), default=None)
        api_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) and body.get("cursor") else None
        done = reached or api_cursor is None or not items
        mentions = self._with_profiles(mentions, now)
        if done:
            hw = state.hw
            if top is not None and (hw is None or (top.at, top.uri) > (hw.at, hw.uri)):
                hw = top
            stream = self.streams_keywords
            next_state = replace(state, phase="stream" if stream else "notifications", hw=hw, page=None,
                                 top=None, streak=0)
            exhausted = not stream
        else:
            next_state = replace(state, page=api_cursor, top=top)
            exhausted = False
        log.debug("bluesky_page source=%s feed=notifications items=%d mentions=%d bad=%d sanitised=%d "
                  "pass_done=%s", self.name, len(items), len(mentions), len(bad), intake.sanitised, done)
        return Batch(mentions=mentions, next_cursor=next_state.encode(), bad=bad, exhausted=exhausted,
                     sanitised=intake.sanitised)

    def _with_profiles(self, mentions: list[ParsedMention], now: datetime) -> list[ParsedMention]:
        dids = [m.author.id for m in mentions if m.author.id]
        if not dids:
            return mentions
        found = self.profiles.lookup(dids, self.session, now)
        return [_with_author(m, found.get(m.author.id or "")) for m in mentions]

    # -- Jetstream ------------------------------------------------------------------------------------
    def _fetch_stream(self, state: _Cursor) -> Batch:
        now = self.clock()
        now_us = int(now.timestamp() * 1_000_000)
        rewind = int(self.options.stream_rewind_seconds * 1_000_000)
        if state.time_us is None:  # the first run starts a few seconds back from now
            start = previous = max(0, now_us - rewind)
        else:
            previous, start = state.time_us, max(0, state.time_us - rewind)
        try:
            self.session.client()  # our DID, to leave our own posts out
        except Exception as exc:
            raise source_error(exc, "com.atproto.server.createSession", now) from exc
        intake = self.intake.at(now)
        events, bad, full = read_stream(self.options, start=start, previous=previous, horizon=now_us,
                                        latest=int(intake.latest.timestamp() * 1_000_000))
        matched: list[ParsedMention] = []
        deleted: list[str] = []
        last = previous
        for time_us, event in events:
            last = max(last, time_us)
            identity = event.get("identity")
            if event.get("kind") == "identity" and isinstance(identity, dict) and isinstance(
                    identity.get("handle"), str):
                self.profiles.rename(str(event.get("did")), identity["handle"])
            if gone := parse_jetstream_deletion(event):
                deleted.append(gone)
                continue
            try:
                mention = parse_jetstream_event(event, intake=intake)
            except ParseError as exc:
                bad.append(BadRecord(f"jetstream time_us={time_us}", str(exc)))
                continue
            if mention is None or mention.author.id == self.session.did:
                continue
            if self.pattern is not None and self.pattern.search(mention.text):
                matched.append(mention)
        mentions = self._with_profiles(matched, now)
        streak = state.streak + 1 if full else 0
        more = full and streak < self.options.stream_batches_per_pass
        next_state = replace(state, phase="stream" if more else "notifications", time_us=last,
                             streak=streak if more else 0)
        log.debug("bluesky_page source=%s feed=jetstream events=%d matched=%d deleted=%d bad=%d sanitised=%d "
                  "full=%s", self.name, len(events), len(mentions), len(deleted), len(bad), intake.sanitised, full)
        return Batch(mentions=mentions, next_cursor=next_state.encode(), bad=bad, exhausted=not full,
                     deleted=deleted, sanitised=intake.sanitised)

    # -- threads ----------------------------------------------------------------------------------------
    def fetch_thread(self, ref: ThreadRef) -> Batch:
        """The case author's posts in the thread of ``ref`` created after ``ref.since``, oldest first, and the
        thread's posts the app view shows as not found (deleted).

        A thread whose root is gone (NotFound) has no follow-ups, and its root is reported deleted.
        """
        now = self.clock()
        intake = self.intake.at(now)
        root = ref.conversation_id or ref.root_platform_id
        params = models.AppBskyFeedGetPostThread.Params(uri=root, depth=self.options.thread_depth, parent_height=0)
        try:
            body = self.session.query(THREAD, params)
            page = read_thread(body, self.brand_handle, intake)
        except atp.BadRequestError as exc:
            if xrpc_error(exc) == "NotFound":
                log.info("bluesky_thread_gone source=%s uri=%s", self.name, root)
                return Batch(mentions=[], next_cursor=None, deleted=[root])
            raise source_error(exc, THREAD, now) from exc
        except Exception as exc:
            raise source_error(exc, THREAD, now) from exc

        def by_customer(m: ParsedMention) -> bool:
            if ref.author_id:
                return m.author.id == ref.author_id
            return m.author.handle.lower() == ref.author_handle.lstrip("@").lower()

        later = [m for m in page.mentions if by_customer(m) and m.canonical_id != ref.root_canonical_id
                 and m.created_at is not None and m.created_at > ref.since]
        return Batch(mentions=sorted(later, key=lambda m: m.created_at or ref.since), next_cursor=None,
                     bad=page.bad, deleted=page.deleted, sanitised=intake.sanitised)


def build_source(settings: SourceSettings, brand: Brand, env: Mapping[str, str], *, clock: Clock = utcnow,
                 intake: IntakeRules = DEFAULT_RULES) -> BlueskySource:
    """A Bluesky source for ``settings`` (options: BlueskyOptions); no network until the first fetch. Raises
    MissingCredentials naming BLUESKY_APP_PASSWORD (or its override), SourceError(permanent) for a bad option
    or no handle."""
    secrets = credentials(settings.name, env, SPEC.read_credentials, settings.credentials_env)
    owner = f"source {settings.name!r}"
    try:
        options: BlueskyOptions = read_options(BlueskyOptions, settings.options, owner)
    except ValueError as exc:
        raise SourceError(str(exc), permanent=True) from None
    handle = bluesky_handle(options.handle, brand, owner)
    session = BlueskySession(base_url=options.base_url, handle=handle, app_password=secrets["app_password"],
                             timeout_seconds=options.timeout_seconds)
    return BlueskySource(name=settings.name, session=session, brand_handle=handle, keywords=brand.keywords,
                         options=options, clock=clock, intake=intake)
