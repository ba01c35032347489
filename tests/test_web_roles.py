"""Who may do what: every route for every role, allowed or 403 (401 without a login)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from models.outbox import text_hash
from models.queue import case_detail
from models.types import utcnow
from monitor.config import Settings
from tests.web_support import ROLES, add_users, client, fill, lexicon_settings, login, standard_posts

LEAST = {"viewer": 0, "agent": 1, "approver": 2, "admin": 3}

# (method, path, form, the least role allowed). {case} is a case with a draft; {hash} its text's hash.
ROUTES = [
    ("GET", "/", {}, "viewer"),
    ("GET", "/queue/list", {}, "viewer"),
    ("GET", "/api/queue", {}, "viewer"),
    ("GET", "/cases/{case}", {}, "viewer"),
    ("GET", "/sources", {}, "viewer"),
    ("GET", "/audit", {}, "viewer"),
    ("GET", "/users", {}, "admin"),
    ("POST", "/cases/{case}/check", {"text": "hello"}, "agent"),
    ("POST", "/cases/{case}/claim", {}, "agent"),
    ("POST", "/cases/{case}/release", {}, "agent"),
    ("POST", "/cases/{case}/edit", {"text": "Sorry about that, we are on it. – Maria, Acme care"}, "agent"),
    ("POST", "/cases/{case}/assign", {"assignee": "{me}"}, "agent"),
    ("POST", "/cases/{case}/escalate", {"note": "please look"}, "agent"),
    ("POST", "/cases/{case}/resolve", {"note": "fixed"}, "agent"),
    ("POST", "/cases/{case}/reopen", {}, "agent"),
    ("POST", "/cases/{case}/approve", {"seen_hash": "{hash}"}, "approver"),
    ("POST", "/cases/{case}/reject", {"reason": "tone"}, "approver"),
    ("POST", "/users", {"name": "new-{me}", "role": "viewer", "password": "a long enough password"}, "admin"),
    ("POST", "/users/viewer/role", {"role": "viewer"}, "admin"),
    ("POST", "/users/nobody/enable", {}, "admin"),
    ("POST", "/sources/nothing/enable", {}, "admin"),
]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return lexicon_settings()


@pytest.fixture
def desk(sqlite_engine: Engine, settings: Settings, tmp_path: Path) -> Engine:
    fill(sqlite_engine, settings, standard_posts(utcnow()), tmp_path / "p.jsonl")
    add_users(sqlite_engine)
    return sqlite_engine


def _call(c: TestClient, method: str, path: str, form: dict[str, str], csrf: str | None) -> int:
    if method == "GET":
        return c.get(path).status_code
    return c.post(path, data={**form, **({"csrf": csrf} if csrf else {})}).status_code


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_routes(desk: Engine, settings: Settings, role: str) -> None:
    c = client(desk, settings)
    csrf = login(c, role)
    table = []
    for method, template, form, least in ROUTES:
        case_id = 2
        detail = case_detail(desk, case_id=case_id)
        assert detail is not None and detail.draft is not None
        values = {"case": str(case_id), "hash": text_hash(detail.draft.text), "me": role}
        path = template.format(**values)
        filled = {k: v.format(**values) for k, v in form.items()}
        status = _call(c, method, path, filled, csrf)
        allowed = LEAST[role] >= LEAST[least]
        table.append((method, path, status))
        if allowed:
            assert status not in (401, 403), (role, method, path, status)
        else:
            assert status == 403, (role, method, path, status)
        c.post(f"/cases/{case_id}/release", data={"csrf": csrf})


def test_without_a_login_pages_redirect_and_actions_are_401(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    for method, template, form, _ in ROUTES:
        path = template.format(case="1", hash="x", me="x")
        status = _call(c, method, path, form, None)
        if method == "GET" and not path.startswith("/api/"):
            assert status == 303, path
        else:
            assert status == 401, path


@pytest.mark.parametrize(("path", "status"), [
    ("/?page=99999999999999999999999", 404),
    ("/?page=1000001", 404),
    ("/queue/list?page=99999999999999999999999", 404),
    ("/api/queue?page=99999999999999999999999", 404),
    ("/?page=abc", 400),
    ("/?page=0", 400),
    ("/?page=-3", 400),
    ("/?page=" + "9" * 5000, 400),
    ("/cases/99999999999999999999", 404),
    ("/cases/9223372036854775808", 404),
    ("/cases/0", 404),
    ("/audit?before=999999999999999999999999", 200),
    ("/audit?before=x", 400),
])
def test_numbers_out_of_range_are_a_400_or_404_never_a_500(desk: Engine, settings: Settings, path: str,
                                                             status: int) -> None:
    c = client(desk, settings)  # the TestClient raises any server error, so a 500 cannot pass for a page
    login(c, "viewer")
    response = c.get(path)
    assert response.status_code == status, response.text[:300]
    if status >= 400 and not path.startswith("/api/"):
        assert "<html" in response.text.lower(), "an error page, not a bare error"


def test_actions_on_a_case_number_past_64_bits_are_404(desk: Engine, settings: Settings) -> None:
    c = client(desk, settings)
    csrf = login(c, "approver")
    for action in ("approve", "reject", "resolve", "claim"):
        response = c.post(f"/cases/99999999999999999999/{action}",
                          data={"csrf": csrf, "seen_hash": "x", "reason": "tone", "note": "done"})
        assert response.status_code == 404, (action, response.status_code)


def test_the_command_line_offers_exactly_the_roles_the_database_knows() -> None:
    from models.tables import ROLES as STORED
    from responders.web.commands import ROLE_NAMES

    assert ROLE_NAMES == STORED
