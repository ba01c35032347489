"""The poller: claims due sources, fetches their pages, stores each batch with its cursor, marks what the
platforms showed deleted, and follows the threads of open cases.

One failing source never stops the others: each poll's error is a value with a kind, stored and shown. One
poisoned post never stops its batch: ``store_fetched`` refuses it alone and the cursor moves on.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from models.budget import request_budget_resets_at, take_request_budget
from models.cases import claim_threads_to_follow, postpone_followup
from models.mentions import LeaseLost, mark_deleted, store_batch
from models.sources import (
    ClaimedSource,
    claim_due_sources,
    record_poll_failure,
    record_poll_success,
    release_sources,
    sync_sources,
)
from models.types import utcnow
from monitor.budgets import budget_for
from monitor.config import Settings, SourceSettings
from monitor.instruments import METRICS, Metrics
from monitor.logs import redact
from monitor.policy import backoff, next_after_rate_limit, next_after_success
from monitor.sources.base import (
    BadRecord,
    Batch,
    MissingCredentials,
    ParsedMention,
    RateLimited,
    Source,
    SourceError,
    ThreadRef,
)
from monitor.sources.common import Clock
from monitor.sources.intake import ID_MAX, is_clean
from monitor.sources.registry import build_source, configured_sources, credential_key

log = logging.getLogger("closeloop.daemon")

# The database itself failing (not one row of the batch): the batch is retried whole, later.
_UNAVAILABLE = (LeaseLost, OperationalError, InterfaceError, DisconnectionError)


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one fetched batch did."""

    new: int = 0
    edited: int = 0
    duplicates: int = 0
    deleted: int = 0
    refused: list[BadRecord] = field(default_factory=list)


def store_fetched(engine: Engine, batch: Batch, *, platform: str, brand: str, source_id: int | None,
                  save_cursor: bool, lease_owner: str | None = None) -> Stored:
    """Store a fetched batch and (with ``save_cursor``) its cursor in one transaction, and mark the posts it
    shows deleted.

    Deletions are marked before the batch is stored, so a crash between the two cannot lose one (the batch
    is fetched again), and again after, for posts created and deleted within the batch. When storage refuses
    the batch for one of its rows, each mention is stored alone: the ones refused become BadRecords and the
    cursor still moves, so no batch is retried forever. LeaseLost and a database that cannot be reached
    raise: nothing of the batch is written and it is fetched again later.
    """
    deleted = _mark(engine, platform, batch.deleted)
    try:
        result = store_batch(engine, mentions=batch.mentions, brand=brand, source_id=source_id,
                             next_cursor=batch.next_cursor, save_cursor=save_cursor, lease_owner=lease_owner)
        stored = Stored(result.new, result.edited, result.duplicates)
    except _UNAVAILABLE:
        raise
    except Exception as exc:
        if not batch.mentions:
            raise
        log.warning("batch_refused platform=%s mentions=%d error=%s: storing one by one", platform,
                    len(batch.mentions), type(exc).__name__)
        stored = _store_one_by_one(engine, batch, brand=brand, source_id=source_id, save_cursor=save_cursor,
                                   lease_owner=lease_owner)
    stored_ids = {m.canonical_id for m in batch.mentions}
    deleted += _mark(engine, platform, [d for d in batch.deleted if d in stored_ids])
    return Stored(stored.new, stored.edited, stored.duplicates, deleted, stored.refused)


def _mark(engine: Engine, platform: str, canonical_ids: Sequence[str]) -> int:
    """Mark the posts deleted; an id no stored mention can have (not clean text, longer than the column) is
    skipped, so a poisoned deletion cannot fail its batch."""
    wanted = sorted({c for c in canonical_ids if isinstance(c, str) and is_clean(c) and 0 < len(c) <= ID_MAX})
    if not wanted or platform == "replay":
        return 0
    return mark_deleted(engine, platform=platform, canonical_ids=wanted)


def _store_one_by_one(engine: Engine, batch: Batch, *, brand: str, source_id: int | None, save_cursor: bool,
                      lease_owner: str | None) -> Stored:
    new = edited = duplicates = 0
    refused: list[BadRecord] = []
    errors: list[Exception] = []
    for mention in batch.mentions:
        try:
            result = store_batch(engine, mentions=[mention], brand=brand, source_id=source_id)
        except _UNAVAILABLE:
            raise
        except Exception as exc:
            errors.append(exc)
            refused.append(BadRecord(_position(mention), f"storage refused it ({type(exc).__name__})"))
            continue
        new, edited, duplicates = new + result.new, edited + result.edited, duplicates + result.duplicates
    if len(errors) == len(batch.mentions) > 1:
        raise errors[0]  # every row failed alone too: the fault is not in one post, so nothing moves
    store_batch(engine, mentions=[], brand=brand, source_id=source_id, next_cursor=batch.next_cursor,
                save_cursor=save_cursor, lease_owner=lease_owner)
    return Stored(new, edited, duplicates, 0, refused)


