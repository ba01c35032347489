"""The process's own metrics (polls, errors, scorer latency, job runs), kept by prometheus-client.

Callers name a metric and its labels: ``metrics.inc("closeloop_poll_errors_total", {"source": s, "kind": k})``.
``HELP`` gives each known metric its kind and help line; a name not in it is declared on first use (a
counter for ``inc``, a gauge for ``set``, a histogram for ``observe``), with the labels of that first call,
so a new event needs no edit here. Counter names end in ``_total``.

Every ``Metrics`` is a registry of its own, holding the process_* and python_* collectors too, so a test
can make a fresh one; ``METRICS`` is the process's. State that lives in the database is collected at
scrape time (monitor.health).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A counter's *_created series says when this process started counting; process_start_time_seconds says it
# once for all of them.
disable_created_metrics()

HELP = {
    "closeloop_mentions_ingested_total": ("counter", "New mentions stored, per source (since this process started)."),
    "closeloop_poll_errors_total": ("counter", "Failed polls, per source and kind (transient, permanent, crash)."),
    "closeloop_budget_waits_total": ("counter", "Polls put off because the credential's request budget was spent."),
    "closeloop_scorer_latency_seconds": ("histogram", "Seconds one scorer batch took."),
    "closeloop_job_last_success_timestamp_seconds": ("gauge", "Unix time of each job's last successful run."),
    "closeloop_job_failures_total": ("counter", "Runs of each job that raised."),
    "closeloop_scorer_info": ("gauge", "The live sentiment scorer (always 1): its backend, model, revision, device."),
}
_CLASSES: dict[str, Any] = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


class Metrics:
    """Thread-safe counters, gauges and histograms, keyed by name and labels, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._lock = threading.Lock()
        self._metrics: dict[str, Any] = {}

    def _metric(self, name: str, kind: str, labels: Mapping[str, str] | None,
                buckets: tuple[float, ...] = LATENCY_BUCKETS) -> Any:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                declared_kind, help_text = HELP.get(name, (kind, name))
                options: dict[str, Any] = {"buckets": buckets} if declared_kind == "histogram" else {}
                metric = _CLASSES[declared_kind](name, help_text, sorted(labels or {}), registry=self.registry,
                                                 **options)
                self._metrics[name] = metric
        return metric.labels(**labels) if labels else metric

    def inc(self, name: str, labels: Mapping[str, str] | None = None, by: float = 1) -> None:
        self._metric(name, "counter", labels).inc(by)

    def set(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self._metric(name, "gauge", labels).set(value)

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None,
                buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._metric(name, "histogram", labels, buckets).observe(value)

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """A counter's or gauge's current value (0 before it was first recorded)."""
        found = self.registry.get_sample_value(name, dict(labels or {}))
        return float(found) if found is not None else 0.0


METRICS = Metrics()
"""The process's metrics; every daemon role records into it."""
