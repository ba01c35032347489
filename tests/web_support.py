"""Helpers for the console's tests: a database filled through the real pipeline, users, logged-in clients."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from models.types import utcnow
from models.users import create_user
from monitor.config import Settings, load_settings
from monitor.pipeline import fetch_and_store, process_pending
from monitor.scoring import build_scorer
from monitor.sources.replay import ReplaySource
from responders.web.app import create_app
from responders.web.auth import hash_password

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "agent", "approver", "admin")


def lexicon_settings() -> Settings:
    base = load_settings(REPO / "config.toml", env={})
    return base.model_copy(update={"scoring": base.scoring.model_copy(update={"backend": "lexicon"})})


def post(pid: str, text: str, *, now: datetime, handle: str = "jane_doe", name: str | None = "Jane Doe",
         minutes_ago: float = 10, platform: str = "x", followers: int = 120, url: str | None = None,
         conversation: str | None = None, reply_to: str | None = None, author_id: str | None = None) -> dict[str, Any]:
    return {
        "platform": platform, "id": pid, "text": text,
        "created_at": (now - timedelta(minutes=minutes_ago)).isoformat(),
        "author": {"id": author_id or f"u-{handle}", "handle": handle, "name": name, "followers": followers,
                   "verified": False},
        "url": url if url is not None else f"https://x.com/{handle}/status/{pid}",
        "conversation_id": conversation or pid, "in_reply_to_id": reply_to,
    }


def fill(engine: Engine, settings: Settings, posts: list[dict[str, Any]], path: Path, *,
         now: datetime | None = None) -> None:
    """Ingest ``posts`` through the real pipeline (replay source, lexicon scorer, triage, drafting)."""
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), "utf-8")
    report = fetch_and_store(engine, ReplaySource(name="t", path=path, batch_size=50), brand="Acme", source_id=None)
    process_pending(engine, settings, build_scorer(settings.scoring), report=report, now=now or utcnow())


def add_users(engine: Engine, roles: tuple[str, ...] = ROLES) -> None:
    hashed = hash_password(PASSWORD)
    for role in roles:
        create_user(engine, name=role, password_hash=hashed, role=role, now=utcnow())


def client(engine: Engine, settings: Settings) -> TestClient:
    return TestClient(create_app(settings, engine), follow_redirects=False)


def login(c: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    response = c.post("/login", data={"name": name, "password": password, "csrf": token.group(1)})
    assert response.status_code == 303, response.text
    page = c.get("/")
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text)
    assert found
    return found.group(1)


COMPLAINTS = [
    ("100", "@acme my order never arrived and support ignores me. I want a refund!", "jane_doe", "Jane Doe", 50),
    ("103", "@acme the app is broken again, this is awful and I was charged twice", "bob_k", "Bob K", 30),
    ("105", "@acme terrible service, my parcel is lost and nobody answers", "mia", "Mia", 5),
]


def standard_posts(now: datetime) -> list[dict[str, Any]]:
    return [post(pid, text, now=now, handle=handle, name=name, minutes_ago=ago)
            for pid, text, handle, name, ago in COMPLAINTS]
