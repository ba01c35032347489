"""axe-core in the page under test: inject the vendored copy and return its violations.

The rules run are those of WCAG 2.0 A and AA, WCAG 2.1 AA and axe's best practices. ``SERIOUS`` are the
impacts that fail a test; ``summary`` counts violated rules and failing elements per impact for the notes in
docs/accessibility.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
TAGS = ("wcag2a", "wcag2aa", "wcag21aa", "best-practice")
IMPACTS = ("critical", "serious", "moderate", "minor")
SERIOUS = ("critical", "serious")

_RUN = """
var done = arguments[arguments.length - 1];
window.axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(function (result) {
    done(result.violations.map(function (v) {
      return {id: v.id, impact: v.impact || "minor", help: v.help,
              targets: v.nodes.map(function (n) { return n.target.join(" "); }),
              summaries: v.nodes.slice(0, 3).map(function (n) { return n.failureSummary || ""; })};
    }));
  }, function (error) { done({error: String(error)}); });
"""


@dataclass(frozen=True, slots=True)
class Violation:
    id: str
    impact: str
    help: str
    targets: tuple[str, ...]
    summaries: tuple[str, ...]

    def line(self) -> str:
        shown = ", ".join(self.targets[:4]) + (" …" if len(self.targets) > 4 else "")
        return f"{self.impact} {self.id} ({len(self.targets)}): {self.help} — {shown}"


def _source() -> str:
    source = VENDOR.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    if digest != AXE_SHA256:
        raise AssertionError(f"{VENDOR} is not the vendored axe-core (sha256 {digest}); see vendor/README.md")
    return source.decode("utf-8")


def run_axe(driver: Any) -> list[Violation]:
    """axe's violations on the page ``driver`` shows now."""
    if not driver.execute_script("return !!(window.axe && window.axe.run)"):
        driver.execute_script(_source())
    driver.set_script_timeout(60)
    found = driver.execute_async_script(_RUN, list(TAGS))
    if isinstance(found, dict):
        raise AssertionError(f"axe failed: {found.get('error')}")
    return [Violation(v["id"], v["impact"], v["help"], tuple(v["targets"]), tuple(v["summaries"])) for v in found]


def serious(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.impact in SERIOUS]


def summary(violations: list[Violation]) -> dict[str, tuple[int, int]]:
    """Per impact: (rules violated, elements failing)."""
    return {impact: (sum(1 for v in violations if v.impact == impact),
                     sum(len(v.targets) for v in violations if v.impact == impact)) for impact in IMPACTS}
