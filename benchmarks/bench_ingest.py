"""Ingest throughput without the model: parse, dedupe, store, from a replay file.

Ours: the replay source in batches of 1,000 through models.mentions.store_batch (bulk inserts, one
transaction per batch, cursor saved with it). Baseline: the naive way, one ``session.add`` and commit per
mention (author looked up or created first). Both on the same machine, in the same run, on SQLite and on
PostgreSQL. The baseline is timed on a prefix of the file (it is slow); rates are mentions per second.

    python benchmarks/bench_ingest.py [--mentions 100000] [--baseline 3000] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from models.db import make_engine, prepare
from models.mentions import author_key
from models.tables import Author, Mention
from monitor.pipeline import fetch_and_store
from monitor.sources.replay import ReplaySource, parse_replay_lines

WORDS = ("order", "late", "refund", "app", "crash", "login", "great", "thanks", "support", "parcel", "charged",
         "twice", "broken", "love", "waiting", "days", "still", "nothing", "why", "help")


def make_replay(path: Path, count: int, *, seed: int = 7) -> None:
    """``count`` mentions by ~count/8 authors, with 5 % repeated lines (overlapping pages)."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    platforms = ("x", "reddit", "mastodon", "bluesky")
    with path.open("w", encoding="utf-8") as handle:
        written = 0
        n = 0
        while written < count:
            n += 1
            author = rng.randrange(max(1, count // 8))
            record = {
                "platform": platforms[n % 4], "id": f"{n:012d}",
                "text": "@acme " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40))),
                "created_at": (start + timedelta(seconds=n * 7)).isoformat(),
                "author": {"id": f"a{author}", "handle": f"user{author}", "name": f"User {author}",
                           "followers": rng.randint(0, 50_000), "verified": False},
                "url": f"https://example.com/{n}", "conversation_id": f"{n:012d}", "in_reply_to_id": None,
                "lang": None, "metrics": {"likes": rng.randint(0, 9), "reposts": 0, "replies": 0},
            }
            line = json.dumps(record) + "\n"
            handle.write(line)
            written += 1
            if rng.random() < 0.05 and written < count:
                handle.write(line)
                written += 1


def ours(url: str, path: Path) -> tuple[float, int]:
    engine = make_engine(url)
    prepare(engine)
    began = time.perf_counter()
    report = fetch_and_store(engine, ReplaySource(name="bench", path=path, batch_size=1000), brand="Acme",
                             source_id=None)
    elapsed = time.perf_counter() - began
    engine.dispose()
    return report.read / elapsed, report.new


def naive(url: str, path: Path, limit: int) -> float:
    """One session.add + commit per mention: how ingest looks when written the obvious way."""
    engine = make_engine(url)
    prepare(engine)
    with path.open(encoding="utf-8") as handle:
        lines = [(i, line) for i, line in zip(range(1, limit + 1), handle, strict=False)]
    began = time.perf_counter()
    mentions, _bad = parse_replay_lines(lines)
    with Session(engine) as session:
        for m in mentions:
            if session.exec(select(Mention.id).where(Mention.platform == m.platform,
                                                     Mention.canonical_id == m.canonical_id)).first():
                continue
            key = author_key(m.author)
            author = session.exec(select(Author).where(Author.platform == m.platform, Author.key == key)).first()
            if author is None:
                author = Author(platform=m.platform, key=key, handle=m.author.handle, name=m.author.name,
                                followers=m.author.followers, verified=m.author.verified)
                session.add(author)
                session.commit()
            session.add(Mention(platform=m.platform, canonical_id=m.canonical_id, platform_id=m.platform_id,
                                brand="Acme", author_id=author.id, text=m.text, url=m.url,
                                created_at=m.created_at or datetime.now(UTC), conversation_id=m.conversation_id,
                                metrics=dict(m.metrics), raw=dict(m.raw)))
            session.commit()
    elapsed = time.perf_counter() - began
    engine.dispose()
    return len(lines) / elapsed


def postgres_url(base: str) -> tuple[str, callable]:  # type: ignore[valid-type]
    server = make_engine(base)
    name = f"closeloop_bench_{uuid.uuid4().hex[:8]}"
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return base.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=3_000, help="lines the naive baseline is timed on")
    parser.add_argument("--pg", default=os.environ.get("CLOSELOOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ingest.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        replay = Path(tmp) / "bench.jsonl"
        make_replay(replay, args.mentions)
        targets = [("SQLite (WAL, synchronous=FULL)", lambda: (f"sqlite:///{tmp}/ours.db", lambda: None),
                    lambda: (f"sqlite:///{tmp}/naive.db", lambda: None))]
        if args.pg:
            targets.append(("PostgreSQL 15 (local)", lambda: postgres_url(args.pg), lambda: postgres_url(args.pg)))
        for name, ours_db, naive_db in targets:
            url, drop = ours_db()
            try:
                rate, new = ours(url, replay)
            finally:
                drop()
            url, drop = naive_db()
            try:
                base = naive(url, replay, args.baseline)
            finally:
                drop()
            rows.append((name, rate, base, new))
            print(f"{name}: ours {rate:,.0f}/s ({new:,} new of {args.mentions:,}), naive {base:,.0f}/s, "
                  f"x{rate / base:.1f}", flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [
        f"# Ingest benchmark ({datetime.now(UTC):%Y-%m-%d})", "",
        f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}.",
        f"Replay of {args.mentions:,} mentions (5 % repeated lines); ours in batches of 1,000; "
        f"the naive baseline (one session.add + commit per mention) timed on the first {args.baseline:,} lines.", "",
        "| database | ours (mentions/s) | naive baseline (mentions/s) | ratio |", "|---|---:|---:|---:|",
    ]
    lines += [f"| {n} | {r:,.0f} | {b:,.0f} | {r / b:.1f}× |" for n, r, b, _ in rows]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
