"""/healthz, /readyz and /metrics on a small HTTP server of their own, started by every `closeloop run`.

- /healthz: the process answers and the database does (a trivial query); 503 with the reason otherwise.
- /readyz: the scheduler is running and no active source is overdue by more than 3x its interval. Ready on
  the offline model where the transformer was asked for (``backend = "auto"``) is 200 with status
  "degraded" and the reason: posts are still scored, less well.
- /metrics: prometheus-client's exposition (the text format, or OpenMetrics when the scraper asks for it).
  Events and the process_*/python_* collectors come from the process (monitor.instruments); state comes from
  the database at scrape time through ``DatabaseCollector`` (queue depth, oldest unanswered post, SLA
  breaches, replies sent), cached for a few seconds so a busy scraper costs a handful of indexed aggregates.

The stdlib server keeps this apart from the console: a console bound elsewhere, or not running in this
role at all, does not hide the health of the process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from models.alerts import open_spike_counts
from models.health import active_sources, database_reachable, drafts_by_status, queue_state
from models.quarantine import quarantine_counts
from models.types import utcnow
from monitor.config import Settings
from monitor.instruments import METRICS, Metrics
from monitor.scoring.base import ScorerInfo

log = logging.getLogger("closeloop.health")
STUCK_INTERVALS = 3
DB_METRICS_TTL_SECONDS = 5.0


def stuck_sources(engine: Engine, settings: Settings, *, now: datetime) -> list[str]:
    """Active sources due more than 3x their interval ago (nobody has polled them)."""
    intervals = {s.name: timedelta(seconds=s.interval_seconds) for s in settings.sources if s.enabled}
    stuck = []
    for source in active_sources(engine):
        interval = intervals.get(source.name)
        if interval is None or source.next_poll_at is None:
            continue
        if now - source.next_poll_at > STUCK_INTERVALS * interval:
            stuck.append(source.name)
    return sorted(stuck)


class DatabaseCollector(Collector):
    """The gauges that live in the database, read at scrape time and cached for a few seconds; with
    ``closeloop_database_up`` saying whether the read worked (the process metrics go out either way)."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self._cache: tuple[float, list[Metric]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> list[Metric]:
        now = self.clock()
        queue = queue_state(self.engine, now=now)
        drafts = drafts_by_status(self.engine)
        oldest = (now - queue.oldest_posted_at).total_seconds() if queue.oldest_posted_at else 0.0
        stuck = stuck_sources(self.engine, self.settings, now=now)
        by_status = GaugeMetricFamily("closeloop_drafts", "Drafts per outbox state.", labels=["status"])
        for status, count in sorted(drafts.items()):
            by_status.add_metric([status], count)
        quarantined = GaugeMetricFamily("closeloop_mentions_quarantined",
                                        "Mentions set aside by a failing pipeline stage.", labels=["stage"])
        for stage, count in sorted(quarantine_counts(self.engine).items()):
            quarantined.add_metric([stage], count)
        spikes = GaugeMetricFamily("closeloop_spikes_open", "Crisis radar spikes open now, per brand.",
                                   labels=["brand"])
        counts = open_spike_counts(self.engine)
        for brand in sorted({*(b.name for b in self.settings.brands), *counts}):  # a calm brand shows 0
            spikes.add_metric([brand], counts.get(brand, 0))
        return [
            GaugeMetricFamily("closeloop_queue_depth", "Cases waiting for a first response (open or reopened).",
                              value=queue.unanswered),
            GaugeMetricFamily("closeloop_oldest_unanswered_seconds",
                              "Seconds since the oldest post still waiting for a first response was written.",
                              value=max(0.0, oldest)),
            GaugeMetricFamily("closeloop_sla_breaches", "Cases waiting for a first response past their deadline.",
                              value=queue.past_deadline),
            CounterMetricFamily("closeloop_replies_sent", "Replies published (drafts in state sent), all daemons.",
                                value=drafts.get("sent", 0)),
            by_status,
            GaugeMetricFamily("closeloop_sources_stuck", "Active sources overdue by more than 3x their interval.",
                              value=len(stuck)),
            quarantined,
            spikes,
        ]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cache is None or time.monotonic() - self._cache[0] > DB_METRICS_TTL_SECONDS:
                try:
                    self._cache = (time.monotonic(), self._read())
                except Exception as exc:  # the process metrics still go out; the scrape shows the DB is down
                    log.warning("metrics_database_failed error=%r", str(exc).splitlines()[0] if str(exc) else "")
                    self._cache = (time.monotonic(), [])
            database = self._cache[1]
        yield from database
        yield GaugeMetricFamily("closeloop_database_up", "1 when the last scrape could read the database.",
                                value=1.0 if database else 0.0)


class _Process(Collector):
    """A Metrics registry, forwarded: metrics declared after the health server started are scraped too."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics.registry.collect()


class Health:
    """The answers of the three endpoints, without the HTTP (tests call these directly)."""

    def __init__(self, engine: Engine, settings: Settings, *, scheduler_running: Callable[[], bool],
                 metrics: Metrics = METRICS, clock: Callable[[], datetime] = utcnow,
                 scorer: Callable[[], ScorerInfo | None] = lambda: None) -> None:
        self.engine, self.settings, self.metrics, self.clock = engine, settings, metrics, clock
        self.scorer = scorer
        self.scheduler_running = scheduler_running
        self.registry = CollectorRegistry()
        self.registry.register(_Process(metrics))
        self.registry.register(DatabaseCollector(engine, settings, clock))

    def healthz(self) -> tuple[int, dict[str, object]]:
        problem = database_reachable(self.engine)
        if problem:
            return 503, {"status": "unhealthy", "database": problem}
        return 200, {"status": "ok", "database": "reachable"}

    def readyz(self) -> tuple[int, dict[str, object]]:
        problems: dict[str, object] = {}
        if not self.scheduler_running():
            problems["scheduler"] = "not running"
        reachable = database_reachable(self.engine)
        if reachable:
            problems["database"] = reachable
        else:
            stuck = stuck_sources(self.engine, self.settings, now=self.clock())
            if stuck:
                problems["stuck_sources"] = stuck
        if problems:
            return 503, {"status": "not ready", **problems}
        scorer = self.scorer()
        if scorer is None:
            return 200, {"status": "ready"}
        if scorer.fallback_reason is not None:
            return 200, {"status": "degraded", "scorer": scorer.line, "fallback_reason": scorer.fallback_reason}
        return 200, {"status": "ready", "scorer": scorer.line}

    def metrics_page(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition and its content type: OpenMetrics when ``accept`` asks for it, else the text format."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def metrics_text(self) -> str:
        return self.metrics_page()[0].decode("utf-8")


class HealthServer:
    """Serves a Health on ``host:port`` from a daemon thread."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        self.health = health
        handler = _handler(health)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="health", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()
        log.info("health_started address=http://%s:%d", *self.address)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "closeloop"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/healthz":
                    self._json(*health.healthz())
                elif path == "/readyz":
                    self._json(*health.readyz())
                elif path == "/metrics":
                    self._send(200, *health.metrics_page(self.headers.get("Accept")))
                else:
                    self._json(404, {"status": "not found", "paths": ["/healthz", "/readyz", "/metrics"]})
            except Exception:
                log.exception("health_request_failed path=%s", path)
                self._json(500, {"status": "error"})

        def _json(self, status: int, body: dict[str, object]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # a scrape every 15 s is not news
            log.debug("health_request line=%r", format % args)

    return Handler
