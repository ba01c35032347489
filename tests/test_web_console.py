"""The approval console over HTTP, against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.outbox import text_hash
from models.sources import ConfiguredSource, record_poll_failure, sync_sources
from models.tables import AuditEntry, Case, CaseEvent, Draft
from models.types import utcnow
from monitor.config import Settings
from responders.drafting.signature import sign
from responders.web.app import CSP
from tests.web_support import PASSWORD, add_users, client, fill, lexicon_settings, login, post, standard_posts


@pytest.fixture
def settings() -> Settings:
    return lexicon_settings()


@pytest.fixture
def desk(engine: Engine, settings: Settings, tmp_path: Path) -> Engine:
    now = utcnow()
    posts = [
        *standard_posts(now),
        # Jane again, on Mastodon, with her handle in another case: the same customer across platforms.
        post("m1", "@acme@acme.social still no refund for my order, awful", now=now, handle="Jane_Doe",
             platform="mastodon", minutes_ago=3, url="https://acme.social/@Jane_Doe/1"),
    ]
    fill(engine, settings, posts, tmp_path / "posts.jsonl", now=now)
    add_users(engine)
    return engine


def rows(engine: Engine, table: type) -> list:
    with engine.connect() as connection:
        return list(connection.execute(select(table.__table__)))  # type: ignore[attr-defined]


def case_ids(engine: Engine) -> dict[str, int]:
    """Case id by the first word after @acme in its root text."""
    with engine.connect() as connection:
        cases = connection.execute(select(Case.__table__.c.id, Case.__table__.c.platform)).all()  # type: ignore[attr-defined]
    return {f"{c.platform}:{c.id}": c.id for c in cases}


def first_case(engine: Engine, platform: str = "x") -> int:
    return min(cid for key, cid in case_ids(engine).items() if key.startswith(platform + ":"))


def draft_of(engine: Engine, case_id: int) -> dict:
    return next(r._asdict() for r in rows(engine, Draft) if r.case_id == case_id)


def test_it_sends_strangers_to_the_login_page_and_refuses_scripts_with_401(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    assert c.get("/").status_code == 303 and c.get("/").headers["location"] == "/login"
    assert c.get("/cases/1").headers["location"] == "/login"
    assert c.get("/api/queue").status_code == 401
    assert c.get("/queue/list", headers={"HX-Request": "true"}).status_code == 401
    assert c.post("/cases/1/approve", data={"seen_hash": "x"}).status_code == 401


def test_it_sets_a_httponly_samesite_session_cookie_and_audits_the_login(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = c.post("/login", data={"name": "agent", "password": PASSWORD, "csrf": token})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "closeloop_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie
    logins = [r for r in rows(desk, AuditEntry) if r.action == "login"]
    assert [(r.actor, r.address) for r in logins] == [("agent", "testclient")]


def test_it_marks_cookies_secure_when_configured(desk: Engine, settings: Settings) -> None:
    secure = settings.model_copy(update={"console": settings.console.model_copy(update={"secure_cookies": True})})
    c = TestClient(client(desk, secure).app, base_url="https://testserver", follow_redirects=False)
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = c.post("/login", data={"name": "agent", "password": PASSWORD, "csrf": token})
    assert "secure" in response.headers["set-cookie"].lower()


def test_it_throttles_failed_logins_by_name(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    for _ in range(settings.console.login_attempts_per_15_minutes):
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        assert c.post("/login", data={"name": "agent", "password": "wrong", "csrf": token}).status_code == 401
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    refused = c.post("/login", data={"name": "agent", "password": PASSWORD, "csrf": token})
    assert refused.status_code == 429 and "Too many failed logins" in refused.text
    assert sum(r.action == "login_failed" for r in rows(desk, AuditEntry)) == 5


def test_it_refuses_a_login_without_its_form_token(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    assert c.post("/login", data={"name": "agent", "password": PASSWORD}).status_code == 403


def test_it_refuses_posts_without_the_csrf_token(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    csrf = login(c, "admin")
    case_id = first_case(desk)
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "look"}).status_code == 403
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "look", "csrf": "forged"}).status_code == 403
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "look"},
                  headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert c.post("/logout").status_code == 403
    assert not [r for r in rows(desk, AuditEntry) if r.action == "escalate"]
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "look", "csrf": csrf}).status_code == 303
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "again"}, headers={"X-CSRF-Token": csrf}).status_code == 303


def test_the_queue_shows_what_needs_action_by_the_clock_with_what_the_desk_needs(desk: Engine,
                                                                                  settings: Settings) -> None:
    c = client(desk, settings)
    login(c, "viewer")
    page = c.get("/")
    assert page.status_code == 200
    for needle in ("Jane Doe", "@<bdi>jane_doe</bdi>", "data-deadline=", "mentions refund", 'id="lane-needs"',
                   "https://x.com/jane_doe/status/100", 'hx-trigger="every 5s, refresh"', "Needs reply"):
        assert needle in page.text, needle
    for jargon in ("lexicon:vader", "eligibility unknown", "scored by", "sha256"):
        assert jargon not in page.text, f"an agent's queue says {jargon!r}"
    admin = client(desk, settings)
    login(admin, "admin")
    assert "lexicon:vader" in admin.get("/").text, "admins keep the scorer's details"
    listing = c.get("/api/queue").json()
    items = listing["items"]
    assert len(items) == 4 and listing["lane"] == "needs" and listing["counts"]["needs"] == 4
    deadlines = [i["deadline"] for i in items]
    assert deadlines == sorted(deadlines), "ordered by the time left, not re-ranked by urgency"
    fragment = c.get("/queue/list", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="filters"' not in fragment.text


@pytest.mark.parametrize(("query", "expected"), [
    ("platform=mastodon", 1), ("platform=reddit", 0), ("brand=Acme", 4), ("brand=Nope", 0), ("language=en", 4),
    ("breached=yes", 0), ("breached=no", 4), ("assignee=none", 4), ("assignee=me", 0), ("state=resolved", 0),
])
def test_the_queue_filters_in_the_database(desk: Engine, settings: Settings, query: str, expected: int) -> None:
    c = client(desk, settings)
    login(c, "viewer")
    assert c.get(f"/api/queue?{query}").json()["total"] == expected


def test_a_case_shows_the_customers_history_across_platforms(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    login(c, "viewer")
    mastodon_case = first_case(desk, "mastodon")
    page = c.get(f"/cases/{mastodon_case}")
    assert page.status_code == 200
    assert "Customer history" in page.text and "my order never arrived" in page.text, "Jane's X case is her history"
    assert "/ 500 characters" in page.text, "Mastodon's limit"
    assert c.get("/cases/999999").status_code == 404


def test_editing_checks_style_and_approving_records_the_hash_of_the_text_sent(desk: Engine, settings: Settings) -> None:
    agent, approver = client(desk, settings), client(desk, settings)
    agent_csrf, approver_csrf = login(agent, "agent"), login(approver, "approver")
    case_id = first_case(desk)
    check = agent.post(f"/cases/{case_id}/check", data={"text": "Unfortunately we can't help"},
                       headers={"X-CSRF-Token": agent_csrf, "HX-Request": "true"})
    assert check.status_code == 200 and 'data-code="negative_wording"' in check.text and "/ 280 characters" in check.text
    draft = draft_of(desk, case_id)
    text = draft["text"] + " We will call you today."
    saved = agent.post(f"/cases/{case_id}/edit", data={"text": text, "seen_hash": text_hash(draft["text"]),
                                                       "csrf": agent_csrf})
    assert saved.status_code == 303
    assert agent.post(f"/cases/{case_id}/release", data={"csrf": agent_csrf}).status_code == 303
    stale = approver.post(f"/cases/{case_id}/approve", data={"seen_hash": text_hash(draft["text"]),
                                                             "csrf": approver_csrf})
    assert stale.status_code == 409, "approving text you have not seen is refused"
    approved = approver.post(f"/cases/{case_id}/approve", data={"seen_hash": text_hash(text), "csrf": approver_csrf})
    assert approved.status_code == 303
    after = draft_of(desk, case_id)
    # Signed at approval by whoever approved it (an approver without a signature: their name after a dash).
    signed = sign(text, "– approver", replacing=[agent.signature for agent in settings.agents])
    assert after["text"] == signed and after["text"].endswith("\n– approver")
    assert (after["status"], after["text_hash"], after["approved_by"]) == ("approved", text_hash(signed), "approver")
    audit = [r for r in rows(desk, AuditEntry) if r.action == "approve"]
    assert [(r.actor, r.case_id, r.text_hash) for r in audit] == [("approver", case_id, text_hash(signed))]
    # Editing the approved draft sends it back for approval: the text approved is the text sent.
    again = agent.post(f"/cases/{case_id}/edit", data={"text": text + " Thanks!", "csrf": agent_csrf})
    assert again.status_code == 303
    assert draft_of(desk, case_id)["status"] == "draft" and draft_of(desk, case_id)["text_hash"] is None


def test_an_agent_cannot_approve_and_a_case_someone_edits_shows_who(desk: Engine, settings: Settings) -> None:
    first, second = client(desk, settings), client(desk, settings)
    first_csrf = login(first, "agent")
    second_csrf = login(second, "approver")
    case_id = first_case(desk)
    assert first.post(f"/cases/{case_id}/approve", data={"seen_hash": "x", "csrf": first_csrf}).status_code == 403
    assert first.post(f"/cases/{case_id}/claim", data={"csrf": first_csrf}).status_code == 303
    held = second.post(f"/cases/{case_id}/edit", data={"text": "mine now", "csrf": second_csrf})
    assert held.status_code == 409 and "agent is editing" in held.text
    assert "agent</bdi> is editing" in second.get("/").text
    assert "agent</bdi> is editing this case" in second.get(f"/cases/{case_id}").text


def test_resolving_needs_a_note_and_writes_an_event_and_an_audit_row(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    csrf = login(c, "agent")
    case_id = first_case(desk)
    assert c.post(f"/cases/{case_id}/resolve", data={"note": "  ", "csrf": csrf}).status_code == 422
    assert c.post(f"/cases/{case_id}/resolve", data={"note": "refund issued", "csrf": csrf}).status_code == 303
    case = next(r for r in rows(desk, Case) if r.id == case_id)
    assert (case.state, case.resolution, case.resolution_note, case.resolved_by) == (
        "resolved", "agent", "refund issued", "agent")
    assert c.post(f"/cases/{case_id}/resolve", data={"note": "again", "csrf": csrf}).status_code == 409
    assert c.post(f"/cases/{case_id}/reopen", data={"csrf": csrf}).status_code == 303
    assert next(r for r in rows(desk, Case) if r.id == case_id).state == "reopened"
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "", "csrf": csrf}).status_code == 422
    assert c.post(f"/cases/{case_id}/escalate", data={"note": "VIP, call them", "csrf": csrf}).status_code == 303
    events = [(e.cause, e.actor) for e in rows(desk, CaseEvent) if e.case_id == case_id and e.actor]
    assert events == [("agent_resolved", "agent"), ("agent_reopened", "agent"), ("escalated", "agent")]
    actions = [(a.action, a.detail) for a in rows(desk, AuditEntry) if a.case_id == case_id]
    assert actions == [("resolve", "refund issued"), ("reopen", None), ("escalate", "VIP, call them")]


def test_rejecting_needs_a_reason(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    csrf = login(c, "approver")
    case_id = first_case(desk)
    assert c.post(f"/cases/{case_id}/reject", data={"reason": "", "csrf": csrf}).status_code == 422
    assert c.post(f"/cases/{case_id}/reject", data={"reason": "wrong tone", "csrf": csrf}).status_code == 303
    assert draft_of(desk, case_id)["status"] == "rejected"
    assert [(a.action, a.detail) for a in rows(desk, AuditEntry) if a.action == "reject"] == [("reject", "wrong tone")]


def test_agents_assign_only_themselves_and_approvers_anyone(desk: Engine, settings: Settings) -> None:
    agent, approver = client(desk, settings), client(desk, settings)
    agent_csrf, approver_csrf = login(agent, "agent"), login(approver, "approver")
    case_id = first_case(desk)
    assert agent.post(f"/cases/{case_id}/assign", data={"assignee": "viewer", "csrf": agent_csrf}).status_code == 403
    assert agent.post(f"/cases/{case_id}/assign", data={"assignee": "agent", "csrf": agent_csrf}).status_code == 303
    assert agent.get("/api/queue?assignee=me").json()["total"] == 1
    assert approver.post(f"/cases/{case_id}/assign", data={"assignee": "admin", "csrf": approver_csrf}).status_code == 303
    assert approver.get("/api/queue?assignee=admin").json()["total"] == 1


def test_admins_manage_users_and_every_role_change_is_audited(desk: Engine, settings: Settings) -> None:
    admin, viewer = client(desk, settings), client(desk, settings)
    csrf = login(admin, "admin")
    login(viewer, "viewer")
    assert admin.post("/users", data={"name": "maria", "role": "agent", "password": "short", "csrf": csrf}).status_code == 422
    assert admin.post("/users", data={"name": "maria", "role": "agent", "password": PASSWORD, "csrf": csrf}).status_code == 303
    assert admin.post("/users/viewer/role", data={"role": "agent", "csrf": csrf}).status_code == 303
    assert viewer.get("/").status_code == 303, "a role change ends the user's sessions"
    assert admin.post("/users/maria/disable", data={"csrf": csrf}).status_code == 303
    page = admin.get("/users").text
    assert "maria" in page and "disabled" in page
    changes = [(a.action, a.detail) for a in rows(desk, AuditEntry)
               if a.action in ("role_change", "user_create") and a.actor == "admin"]
    assert changes == [("user_create", "maria as agent"), ("role_change", "viewer: viewer → agent")]
    maria = client(desk, settings)
    token = re.search(r'name="csrf" value="([^"]+)"', maria.get("/login").text).group(1)  # type: ignore[union-attr]
    assert maria.post("/login", data={"name": "maria", "password": PASSWORD, "csrf": token}).status_code == 401


def test_the_sources_page_shows_state_and_admins_re_enable(desk: Engine, settings: Settings) -> None:
    sync_sources(desk, configured=[ConfiguredSource("x-main", "x", "Acme", True)])
    now = utcnow()
    with desk.begin() as connection:
        connection.exec_driver_sql("UPDATE source SET lease_owner = 'me'")
    record_poll_failure(desk, source_id=1, owner="me", now=now, error="401 bad token", permanent=True, next_poll_at=None)
    admin = client(desk, settings)
    csrf = login(admin, "admin")
    page = admin.get("/sources").text
    assert "x-main" in page and "401 bad token" in page and "/sources/x-main/enable" in page
    assert admin.post("/sources/x-main/enable", data={"csrf": csrf}).status_code == 303
    assert "disabled:" not in admin.get("/sources").text


def test_every_response_carries_the_security_headers(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    login(c, "viewer")
    for path in ("/", "/login", "/static/app.js", "/cases/999999", "/audit", "/nowhere"):
        response = c.get(path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "server-timing" in response.headers
    assert "'unsafe-inline'" not in CSP and "script-src 'self';" in CSP
