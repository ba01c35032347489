"""How many requests a platform credential may make per window: the platform's published limit for the
endpoint a source polls (its PlatformSpec's ``budget``), unless the source's options say otherwise
(``requests_per_window``, ``window_seconds``). One unit is one fetch page. Pure: no database, no HTTP."""

from __future__ import annotations

from datetime import timedelta

from monitor.config import SourceSettings
from monitor.sources.platforms import PLATFORMS
from monitor.sources.spec import Budget

DEFAULT_BUDGETS: dict[str, Budget] = {name: spec.budget for name, spec in PLATFORMS.items()}
"""Each platform's published limit. Replay has no platform behind it: no budget unless its options set one."""


def budget_for(source: SourceSettings) -> Budget | None:
    """The request budget of ``source``'s credential, or None when it has none."""
    default = DEFAULT_BUDGETS.get(source.platform)
    limit = source.options.get("requests_per_window", default.limit if default else None)
    seconds = source.options.get("window_seconds", default.window.total_seconds() if default else 60)
    if limit is None:
        return None
    return Budget(int(limit), timedelta(seconds=float(seconds)))


__all__ = ["DEFAULT_BUDGETS", "Budget", "budget_for"]
