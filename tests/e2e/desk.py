"""The care desk as an operator runs it: a config.toml on disk, the installed `closeloop` script as
subprocesses, the platform fakes and an SMTP server in this process, and read-only looks at the database.

Nothing here builds what `closeloop` builds itself (sources, posters, the scheduler, the console): the test
process writes files, runs commands, talks HTTP and reads rows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (the tables, to read them)
from tests.e2e.platforms import BRAND, KEYWORD, Platform
from tests.e2e.story import Story

CLOSELOOP = Path(sys.executable).with_name("closeloop")
AGENT = "Maria Jensen"
SIGNATURE = "– Maria, Acme care"
RECIPIENTS = ("ceo@acme.example", "care-lead@acme.example")
SOURCE_INTERVAL_SECONDS = 10  # the least a source may be configured to wait between polls
FOLLOWUP_INTERVAL_SECONDS = 10  # likewise for the thread of an open case
T = TypeVar("T")
MENTION, AUTHOR, SENTIMENT, CASE, DRAFT, SOURCE = (
    SQLModel.metadata.tables[name] for name in ("mention", "author", "sentiment", "case", "draft", "source"))


class DaemonDied(AssertionError):
    """A `closeloop run` under test exited while the test waited on it."""


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(path: Path, *, database_url: str, platforms: Iterable[Platform], replay: Path, console_port: int,
                 smtp_port: int) -> Path:
    """The operator's config.toml: one source per platform (credentials stay in the environment), a replay
    file, tiny ticks so the loop turns in seconds, a console port and the local SMTP server."""
    rows = list(platforms)
    handles = "\n".join(f"{p.name} = {toml_value(p.brand_handle)}" for p in rows)
    sources = "\n".join(
        f"[[sources]]\nname = {toml_value(f'acme-{p.name}')}\nplatform = {toml_value(p.name)}\n"
        f"interval_seconds = {SOURCE_INTERVAL_SECONDS}\n[sources.options]\n"
        + "\n".join(f"{k} = {toml_value(v)}" for k, v in p.source_options().items()) + "\n"
        for p in rows)
    path.write_text(f"""\
[app]
timezone = "UTC"
response_target_minutes = 60

[database]
url = {toml_value(database_url)}

[[brands]]
name = {toml_value(BRAND)}
keywords = [{toml_value(KEYWORD)}]
default_language = "en"
[brands.handles]
{handles}

[[agents]]
name = {toml_value(AGENT)}
signature = {toml_value(SIGNATURE)}
languages = ["en"]

[scoring]
backend = "lexicon"

{sources}
[[sources]]
name = "acme-replay"
platform = "replay"
path = {toml_value(str(replay))}
interval_seconds = {SOURCE_INTERVAL_SECONDS}

[daemon]
poll_tick_seconds = 0.5
process_tick_seconds = 0.5
post_tick_seconds = 0.5
followup_interval_seconds = {FOLLOWUP_INTERVAL_SECONDS}
reconcile_settle_seconds = 1
health_port = 0
stop_timeout_seconds = 15

[console]
host = "127.0.0.1"
port = {console_port}

[resolution]
csat_followup = true

[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "closeloop@acme.example"
timeout_seconds = 10

[digest]
recipients = {toml_value(list(RECIPIENTS))}
weekday = "mon"
hour = 0
""", "utf-8")
    return path


@dataclass
class Daemon:
    """One `closeloop run` process; its output goes to a file (a pipe nobody reads would stall it)."""

    node_id: str
    roles: str
    process: subprocess.Popen[bytes]
    log: Path
    signalled: bool = False

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def terminate(self) -> None:
        """One SIGTERM, as a supervisor sends it (a second one during the exit would be a different test)."""
        if not self.signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.signalled = True

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (once) and the exit status; fails when it is still running after ``timeout``."""
        self.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"{self.node_id} did not stop within {timeout}s of SIGTERM:\n"
                                 f"{self.output()[-3000:]}") from None


