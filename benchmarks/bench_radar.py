"""The crisis radar's cost per tick with a million mentions stored, against recounting from scratch.

Setup: ``--mentions`` ordinary mentions (the bundled scenario's generator, scaled up: its daily and weekly
rhythm, six languages, four platforms) spread over ``--days`` days, stored already triaged, and counted by
the radar as it would have counted them live (one catch-up, timed too). Then the daemon's ticks, every
``--tick-seconds`` of simulated time:

- ``--ticks`` ordinary ticks: the mentions that arrive in that time at the same rhythm (a couple per tick
  at a million a month);
- ``--burst-ticks`` ticks of an outage: ``--burst-per-tick`` people posting about a login failure on top,
  which opens a spike, links its mentions and names it.

- **ours**: ``radar_tick`` — reads the mentions after its cursor and the counts of the topics and hours it
  touches; the window and the weights it already holds stay in memory between ticks.
- **naive baseline**: recount from scratch — read every stored mention of the baseline period, find their
  topics, rebuild the hourly volumes and topic weights, and judge the window at the same moment (the same
  Sweep, fed everything). Timed on ``--naive-ticks`` ordinary ticks (it is slow).

Both in the same run, on the same database file. Times are wall-clock on a shared machine.

    python benchmarks/bench_radar.py [--mentions 1000000] [--days 28] [--ticks 60] [--burst-ticks 12]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.alerts import list_spikes
from models.db import make_engine, prepare
from models.tables import Author, Mention, RadarTopic
from monitor.config import Settings, load_settings
from monitor.demo.radar_week import DAY_FACTOR, SHAPE, ordinary_mentions
from monitor.radar.sweep import Memory, Post, Sweep
from monitor.radar.terms import topics
from monitor.radar.tick import _vocabularies, radar_tick

_author = Author.__table__  # type: ignore[attr-defined]
_mention = Mention.__table__  # type: ignore[attr-defined]
COMPLAINT_WORDS = ("late", "charged", "leaking", "nobody", "damaged", "soaked", "noise", "wrong", "crashed", "broken",
                   "ikke", "kahdesti", "katki", "לא", "안")


class Store:
    """Writes generated mentions straight into the tables, already triaged (the pipeline is not measured)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.authors: dict[tuple[str, str], int] = {}

    def write(self, records: list[dict[str, Any]], *, now: datetime) -> None:
        if not records:
            return
        with self.engine.begin() as connection:
            fresh = {}
            for r in records:
                key = (r["platform"], r["author"]["id"])
                if key not in self.authors and key not in fresh:
                    fresh[key] = {"platform": key[0], "key": key[1], "handle": r["author"]["handle"],
                                  "name": r["author"]["name"], "followers": r["author"]["followers"],
                                  "verified": False, "first_seen_at": now}
            if fresh:
                connection.execute(_author.insert(), list(fresh.values()))
                for row in connection.execute(select(_author.c.id, _author.c.platform, _author.c.key).where(
                        _author.c.id > (max(self.authors.values()) if self.authors else 0))):
                    self.authors[(row.platform, row.key)] = row.id
            connection.execute(_mention.insert(), [
                {"platform": r["platform"], "canonical_id": r["id"], "platform_id": r["id"], "brand": "Acme",
                 "author_id": self.authors[(r["platform"], r["author"]["id"])], "text": r["text"],
                 "url": r["url"], "created_at": datetime.fromisoformat(r["created_at"]), "created_at_known": True,
                 "fetched_at": now, "language": r["lang"], "triaged_at": now,
                 "is_complaint": any(w in r["text"] for w in COMPLAINT_WORDS), "metrics": r["metrics"]}
                for r in records])


def peak_for(count: int, days: int) -> float:
    """The generator's peak hourly rate that gives about ``count`` mentions over ``days`` (whole weeks)."""
    return count / (days * 24 * (sum(SHAPE) / 24) * (sum(DAY_FACTOR) / 7))


SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "po", "fa", "ge", "hu", "ja", "be", "zo")


def _word(n: int) -> str:
    letters = ""
    while True:
        letters += SYLLABLES[n % len(SYLLABLES)]
        n //= len(SYLLABLES)
        if not n:
            return letters + "x"


def generate(rng: random.Random, start: datetime, end: datetime, peak: float, serial: int,
             people: int) -> list[dict[str, Any]]:
    """The scenario's ordinary mentions, each with a few more words drawn from a long-tailed vocabulary of
    30,000 (real posts use far more words than the scenario's templates)."""
    records = list(ordinary_mentions(rng, start, end, peak_per_hour=peak, people=people, serial=serial))
    for record in records:
        extra = " ".join(_word(min(int(rng.paretovariate(1.05)), 30_000)) for _ in range(rng.randint(2, 5)))
        record["text"] = f"{record['text']} {extra}"
    return records


OUTAGE = ("@acme can't log in to the app, login keeps failing", "@acme appen virker ikke, kan ikke logge ind",
          "@acme sovellus ei toimi, kirjautuminen epäonnistuu", "@acme 앱 로그인이 안 돼요")


def outage(rng: random.Random, start: datetime, end: datetime, count: int, serial: int) -> list[dict[str, Any]]:
    records = generate(rng, start, end, 50_000.0, serial, 1_000_000)[:count]
    for n, record in enumerate(records):
        record["text"] = OUTAGE[n % len(OUTAGE)]
        record["author"] = {**record["author"], "id": f"burst-{serial + n}", "handle": f"burst{serial + n}"}
    return records


