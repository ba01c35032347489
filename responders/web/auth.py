"""Who is asking, and may they: argon2 passwords, session cookies, CSRF tokens, roles, the login throttle.

A session cookie holds a random token; the database holds only its SHA-256 and the session's CSRF token.
Every POST must carry that CSRF token (form field ``csrf`` or header ``X-CSRF-Token``). The login form,
made before any session exists, is protected by a double-submit cookie instead.

The client's address is the connection's peer, or what a proxy listed in ``console.trusted_proxies`` says
in X-Forwarded-For (uvicorn's proxy middleware, set up by ``responders.web.app.server_config``): no other
client can choose the address that is throttled and written to the audit log.

The login throttle counts failures of a name from one address (``login_attempts_per_15_minutes``; a success
starts the count again) and, more slowly, of a name from everywhere (``login_attempts_per_name_per_hour``).
Nothing counts failures by address alone: a team behind one proxy cannot be locked out by someone else's
guesses, only the name being guessed waits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from models.tables import ROLES
from models.types import utcnow
from models.users import (
    SessionUser,
    create_session,
    credentials_for,
    delete_session,
    login_failures,
    record_login_attempt,
    session_user,
    update_password_hash,
)
from responders.web.render import page

SESSION_COOKIE = "closeloop_session"
LOGIN_COOKIE = "closeloop_login"
THROTTLE_WINDOW = timedelta(minutes=15)
NAME_WINDOW = timedelta(hours=1)
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_hasher = PasswordHasher()
# Verified against when the name is unknown, so an unknown name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

router = APIRouter()


class NotLoggedIn(Exception):
    """No valid session: pages redirect to /login, htmx and API calls get 401."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str, *, min_length: int) -> str | None:
    """Why ``password`` may not be set (None when it may): every place that sets one asks this."""
    if len(password) < min_length:
        return f"a password needs at least {min_length} characters (console.password_min_length)"
    if not password.strip():
        return "a password cannot be only spaces"
    return None


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def is_secure(request: Request) -> bool:
    return bool(request.app.state.settings.console.secure_cookies) or request.url.scheme == "https"


def has_role(user: SessionUser, role: str) -> bool:
    return ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def _lookup(request: Request) -> SessionUser:
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        user = session_user(request.app.state.engine, token_hash=token_hash(token), now=utcnow())
    if user is None:
        raise NotLoggedIn()
    return user


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get("csrf")
            sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


def require(role: str) -> Callable[[Request], Awaitable[SessionUser]]:
    """A dependency: the logged-in user, who must hold ``role`` or above; POSTs must carry the CSRF token."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(request: Request) -> SessionUser:
        user = await run_in_threadpool(_lookup, request)
        request.state.user = user
        if request.method not in ("GET", "HEAD") and not await _csrf_ok(request, user.csrf_token):
            raise HTTPException(403, "the form is missing its CSRF token or it is out of date; reload the page")
        if not has_role(user, role):
            raise HTTPException(403, f"this needs the {role} role; you are {user.role}")
        return user

    return dependency


def _login_page(request: Request, *, message: str | None = None, status: int = 200, name: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", {"login_csrf": token, "message": message, "name": name}, status=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=is_secure(request), path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form("")) -> Response:
    settings, engine = request.app.state.settings, request.app.state.engine
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not csrf or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(request, message="The login form expired; please try again.", status=403, name=name)
    address, now = client_address(request), utcnow()
    name = name.strip()[:100]
    console = settings.console
    failures = login_failures(engine, name=name, address=address, pair_since=now - THROTTLE_WINDOW,
                              name_since=now - NAME_WINDOW)
    if failures.pair >= console.login_attempts_per_15_minutes:
        return _login_page(request, status=429, name=name,
                           message="Too many failed logins for this name. Wait 15 minutes before trying again.")
    if failures.name >= console.login_attempts_per_name_per_hour:
        return _login_page(request, status=429, name=name,
                           message="Too many failed logins for this name. Wait an hour before trying again.")
    user = credentials_for(engine, name=name) if name else None
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or user.disabled or not ok:
        record_login_attempt(engine, name=name, address=address, ok=False, now=now)
        return _login_page(request, message="Wrong name or password.", status=401, name=name)
    if _hasher.check_needs_rehash(user.password_hash):
        update_password_hash(engine, user_id=user.id, password_hash=hash_password(password))
    record_login_attempt(engine, name=name, address=address, ok=True, now=now)
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(hours=settings.console.session_hours)
    create_session(engine, token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                   now=now, expires_at=now + lifetime, address=address)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()), httponly=True, samesite="lax",
                        secure=is_secure(request), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    user = await require("viewer")(request)
    del user
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(delete_session, request.app.state.engine, token_hash=token_hash(token))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


Viewer = Annotated[SessionUser, Depends(require("viewer"))]
Agent = Annotated[SessionUser, Depends(require("agent"))]
Approver = Annotated[SessionUser, Depends(require("approver"))]
Admin = Annotated[SessionUser, Depends(require("admin"))]
