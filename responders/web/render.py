"""Rendering: one Jinja2 environment with autoescape always on, and filters that keep hostile text inert.

Post texts, names, handles and URLs are attacker-controlled. They reach templates only as data (never as
template source), are always escaped, and a URL becomes a link only when it is plain http(s).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from models.types import utcnow

TEMPLATES = Path(__file__).parent / "templates"
AMBER_MINUTES = 15


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL without whitespace or control characters, else None."""
    if not url or len(url) > 2000 or any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def deadline_class(deadline: datetime, now: datetime | None = None) -> str:
    """``red`` once breached, ``amber`` with under 15 minutes left, else ``ok`` (app.js keeps it current)."""
    left = (deadline - (now or utcnow())).total_seconds() / 60
    return "red" if left < 0 else "amber" if left < AMBER_MINUTES else "ok"


def countdown_text(deadline: datetime, now: datetime | None = None) -> str:
    seconds = int((deadline - (now or utcnow())).total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def clock(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def followers(value: int | None) -> str:
    if value is None:
        return "?"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{value / 1_000:.1f}k"
    return str(value)


def build_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(safe_url=safe_url, deadline_class=deadline_class, countdown=countdown_text, clock=clock,
                       followers=followers)
    return env


def page(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """Render a template with the user (if any), their CSRF token and the settings in the context."""
    user = getattr(request.state, "user", None)
    full = {"user": user, "csrf": user.csrf_token if user else "", "path": request.url.path,
            "settings": request.app.state.settings, **context}
    html = request.app.state.templates.get_template(name).render(full)
    return HTMLResponse(html, status_code=status)
