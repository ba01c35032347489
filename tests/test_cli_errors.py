"""Every subcommand of the installed `closeloop`, given bad arguments, bad paths and bad environment values,
ends in one line naming what is wrong and the README's exit code: never a traceback.

Exit codes: 0 ok, 1 the action did not apply, 2 bad configuration, arguments, paths or an unreachable
database, 3 the schema is behind, 4 ingest skipped lines.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from models.db import make_engine, prepare
from monitor.cli.common import EXIT_BAD_INPUT, EXIT_NOT_APPLIED, EXIT_OK, EXIT_SKIPPED
from tests.test_cli import LEXICON_CONFIG
from tests.test_pipeline import POSTS, write

CLOSELOOP = Path(sys.executable).parent / "closeloop"
UNREACHABLE = "postgresql://closeloop:hunter2hunter2@127.0.0.1:1/closeloop"
# Every subcommand with good arguments; {tmp} is the test's folder.
COMMANDS = {
    "ingest": ["ingest", "{tmp}/posts.jsonl"],
    "queue": ["queue", "--json"],
    "run": ["run", "--once"],
    "sources": ["sources"],
    "approve": ["approve", "1"],
    "post": ["post"],
    "db": ["db", "status"],
    "backup": ["backup", "{tmp}/backup.db"],
    "check": ["check"],
    "config": ["config"],
    "serve": ["serve", "--port", "{port}"],
    "users": ["users", "list"],
    "digest": ["digest", "--preview", "{tmp}/digest.html"],
    "demo": ["demo", "--db", "{tmp}/demo.db"],
    "model": ["model", "status"],
}


@dataclass
class Case:
    args: list[str]
    code: int
    says: str = ""  # a fragment of the message
    env: dict[str, str] = field(default_factory=dict)
    usage: bool = False  # argparse's error: a usage line, then the error line
    cwd: str | None = None
    stdin: str = ""


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli-errors")
    (tmp / "config.toml").write_text(LEXICON_CONFIG.replace('url = "sqlite:///closeloop.db"',
                                                            f'url = "sqlite:///{tmp / "good.db"}"'), "utf-8")
    (tmp / "broken.toml").write_text("[app\n", "utf-8")
    write(tmp / "posts.jsonl", POSTS[:2])
    (tmp / "a-folder").mkdir()
    (tmp / "a-file").write_text("", "utf-8")
    (tmp / "empty").mkdir()
    prepare(make_engine(f"sqlite:///{tmp / 'good.db'}"))  # before commands race to create the schema
    return tmp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(case: Case, place: Path) -> str | None:
    """None when ``case`` ended as it should, else what went wrong."""
    values = {"tmp": str(place), "port": str(_free_port())}
    args = [a.format(**values) for a in case.args]
    if case.cwd is None and not any(a in ("--config", "--defaults") for a in args) and args[:1] != ["demo"]:
        args = ["--config", str(place / "config.toml"), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    done = subprocess.run([str(CLOSELOOP), *args], env={**env, "COLUMNS": "200", **{k: v.format(**values) for k, v in case.env.items()}},
                          cwd=case.cwd.format(**values) if case.cwd else place, input=case.stdin,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    problems = []
    if "Traceback" in output or 'File "' in output:
        problems.append("a traceback")
    if done.returncode != case.code:
        problems.append(f"exit {done.returncode}, not {case.code}")
    if case.says and case.says not in output:
        problems.append(f"no {case.says!r}")
    if case.code == EXIT_BAD_INPUT and not case.usage and (len(lines) != 1 or not lines[0].startswith("closeloop: ")):
        problems.append(f"not one line: {lines}")
    if "hunter2hunter2" in output:
        problems.append("the database password shown")
    return f"{' '.join(args)}: {', '.join(problems)}\n{output[-600:]}" if problems else None


def _all(cases: list[Case], place: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(lambda c: _run(c, place), cases) if f]
    assert failures == [], "\n\n".join(failures)


def test_bad_arguments_and_paths_of_every_subcommand(place: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        _all([
            Case([], 2, "required", usage=True),
            Case(["nope"], 2, "invalid choice", usage=True),
            Case(["--version"], EXIT_OK, "closeloop "),
            Case(["ingest"], 2, "file", usage=True),
            Case(["ingest", "{tmp}/absent.jsonl"], 2, "no such file"),
            Case(["ingest", "{tmp}/posts.jsonl", "--brand", "Nobody"], 2, "--brand"),
            Case(["queue", "--limit", "0"], 2, "--limit", usage=True),
            Case(["queue", "--limit", "many"], 2, "--limit", usage=True),
            Case(["demo", "--db", "{tmp}/no/such/folder/demo.db"], 2, "does not exist"),
            Case(["run", "--roles", "poll,dance"], 2, "dance"),
            Case(["run", "--once", "--roles", ","], 2, "--roles"),
            Case(["sources", "--enable", "nobody"], EXIT_NOT_APPLIED, "no source called"),
            Case(["approve", "0"], 2, "case_id", usage=True),
            Case(["approve", "x"], 2, "case_id", usage=True),
            Case(["approve", "99999999999999999999999"], 2, "case_id", usage=True),
            Case(["approve", "12345"], EXIT_NOT_APPLIED, "no draft"),
            Case(["db", "sideways"], 2, "invalid choice", usage=True),
            Case(["backup", "{tmp}/no/such/folder/b.db"], 2, "does not exist"),
            Case(["backup", "{tmp}/a-folder"], 2, "is a folder"),
            Case(["check", "--bogus"], 2, "unrecognized", usage=True),
            Case(["model"], 2, "required", usage=True),
            Case(["model", "fetch"], 2, "invalid choice", usage=True),
            Case(["model", "status"], EXIT_NOT_APPLIED, "not downloaded: run `closeloop model download`",
                 env={"HF_HOME": "{tmp}/empty-hf", "HF_HUB_OFFLINE": "1"}),
            Case(["model", "download"], 2, "HF_HUB_OFFLINE is set", env={"HF_HUB_OFFLINE": "1"}),
            Case(["check"], 2, "is not in the cache", env={"CLOSELOOP_SCORING__BACKEND": "transformers",
                                                          "HF_HOME": "{tmp}/empty-hf", "HF_HUB_OFFLINE": "1"}),
            Case(["serve", "--port", "70000"], 2, "65535", usage=True),
            Case(["serve", "--port", "http"], 2, "--port", usage=True),
            Case(["serve", "--port", str(busy.getsockname()[1])], 2, "cannot listen"),
            Case(["serve", "--host", "no.such.host.invalid", "--port", "{port}"], 2, "cannot listen"),
            Case(["users"], 2, "required", usage=True),
            Case(["users", "add", "bob", "--role", "overlord"], 2, "overlord", stdin="a long enough password\n"),
            Case(["users", "add", "bob", "--role", "admin"], 2, "at least 12 characters", stdin="x\n"),
            Case(["users", "add", "bob", "--role", "admin"], 2, "at least 12", stdin="\n"),
            Case(["digest"], 2, "--preview FILE, --send"),
            Case(["digest", "--week", "0001-W01", "--preview", "{tmp}/d.html"], 2, "outside the years"),
            Case(["digest", "--week", "9999-W52", "--preview", "{tmp}/d.html"], 2, "outside the years"),
            Case(["digest", "--week", "2026-47", "--preview", "{tmp}/d.html"], 2, "ISO week"),
            Case(["digest", "--preview", "{tmp}/no/such/folder/d.html"], 2, "does not exist"),
            Case(["digest", "--preview", "{tmp}/a-folder"], 2, "is a folder"),
            Case(["digest", "--send"], 2, "digest.recipients", env={"CLOSELOOP_DIGEST__RECIPIENTS": "[]"}),
            Case(["--log-level", "LOUD", "config"], 2, "--log-level"),
            Case(["--log-format", "xml", "config"], 2, "--log-format"),
            Case(["--config", "{tmp}/absent.toml", "queue"], 2, "cannot read"),
            Case(["--config", "{tmp}/broken.toml", "queue"], 2, "not valid TOML"),
            Case(["--config", "{tmp}/a-folder", "queue"], 2, "cannot read"),
            Case(["--defaults", "--config", "{tmp}/config.toml", "queue"], 2, "exclude each other"),
            Case(["queue"], 2, "no config file", cwd="{tmp}/empty"),
        ], place)
    finally:
        busy.close()


def test_every_subcommand_with_bad_environment_values(place: Path) -> None:
    stdin = "a long enough password\n"
    cases = [
        # Each way a variable can be bad, once (they all pass through the same loading).
        Case(COMMANDS["queue"], 2, "CLOSELOOP_DAEMON__ROLES", env={"CLOSELOOP_DAEMON__ROLES": "[poll"}),
        Case(COMMANDS["queue"], 2, "environment variable CLOSELOOP_CONSOLE__SECURE_COOKIES",
             env={"CLOSELOOP_CONSOLE__SECURE_COOKIES": "yes"}),
        Case(COMMANDS["queue"], 2, "environment variable CLOSELOOP_DATABASE_URL: database.url",
             env={"CLOSELOOP_DATABASE_URL": "mysql://nobody@somewhere/x"}),
        Case(COMMANDS["queue"], 2, "cannot open the database",
             env={"CLOSELOOP_DATABASE_URL": f"sqlite:///{place / 'a-file'}/inside-a-file.db"}),
        Case(COMMANDS["queue"], 2, "--log-level", env={"CLOSELOOP_LOG_LEVEL": "chatty"}),
        Case(COMMANDS["queue"], 2, "--log-format", env={"CLOSELOOP_LOG_FORMAT": "xml"}),
        Case(COMMANDS["queue"], 2, "cannot read", env={"CLOSELOOP_CONFIG": str(place / "absent.toml")},
             cwd="{tmp}/empty"),
    ]
    for name, args in COMMANDS.items():
        cases.append(Case(args, 2, "environment variable CLOSELOOP_CONSOLE__PORT",
                          env={"CLOSELOOP_CONSOLE__PORT": "eighty"}, stdin=stdin))
        if name not in ("demo", "config", "model"):  # the demo brings its own database; config and model open none
            cases.append(Case(args, 2, "cannot open the database postgresql://closeloop:***@127.0.0.1:1/closeloop",
                              env={"CLOSELOOP_DATABASE_URL": UNREACHABLE}, stdin=stdin))
    _all(cases, place)


def test_a_closed_pipe_is_no_error() -> None:
    reader = subprocess.Popen([str(CLOSELOOP), "--defaults", "config", "--keys"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # like `| head` that has read all it wants before the first line is written
    errors = reader.stderr.read()
    assert reader.wait(timeout=120) == 0 and errors == ""


def test_the_good_commands_still_work(place: Path) -> None:
    _all([
        Case(COMMANDS["ingest"], EXIT_OK, "cases opened"),
        Case(["ingest", "{tmp}/with-a-bad-line.jsonl"], EXIT_SKIPPED, "skipped: lines 2"),
        Case(COMMANDS["check"], EXIT_OK, "schema at head"),
        Case(["--defaults", "config"], EXIT_OK, '"host": "127.0.0.1"', cwd="{tmp}/empty"),
    ], _with_bad_line(place))


def _with_bad_line(place: Path) -> Path:
    write(place / "with-a-bad-line.jsonl", [POSTS[3], "{not json", POSTS[4]])
    return place


@pytest.mark.parametrize(("numbers", "said"), [
    ([], ""), ([3], "3"), ([3, 4, 5], "3-5"), ([9, 1, 2, 5, 4], "1-2, 4-5, 9"), ([7, 7, 8], "7-8"),
])
def test_skipped_lines_are_listed_as_ranges(numbers: list[int], said: str) -> None:
    from monitor.cli.ingest import line_ranges

    assert line_ranges(numbers) == said
