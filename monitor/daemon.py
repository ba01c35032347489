"""`closeloop run`: APScheduler fires ticks; the database holds the schedule and every claim.

Each tick is a small step that says how much it did. A restart, or a second daemon on the same PostgreSQL,
is safe because every step claims its rows first (see models.sources and models.outbox).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from models.budget import request_budget_resets_at, take_request_budget
from models.cases import claim_threads_to_follow, postpone_followup
from models.locks import singleton
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
from monitor.budgets import budget_for
from monitor.config import Settings, SourceSettings
from monitor.instruments import METRICS, Metrics
from monitor.logs import redact
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
    metrics: Metrics = METRICS
    stopping: threading.Event = field(default_factory=threading.Event)
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
        new = fetched = 0
        try:
            for _page in range(self.settings.daemon.max_pages_per_poll):
                if not self._spend_budget(claimed, config, key):
                    self._count(claimed.name, new)
                    return new
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
            self._count(claimed.name, new)
            return new
        except RateLimited as exc:
            now = self.clock()
            until = next_after_rate_limit(now=now, retry_after=exc.retry_after, interval=interval)
            self._blocked_until[key] = until
            record_poll_failure(self.engine, source_id=claimed.id, owner=self.owner, now=now, permanent=False,
                                error=redact(str(exc)), count_error=False, next_poll_at=until)
            log.warning("source_rate_limited source=%s retry_after=%.0f", claimed.name, exc.retry_after)
            self._count(claimed.name, new)
            return new
        except SourceError as exc:
            self._failed(claimed, str(exc), permanent=exc.permanent, interval=interval)
            self._count(claimed.name, new)
            return new
        except Exception as exc:  # a bug or an unforeseen library error: back off, keep the others running
            log.exception("source_crashed source=%s", claimed.name)
            self._failed(claimed, f"{type(exc).__name__}: {exc}", permanent=False, interval=interval, kind="crash")
            self._count(claimed.name, new)
            return new
        now = self.clock()
        record_poll_success(self.engine, source_id=claimed.id, owner=self.owner, now=now,
                            next_poll_at=next_after_success(now=now, interval=interval, more_pages=more))
        log.info("source_polled source=%s fetched=%d new=%d more=%s", claimed.name, fetched, new, more)
        self._count(claimed.name, new)
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


class TimedScorer:
    """A scorer whose batches are timed into the scorer latency histogram."""

    def __init__(self, scorer: Any, metrics: Metrics) -> None:
        self.scorer, self.metrics = scorer, metrics

    @property
    def model_name(self) -> str:
        return str(self.scorer.model_name)

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> Any:
        started = time.perf_counter()
        try:
            return self.scorer.score(texts, languages)
        finally:
            self.metrics.observe("closeloop_scorer_latency_seconds", time.perf_counter() - started)


class Daemon:
    """The scheduler and its jobs for the roles this process plays, and the health endpoint."""

    def __init__(self, settings: Settings, engine: Engine, *, roles: tuple[str, ...] | None = None,
                 env: Mapping[str, str] | None = None, owner: str | None = None,
                 metrics: Metrics = METRICS) -> None:
        self.settings = settings
        self.engine = engine
        self.roles = roles or tuple(settings.daemon.roles)
        self.env = dict(os.environ) if env is None else dict(env)
        self.owner = owner or settings.daemon.node_id
        self.metrics = metrics
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self.poller: Poller | None = None
        self.outbox: Any = None
        self.scorer: Any = None
        self.mailer: Any = None
        self.web: Any = None
        self.web_thread: threading.Thread | None = None
        self.health_server: Any = None

    def _job(self, name: str, step: Callable[[], Any], seconds: float) -> None:
        def run() -> None:
            if self.stopping.is_set():
                return
            try:
                step()
            except Exception:  # one failing step never stops the daemon; the next tick tries again
                self.metrics.inc("closeloop_job_failures_total", {"job": name})
                log.exception("job_failed job=%s", name)
            else:
                self.metrics.set("closeloop_job_last_success_timestamp_seconds", time.time(), {"job": name})

        self.scheduler.add_job(run, "interval", seconds=seconds, id=name, name=name,
                               misfire_grace_time=max(1, int(seconds)), next_run_time=utcnow())

    def start(self) -> None:
        daemon = self.settings.daemon
        self._start_health()
        self._recover_leases()
        if "poll" in self.roles:
            self.poller = Poller(self.engine, self.settings, self.owner, env=self.env, metrics=self.metrics,
                                 stopping=self.stopping)
            self._job("poll", self.poller.tick, daemon.poll_tick_seconds)
            self._job("follow", self.poller.follow_threads, daemon.poll_tick_seconds)
        if "score" in self.roles:
            from monitor.scoring import build_scorer

            self.scorer = TimedScorer(build_scorer(self.settings.scoring), self.metrics)
            self._job("process", self.process_step, daemon.process_tick_seconds)
        if "post" in self.roles:
            from responders.outbox import Outbox
            from responders.posters.registry import build_posters

            self.outbox = Outbox(self.engine, build_posters(self.settings, self.env), self.owner,
                                 lease=timedelta(seconds=daemon.send_lease_seconds),
                                 settle=timedelta(seconds=daemon.reconcile_settle_seconds))
            # Whatever this node left in `sending` when it last stopped is settled before anything is sent.
            self.reconcile_step()
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

    def _recover_leases(self) -> None:
        """Leases held under this node id are from its previous life (a crash, a SIGKILL): node ids are unique
        among running daemons and stable across restarts, so they are given back now rather than after they
        run out. A reply in `sending` keeps its lease: it is reconciled, never resent."""
        from models.outbox import release_drafts

        sources = release_sources(self.engine, owner=self.owner) if "poll" in self.roles else 0
        drafts = release_drafts(self.engine, owner=self.owner) if "post" in self.roles else 0
        if sources or drafts:
            log.warning("leases_recovered owner=%s sources=%d drafts=%d", self.owner, sources, drafts)

    def _start_health(self) -> None:
        from monitor.health import Health, HealthServer

        daemon = self.settings.daemon
        if not daemon.health_port:
            return
        health = Health(self.engine, self.settings, metrics=self.metrics,
                        scheduler_running=lambda: bool(self.scheduler.running) and not self.stopping.is_set())
        try:
            self.health_server = HealthServer(health, daemon.health_host, daemon.health_port)
        except OSError as exc:  # the work goes on; the monitoring that cannot reach /healthz will say so
            log.error("health_unavailable address=%s:%d error=%r", daemon.health_host, daemon.health_port, str(exc))
            return
        self.health_server.start()

    def process_step(self) -> None:
        """Score, triage and draft what is pending, one committed batch at a time, until nothing is left or the
        daemon is stopping (a stop waits for one batch, not for the whole backlog)."""
        from monitor.pipeline import draft_pending, score_pending, triage_pending
        from monitor.radar.tick import radar_tick
        from responders.tracker import track_pending

        scored = complaints = drafts = 0
        while not self.stopping.is_set() and (batch := score_pending(self.engine, self.scorer)):
            scored += sum(batch.values())
        while not self.stopping.is_set():
            triaged, found, _opened = triage_pending(self.engine, self.settings, now=utcnow())
            complaints += found
            if not triaged:
                break
        while not self.stopping.is_set() and (made := draft_pending(self.engine, self.settings)):
            drafts += made
        if not self.stopping.is_set():
            track_pending(self.engine, self.settings, now=utcnow())
            radar_tick(self.engine, self.settings, now=utcnow(), mailer=self.mailer)
        if scored or complaints or drafts:
            log.info("pipeline_done scored=%d complaints=%d drafts=%d", scored, complaints, drafts)

    def sweep_step(self) -> None:
        """Stale cases become unresolved, and escalations are mailed (each once per case and reason).

        One daemon at a time runs it; the notification claims keep a mail single even without the lock.
        """
        from responders.tracker import send_escalations, sweep_stale

        with singleton(self.engine, "closeloop:resolution_sweep") as mine:
            if not mine:
                return
            sweep_stale(self.engine, self.settings, now=utcnow())
            send_escalations(self.engine, self.settings, self.mailer, now=utcnow())

    def digest_step(self) -> None:
        """Send last week's digest once its configured hour has come (once per recipient, ever)."""
        from responders.digest import digest_due, send_weekly_digest

        with singleton(self.engine, "closeloop:digest") as mine:
            if not mine:
                return
            week = digest_due(utcnow(), self.settings)
            if week is not None:
                send_weekly_digest(self.engine, self.settings, self.mailer, week=week, now=utcnow())

    def _start_console(self) -> None:
        import uvicorn

        from responders.web.app import create_app

        console = self.settings.console
        config = uvicorn.Config(create_app(self.settings, self.engine), host=console.host, port=console.port,
                                log_level="warning", lifespan="off", log_config=None)
        self.web = uvicorn.Server(config)
        self.web_thread = threading.Thread(target=self.web.run, name="console", daemon=True)
        self.web_thread.start()
        log.info("console_started address=http://%s:%d", console.host, console.port)

    def reconcile_step(self) -> None:
        """Settle replies whose outcome is unknown; one daemon at a time (the draft leases keep it correct)."""
        with singleton(self.engine, "closeloop:outbox_reconcile") as mine:
            if mine:
                self.outbox.reconcile()

    def post_step(self) -> None:
        self.reconcile_step()
        if not self.stopping.is_set():
            self.outbox.send_approved()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking new work, let running steps finish (for at most ``timeout`` seconds), give back what is
        claimed. Returns False when a step was still running at the deadline: its claims are released anyway
        and its leases make any half-done work safe to redo (a reply in `sending` is reconciled, not resent).
        """
        timeout = self.settings.daemon.stop_timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.stopping.set()
        if self.web is not None:
            self.web.should_exit = True
        finished = True
        if self.scheduler.running:
            waiter = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, name="stopping",
                                      daemon=True)
            waiter.start()
            waiter.join(max(0.0, deadline - time.monotonic()))
            finished = not waiter.is_alive()
        if self.web_thread is not None:
            self.web_thread.join(max(0.1, deadline - time.monotonic()))
        if self.poller is not None:
            self.poller.release()
        if self.outbox is not None:
            from models.outbox import release_drafts

            release_drafts(self.engine, owner=self.owner)
        if self.health_server is not None:
            self.health_server.stop()
        if finished:
            log.info("daemon_stopped owner=%s", self.owner)
        else:
            log.warning("daemon_stopped owner=%s forced=true timeout=%.0f", self.owner, timeout)
        return finished

    def run_forever(self) -> bool:
        """Run until SIGTERM or SIGINT; returns whether every running step finished in time."""
        done = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("daemon_signal signal=%s", signal.Signals(signum).name)
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        done.wait()
        return self.stop()
