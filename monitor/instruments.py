"""In-process counters for events (polls, errors, scorer latency, job runs) and the Prometheus text format.

Written here rather than pulled in with prometheus-client: three metric types and one text format
(https://prometheus.io/docs/instrumenting/exposition_formats/) are a few dozen lines, and the registry stays
an object a test can make fresh. State that lives in the database is read at scrape time (monitor.health).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: str  # counter, gauge or histogram
    help: str
    samples: Sequence[Sample]


@dataclass
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)


HELP = {
    "closeloop_mentions_ingested_total": ("counter", "New mentions stored, per source (since this process started)."),
    "closeloop_poll_errors_total": ("counter", "Failed polls, per source and kind (transient, permanent, crash)."),
    "closeloop_budget_waits_total": ("counter", "Polls put off because the credential's request budget was spent."),
    "closeloop_scorer_latency_seconds": ("histogram", "Seconds one scorer batch took."),
    "closeloop_job_last_success_timestamp_seconds": ("gauge", "Unix time of each job's last successful run."),
    "closeloop_job_failures_total": ("counter", "Runs of each job that raised."),
}


class Metrics:
    """Thread-safe counters, gauges and histograms, keyed by name and labels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], _Histogram] = {}

    @staticmethod
    def _key(name: str, labels: Mapping[str, str] | None) -> tuple[str, Labels]:
        return name, tuple(sorted((labels or {}).items()))

    def inc(self, name: str, labels: Mapping[str, str] | None = None, by: float = 1) -> None:
        key = self._key(name, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + by

    def set(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self._values[self._key(name, labels)] = value

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None,
                buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        key = self._key(name, labels)
        with self._lock:
            histogram = self._histograms.setdefault(key, _Histogram(buckets))
            for i, bound in enumerate(histogram.buckets):
                if value <= bound:
                    histogram.counts[i] += 1
            histogram.total += value
            histogram.count += 1

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        with self._lock:
            return self._values.get(self._key(name, labels), 0.0)

    def families(self) -> list[Family]:
        with self._lock:
            by_name: dict[str, list[Sample]] = {}
            for (name, labels), value in sorted(self._values.items()):
                by_name.setdefault(name, []).append(Sample(name, dict(labels), value))
            for (name, labels), h in sorted(self._histograms.items()):
                samples = by_name.setdefault(name, [])
                for bound, count in zip(h.buckets, h.counts, strict=True):
                    samples.append(Sample(f"{name}_bucket", {**dict(labels), "le": _number(bound)}, count))
                samples.append(Sample(f"{name}_bucket", {**dict(labels), "le": "+Inf"}, h.count))
                samples.append(Sample(f"{name}_sum", dict(labels), h.total))
                samples.append(Sample(f"{name}_count", dict(labels), h.count))
        return [Family(name, *HELP.get(name, ("gauge", name)), samples) for name, samples in by_name.items()]


def timed(metrics: Metrics, name: str) -> _Timer:
    return _Timer(metrics, name)


class _Timer:
    def __init__(self, metrics: Metrics, name: str) -> None:
        self.metrics, self.name, self.start = metrics, name, 0.0

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.metrics.observe(self.name, time.perf_counter() - self.start)


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(families: Iterable[Family]) -> str:
    """The Prometheus text format (version 0.0.4) of ``families``."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sample.labels.items())
            lines.append(f"{sample.name}{{{labels}}} {_number(sample.value)}" if labels
                         else f"{sample.name} {_number(sample.value)}")
    return "\n".join(lines) + "\n"


METRICS = Metrics()
"""The process's metrics; every daemon role records into it."""