@dataclass
class Desk:
    root: Path
    backend: str
    database_url: str
    config: Path
    env: dict[str, str]
    platforms: list[Platform]
    console: str
    inbox: Any
    story: dict[str, Story] = field(default_factory=dict)
    daemons: list[Daemon] = field(default_factory=list)
    stopped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # waits that ran out, for the failures that follow
    transcript: list[str] = field(default_factory=list)  # every command's output
    _engine: Engine | None = None

    def platform(self, name: str) -> Platform:
        return next(p for p in self.platforms if p.name == name)

    # -- the shipped command ------------------------------------------------------------------------
    def closeloop(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`closeloop --config config.toml ARGS`, as an operator types it; never raises on a non-zero exit."""
        done = subprocess.run([str(CLOSELOOP), "--config", str(self.config), *args], env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False)
        self.transcript.append(f"$ closeloop {' '.join(args)}\n{done.stdout}{done.stderr}")
        return done

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.closeloop(*args, stdin=stdin)
        assert done.returncode == 0, f"closeloop {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout

    def start_daemon(self, node_id: str, roles: str) -> Daemon:
        log = self.root / f"{node_id}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [str(CLOSELOOP), "--config", str(self.config), "--log-level", "INFO", "run", "--roles", roles,
             "--node-id", node_id], env=self.env, cwd=self.root, stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        daemon = Daemon(node_id, roles, process, log)
        self.daemons.append(daemon)
        return daemon

    def stop_daemons(self) -> dict[str, int]:
        for daemon in self.daemons:
            daemon.terminate()
        for daemon in self.daemons:
            self.stopped[daemon.node_id] = daemon.stop()
        return dict(self.stopped)

    def kill_daemons(self) -> None:
        """Whatever still runs when the module ends (a test failed before stopping it)."""
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait(timeout=10)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def logs(self) -> str:
        return "\n".join(f"--- {d.node_id} ({d.roles}) ---\n{d.output()[-4000:]}" for d in self.daemons)

    # -- waiting on progress ------------------------------------------------------------------------
    def wait(self, what: str, probe: Callable[[], T | None], *, timeout: float = 90) -> T:
        """Poll ``probe`` until it returns something truthy; fail naming ``what`` (with the daemons' logs)
        after ``timeout`` seconds, or at once when a daemon has died."""
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found:
                return found
            dead = [d for d in self.daemons if d.process.poll() is not None and d.node_id not in self.stopped]
            if dead:
                raise DaemonDied(f"waiting for {what}: closeloop run --node-id {dead[0].node_id} exited "
                                     f"{dead[0].process.returncode}:\n{dead[0].output()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")
            time.sleep(0.1)

    def settle(self, what: str, probe: Callable[[], object], *, timeout: float = 90) -> bool:
        """``wait``, except that running out of time is noted (for the failures that follow) rather than
        raised, so the tests after a step still report platform by platform what is missing."""
        try:
            self.wait(what, probe, timeout=timeout)
        except DaemonDied:
            raise
        except AssertionError as exc:
            self.notes.append(str(exc))
            return False
        return True

    # -- reading the database -----------------------------------------------------------------------
    @property
    def db(self) -> Engine:
        if self._engine is None:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            self._engine = create_engine(url)
        return self._engine

    def rows(self, query: Any) -> list[Any]:
        with self.db.connect() as connection:
            return list(connection.execute(query))

    def mention(self, platform: str, platform_id: str) -> Any:
        """The stored mention with its author, case and sentiment, or None."""
        found = self.rows(
            select(MENTION.c.id, MENTION.c.case_id, MENTION.c.conversation_id, MENTION.c.in_reply_to_id,
                   MENTION.c.created_at, MENTION.c.triaged_at, AUTHOR.c.handle, SENTIMENT.c.label)
            .join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
            .outerjoin(SENTIMENT, SENTIMENT.c.mention_id == MENTION.c.id)
            .where(MENTION.c.platform == platform, MENTION.c.platform_id == platform_id))
        assert len(found) <= 1, f"{platform} post {platform_id} is stored {len(found)} times"
        return found[0] if found else None

    def platform_ids(self, platform: str) -> list[str]:
        """Every stored mention of ``platform``, by platform id (repeats included)."""
        return [row.platform_id for row in self.rows(
            select(MENTION.c.platform_id).where(MENTION.c.platform == platform))]

    def mentions_between(self, start: datetime, end: datetime) -> int:
        """Mentions posted in [start, end) by anyone but the brand."""
        own = [p.brand_handle for p in self.platforms]
        return len(self.rows(select(MENTION.c.id).join(AUTHOR, AUTHOR.c.id == MENTION.c.author_id)
                             .where(MENTION.c.created_at >= start, MENTION.c.created_at < end,
                                    AUTHOR.c.handle.not_in(own))))

    def untriaged(self) -> int:
        return len(self.rows(select(MENTION.c.id).where(MENTION.c.triaged_at.is_(None))))

    def case(self, case_id: int) -> Any:
        """The case, or None."""
        found = self.rows(select(CASE.c.id, CASE.c.state, CASE.c.resolution, CASE.c.csat, CASE.c.platform,
                                 CASE.c.first_response_at, CASE.c.conversation_id, CASE.c.lane)
                          .where(CASE.c.id == case_id))
        return found[0] if found else None

    def drafts(self, case_id: int, kind: str | None = None) -> list[Any]:
        query = select(DRAFT.c.id, DRAFT.c.kind, DRAFT.c.status, DRAFT.c.approved_by, DRAFT.c.platform_reply_id,
                       DRAFT.c.mention_id, DRAFT.c.text).where(DRAFT.c.case_id == case_id)
        if kind is not None:
            query = query.where(DRAFT.c.kind == kind)
        return self.rows(query.order_by(DRAFT.c.id))

    def source(self, name: str) -> Any:
        [row] = self.rows(select(SOURCE.c.last_success_at, SOURCE.c.lease_owner, SOURCE.c.last_error)
                          .where(SOURCE.c.name == name))
        return row


def subprocess_env(platforms: Iterable[Platform]) -> dict[str, str]:
    """The daemon's environment: this one without any CLOSELOOP_* of the developer's, plus the secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    for platform in platforms:
        env.update(platform.env)
    return env