def _position(mention: ParsedMention) -> str:
    return f"{mention.platform} {mention.canonical_id[:80]}"


def log_bad(source: str, bad: Sequence[BadRecord]) -> None:
    for record in bad:
        log.warning("bad_record source=%s position=%r reason=%r", source, record.position, record.reason)


@dataclass
class Poller:
    """Claims due sources and polls them; one limiter per credential keeps a rate-limited token quiet.

    Sources are built once, here, with the poller's clock: the schedule, the rate-limit arithmetic and the
    intake window all read the same time.
    """

    engine: Engine
    settings: Settings
    owner: str
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Clock = utcnow
    metrics: Metrics = METRICS
    stopping: threading.Event = field(default_factory=threading.Event)
    _sources: dict[str, Source] = field(default_factory=dict)
    _unavailable: dict[str, str] = field(default_factory=dict)
    _broken: dict[str, SourceError] = field(default_factory=dict)
    _blocked_until: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._config = {s.name: s for s in self.settings.sources}
        sync_sources(self.engine, configured=configured_sources(self.settings))
        for source in self.settings.sources:
            if not source.enabled:
                continue
            try:
                self._sources[source.name] = build_source(source, self.settings, self.env, clock=self.clock)
            except MissingCredentials as exc:
                self._unavailable[source.name] = str(exc)
                log.warning("source_skipped source=%s reason=%r", source.name, str(exc))
            except SourceError as exc:  # an option config cannot check alone: the poll disables it, saying why
                self._broken[source.name] = exc
                log.error("source_unusable source=%s reason=%r", source.name, str(exc))

    @property
    def unavailable(self) -> dict[str, str]:
        """Sources that cannot be polled, with the reason (missing credentials, unusable options)."""
        return {**self._unavailable, **{name: str(exc) for name, exc in self._broken.items()}}

    def tick(self) -> int:
        """Poll every due source this daemon can claim; returns how many mentions were new."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.daemon.source_lease_seconds)
        new = 0
        claimed = claim_due_sources(self.engine, owner=self.owner, now=now, lease=lease,
                                    limit=self.settings.daemon.sources_per_tick)
        for source in claimed:
            if self.stopping.is_set():  # stopping: what is not started yet is released by the caller
                break
            new += self._poll(source)
        return new

    def _poll(self, claimed: ClaimedSource) -> int:
        config = self._config.get(claimed.name)
        now = self.clock()
        if config is None:
            record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=True,
                                error="no longer in the config", next_poll_at=None)
            return 0
        if claimed.name in self._broken:
            self._failed(claimed, str(self._broken[claimed.name]), permanent=self._broken[claimed.name].permanent,
                         interval=timedelta(seconds=config.interval_seconds))
            return 0
        if claimed.name in self._unavailable:
            record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=False,
                                error=self._unavailable[claimed.name], count_error=False,
                                next_poll_at=now + timedelta(seconds=config.interval_seconds))
            return 0
        key = credential_key(config)
        blocked = self._blocked_until.get(key)
        if blocked and blocked > now:
            record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=False,
                                error="waiting for the rate limit of its credential", count_error=False,
                                next_poll_at=blocked)
            return 0
        return self._fetch_pages(claimed, config, key)

    def _spend_budget(self, claimed: ClaimedSource, config: SourceSettings, key: str) -> bool:
        """Take one request from the credential's shared budget; when it is spent, the source waits for the
        window to end (no error counted) and False is returned."""
        budget = budget_for(config)
        if budget is None:
            return True
        now = self.clock()
        if take_request_budget(self.engine, key=key, now=now, window=budget.window, limit=budget.limit):
            return True
        until = request_budget_resets_at(self.engine, key=key, window=budget.window) or now + budget.window
        until = max(until, now + timedelta(seconds=1))
        self._blocked_until[key] = until
        record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=False,
                            error="waiting for the request budget of its credential", count_error=False,
                            next_poll_at=until)
        self.metrics.inc("closeloop_budget_waits_total", {"source": claimed.name})
        log.info("source_budget_spent source=%s until=%s", claimed.name, until.isoformat())
        return False

    def _fetch_pages(self, claimed: ClaimedSource, config: SourceSettings, key: str) -> int:
        source = self._sources[claimed.name]
        interval = timedelta(seconds=config.interval_seconds)
        cursor = claimed.cursor
        new = fetched = bad = sanitised = deleted = 0
        try:
            for _page in range(self.settings.daemon.max_pages_per_poll):
                if not self._spend_budget(claimed, config, key):
                    return new
                batch = source.fetch(cursor)
                stored = store_fetched(self.engine, batch, platform=config.platform, brand=claimed.brand,
                                       source_id=claimed.id, save_cursor=True, lease_owner=self.owner)
                log_bad(claimed.name, [*batch.bad, *stored.refused])
                self._count(claimed.name, stored.new)  # counted as soon as committed, page by page
                new += stored.new
                fetched += len(batch.mentions)
                bad += len(batch.bad) + len(stored.refused)
                sanitised += batch.sanitised
                deleted += stored.deleted
                cursor = batch.next_cursor
                if batch.exhausted:
                    break
            more = not batch.exhausted
        except LeaseLost:
            log.warning("source_lease_lost source=%s", claimed.name)
            return new
        except RateLimited as exc:
            now = self.clock()
            until = next_after_rate_limit(now=now, retry_after=exc.retry_after, interval=interval)
            self._blocked_until[key] = until
            record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=False,
                                error=redact(str(exc)), count_error=False, next_poll_at=until)
            log.warning("source_rate_limited source=%s retry_after=%.0f", claimed.name, exc.retry_after)
            return new
        except SourceError as exc:
            self._failed(claimed, str(exc), permanent=exc.permanent, interval=interval)
            return new
        except Exception as exc:  # a bug or an unforeseen library error: back off, keep the others running
            log.exception("source_crashed source=%s", claimed.name)
            self._failed(claimed, f"{type(exc).__name__}: {exc}", permanent=False, interval=interval, kind="crash")
            return new
        now = self.clock()
        record_poll_success(self.engine, source_id=claimed.id, owner=self.owner, now=now,
                            next_poll_at=next_after_success(now=now, interval=interval, more_pages=more))
        log.info("source_polled source=%s fetched=%d new=%d bad=%d sanitised=%d deleted=%d more=%s", claimed.name,
                 fetched, new, bad, sanitised, deleted, more)
        return new

    def _count(self, name: str, new: int) -> None:
        if new:
            self.metrics.inc("closeloop_mentions_ingested_total", {"source": name}, new)

    def _failed(self, claimed: ClaimedSource, error: str, *, permanent: bool, interval: timedelta,
                kind: str | None = None) -> None:
        now = self.clock()
        error = redact(error)  # the reason is stored and shown in the console: never with a secret in it
        wait = backoff(error_count=claimed.error_count + 1, interval=interval)
        self.metrics.inc("closeloop_poll_errors_total",
                         {"source": claimed.name, "kind": kind or ("permanent" if permanent else "transient")})
        record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=permanent,
                            error=error, next_poll_at=None if permanent else now + wait)
        log.warning("source_failed source=%s permanent=%s error=%r", claimed.name, permanent, error)

    def follow_threads(self) -> int:
        """Poll the threads of active cases (and of resolved ones awaiting a rating) for the customer's later
        posts; returns how many were new.

        They are stored as mentions like any other and triaged into their case, where the resolution
        tracker sees them; posts a thread shows deleted are marked. A thread is followed through the first
        source of its brand and platform.
        """
        by_platform: dict[tuple[str, str], Source] = {}
        for config in self.settings.sources:
            source = self._sources.get(config.name)
            if source is not None and hasattr(source, "fetch_thread"):
                by_platform.setdefault((self.settings.brand(config.brand).name, config.platform), source)
        every = timedelta(seconds=self.settings.daemon.followup_interval_seconds)
        now = self.clock()
        new = deleted = 0
        # A rating asked for is read for as long as a low one could still reopen the case.
        asked_since = now - timedelta(days=self.settings.resolution.reopen_window_days)
        threads = claim_threads_to_follow(self.engine, now=now, every=every,
                                          platforms=sorted({p for _b, p in by_platform}), limit=50,
                                          rating_asked_since=asked_since)
        for thread in threads:
            source = by_platform.get((thread.brand, thread.platform))
            if source is None:
                continue
            ref = ThreadRef(platform=thread.platform, conversation_id=thread.conversation_id,
                            root_platform_id=thread.root_platform_id, root_canonical_id=thread.root_canonical_id,
                            author_handle=thread.author_handle,
                            author_id=None if thread.author_key.startswith("@") else thread.author_key,
                            since=thread.since, root_raw=thread.root_raw or {})
            try:
                found: Batch = source.fetch_thread(ref)  # type: ignore[attr-defined]
                stored = store_fetched(self.engine, found, platform=thread.platform, brand=thread.brand,
                                       source_id=None, save_cursor=False)
            except RateLimited as exc:
                postpone_followup(self.engine, case_id=thread.case_id,
                                  until=now + timedelta(seconds=max(1.0, exc.retry_after)))
                continue
            except Exception as exc:  # the next interval tries again; other threads go on
                log.warning("followup_failed case=%d error=%r", thread.case_id, str(exc))
                continue
            log_bad(f"thread of case {thread.case_id}", [*found.bad, *stored.refused])
            new += stored.new
            deleted += stored.deleted
        if threads:
            log.info("threads_followed cases=%d new=%d deleted=%d", len(threads), new, deleted)
        return new

    def release(self) -> None:
        release_sources(self.engine, owner=self.owner)
