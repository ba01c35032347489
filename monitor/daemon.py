"""`closeloop run`: APScheduler fires ticks; the database holds the schedule and every claim.

Each tick is a small step that says how much it did. A restart, or a second daemon on the same PostgreSQL,
is safe because every step claims its rows first (see models.sources and models.outbox).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from models.cases import claim_threads_to_follow, postpone_followup
from models.mentions import LeaseLost, store_batch
from models.sources import (
    ClaimedSource,
    ConfiguredSource,
    claim_due_sources,
    record_poll_failure,
    record_poll_success,
    release_sources,
    sync_sources,
)
from models.types import utcnow
from monitor.config import Settings, SourceSettings
from monitor.policy import backoff, next_after_rate_limit, next_after_success
from monitor.sources.base import MissingCredentials, RateLimited, Source, SourceError, ThreadRef
from monitor.sources.registry import build_source, credential_key

log = logging.getLogger("closeloop.daemon")


@dataclass
class Poller:
    """Claims due sources and polls them; one limiter per credential keeps a rate-limited token quiet."""

    engine: Engine
    settings: Settings
    owner: str
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], datetime] = utcnow
    _sources: dict[str, Source] = field(default_factory=dict)
    _unavailable: dict[str, str] = field(default_factory=dict)
    _blocked_until: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._config = {s.name: s for s in self.settings.sources}
        sync_sources(self.engine, configured=[
            ConfiguredSource(s.name, s.platform, self.settings.brand(s.brand).name, s.enabled)
            for s in self.settings.sources
        ])
        for source in self.settings.sources:
            if not source.enabled:
                continue
            try:
                built = build_source(source, self.settings, self.env)
            except MissingCredentials as exc:
                self._unavailable[source.name] = str(exc)
                log.warning("source_skipped source=%s reason=%r", source.name, str(exc))
                continue
            if hasattr(built, "clock"):
                built.clock = self.clock  # one clock for the schedule and the rate-limit arithmetic
            self._sources[source.name] = built

    @property
    def unavailable(self) -> dict[str, str]:
        return dict(self._unavailable)

    def tick(self) -> int:
        """Poll every due source this daemon can claim; returns how many mentions were new."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.daemon.source_lease_seconds)
        new = 0
        for claimed in claim_due_sources(self.engine, owner=self.owner, now=now, lease=lease,
                                         limit=self.settings.daemon.sources_per_tick):
            new += self._poll(claimed)
        return new

    def _poll(self, claimed: ClaimedSource) -> int:
        config = self._config.get(claimed.name)
        now = self.clock()
        if config is None:
            record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=True,
                                error="no longer in the config", next_poll_at=None)
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

    def _fetch_pages(self, claimed: ClaimedSource, config: SourceSettings, key: str) -> int:
        source = self._sources[claimed.name]
        interval = timedelta(seconds=config.interval_seconds)
        cursor = claimed.cursor
        new = fetched = 0
        try:
            for _page in range(self.settings.daemon.max_pages_per_poll):
                batch = source.fetch(cursor)
                result = store_batch(self.engine, mentions=batch.mentions, brand=claimed.brand, source_id=claimed.id,
                                     next_cursor=batch.next_cursor, save_cursor=True, lease_owner=self.owner)
                for bad in batch.bad:
                    log.warning("bad_record source=%s position=%r reason=%r", claimed.name, bad.position, bad.reason)
                new += result.new
                fetched += len(batch.mentions)
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
                                error=str(exc), count_error=False, next_poll_at=until)
            log.warning("source_rate_limited source=%s retry_after=%.0f", claimed.name, exc.retry_after)
            return new
        except SourceError as exc:
            self._failed(claimed, str(exc), permanent=exc.permanent, interval=interval)
            return new
        except Exception as exc:  # a bug or an unforeseen library error: back off, keep the others running
            log.exception("source_crashed source=%s", claimed.name)
            self._failed(claimed, f"{type(exc).__name__}: {exc}", permanent=False, interval=interval)
            return new
        now = self.clock()
        record_poll_success(self.engine, source_id=claimed.id, owner=self.owner, now=now,
                            next_poll_at=next_after_success(now=now, interval=interval, more_pages=more))
        log.info("source_polled source=%s fetched=%d new=%d more=%s", claimed.name, fetched, new, more)
        return new

    def _failed(self, claimed: ClaimedSource, error: str, *, permanent: bool, interval: timedelta) -> None:
        now = self.clock()
        wait = backoff(error_count=claimed.error_count + 1, interval=interval)
        record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=permanent,
                            error=error, next_poll_at=None if permanent else now + wait)
        log.warning("source_failed source=%s permanent=%s error=%r", claimed.name, permanent, error)

    def follow_threads(self) -> int:
        """Poll the threads of active cases for the customer's later posts; returns how many were new.

        They are stored as mentions like any other and triaged into their case, where the resolution
        tracker sees them. A thread is followed through the first source of its brand and platform.
        """
        by_platform: dict[tuple[str, str], Source] = {}
        for config in self.settings.sources:
            source = self._sources.get(config.name)
            if source is not None and hasattr(source, "fetch_thread"):
                by_platform.setdefault((self.settings.brand(config.brand).name, config.platform), source)
        every = timedelta(seconds=self.settings.daemon.followup_interval_seconds)
        now = self.clock()
        new = 0
        threads = claim_threads_to_follow(self.engine, now=now, every=every,
                                          platforms=sorted({p for _b, p in by_platform}), limit=50)
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
                found = source.fetch_thread(ref)  # type: ignore[attr-defined]
            except RateLimited as exc:
                postpone_followup(self.engine, case_id=thread.case_id,
                                  until=now + timedelta(seconds=max(1.0, exc.retry_after)))
                continue
            except Exception as exc:  # the next interval tries again; other threads go on
                log.warning("followup_failed case=%d error=%r", thread.case_id, str(exc))
                continue
            if found:
                new += store_batch(self.engine, mentions=found, brand=thread.brand, source_id=None).new
        if threads:
            log.info("threads_followed cases=%d new=%d", len(threads), new)
        return new

    def release(self) -> None:
        release_sources(self.engine, owner=self.owner)