def naive_tick(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """Recount from scratch: every mention of the baseline period, its topics, the volumes and weights, then
    the same judgement of the window at ``now``."""
    radar = settings.radar
    since = now - timedelta(days=max(radar.recent_days, 7 * radar.baseline_weeks) + 1)
    vocabularies = _vocabularies(settings)
    with engine.connect() as connection:
        rows = connection.execute(
            select(_mention.c.id, _mention.c.brand, _mention.c.platform, _mention.c.created_at, _mention.c.author_id,
                   _mention.c.text, _mention.c.language, _mention.c.is_complaint)
            .where(_mention.c.created_at > since, _mention.c.created_at <= now)).all()
    posts = [Post(r.id, r.brand, r.platform, r.created_at, r.author_id, bool(r.is_complaint),
                  frozenset(topics(r.text, r.language, vocabulary=vocabularies[r.brand]))) for r in rows]
    sweep = Sweep(radar, evaluated_until=now - timedelta(seconds=radar.step_seconds), memory=Memory(), spikes=[])
    sweep.run(posts, end=now)
    return len(posts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--tick-seconds", type=float, default=5.0)
    parser.add_argument("--burst-ticks", type=int, default=12)
    parser.add_argument("--burst-per-tick", type=int, default=20)
    parser.add_argument("--naive-ticks", type=int, default=1)
    parser.add_argument("--db", help="SQLite file to use (default: a temporary one)")
    args = parser.parse_args()

    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml", env={})
    settings = settings.model_copy(update={"radar": settings.radar.model_copy(update={"recipients": ()})})
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="bench-radar-")) / "radar.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare(engine)
    store = Store(engine)
    rng = random.Random(11)
    end = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday morning
    peak = peak_for(args.mentions, args.days)
    people = max(900, args.mentions // 20)

    began = time.perf_counter()
    day, serial = end - timedelta(days=args.days), 0
    while day < end:
        records = generate(rng, day, day + timedelta(days=1), peak, serial, people)
        serial += len(records) + 1
        for n in range(0, len(records), 20_000):
            store.write(records[n:n + 20_000], now=end)
        day += timedelta(days=1)
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(_mention)).scalar_one()
    print(f"stored {stored:,} mentions in {time.perf_counter() - began:.0f} s", flush=True)

    began = time.perf_counter()
    radar_tick(engine, settings, now=None)
    catch_up = time.perf_counter() - began
    with engine.connect() as connection:
        weights = connection.execute(select(func.count()).select_from(RadarTopic.__table__)).scalar_one()  # type: ignore[attr-defined]
    print(f"radar caught up with {stored:,} mentions in {catch_up:.0f} s ({stored / catch_up:,.0f}/s); "
          f"{weights:,} topic weights kept", flush=True)

    step = timedelta(seconds=args.tick_seconds)
    now = end
    ordinary: list[float] = []
    burst: list[float] = []
    naive: list[float] = []
    arrived = 0
    for tick in range(args.ticks + args.burst_ticks):
        fresh = generate(rng, now, now + step, peak, serial, people)
        serial += len(fresh) + 1
        in_burst = tick >= args.ticks
        if in_burst:
            fresh += outage(rng, now, now + step, args.burst_per_tick, serial)
            serial += args.burst_per_tick + 1
        now += step
        store.write(fresh, now=now)
        arrived += len(fresh)
        began = time.perf_counter()
        radar_tick(engine, settings, now=now)
        (burst if in_burst else ordinary).append(time.perf_counter() - began)
        if not in_burst and tick < args.naive_ticks:
            began = time.perf_counter()
            counted = naive_tick(engine, settings, now=now)
            naive.append(time.perf_counter() - began)
            print(f"naive tick: {naive[-1]:.1f} s ({counted:,} mentions recounted); ours "
                  f"{ordinary[-1] * 1000:.0f} ms", flush=True)
    opened = list_spikes(engine)

    def ms(values: list[float], q: float) -> str:
        return f"{sorted(values)[min(len(values) - 1, int(len(values) * q))] * 1000:.0f} ms"

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
          "SQLite (WAL, synchronous=FULL)")
    print(f"mentions stored: {stored:,} over {args.days} days; ticks of {args.tick_seconds:g} s; "
          f"{arrived:,} arrived during {len(ordinary) + len(burst)} ticks")
    print("| tick | median | p95 | vs naive (median) |")
    print("|---|---:|---:|---:|")
    print(f"| naive: recount from scratch | {statistics.median(naive):.1f} s | — | 1× |")
    print(f"| ours, ordinary traffic | {ms(ordinary, 0.5)} | {ms(ordinary, 0.95)} | "
          f"**{statistics.median(naive) / statistics.median(ordinary):,.0f}×** |")
    if burst:
        print(f"| ours, during an outage (+{args.burst_per_tick} posts a tick, spike open) | {ms(burst, 0.5)} | "
              f"{ms(burst, 0.95)} | {statistics.median(naive) / statistics.median(burst):,.0f}× |")
    print(f"catch-up (one-off, counting all {stored:,}): {catch_up:.0f} s, {stored / catch_up:,.0f} mentions/s; "
          f"spikes open at the end: {[(s.id, s.topic[:3]) for s in opened]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
