"""Screenshots of the console for the README: the queue and a case page at 1440x900 and at 390x844.

Run from the repository root: ``.venv/bin/python scripts/screenshots.py [OUT_DIR]`` (default
docs/screenshots). It builds the accessibility tests' desk (tests/browser/desk.py) in a temporary SQLite
database, serves the console on a free local port and photographs it in headless Chromium as an approver,
with the first case focused from the keyboard. Exit 2 when Chromium, its driver or selenium is missing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHOTS = [("queue", "/", 1440, 900), ("queue-390", "/", 390, 844),
         ("case", "/cases/{case}", 1440, 900), ("case-390", "/cases/{case}", 390, 844)]


def main(argv: list[str]) -> int:
    from tests.browser.conftest import _missing, chromium, serve
    from tests.browser.desk import build_desk, log_in, viewport
    from tests.web_support import lexicon_settings

    if len(argv) > 1:
        print("usage: screenshots.py [OUT_DIR]", file=sys.stderr)
        return 2
    missing = _missing()
    if missing:
        print(f"screenshots: {missing}", file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else REPO / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)

    from models.db import make_engine, prepare

    with tempfile.TemporaryDirectory() as work:
        engine = make_engine(f"sqlite:///{Path(work) / 'desk.db'}")
        prepare(engine)
        settings = lexicon_settings()
        build_desk(engine, settings, Path(work))
        for url in serve(engine, settings):
            driver = chromium(1440, 900)
            try:
                viewport(driver, 1440, 900)
                log_in(driver, url, "approver")
                case = driver.execute_script(
                    "return document.querySelector('#queue-list li.case[data-draft-hash]:not([data-draft-hash=\"\"])')"
                    ".dataset.caseId")
                for name, path, width, height in SHOTS:
                    viewport(driver, width, height)
                    driver.get(url + path.format(case=case))
                    if path == "/":
                        driver.execute_script("var r = document.querySelector('#queue-list li.case');"
                                              "r.dispatchEvent(new KeyboardEvent('keydown', {key: 'j', bubbles: true}));")
                    target = out / f"{name}.png"
                    driver.save_screenshot(str(target))
                    print(target.relative_to(REPO) if target.is_relative_to(REPO) else target)
            finally:
                driver.quit()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
