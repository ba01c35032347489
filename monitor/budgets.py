"""How many requests a platform credential may make per window: the platform's published limit for the
endpoint a source polls, unless the source's options say otherwise (``requests_per_window``,
``window_seconds``). One unit is one fetch page. Pure: no database, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from monitor.config import SourceSettings


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int
    window: timedelta


# X: recent search, app auth (450 per 15 min); Reddit: OAuth clients (100 per minute); Mastodon: 300 per
# 5 min per account; Bluesky: 3000 per 5 min per account. Replay has no platform behind it: no budget.
DEFAULT_BUDGETS: dict[str, Budget] = {
    "x": Budget(450, timedelta(seconds=900)),
    "reddit": Budget(100, timedelta(seconds=60)),
    "mastodon": Budget(300, timedelta(seconds=300)),
    "bluesky": Budget(3000, timedelta(seconds=300)),
}


def budget_for(source: SourceSettings) -> Budget | None:
    """The request budget of ``source``'s credential, or None when it has none."""
    default = DEFAULT_BUDGETS.get(source.platform)
    limit = source.options.get("requests_per_window", default.limit if default else None)
    seconds = source.options.get("window_seconds", default.window.total_seconds() if default else 60)
    if limit is None:
        return None
    return Budget(int(limit), timedelta(seconds=float(seconds)))
