"""axe-core (WCAG 2.0/2.1 A and AA, best practices) on every page of the console, in real headless Chromium,
at 1440x900 and, for the queue and a case, at 390 px wide: no violation of serious or critical impact.

CLOSELOOP_AXE_REPORT=path appends each page's counts per impact to ``path`` (one JSON line a page): that is
how the before/after table of docs/accessibility.md is measured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.quarantine import quarantine_mention
from models.sources import ConfiguredSource, sync_sources
from models.tables import MENTION
from models.types import utcnow
from tests.browser.axe import run_axe, serious, summary
from tests.browser.conftest import Served, chromium, serve
from tests.web_support import PASSWORD, add_users, fill, lexicon_settings, post

WAIT = 10
DESKTOP = (1440, 900)
PHONE = (390, 844)
# (name, path, viewport); {case} is a case with a draft.
PAGES = [
    ("login", "/login", DESKTOP),
    ("queue", "/", DESKTOP),
    ("queue-390", "/", PHONE),
    ("case", "/cases/{case}", DESKTOP),
    ("case-390", "/cases/{case}", PHONE),
    ("sources", "/sources", DESKTOP),
    ("audit", "/audit", DESKTOP),
    ("users", "/users", DESKTOP),
    ("quarantine", "/quarantine", DESKTOP),
]


def demo_posts() -> list[dict[str, Any]]:
    """A desk like the demo's: every platform, fresh, amber and breached deadlines."""
    now = utcnow()
    return [
        post("a1", "@acme my parcel never arrived, I want a refund", now=now, handle="fresh_fran", name="Fran Fresh",
             minutes_ago=20),
        post("a2", "@acme the app is broken and I was charged twice, awful", now=now, handle="amber_al",
             name="Al Amber", minutes_ago=52, platform="reddit", url="https://www.reddit.com/r/acme/comments/a2/"),
        post("a3", "@acme terrible service, still no refund after a week", now=now, handle="late_lee", name="Lee Late",
             minutes_ago=75, platform="mastodon", url="https://mastodon.social/@late_lee/a3"),
        post("a4", "@acme worst support ever, my order is lost", now=now, handle="blue_bo", name="Bo Blue",
             minutes_ago=40, platform="bluesky", url="https://bsky.app/profile/blue_bo/post/a4"),
        post("a5", "@acme I was charged twice and nobody answers, awful", now=now, handle="red_rae", name="Rae Red",
             minutes_ago=90, platform="reddit", url="https://www.reddit.com/r/acme/comments/a5/"),
        post("a6", "@acme the delivery is late again, refund please", now=now, handle="mid_max", name=None,
             minutes_ago=5, platform="bluesky", url="https://bsky.app/profile/mid_max/post/a6"),
    ]


@pytest.fixture(scope="module")
def desk(browser_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = lexicon_settings()
    fill(browser_db, settings, demo_posts(), tmp_path_factory.mktemp("a11y") / "posts.jsonl", now=utcnow())
    add_users(browser_db)
    sync_sources(browser_db, configured=[ConfiguredSource("acme-x", "x", "Acme", True),
                                         ConfiguredSource("acme-reddit", "reddit", "Acme", False)])
    with browser_db.connect() as connection:
        first = connection.execute(select(MENTION.c.id).order_by(MENTION.c.id.desc()).limit(1)).scalar_one()
    quarantine_mention(browser_db, mention_id=first, stage="score", error="the scorer gave up on this text")
    for url in serve(browser_db, settings):
        yield Served(url, browser_db, settings)


@pytest.fixture(scope="module")
def browser(browser_available: None) -> Iterator[Any]:
    driver = chromium(*DESKTOP)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, condition: Any, timeout: float = WAIT) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)


def viewport(driver: Any, size: tuple[int, int]) -> None:
    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def log_in(driver: Any, served: Served, name: str = "admin") -> None:
    from selenium.webdriver.common.by import By

    driver.get(served.url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-list li.case"))


def draft_case(driver: Any, served: Served) -> str:
    driver.get(served.url + "/")
    found = wait(driver, lambda d: d.execute_script(
        "var r = document.querySelector('#queue-list li.case[data-draft-hash]:not([data-draft-hash=\"\"])');"
        "return r && r.dataset.caseId"))
    return str(found)


def open_page(driver: Any, served: Served, path: str, size: tuple[int, int]) -> None:
    from selenium.webdriver.common.by import By

    viewport(driver, size)
    if path == "/login":
        driver.delete_all_cookies()
        driver.get(served.url + path)
    else:
        driver.get(served.url + "/")
        if "/login" in driver.current_url:
            log_in(driver, served)
        if "{case}" in path:
            path = path.format(case=draft_case(driver, served))
        driver.get(served.url + path)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete"
         and d.find_elements(By.TAG_NAME, "main"))


@pytest.mark.parametrize(("name", "path", "size"), PAGES, ids=[p[0] for p in PAGES])
def test_axe_finds_nothing_serious(browser: Any, desk: Served, name: str, path: str, size: tuple[int, int]) -> None:
    open_page(browser, desk, path, size)
    violations = run_axe(browser)
    report = os.environ.get("CLOSELOOP_AXE_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps({"page": name, "counts": summary(violations),
                                  "rules": sorted({f"{v.impact}:{v.id}:{len(v.targets)}" for v in violations})}) + "\n")
    bad = serious(violations)
    assert not bad, f"{name}: " + "\n".join(v.line() for v in bad)
