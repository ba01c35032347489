"""axe-core (WCAG 2.0/2.1 A and AA, best practices) on every page of the console, in real headless Chromium,
at 1440x900 and, for the queue and a case, at 390 px wide: no violation of serious or critical impact.

CLOSELOOP_AXE_REPORT=path appends each page's counts per impact to ``path`` (one JSON line a page): that is
how the before/after table of docs/accessibility.md is measured.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.browser.axe import run_axe, serious, summary
from tests.browser.conftest import Served, chromium, serve
from tests.browser.desk import build_desk, log_in, viewport
from tests.web_support import lexicon_settings

WAIT = 10
DESKTOP = (1440, 900)
PHONE = (390, 844)
# (name, path, viewport); {case} is a case with a draft; after "#", keys pressed before the check.
PAGES = [
    ("login", "/login", DESKTOP),
    ("queue", "/", DESKTOP),
    ("queue-case-selected", "/#jj", DESKTOP),
    ("queue-390", "/", PHONE),
    ("case", "/cases/{case}", DESKTOP),
    ("case-390", "/cases/{case}", PHONE),
    ("sources", "/sources", DESKTOP),
    ("audit", "/audit", DESKTOP),
    ("users", "/users", DESKTOP),
    ("quarantine", "/quarantine", DESKTOP),
    ("not-found", "/cases/999999999", DESKTOP),
    # the lanes (issue 13): a lane with cases, one with praise, an empty one; the `?` overlay of shortcuts
    ("lane-awaiting", "/?lane=awaiting", DESKTOP),
    ("lane-praise", "/?lane=praise", DESKTOP),
    ("lane-snoozed-empty", "/?lane=snoozed", DESKTOP),
    ("shortcuts-overlay", "/#?", DESKTOP),
    ("case-shortcuts-overlay", "/cases/{case}#?", PHONE),
]


@pytest.fixture(scope="module")
def desk(browser_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = lexicon_settings()
    build_desk(browser_db, settings, tmp_path_factory.mktemp("a11y"))
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


def draft_case(driver: Any, served: Served) -> str:
    driver.get(served.url + "/")
    found = wait(driver, lambda d: d.execute_script(
        "var r = document.querySelector('#queue-list li.case[data-draft-hash]:not([data-draft-hash=\"\"])');"
        "return r && r.dataset.caseId"))
    return str(found)


def open_page(driver: Any, served: Served, path: str, size: tuple[int, int]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    path, _, keys = path.partition("#")
    viewport(driver, *size)
    if path == "/login":
        driver.delete_all_cookies()
        driver.get(served.url + path)
    else:
        driver.get(served.url + "/")
        if "/login" in driver.current_url:
            log_in(driver, served.url)
        if "{case}" in path:
            path = path.format(case=draft_case(driver, served))
        driver.get(served.url + path)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete"
         and d.find_elements(By.TAG_NAME, "main"))
    if keys == "?":
        ActionChains(driver).send_keys(keys).perform()
        wait(driver, lambda d: d.execute_script("return !!document.querySelector('dialog[open]')"))
    elif keys:
        ActionChains(driver).send_keys(keys).perform()
        wait(driver, lambda d: d.execute_script("return document.activeElement.matches('li.case.selected')"))


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


@pytest.mark.parametrize("path", ["/", "/cases/{case}"], ids=["queue", "case"])
def test_at_390_px_nothing_scrolls_sideways_and_the_header_holds_its_text(browser: Any, desk: Served,
                                                                           path: str) -> None:
    open_page(browser, desk, path, PHONE)
    layout = browser.execute_script("""
        var header = document.querySelector("header.top").getBoundingClientRect();
        var inside = Array.from(document.querySelectorAll("header.top .user, header.top button.link, header.top nav a"))
          .map(function (el) { var r = el.getBoundingClientRect();
            return {text: el.textContent.trim(), fits: r.left >= 0 && r.right <= window.innerWidth
                    && r.top >= header.top && r.bottom <= header.bottom}; });
        return {width: window.innerWidth, scroll: document.documentElement.scrollWidth, inside: inside};""")
    assert layout["width"] == PHONE[0]
    assert layout["scroll"] <= layout["width"], f"the page is {layout['scroll']} px wide at {layout['width']} px"
    assert layout["inside"] and all(item["fits"] for item in layout["inside"]), layout["inside"]


def active(driver: Any) -> dict[str, Any]:
    return dict(driver.execute_script(
        "var a = document.activeElement; return {tag: a.tagName, id: a.id, cls: a.className, text: a.textContent.trim()."
        "slice(0, 40), href: a.getAttribute('href'), outline: getComputedStyle(a).outlineStyle}"))


def queue_ids(driver: Any) -> list[str]:
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('#queue-list li.case')).map(r => r.dataset.caseId)"))


def editing_by(served: Served, case: str) -> str | None:
    from models.queue import case_detail

    detail = case_detail(served.engine, case_id=int(case), history_limit=0, thread_limit=0)
    assert detail is not None
    return detail.claim.editing_by


def test_a_case_from_queue_to_approval_and_back_with_the_keyboard_only(driver: Any, desk: Served) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    viewport(driver, *DESKTOP)
    log_in(driver, desk.url, "approver")
    keys = ActionChains(driver)

    def press(*sequence: str) -> None:
        for key in sequence:
            keys.send_keys(key).perform()

    def chord(modifier: str, key: str) -> None:
        keys.key_down(modifier).send_keys(key).key_up(modifier).perform()

    press(Keys.TAB)
    assert active(driver)["href"] == "#main" and active(driver)["outline"] != "none", active(driver)
    press(Keys.TAB)
    assert active(driver)["href"] == "#queue-list", active(driver)
    press(Keys.ENTER)
    ids = queue_ids(driver)
    wait(driver, lambda d: active(d)["id"] == f"case-{ids[0]}")
    assert active(driver)["outline"] != "none", "the focused case shows a focus ring"
    # j and k move focus itself, not only a highlight.
    press("j")
    wait(driver, lambda d: active(d)["id"] == f"case-{ids[1]}")
    press("j", "k")
    wait(driver, lambda d: active(d)["id"] == f"case-{ids[1]}")
    target = ids[1]
    assert driver.execute_script(f"return document.getElementById('case-{target}').dataset.draftHash"), \
        "the second case has a draft"
    press(Keys.ENTER)
    wait(driver, lambda d: d.current_url.endswith(f"/cases/{target}"))
    # Focus passing through the draft box does not claim the case; typing in it does.
    driver.execute_script("window.__posts = []; var f = window.fetch;"
                          "window.fetch = function (u) { window.__posts.push(String(u)); return f.apply(this, arguments); };")
    press("e")
    wait(driver, lambda d: active(d)["id"] == "draft-text")
    press(Keys.TAB)
    wait(driver, lambda d: active(d)["id"] != "draft-text")
    chord(Keys.SHIFT, Keys.TAB)
    wait(driver, lambda d: active(d)["id"] == "draft-text")
    assert not [u for u in driver.execute_script("return window.__posts") if u.endswith("/claim")]
    assert editing_by(desk, target) is None
    chord(Keys.CONTROL, "a")
    keys.send_keys("Al, I'm sorry about the double charge. I've refunded it today. – Maria, Acme care").perform()
    wait(driver, lambda d: "Meets the style guide" in d.find_element("id", "findings").text)
    wait(driver, lambda d: editing_by(desk, target) == "approver")
    # Tab to the approve button (it shows our focus ring) and press Enter.
    for _ in range(6):
        if active(driver)["id"] == "approve":
            break
        press(Keys.TAB)
    assert active(driver)["id"] == "approve" and active(driver)["outline"] != "none", active(driver)
    press(Keys.ENTER)
    wait(driver, lambda d: "Done: approved" in d.page_source)
    wait(driver, lambda d: "notice" in active(d)["cls"])
    press("u")
    wait(driver, lambda d: d.current_url.rstrip("/") == desk.url)
    now = queue_ids(driver)
    expected = now[now.index(target) + 1] if target in now else ids[ids.index(target) + 1]
    wait(driver, lambda d: active(d)["id"] == f"case-{expected}")
    # `a` approves the focused case as shown and moves focus on to the next one.
    now = queue_ids(driver)
    following = now[now.index(expected) + 1]
    press("a")
    wait(driver, lambda d: f"Approved case #{expected}" in d.find_element("id", "toast").text)
    wait(driver, lambda d: active(d)["id"] == f"case-{following}")


def test_the_live_refresh_keeps_focus_and_the_reading_position_and_announces(driver: Any, desk: Served,
                                                                             tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    from models.cases import assign_case
    from models.types import utcnow
    from tests.web_support import fill, post

    viewport(driver, 1440, 500)
    log_in(driver, desk.url, "agent")
    ids = queue_ids(driver)
    ActionChains(driver).send_keys("j").send_keys("j").send_keys("j").perform()
    focused = f"case-{ids[2]}"
    wait(driver, lambda d: active(d)["id"] == focused)
    top = driver.execute_script(f"return document.getElementById('{focused}').getBoundingClientRect().top")
    count = int(driver.find_element("id", "queue-list").get_attribute("data-refreshes") or 0)
    # A new case whose deadline comes first (it goes above the focused row), and a change in the focused row.
    fill(desk.engine, desk.settings, [post("n1", "@acme the refund never came, awful", now=utcnow(),
                                           handle="newcomer_nia", name="Nia New", minutes_ago=80)],
         tmp_path / "new.jsonl")
    assign_case(desk.engine, case_id=int(ids[2]), assignee="approver", actor="admin", now=utcnow())
    driver.execute_script("htmx.trigger('#queue-list', 'refresh')")
    wait(driver, lambda d: int(d.find_element("id", "queue-list").get_attribute("data-refreshes") or 0) > count
         and "newcomer_nia" in d.find_element("id", "queue-list").text
         and "→ approver" in d.find_element("id", focused).text, 20)  # a poll in flight may take this turn
    assert active(driver)["id"] == focused
    moved = driver.execute_script(f"return document.getElementById('{focused}').getBoundingClientRect().top") - top
    assert abs(moved) <= 1, f"the focused case moved {moved} px on the screen"
    wait(driver, lambda d: "1 new case" in d.find_element("id", "live").get_attribute("textContent"))


def test_a_poll_waits_while_keys_are_pressed(driver: Any, desk: Served) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    log_in(driver, desk.url, "viewer")
    listing = driver.find_element("id", "queue-list")
    ActionChains(driver).send_keys(Keys.SHIFT).perform()
    applied = listing.get_attribute("data-refreshes")
    # Keep pressing keys until the next 5-second poll has come and stood aside (each press is a round trip).
    deadline = time.monotonic() + 15
    while not listing.get_attribute("data-refreshes-skipped"):
        assert time.monotonic() < deadline, "no poll came in 15 s"
        ActionChains(driver).send_keys(Keys.SHIFT).perform()
    assert listing.get_attribute("data-refreshes") == applied
