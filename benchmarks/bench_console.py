"""Console server time: the queue page and a case page over 1,000,000 mentions and 20,000 open cases.

The database is filled directly with bulk Core inserts (COPY on PostgreSQL), not through the pipeline: 100,000
authors on four platforms, 20,000 open and 10,000 resolved cases each with a scored root mention and a draft,
and the rest of the million mentions spread over the authors. Then N requests of each page through FastAPI's
TestClient; the server time is the app's own ``Server-Timing`` header (middleware to response), the wall time
includes the in-process client. Generated databases live in a temporary directory (SQLite) or a database of
our own that is dropped afterwards (PostgreSQL).

    python benchmarks/bench_console.py [--mentions 1000000] [--open 20000] [--requests 200] [--pg URL] [--only sqlite]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.db import make_engine, prepare
from models.tables import Author, Case, Draft, Mention, Sentiment
from models.types import utcnow
from models.users import create_user
from monitor.config import load_settings
from responders.web.app import create_app
from responders.web.auth import hash_password

REPO = Path(__file__).resolve().parent.parent
PLATFORMS = ("x", "reddit", "mastodon", "bluesky")
WORDS = ("order", "late", "refund", "app", "crash", "login", "support", "parcel", "charged", "twice", "broken",
         "waiting", "days", "still", "nothing", "why", "help", "awful", "never", "arrived")
AUTHORS = 100_000
RESOLVED = 10_000
CHUNK = 20_000


def _text(rng: random.Random) -> str:
    return "@acme " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))


def _rows(mentions: int, open_cases: int, now: datetime, seed: int = 11) -> dict[str, Iterator[dict[str, Any]]]:
    """Row generators per table, in insertion order. Case i has root mention i (ids from 1)."""
    cases = open_cases + RESOLVED

    def authors() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed)
        for n in range(1, AUTHORS + 1):
            platform_name = PLATFORMS[n % 4]
            handle = f"user{n // 4}" if n % 10 else f"User{n // 4}"  # one person often on several platforms
            yield {"id": n, "platform": platform_name, "key": f"k{n}", "handle": handle, "name": f"Person {n}",
                   "followers": rng.randint(0, 200_000), "verified": False, "first_seen_at": now - timedelta(days=90)}

    def author_of(i: int) -> int:
        return (i * 7919) % AUTHORS + 1

    def created(i: int, rng: random.Random) -> datetime:
        if i <= open_cases:  # open cases: from 3 hours ago to just now, so some are breached
            return now - timedelta(minutes=rng.uniform(0, 180))
        return now - timedelta(days=rng.uniform(0, 30))

    def case_rows() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed + 1)
        for i in range(1, cases + 1):
            at = created(i, rng)
            state = "open" if i <= open_cases else "resolved"
            yield {"id": i, "brand": "Acme", "platform": PLATFORMS[author_of(i) % 4], "author_id": author_of(i),
                   "root_mention_id": i, "conversation_id": f"c{i}", "state": state,
                   "resolution": None if state == "open" else "agent", "category": "general", "language": "en",
                   "prior_complaints": rng.randint(0, 2), "opened_at": at, "deadline_at": at + timedelta(hours=1),
                   "updated_at": at}

    def mention_rows() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed + 2)
        rng_case = random.Random(seed + 1)
        for i in range(1, mentions + 1):
            is_root = i <= cases
            at = created(i, rng_case) if is_root else now - timedelta(days=rng.uniform(0, 60))
            author = author_of(i) if is_root else rng.randint(1, AUTHORS)
            yield {"id": i, "platform": PLATFORMS[author % 4], "canonical_id": f"m{i}", "platform_id": f"m{i}",
                   "brand": "Acme", "author_id": author, "text": _text(rng),
                   "url": f"https://x.com/u/status/{i}", "created_at": at, "fetched_at": at,
                   "conversation_id": f"c{i}" if is_root else f"c{rng.randint(1, cases)}", "language": "en",
                   "reply_eligible": True, "triaged_at": at, "is_complaint": is_root,
                   "case_id": i if is_root else None, "created_at_known": True}

    def sentiment_rows() -> Iterator[dict[str, Any]]:
        rng = random.Random(seed + 3)
        for i in range(1, cases + 1):
            yield {"mention_id": i, "label": "negative", "score": rng.uniform(0.5, 1), "model": "lexicon:vader",
                   "scored_at": now}

    def draft_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, cases + 1):
            yield {"id": i, "case_id": i, "mention_id": i, "kind": "reply", "status": "draft" if i <= open_cases else "sent",
                   "language": "en", "category": "general", "quote": "",
                   "text": "Jane, I'm sorry your order is late. I've asked the courier today. – Maria, Acme care",
                   "agent": "Maria", "attempts": 0, "created_at": now, "updated_at": now}

    return {"author": authors(), "case": case_rows(), "mention": mention_rows(), "sentiment": sentiment_rows(),
            "draft": draft_rows()}


TABLES = {"author": Author, "case": Case, "mention": Mention, "sentiment": Sentiment, "draft": Draft}


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def fill(engine: Engine, *, mentions: int, open_cases: int, now: datetime) -> None:
    for name, rows in _rows(mentions, open_cases, now).items():
        table = TABLES[name].__table__  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                for chunk in _chunks(rows):
                    columns = list(chunk[0])
                    buffer = io.StringIO()
                    for row in chunk:
                        buffer.write("\t".join(_copy_value(row[c]) for c in columns) + "\n")
                    quoted = ", ".join(f'"{c}"' for c in columns)
                    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:  # type: ignore[attr-defined]
                        copy.write(buffer.getvalue())
                raw.commit()
            finally:
                raw.close()
        else:
            for chunk in _chunks(rows):
                with engine.begin() as connection:
                    connection.execute(table.insert(), chunk)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for name in ("author", "case", "mention", "draft"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), (SELECT max(id) FROM \"{name}\"))")
        connection.exec_driver_sql("ANALYZE")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(engine: Engine, *, requests: int, open_cases: int) -> dict[str, dict[str, float]]:
    settings = load_settings(REPO / "config.toml", env={})
    create_user(engine, name="bench", password_hash=hash_password("bench password"), role="approver", now=utcnow())
    client = TestClient(create_app(settings, engine), follow_redirects=False)
    form = client.get("/login").text
    token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/login", data={"name": "bench", "password": "bench password", "csrf": token}).status_code == 303
    rng = random.Random(5)
    results: dict[str, dict[str, float]] = {}
    for label, path_of in (("queue page", lambda: "/"), ("case page", lambda: f"/cases/{rng.randint(1, open_cases)}")):
        for _ in range(5):  # warm caches and the template compiler
            client.get(path_of())
        server, wall = [], []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path_of())
            wall.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            server.append(float(response.headers["server-timing"].split("dur=")[1]))
        results[label] = {"p50": _percentile(server, 0.5), "p95": _percentile(server, 0.95),
                          "max": max(server), "wall_p95": _percentile(wall, 0.95), "mean": statistics.mean(server)}
    return results


def run_sqlite(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        prepare(engine)
        started = time.perf_counter()
        fill(engine, mentions=args.mentions, open_cases=args.open, now=utcnow())
        print(f"sqlite: filled in {time.perf_counter() - started:.0f} s")
        try:
            return measure(engine, requests=args.requests, open_cases=args.open)
        finally:
            engine.dispose()


def run_postgres(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    server = make_engine(args.pg)
    name = f"closeloop_bench_{uuid.uuid4().hex[:8]}"
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"{args.pg.rsplit('/', 1)[0]}/{name}")
    try:
        prepare(engine)
        started = time.perf_counter()
        fill(engine, mentions=args.mentions, open_cases=args.open, now=utcnow())
        print(f"postgresql: filled in {time.perf_counter() - started:.0f} s")
        return measure(engine, requests=args.requests, open_cases=args.open)
    finally:
        engine.dispose()
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", default=os.environ.get("CLOSELOOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "console.md"))
    args = parser.parse_args()
    results = {}
    if args.only in (None, "sqlite"):
        results["SQLite"] = run_sqlite(args)
    if args.only in (None, "postgresql"):
        results["PostgreSQL"] = run_postgres(args)
    lines = [
        "# Console server time",
        "",
        f"`python benchmarks/bench_console.py` — {args.mentions:,} mentions, {args.open:,} open cases "
        f"(+{RESOLVED:,} resolved), {AUTHORS:,} authors; {args.requests} requests per page after 5 warm-up requests; "
        "server time from the app's `Server-Timing` header (middleware to response, in-process TestClient). "
        "Queue page: first page (50 cases), default filters. Case page: a random open case each request.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}.",
        "",
        "| database | page | p50 ms | p95 ms | max ms | wall p95 ms | target p95 |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for database, pages in results.items():
        for page, r in pages.items():
            verdict = "met" if r["p95"] < 150 else "MISSED"
            lines.append(f"| {database} | {page} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | "
                         f"{r['wall_p95']:.1f} | < 150 ms: {verdict} |")
    Path(args.out).write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
