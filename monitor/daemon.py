"""`closeloop run`: APScheduler fires ticks; the database holds the schedule and every claim.

Each tick is a small step that says how much it did. A restart, or a second daemon on the same PostgreSQL,
is safe because every step claims its rows first (see models.sources and models.outbox).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from models.locks import singleton
from models.sources import release_sources
from models.types import utcnow
from monitor.config import Settings
from monitor.instruments import METRICS, Metrics
from monitor.poller import Poller
from monitor.stopping import stop_on_signals

log = logging.getLogger("closeloop.daemon")


class TimedScorer:
    """A scorer whose batches are timed into the scorer latency histogram."""

    def __init__(self, scorer: Any, metrics: Metrics) -> None:
        self.scorer, self.metrics = scorer, metrics

    @property
    def model_name(self) -> str:
        return str(self.scorer.model_name)

    @property
    def info(self) -> Any:
        from monitor.scoring.base import describe

        return describe(self.scorer)

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
            self._show_scorer()
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
                        scheduler_running=lambda: bool(self.scheduler.running) and not self.stopping.is_set(),
                        scorer=lambda: self.scorer.info if self.scorer is not None else None)
        try:
            self.health_server = HealthServer(health, daemon.health_host, daemon.health_port)
        except OSError as exc:  # the work goes on; the monitoring that cannot reach /healthz will say so
            log.error("health_unavailable address=%s:%d error=%r", daemon.health_host, daemon.health_port, str(exc))
            return
        self.health_server.start()

    def _show_scorer(self) -> None:
        """The live scorer as /metrics shows it: closeloop_scorer_info{backend,model,revision,device} 1."""
        info = self.scorer.info
        self.metrics.set("closeloop_scorer_info", 1, {"backend": info.backend, "model": info.model,
                                                      "revision": info.revision, "device": info.device})
        log.info("scorer_live backend=%s model=%s revision=%s device=%s fallback=%s", info.backend, info.model,
                 info.revision[:7], info.device, info.fallback_reason is not None)

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
        """The console as `closeloop serve` runs it (the same proxy trust), in a thread; an address in use is
        logged and the other roles go on, as with the health endpoint."""
        import uvicorn

        from responders.web.app import listen, server_config

        config = server_config(self.settings, self.engine)
        try:
            sock = listen(config.host, config.port)
        except OSError as exc:
            log.error("console_unavailable address=%s:%d error=%r", config.host, config.port, exc.strerror or str(exc))
            return
        self.web = uvicorn.Server(config)
        self.web_thread = threading.Thread(target=self.web.run, kwargs={"sockets": [sock]}, name="console",
                                           daemon=True)
        self.web_thread.start()
        log.info("console_started address=http://%s:%d", config.host, config.port)

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

    def run_forever(self, requested: threading.Event | None = None) -> bool:
        """Run until ``requested`` is set (by default: until SIGTERM or SIGINT, see monitor.stopping); returns
        whether every running step finished in time. A stop asked for before start-up ends starts nothing."""
        requested = requested if requested is not None else stop_on_signals()
        if not requested.is_set():
            self.start()
            requested.wait()
        return self.stop()
