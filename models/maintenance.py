"""Backups and checks of the database an operator runs: `closeloop backup` and `closeloop check`.

A SQLite backup is taken with SQLite's online backup API in one step: it reads one consistent snapshot (in
WAL mode writers carry on meanwhile), writes it to a temporary file next to the target, checks the copy's
integrity and only then moves it into place, so a backup file that exists is a whole, checked one.
PostgreSQL is backed up with its own tool (pg_dump); closeloop only says how.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.db import SQLITE_BUSY_TIMEOUT_MS, current_revision, head_revision, reading
from models.quarantine import quarantine_counts


class BackupUnsupported(Exception):
    """This database is not backed up by closeloop; the message says what to run instead."""


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite engine (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return Path(engine.url.database)


def pg_dump_advice(engine: Engine) -> str:
    url = engine.url
    target = f"-h {url.host or 'localhost'} -p {url.port or 5432} -U {url.username or 'closeloop'} {url.database}"
    return ("closeloop does not copy a PostgreSQL database itself; use PostgreSQL's consistent online dump:\n"
            f"  pg_dump --format=custom --file=closeloop-$(date +%F).dump {target}\n"
            "and restore with pg_restore --clean --if-exists -d <database> <file>. Put the password in ~/.pgpass "
            "(chmod 600), not on the command line.")


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    size: int
    integrity: str


def backup(engine: Engine, target: Path) -> BackupReport:
    """Copy the live database to ``target`` consistently; raises BackupUnsupported on PostgreSQL."""
    source = sqlite_path(engine)
    if source is None:
        raise BackupUnsupported(pg_dump_advice(engine) if engine.dialect.name == "postgresql"
                                else "an in-memory database has nothing to back up")
    target = target.resolve()
    if target == source.resolve():
        raise BackupUnsupported("the backup must not overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(str(source), timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(str(partial))
        try:
            src.backup(dst)  # pages=-1: the whole database from one read snapshot
            integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()
    if integrity != "ok":
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"the copy failed its integrity check: {integrity}")
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return BackupReport(target, target.stat().st_size, integrity)


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def check(engine: Engine, *, full: bool = False) -> list[Finding]:
    """What `closeloop check` reports: reachability, integrity, the SQLite settings and the schema revision."""
    findings: list[Finding] = []
    try:
        with reading(engine) as connection:
            connection.execute(text("SELECT 1"))
            if connection.dialect.name == "sqlite":
                findings += _sqlite_findings(connection, full=full)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return [Finding(False, f"database unreachable: {type(exc).__name__}: {first}",
                        "check database.url / CLOSELOOP_DATABASE_URL and that the server is running")]
    findings.append(Finding(True, "database reachable"))
    current, head = current_revision(engine), head_revision()
    if current == head:
        findings.append(Finding(True, f"schema at head ({head})"))
        findings.append(quarantine_finding(engine))
    else:
        findings.append(Finding(False, f"schema at {current or 'nothing'}, this closeloop needs {head}",
                                "closeloop backup <file> (SQLite) or pg_dump, then closeloop db upgrade"))
    return findings


def quarantine_finding(engine: Engine) -> Finding:
    """How many mentions are quarantined, per stage. Informational: a quarantined post is set aside, not a fault
    of the database, so it never fails the check."""
    counts = {stage: n for stage, n in quarantine_counts(engine).items() if n}
    detail = f" ({', '.join(f'{stage} {n}' for stage, n in counts.items())}; see the console's Quarantine page)"
    return Finding(True, f"quarantined mentions: {sum(counts.values())}{detail if counts else ''}")


def _sqlite_findings(connection: object, *, full: bool) -> list[Finding]:
    run = connection.exec_driver_sql  # type: ignore[attr-defined]
    findings = []
    pragma = "integrity_check" if full else "quick_check"
    result = [row[0] for row in run(f"PRAGMA {pragma}")]
    findings.append(Finding(result == ["ok"], f"{pragma}: {'; '.join(result[:5])}",
                            "restore the last good backup (closeloop backup files pass integrity_check)"))
    broken_keys = list(run("PRAGMA foreign_key_check"))
    findings.append(Finding(not broken_keys, f"foreign keys: {len(broken_keys)} broken reference(s)",
                            "restore the last good backup"))
    findings.extend(sqlite_setting_findings(connection))
    return findings


def sqlite_setting_findings(connection: object) -> list[Finding]:
    """WAL, synchronous=FULL and a busy timeout: what make_engine sets on every connection, checked."""
    run = connection.exec_driver_sql  # type: ignore[attr-defined]
    mode = run("PRAGMA journal_mode").scalar()
    sync = run("PRAGMA synchronous").scalar()
    busy = run("PRAGMA busy_timeout").scalar()
    return [
        Finding(str(mode).lower() == "wal", f"journal_mode {mode}",
                "keep the database on a local filesystem (WAL does not work on network filesystems)"),
        Finding(int(sync) == 2, f"synchronous {('OFF', 'NORMAL', 'FULL', 'EXTRA')[int(sync)]}",
                "open the database through closeloop (make_engine sets synchronous=FULL)"),
        Finding(int(busy) > 0, f"busy_timeout {busy} ms", "open the database through closeloop"),
    ]
