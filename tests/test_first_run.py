"""The first run, as a new operator meets it through the installed `closeloop` command: configured sources
listed before any daemon polled them, the demo's one command that opens the desk on the demo's database,
a simulated history that lies in the past, a digest preview of a week that has posts, and empty charts
that say so."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shlex
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy.engine import Engine

from models.reports import MentionRecord
from monitor.progress import stage_progress
from responders.digest import assemble_digest
from responders.digest_charts import funnel_chart, response_chart, volume_chart
from responders.metrics import iso_week, previous_week
from tests.e2e.browser import log_in
from tests.test_pipeline import POSTS, write
from tests.web_support import add_users, client, lexicon_settings, login

REPO = Path(__file__).resolve().parent.parent
CLOSELOOP = Path(sys.executable).parent / "closeloop"
LEXICON_CONFIG = (REPO / "config.toml").read_text("utf-8").replace('backend = "auto"', 'backend = "lexicon"')
# Columns that name a time to come by design (a deadline, the next poll, a lease); every other time is a record.
SCHEDULE_COLUMNS = {"deadline_at", "next_poll_at", "followup_at", "lease_until", "expires_at", "snoozed_until",
                    "editing_until", "locked_until"}


def closeloop(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLOSELOOP), *args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "COLUMNS": "160", **(env or {})})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_configured_sources_are_listed_as_never_polled_before_any_daemon_ran(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(LEXICON_CONFIG, "utf-8")
    listed = closeloop("--config", str(config), "sources", cwd=tmp_path,
                       env={"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"})
    assert listed.returncode == 0, listed.stderr
    assert "No sources configured" not in listed.stdout
    assert re.search(r"demo-replay\s+replay · Acme · never polled · last poll —", listed.stdout), listed.stdout


def test_the_console_lists_configured_sources_as_never_polled(engine: Engine) -> None:
    desk = client(engine, lexicon_settings())
    add_users(engine, ("viewer",))
    login(desk, "viewer")
    page = desk.get("/sources")
    assert page.status_code == 200
    assert "No sources configured." not in page.text
    row = re.search(r"<tr>\s*<td>demo-replay</td>.*?</tr>", page.text, re.S)
    assert row and "never polled" in row.group(0), page.text


def test_the_demo_ends_with_one_command_that_opens_the_desk_on_its_database_and_its_history_is_past(
        tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    demo = closeloop("demo", "--db", str(database), cwd=tmp_path)
    finished = datetime.now(UTC).replace(tzinfo=None)
    assert demo.returncode == 0, demo.stderr

    # Every recorded time is in the past: the simulated week ended before the demo did.
    with sqlite3.connect(database) as connection:
        future = []
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for column in [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]:
                if column in SCHEDULE_COLUMNS:
                    continue
                latest = connection.execute(f'SELECT max("{column}") FROM "{table}" WHERE typeof("{column}") = '
                                            f"'text' AND \"{column}\" GLOB '20[0-9][0-9]-[0-1][0-9]-[0-3][0-9] *'"
                                            ).fetchone()[0]
                if latest is not None and datetime.fromisoformat(latest) > finished:
                    future.append(f"{table}.{column} = {latest}")
        events = connection.execute("SELECT count(*) FROM case_event WHERE cause = 'customer_confirmed'").fetchone()[0]
    assert future == [], f"dated after the demo ended: {future}"
    assert events >= 1, "the simulated week resolved a case"

    # The demo's last line is the one command; the line before it names the account.
    last, command = demo.stdout.rstrip().splitlines()[-2:]
    password = re.search(r"as demo with the password (\S+?):$", last)
    assert password, demo.stdout[-2000:]
    assert command.startswith("  ") and command.strip().endswith(" serve"), command
    port = free_port()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = subprocess.Popen(shlex.split(command.strip()), cwd=elsewhere, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "CLOSELOOP_CONSOLE__PORT": str(port)})
    try:
        assert server.stderr is not None
        seen = []
        for line in server.stderr:  # the console says where it listens once its socket is bound
            seen.append(line)
            if "closeloop console on http://" in line:
                break
        else:
            raise AssertionError(f"the console never started: {''.join(seen)[-2000:]}")
        desk = log_in(f"http://127.0.0.1:{port}", "demo", password.group(1))
        queue = desk.get("/")
        assert queue.status_code == 200
        assert "grumpyhedgehog" in queue.text, "the queue holds the demo's cases"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def test_a_digest_preview_picks_the_latest_week_with_posts_when_last_week_has_none(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(LEXICON_CONFIG, "utf-8")
    env = {"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    posted = datetime.now(UTC) - timedelta(minutes=1)
    posts = [dict(p, created_at=posted.isoformat()) for p in POSTS]
    assert closeloop("--config", str(config), "ingest", str(write(tmp_path / "m.jsonl", posts)), cwd=tmp_path,
                     env=env).returncode == 0
    this_week, last_week = iso_week(posted, "UTC"), previous_week(iso_week(datetime.now(UTC), "UTC"))
    preview = closeloop("--config", str(config), "digest", "--preview", str(tmp_path / "d.html"), cwd=tmp_path,
                        env=env)
    assert preview.returncode == 0, preview.stderr
    assert f"digest {this_week} written to" in preview.stdout
    if this_week != last_week:
        assert f"no posts in {last_week}; previewing {this_week}" in preview.stdout
    html = (tmp_path / "d.html").read_text("utf-8")
    assert this_week in html

    asked = closeloop("--config", str(config), "digest", "--week", last_week, "--preview",
                      str(tmp_path / "w.html"), cwd=tmp_path, env=env)
    assert f"digest {last_week} written to" in asked.stdout and "previewing" not in asked.stdout


def test_an_empty_chart_is_a_small_image_and_a_chart_with_data_is_not() -> None:
    now = datetime(2026, 11, 18, 9, tzinfo=UTC)  # a Wednesday of 2026-W47
    empty = assemble_digest(week="2026-W47", timezone="UTC", target_minutes=60, now=now, cases=[],
                            previous_cases=[], mentions=[], previous_mentions=[], open_cases=[])
    for chart in (volume_chart, response_chart, funnel_chart):
        width, height = png_size(chart(empty))
        assert width < 800 and height < 120, (chart.__name__, width, height)
    busy = assemble_digest(week="2026-W47", timezone="UTC", target_minutes=60, now=now, cases=[],
                           previous_cases=[], mentions=[MentionRecord(now, "Acme", "x", "negative", True)],
                           previous_mentions=[], open_cases=[])
    assert png_size(volume_chart(busy))[1] > 120, "a chart with data is drawn in full"


def test_ingest_reports_each_stage_with_its_count(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(LEXICON_CONFIG, "utf-8")
    result = closeloop("--config", str(config), "ingest", str(write(tmp_path / "m.jsonl", POSTS)), cwd=tmp_path,
                       env={"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"})
    assert result.returncode == 0, result.stderr
    counts = dict(re.findall(r"^(read|scored|triaged|drafted)\s+(\d+)  in \d+\.\d s  \(", result.stdout, re.M))
    # three complaints open cases and get a reply each; the praise post gets a thank-you draft of its own
    assert counts == {"read": "6", "scored": "6", "triaged": "6", "drafted": "4"}, result.stdout
    assert "cases opened 3, praise 1, drafts 4" in result.stdout


def test_run_once_reports_the_stages_it_ran(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(LEXICON_CONFIG.replace('path = "monitor/demo/demo.jsonl"',
                                             f"path = {json.dumps(str(write(tmp_path / 'm.jsonl', POSTS)))}"), "utf-8")
    result = closeloop("--config", str(config), "run", "--once", "--roles", "poll,score", cwd=tmp_path,
                       env={"CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"})
    assert result.returncode == 0, result.stderr
    counts = dict(re.findall(r"^(read|scored|triaged|drafted)\s+(\d+)  in ", result.stdout, re.M))
    assert counts == {"read": "6", "scored": "6", "triaged": "6", "drafted": "4"}, result.stdout + result.stderr


def test_log_lines_written_during_the_stages_go_above_the_bar_and_the_log_goes_back_after() -> None:
    screen_file, output_file = io.StringIO(), io.StringIO()
    screen = Console(file=screen_file, force_terminal=True, width=100)
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with stage_progress(Console(file=output_file, width=100), read_total=10, screen=screen) as stages:
            stages.advance("read", 4)
            logging.getLogger("closeloop.test").warning("source_failed source=x error=boom")
            stages.advance("read", 6)
    finally:
        root.removeHandler(handler)
    assert "source_failed source=x error=boom" in screen_file.getvalue(), "printed by the live display's console"
    assert handler.stream.getvalue() == "", "not written through the bar"
    assert isinstance(handler.stream, io.StringIO), "the handler writes where it wrote before"
    assert re.search(r"^read\s+10  in ", output_file.getvalue(), re.M)
