"""The shipped commands, end to end in Chromium: `closeloop ingest`, `closeloop users add` and `users signature`,
then `closeloop serve`; an approver works a lane from the keyboard, signs at approval and can undo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.db import make_engine
from models.tables import DRAFT
from tests.browser.conftest import free_port
from tests.browser.test_console_browser import ids_on_page, wait
from tests.test_cli import LEXICON_CONFIG
from tests.test_pipeline import POSTS, write
from tests.web_support import PASSWORD

CLOSELOOP = Path(sys.executable).parent / "closeloop"
MARIA = "– Maria, Acme care"


def _closeloop(config: Path, *args: str, stdin: str = "") -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    done = subprocess.run([str(CLOSELOOP), "--config", str(config), *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=300, cwd=config.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _until_up(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait for the console to answer (or the process to die): a condition, polled, bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"closeloop serve exited: {process.communicate()[1][-2000:]}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("closeloop serve did not answer")


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("serve")
    config = tmp / "config.toml"
    config.write_text(LEXICON_CONFIG.replace('url = "sqlite:///closeloop.db"', f'url = "sqlite:///{tmp / "desk.db"}"'),
                      "utf-8")
    write(tmp / "posts.jsonl", POSTS)
    _closeloop(config, "ingest", str(tmp / "posts.jsonl"))
    _closeloop(config, "users", "add", "approver", "--role", "approver", stdin=PASSWORD + "\n")
    assert MARIA in _closeloop(config, "users", "signature", "approver", MARIA)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_")}
    process = subprocess.Popen([str(CLOSELOOP), "--config", str(config), "serve", "--port", str(port)], env=env,
                               cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _until_up(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}", tmp / "desk.db"
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_closeloop_serve_runs_a_lane_from_the_keyboard(driver: Any, shipped: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    url, database = shipped
    driver.get(url + "/login")
    driver.find_element(By.ID, "name").send_keys("approver")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-list li.case"))
    needs = int(driver.find_element(By.CSS_SELECTOR, "#lane-needs .count").text)
    ids = ids_on_page(driver)
    assert needs == len(ids) >= 2
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("?")
    wait(driver, lambda d: d.execute_script("return document.getElementById('shortcuts').open"))
    driver.switch_to.active_element.send_keys("\ue00c")  # Escape
    wait(driver, lambda d: not d.execute_script("return document.getElementById('shortcuts').open"))
    body.send_keys("j")
    body.send_keys("o")
    wait(driver, lambda d: d.current_url.endswith(f"/cases/{ids[0]}") and d.find_element(By.ID, "draft-text"))
    editor = driver.find_element(By.ID, "draft-text")
    editor.clear()
    editor.send_keys("Jane, I'm sorry your order is late. I've sent a replacement today.")
    editor.send_keys("\ue00c")
    driver.find_element(By.TAG_NAME, "body").send_keys("a")
    wait(driver, lambda d: f"/cases/{ids[1]}?" in d.current_url and d.find_element(By.ID, "undo-bar"))
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            row = connection.execute(select(DRAFT.c.status, DRAFT.c.text, DRAFT.c.send_after)
                                     .where(DRAFT.c.case_id == int(ids[0]))).one()
    finally:
        engine.dispose()
    assert row.status == "approved" and row.text.endswith("\n" + MARIA) and row.send_after is not None
    driver.find_element(By.ID, "undo").click()
    wait(driver, lambda d: "done=approval+undone" in d.current_url)
