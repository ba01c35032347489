"""The console says so when posts are scored by the fallback instead of the transformer the config asks for.

The console may run apart from the daemon (``closeloop serve``), so it reads what scored the newest post
from the database rather than asking a scorer of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from models.reports import newest_scorer
from monitor.config import Settings

WANTS_TRANSFORMER = ("auto", "transformers")


@dataclass(frozen=True, slots=True)
class ScorerNotice:
    wanted: str
    used: str


def notice(settings: Settings, used: str | None) -> ScorerNotice | None:
    """A notice when the config wants the transformer and the newest post was scored by something else."""
    if settings.scoring.backend not in WANTS_TRANSFORMER or used is None:
        return None
    wanted = settings.scoring.model
    return None if used.startswith(wanted) else ScorerNotice(wanted=wanted, used=used)


def install(app: FastAPI) -> None:
    """``scorer_notice()`` for the layout's banner."""

    def scorer_notice() -> ScorerNotice | None:
        return notice(app.state.settings, newest_scorer(app.state.engine))

    app.state.templates.globals["scorer_notice"] = scorer_notice