class Daemon:
    """The scheduler and its jobs for the roles this process plays."""

    def __init__(self, settings: Settings, engine: Engine, *, roles: tuple[str, ...] | None = None,
                 env: Mapping[str, str] | None = None, owner: str | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.roles = roles or tuple(settings.daemon.roles)
        self.env = dict(os.environ) if env is None else dict(env)
        self.owner = owner or settings.daemon.node_id
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self.poller: Poller | None = None
        self.outbox: Any = None
        self.scorer: Any = None
        self.mailer: Any = None
        self.web: Any = None
        self.web_thread: threading.Thread | None = None

    def _job(self, name: str, step: Callable[[], Any], seconds: float) -> None:
        def run() -> None:
            if self.stopping.is_set():
                return
            try:
                step()
            except Exception:  # one failing step never stops the daemon; the next tick tries again
                log.exception("job_failed job=%s", name)

        self.scheduler.add_job(run, "interval", seconds=seconds, id=name, name=name,
                               misfire_grace_time=max(1, int(seconds)), next_run_time=utcnow())

    def start(self) -> None:
        daemon = self.settings.daemon
        if "poll" in self.roles:
            self.poller = Poller(self.engine, self.settings, self.owner, env=self.env)
            self._job("poll", self.poller.tick, daemon.poll_tick_seconds)
            self._job("follow", self.poller.follow_threads, daemon.poll_tick_seconds)
        if "score" in self.roles:
            from monitor.scoring import build_scorer

            self.scorer = build_scorer(self.settings.scoring)
            self._job("process", self.process_step, daemon.process_tick_seconds)
        if "post" in self.roles:
            from responders.outbox import Outbox
            from responders.posters.registry import build_posters

            self.outbox = Outbox(self.engine, build_posters(self.settings, self.env), self.owner,
                                 lease=timedelta(seconds=daemon.send_lease_seconds))
            # Whatever this node left in `sending` when it last stopped is settled before anything is sent.
            self.outbox.reconcile()
            self._job("post", self.post_step, daemon.post_tick_seconds)
        if "digest" in self.roles:
            from responders.mailer import SmtpMailer

            self.mailer = SmtpMailer(self.settings.smtp, env=self.env)
            self._job("resolution_sweep", self.sweep_step, 60)
            self._job("digest", self.digest_step, 600)
        if "web" in self.roles:
            self._start_console()
        self.scheduler.start()
        log.info("daemon_started owner=%s roles=%s", self.owner, ",".join(self.roles))

    def process_step(self) -> None:
        from monitor.pipeline import process_pending
        from responders.tracker import track_pending

        process_pending(self.engine, self.settings, self.scorer)
        track_pending(self.engine, self.settings, now=utcnow())

    def sweep_step(self) -> None:
        """Stale cases become unresolved, and escalations are mailed (each once per case and reason)."""
        from responders.tracker import send_escalations, sweep_stale

        sweep_stale(self.engine, self.settings, now=utcnow())
        send_escalations(self.engine, self.settings, self.mailer, now=utcnow())

    def digest_step(self) -> None:
        """Send last week's digest once its configured hour has come (once per recipient, ever)."""
        from responders.digest import digest_due, send_weekly_digest

        week = digest_due(utcnow(), self.settings)
        if week is not None:
            send_weekly_digest(self.engine, self.settings, self.mailer, week=week, now=utcnow())

    def _start_console(self) -> None:
        import uvicorn

        from responders.web.app import create_app

        console = self.settings.console
        config = uvicorn.Config(create_app(self.settings, self.engine), host=console.host, port=console.port,
                                log_level="warning", lifespan="off")
        self.web = uvicorn.Server(config)
        self.web_thread = threading.Thread(target=self.web.run, name="console", daemon=True)
        self.web_thread.start()
        log.info("console_started address=http://%s:%d", console.host, console.port)

    def post_step(self) -> None:
        self.outbox.reconcile()
        self.outbox.send_approved()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking new work, let running steps finish, give back what is claimed."""
        self.stopping.set()
        if self.web is not None:
            self.web.should_exit = True
        self.scheduler.shutdown(wait=True)
        if self.web_thread is not None:
            self.web_thread.join(timeout)
        if self.poller is not None:
            self.poller.release()
        if self.outbox is not None:
            from models.outbox import release_drafts

            release_drafts(self.engine, owner=self.owner)
        log.info("daemon_stopped owner=%s", self.owner)

    def run_forever(self) -> None:
        done = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("daemon_signal signal=%s", signal.Signals(signum).name)
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        done.wait()
        self.stop()

