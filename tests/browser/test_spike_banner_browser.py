"""The crisis radar in real headless Chromium: the bundled scenario's outage replayed, then every console page
carries a banner naming it, and the banner leads to the spike's cases grouped for one reply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from models.alerts import list_spikes
from monitor.demo.radar_week import OUTAGE_AT, OUTAGE_MINUTES
from monitor.radar.tick import radar_tick
from monitor.sources.replay import parse_timestamp
from tests.browser.conftest import Served, serve
from tests.browser.test_console_browser import assert_nothing_ran, log_in, wait
from tests.radar_support import ingest, radar_settings, scenario_records
from tests.web_support import add_users


@pytest.fixture(scope="module")
def served(browser_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The scenario's ordinary week, then its outage minute by minute, as the daemon's tick sees them."""
    settings = radar_settings()
    records = scenario_records()
    ingest(browser_db, settings, [r for r in records if parse_timestamp(r["created_at"]) < OUTAGE_AT])
    radar_tick(browser_db, settings, now=None)
    for minute in range(1, OUTAGE_MINUTES + 1):  # the daemon's tick, once a simulated minute
        start, end = OUTAGE_AT + timedelta(minutes=minute - 1), OUTAGE_AT + timedelta(minutes=minute)
        ingest(browser_db, settings, [r for r in records if start <= parse_timestamp(r["created_at"]) < end])
        radar_tick(browser_db, settings, now=end)
    assert len(list_spikes(browser_db)) == 1, "the burst opened one spike"
    add_users(browser_db)
    for url in serve(browser_db, settings):
        yield Served(url, browser_db, settings)


def banner(driver: Any) -> Any:
    from selenium.webdriver.common.by import By

    return wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".spike-banner"))


def test_every_page_shows_the_open_spike_naming_the_outage_and_leads_to_its_cases(driver: Any,
                                                                                  served: Served) -> None:
    from selenium.webdriver.common.by import By

    (spike,) = list_spikes(served.engine)
    log_in(driver, served, "viewer")
    for path in ("/", "/sources", "/audit"):
        driver.get(served.url + path)
        shown = banner(driver)
        text = shown.text
        assert "Acme" in text and any(word in text for word in ("outage", "login", "log in")), text
        assert f"{spike.mentions} mentions by {spike.authors} authors" in text
        assert "since 2026-11-16" in text
        assert_nothing_ran(driver, path)
    banner(driver).find_element(By.CSS_SELECTOR, "a").click()
    wait(driver, lambda d: d.current_url.endswith(f"/spikes/{spike.id}"))
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#spike-cases tr[data-case-id]"))
    assert len(rows) >= 50, "the outage's cases, grouped"
    assert not driver.find_elements(By.ID, "group-reply"), "a viewer reads the group but cannot approve it"
    assert_nothing_ran(driver, "the spike page")


def test_an_approver_answers_the_group_with_one_text_from_the_spike_page(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By

    (spike,) = list_spikes(served.engine)
    log_in(driver, served, "approver")
    driver.get(f"{served.url}/spikes/{spike.id}")
    wait(driver, lambda d: d.find_element(By.ID, "group-reply"))
    languages = {e.get_attribute("name") for e in driver.find_elements(By.CSS_SELECTOR, "#group-reply textarea")}
    assert "text" in languages and len(languages) >= 3, languages
    cases = len(driver.find_elements(By.CSS_SELECTOR, "#spike-cases tr[data-case-id]"))
    driver.find_element(By.ID, "group-text").send_keys(
        "Hi {name}, we are sorry: logins are failing right now and we are fixing it. – Maria, Acme care")
    driver.find_element(By.ID, "approve-group").click()
    notice = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "p.notice")).text
    approved = int(notice.split("Done: ")[1].split(" replies approved")[0])
    assert 0 < approved <= cases, notice
    assert f"{approved} approved" in driver.find_element(By.ID, "group-progress").text
    assert_nothing_ran(driver, "the approved group")
