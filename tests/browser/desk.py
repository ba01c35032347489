"""A desk like the demo's for the accessibility tests and the README's screenshots: complaints on every
platform with fresh, amber and breached deadlines and drafts, two sources, one quarantined mention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.quarantine import quarantine_mention
from models.sources import ConfiguredSource, sync_sources
from models.tables import MENTION
from models.types import utcnow
from monitor.config import Settings
from tests.web_support import PASSWORD, add_users, fill, post

# One unbroken word longer than a phone is wide: the 390 px layout must wrap it, not scroll sideways.
LONG_WORD = "refund" * 30


def demo_posts() -> list[dict[str, Any]]:
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
        post("a6", f"@acme the delivery is late again, awful, {LONG_WORD}", now=now,
             handle="a_very_long_handle_for_a_narrow_screen", name=None, minutes_ago=5, platform="bluesky",
             url="https://bsky.app/profile/mid_max/post/a6"),
        # Languages the lexicon scorer cannot read: "unscored" cases on amber and red, one right to left.
        post("a7", "@acme 주문한 물건이 아직도 안 왔어요. 환불해 주세요, 정말 최악이에요", now=now, handle="kim_ko",
             name="김민지", minutes_ago=50, platform="mastodon", url="https://mastodon.social/@kim_ko/a7"),
        post("a8", "@acme ההזמנה שלי לא הגיעה כבר שבועיים, אני רוצה החזר כספי", now=now, handle="noa_he",
             name="נועה", minutes_ago=70),
    ]


def build_desk(engine: Engine, settings: Settings, workdir: Path) -> None:
    """Fill ``engine`` (prepared) with the desk and the users viewer, agent, approver and admin."""
    fill(engine, settings, demo_posts(), workdir / "posts.jsonl", now=utcnow())
    add_users(engine)
    sync_sources(engine, configured=[ConfiguredSource("acme-x", "x", "Acme", True),
                                     ConfiguredSource("acme-reddit", "reddit", "Acme", False)])
    with engine.connect() as connection:
        last = connection.execute(select(MENTION.c.id).order_by(MENTION.c.id.desc()).limit(1)).scalar_one()
    quarantine_mention(engine, mention_id=last, stage="score", error="the scorer gave up on this text")


def log_in(driver: Any, url: str, name: str = "admin") -> None:
    """Log in through the form, from the keyboard, and wait for the queue."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD, Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-list li.case"))


def viewport(driver: Any, width: int, height: int) -> None:
    """Exactly ``width`` x ``height`` CSS pixels; under 600 px wide as a phone (meta viewport honoured)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
