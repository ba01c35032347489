"""Whom the console believes about a client's address, and a login throttle that cannot lock a team out:
over real HTTP, against the installed `closeloop serve` and `closeloop run --roles web` as subprocesses.

- X-Forwarded-For and -Proto are believed only from the addresses in ``console.trusted_proxies`` (none by
  default), the same in `serve` and `run`; otherwise a client could pick the address that is throttled and
  written to the audit log.
- Failures are counted per name and address (a success starts the count again) and, more slowly, per name:
  a team behind one address is never locked out by someone else's failures.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.db import make_engine, prepare
from models.tables import AuditEntry, LoginAttempt
from tests.web_support import PASSWORD, add_users

CLOSELOOP = Path(sys.executable).parent / "closeloop"
LOCAL = "127.0.0.1"


@dataclass
class Console:
    url: str
    engine: Engine
    process: subprocess.Popen[str]
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, command: str, *, trusted: list[str], per_pair: int = 5, per_name: int = 30) -> Console:
    database = tmp_path / "console.db"
    engine = make_engine(f"sqlite:///{database}")
    prepare(engine)
    add_users(engine)
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n[scoring]\nbackend = "lexicon"\n'
        f"[daemon]\nhealth_port = 0\n"
        f'[console]\nhost = "{LOCAL}"\nport = {port}\ntrusted_proxies = {trusted!r}\n'.replace("'", '"')
        + f"login_attempts_per_15_minutes = {per_pair}\nlogin_attempts_per_name_per_hour = {per_name}\n", "utf-8")
    args = ["serve"] if command == "serve" else ["run", "--roles", "web"]
    log = tmp_path / f"{command}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    process = subprocess.Popen([str(CLOSELOOP), "--config", str(config), *args], env=env, cwd=tmp_path,
                               stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    console = Console(f"http://{LOCAL}:{port}", engine, process, log)
    deadline = time.monotonic() + 180  # a generous bound on start-up; the loop ends as soon as it answers
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(console.url + "/login", timeout=5).status_code == 200:
                return console
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the console never answered:\n{log.read_text()}"
        time.sleep(0.1)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Console]]:
    consoles: list[Console] = []
    yield consoles
    for console in consoles:
        console.process.send_signal(signal.SIGTERM)
        try:
            console.process.wait(timeout=60)
        finally:
            if console.process.poll() is None:
                console.process.kill()
        console.engine.dispose()


def _login(console: Console, name: str, password: str, *, forwarded: dict[str, str] | None = None) -> int:
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=30) as client:
        form = client.get("/login", headers=forwarded or {})
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, form.text
        return client.post("/login", data={"name": name, "password": password, "csrf": token.group(1)},
                           headers=forwarded or {}).status_code


def _attempts(console: Console) -> list[tuple[str, str | None, bool]]:
    with console.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(  # type: ignore[call-overload]
            select(LoginAttempt.name, LoginAttempt.address, LoginAttempt.ok).order_by(LoginAttempt.id))]


def _audited_addresses(console: Console) -> set[str | None]:
    with console.engine.connect() as connection:
        return set(connection.execute(select(AuditEntry.address).where(  # type: ignore[call-overload]
            AuditEntry.action.in_(("login", "login_failed")))).scalars())


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_forged_forwarded_for_changes_nothing_without_a_trusted_proxy(started: list[Console], tmp_path: Path,
                                                                       command: str) -> None:
    console = _start(tmp_path, command, trusted=[])
    started.append(console)
    # Five wrong passwords for one name, each claiming another address: all are counted against 127.0.0.1.
    for n in range(5):
        assert _login(console, "approver", "wrong", forwarded={"X-Forwarded-For": f"203.0.113.{n}"}) == 401
    assert _login(console, "approver", PASSWORD, forwarded={"X-Forwarded-For": "198.51.100.9"}) == 429, \
        "a new forwarded address does not reset the throttle"
    assert {address for _n, address, _ok in _attempts(console)} == {LOCAL}
    assert _audited_addresses(console) == {LOCAL}, "the audit log holds the real peer, not the header"
    cookies = httpx.get(console.url + "/login", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" not in cookies.lower(), "an untrusted client cannot claim https either"


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_trusted_proxy_is_believed(started: list[Console], tmp_path: Path, command: str) -> None:
    console = _start(tmp_path, command, trusted=[LOCAL])
    started.append(console)
    assert _login(console, "viewer", "wrong", forwarded={"X-Forwarded-For": "203.0.113.7"}) == 401
    assert _login(console, "viewer", PASSWORD, forwarded={"X-Forwarded-For": "203.0.113.7, 10.0.0.2"}) == 303
    assert _attempts(console) == [("viewer", "203.0.113.7", False), ("viewer", "10.0.0.2", True)]
    assert _audited_addresses(console) == {"203.0.113.7", "10.0.0.2"}
    cookies = httpx.get(console.url + "/login", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" in cookies.lower(), "the proxy says the client came over https"


def test_failures_behind_one_address_lock_out_only_the_name_that_failed(started: list[Console],
                                                                        tmp_path: Path) -> None:
    console = _start(tmp_path, "serve", trusted=[], per_pair=3)
    started.append(console)
    for n in range(6):  # anonymous failures from the team's one address, under six different names
        assert _login(console, f"nobody-{n}", "guess") == 401
    for _ in range(3):
        assert _login(console, "approver", "guess") == 401
    assert _login(console, "approver", PASSWORD) == 429, "the failing name waits"
    assert _login(console, "viewer", PASSWORD) == 303, "everyone else behind the address logs in"
    assert _login(console, "agent", "typo") == 401 and _login(console, "agent", "typo") == 401
    assert _login(console, "agent", PASSWORD) == 303
    assert _login(console, "agent", "typo") == 401 and _login(console, "agent", "typo") == 401
    assert _login(console, "agent", PASSWORD) == 303, "a success starts the count of the pair again"


def test_a_name_guessed_from_many_addresses_waits_on_the_slower_limit(started: list[Console],
                                                                       tmp_path: Path) -> None:
    console = _start(tmp_path, "serve", trusted=[LOCAL], per_pair=3, per_name=4)
    started.append(console)
    for n in range(4):  # each address stays under its pair limit
        assert _login(console, "admin", "guess", forwarded={"X-Forwarded-For": f"203.0.113.{n}"}) == 401
    assert _login(console, "admin", PASSWORD, forwarded={"X-Forwarded-For": "203.0.113.99"}) == 429
    assert _login(console, "viewer", PASSWORD, forwarded={"X-Forwarded-For": "203.0.113.99"}) == 303
