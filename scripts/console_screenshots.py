"""Screenshots of the console for the docs: the queue and a case page, at 1440 × 900 and at 390 px wide.

    .venv/bin/python scripts/console_screenshots.py [--out docs]

Builds the demo database with the shipped `closeloop demo`, adds an approver (with a signature) and an agent,
hands one reply to the approvers, serves the console and drives headless Chromium (Debian's chromium and
chromium-driver; CLOSELOOP_CHROMIUM / CLOSELOOP_CHROMEDRIVER name others). Writes docs/console-*.png.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PASSWORD = "screenshots only, never a real one"
SIZES = {"1440": (1440, 900), "390": (390, 844)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from sqlalchemy import select

    from models.db import make_engine
    from models.outbox import mark_ready
    from models.tables import DRAFT
    from models.types import utcnow
    from models.users import create_user, set_signature
    from monitor.config import load_settings
    from responders.web.app import create_app
    from responders.web.auth import hash_password

    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "demo.db"
        closeloop = Path(sys.executable).parent / "closeloop"
        subprocess.run([str(closeloop), "demo", "--db", str(database)], check=True, capture_output=True)
        base = load_settings(REPO / "monitor" / "demo" / "demo.toml", env={})
        settings = base.model_copy(update={"database": base.database.model_copy(update={"url": f"sqlite:///{database}"})})
        engine = make_engine(settings.database_url())
        now = utcnow()
        for name, role in (("maria", "approver"), ("aino", "agent")):
            create_user(engine, name=name, password_hash=hash_password(PASSWORD), role=role, now=now)
        set_signature(engine, name="maria", signature="– Maria, Acme care", actor="screenshots", now=now)
        with engine.connect() as connection:
            draft_id = connection.execute(select(DRAFT.c.id).where(DRAFT.c.status == "draft", DRAFT.c.kind == "reply")
                                          .order_by(DRAFT.c.id.desc()).limit(1)).scalar()
        if draft_id is not None:
            mark_ready(engine, draft_id=int(draft_id), actor="aino", now=now)
        server = uvicorn.Server(uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=0,
                                               log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        WebDriverWait(None, 30).until(lambda _: server.started)  # type: ignore[arg-type]
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CLOSELOOP_CHROMIUM", "/usr/bin/chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=en-US",
                         "--hide-scrollbars"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(os.environ.get("CLOSELOOP_CHROMEDRIVER", "/usr/bin/chromedriver")),
                                  options=options)
        try:
            driver.set_window_size(1440, 900)
            driver.get(url + "/login")
            driver.find_element(By.ID, "name").send_keys("maria")
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-list li.case"))
            first = driver.find_element(By.CSS_SELECTOR, "#queue-list li.case").get_attribute("data-case-id")
            args.out.mkdir(parents=True, exist_ok=True)
            for label, (width, height) in SIZES.items():
                driver.set_window_size(width, height)
                for name, path in (("queue", "/"), ("case", f"/cases/{first}")):
                    driver.get(url + path)
                    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main"))
                    target = args.out / f"console-{name}-{label}.png"
                    driver.save_screenshot(str(target))
                    print(target.relative_to(REPO) if target.is_relative_to(REPO) else target)
        finally:
            driver.quit()
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
