"""The console in real headless Chromium: log in, work the queue with the keyboard, edit with live style
findings, approve, countdown colours, live updates, and no payload ever running script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from models.types import utcnow
from tests.browser.conftest import Served, serve
from tests.test_web_payloads import PAYLOADS
from tests.web_support import PASSWORD, add_users, fill, lexicon_settings, post

WAIT = 10


@pytest.fixture(scope="module")
def served(browser_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = lexicon_settings()
    now = utcnow()
    posts = [
        post("fresh", "@acme my parcel never arrived, I want a refund", now=now, handle="fresh_fran",
             name="Fran Fresh", minutes_ago=20),
        post("amber", "@acme the app is broken and I was charged twice, awful", now=now, handle="amber_al",
             name="Al Amber", minutes_ago=52),
        post("late", "@acme terrible service, still no refund after a week", now=now, handle="late_lee",
             name="Lee Late", minutes_ago=75),
    ] + [
        post(f"p{i}", f"@acme my order never arrived, refund now, awful {payload}", now=now, handle=payload[:300] or "x",
             name=payload[:500], url=payload, author_id=f"h{i}", minutes_ago=10 - i * 0.1)
        for i, payload in enumerate(PAYLOADS)
    ]
    fill(browser_db, settings, posts, tmp_path_factory.mktemp("posts") / "posts.jsonl", now=now)
    add_users(browser_db)
    for url in serve(browser_db, settings):
        yield Served(url, browser_db, settings)


def wait(driver: Any, condition: Any, timeout: float = WAIT) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The list is swapped every 5 s by htmx polling: an element found just before a swap goes stale.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)


def log_in(driver: Any, served: Served, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(served.url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-list li.case"))


def assert_nothing_ran(driver: Any, where: str) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        alert = driver.switch_to.alert
        raise AssertionError(f"{where}: an alert opened: {alert.text}")
    except NoAlertPresentException:
        pass
    assert driver.execute_script("return window.__pwned === undefined && !document.cookie.includes('pwned')"), where
    assert "PWNED" not in driver.title, where


def case_id(driver: Any, handle: str) -> str:
    found = driver.execute_script(
        "return Array.from(document.querySelectorAll('#queue-list li.case'))"
        ".filter(r => r.querySelector('.handle').textContent.includes('@' + arguments[0]))"
        ".map(r => r.dataset.caseId)[0] || null", handle)
    assert found, f"no case by @{handle} on the page"
    return str(found)


def case_row(driver: Any, handle: str) -> Any:
    from selenium.webdriver.common.by import By

    return wait(driver, lambda d: d.find_element(By.ID, f"case-{case_id(d, handle)}"))


def selected_id(driver: Any) -> str | None:
    return driver.execute_script("var s = document.querySelector('li.case.selected'); return s && s.dataset.caseId")


def ids_on_page(driver: Any) -> list[str]:
    return list(driver.execute_script("return Array.from(document.querySelectorAll('#queue-list li.case'))"
                                      ".map(r => r.dataset.caseId)"))


def test_the_countdown_is_amber_under_15_minutes_and_red_when_breached(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By

    log_in(driver, served, "viewer")
    colour = {handle: wait(driver, lambda d, h=handle: case_row(d, h).find_element(
        By.CSS_SELECTOR, ".countdown").get_attribute("class")) for handle in ("fresh_fran", "amber_al", "late_lee")}
    assert "ok" in colour["fresh_fran"].split() and "amber" in colour["amber_al"].split()
    assert "red" in colour["late_lee"].split()
    first = wait(driver, lambda d: case_row(d, "fresh_fran").find_element(By.CSS_SELECTOR, ".countdown").text)
    wait(driver, lambda d: case_row(d, "fresh_fran").find_element(By.CSS_SELECTOR, ".countdown").text != first, 3)


def test_an_agent_and_an_approver_work_the_queue_with_the_keyboard(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    log_in(driver, served, "approver")
    body = driver.find_element(By.TAG_NAME, "body")
    ids = ids_on_page(driver)
    body.send_keys("j")
    wait(driver, lambda d: selected_id(d) == ids[0])
    body.send_keys("j")
    wait(driver, lambda d: selected_id(d) == ids[1])
    body.send_keys("k")
    wait(driver, lambda d: selected_id(d) == ids[0] and len(d.find_elements(By.CSS_SELECTOR, "li.case.selected")) == 1)
    # Move to Fran's case, then e opens its editor with the cursor in the draft.
    target = case_id(driver, "fresh_fran")
    for _ in range(60):
        if selected_id(driver) == target:
            break
        body.send_keys("j")
    body.send_keys("e")
    wait(driver, lambda d: d.current_url.endswith(f"/cases/{target}?edit=1"))
    editor = wait(driver, lambda d: d.find_element(By.ID, "draft-text"))
    wait(driver, lambda d: d.switch_to.active_element == editor)
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys("Unfortunately we can't do that")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#findings [data-code=negative_wording]"))
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys("Fran, I'm sorry your parcel went missing. I've sent a replacement today.")
    wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "#findings [data-code=negative_wording]"))
    wait(driver, lambda d: "Meets the style guide" in d.find_element(By.ID, "findings").text)
    assert "/ 280 characters" in driver.find_element(By.ID, "char-count").text
    typed = editor.get_attribute("value")
    driver.find_element(By.ID, "approve").click()
    wait(driver, lambda d: "done=approved" in d.current_url and f"/cases/{target}?" not in d.current_url)
    driver.get(f"{served.url}/cases/{target}")
    # Signed at approval with the approver's signature (none set: their name after a dash).
    assert driver.find_element(By.ID, "draft-text").get_attribute("value") == typed + "\n– approver"
    assert "approved" in driver.find_element(By.CSS_SELECTOR, ".editor-card h2 .status").text.lower()
    # Back in the queue, `a` approves the selected case's draft as shown.
    driver.get(served.url + "/")
    body = driver.find_element(By.TAG_NAME, "body")
    target = case_id(driver, "amber_al")
    wait(driver, lambda d: ActionChains(d).click(case_row(d, "amber_al").find_element(By.CSS_SELECTOR, ".meta"))
         .perform() or selected_id(d) == target)
    body.send_keys("a")
    wait(driver, lambda d: f"Approved case #{target}" in d.find_element(By.ID, "toast").text)
    # Approved, it leaves "needs reply" for "approved, sending" when the list refreshes.
    wait(driver, lambda d: not d.find_elements(By.ID, f"case-{target}"))
    assert int(driver.find_element(By.CSS_SELECTOR, "#lane-sending .count").text) == 2
    assert_nothing_ran(driver, "after approving")


def test_the_queue_updates_itself_without_losing_the_selection(driver: Any, served: Served, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    log_in(driver, served, "agent")
    driver.find_element(By.TAG_NAME, "body").send_keys("j")
    selected = wait(driver, selected_id)
    fill(served.engine, served.settings,
         [post("new1", "@acme the refund never came, awful", now=utcnow(), handle="newcomer_nia", name="Nia New",
               minutes_ago=58)], tmp_path / "new.jsonl")
    wait(driver, lambda d: "newcomer_nia" in d.find_element(By.ID, "queue-list").text, 15)
    assert selected_id(driver) == selected


def test_no_payload_ever_runs_script(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By

    log_in(driver, served, "admin")
    assert_nothing_ran(driver, "queue")
    driver.get(served.url + "/?page=2")
    assert_nothing_ran(driver, "queue page 2")
    for number in ids_on_page(driver):
        driver.get(f"{served.url}/cases/{number}")
        wait(driver, lambda d: d.find_elements(By.ID, "findings"))
        assert_nothing_ran(driver, f"case {number}")
    driver.get(served.url + "/audit")
    assert_nothing_ran(driver, "audit")
    console = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not [m for m in console if "pwned" in m.lower() and "Content Security Policy" not in m], console
