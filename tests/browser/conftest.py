"""Real headless Chromium (Debian's chromium + chromium-driver) against the console served by uvicorn.

Skipped, with the reason, where Chromium or its driver is missing; CLOSELOOP_REQUIRE_BROWSER=1 makes that a
failure instead (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from models.db import make_engine, prepare
from monitor.config import Settings

CHROMIUM = os.environ.get("CLOSELOOP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CLOSELOOP_CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not found: install Debian's {package} package (or set CLOSELOOP_CHROMIUM/CHROMEDRIVER)"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    reason = _missing()
    if reason:
        if os.environ.get("CLOSELOOP_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Served:
    url: str
    engine: Engine
    settings: Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(engine: Engine, settings: Settings) -> Iterator[str]:
    import uvicorn

    from responders.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'console.db'}")
    prepare(engine)
    yield engine
    engine.dispose()


def chromium(width: int = 1400, height: int = 900) -> Any:
    """A headless Chromium under Selenium, ``width`` x ``height``; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.implicitly_wait(0)
    return browser


@pytest.fixture
def driver(browser_available: None) -> Iterator[object]:
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()
