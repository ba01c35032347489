"""Console accounts, their login sessions and login attempts.

Passwords arrive here already hashed (argon2, by ``responders.web.auth``); session tokens arrive as their
SHA-256. Nothing in this module ever sees a password or a cookie's token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from models.db import reading
from models.outbox import audit
from models.tables import ROLES, LoginAttempt, User, WebSession

_user = User.__table__  # type: ignore[attr-defined]
_session = WebSession.__table__  # type: ignore[attr-defined]
_attempt = LoginAttempt.__table__  # type: ignore[attr-defined]


class UserError(Exception):
    """A user action that cannot apply: unknown name, taken name, unknown role."""


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    id: int
    name: str
    role: str
    disabled: bool
    password_hash: str


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The person behind a valid (unexpired, enabled) session."""

    user_id: int
    name: str
    role: str
    csrf_token: str
    expires_at: datetime


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")


def create_user(engine: Engine, *, name: str, password_hash: str, role: str, now: datetime,
                actor: str = "cli", address: str | None = None) -> int:
    """A new enabled account; UserError when the name is taken, blank or the role unknown. Audited."""
    _check_role(role)
    if not name.strip() or name != name.strip():
        raise UserError("a user name must be non-blank, without leading or trailing spaces")
    try:
        with engine.begin() as connection:
            user_id = connection.execute(
                _user.insert().values(name=name, password_hash=password_hash, role=role, disabled=False,
                                      created_at=now).returning(_user.c.id)
            ).scalar_one()
            audit(connection, actor=actor, action="user_create", now=now, detail=f"{name} as {role}",
                  address=address)
            return int(user_id)
    except IntegrityError:
        raise UserError(f"a user called {name!r} already exists") from None


def list_users(engine: Engine) -> list[UserRow]:
    with reading(engine) as connection:
        rows = connection.execute(
            select(_user.c.id, _user.c.name, _user.c.role, _user.c.disabled, _user.c.created_at).order_by(_user.c.name)
        )
        return [UserRow(*row) for row in rows]


def credentials_for(engine: Engine, *, name: str) -> Credentials | None:
    with reading(engine) as connection:
        row = connection.execute(
            select(_user.c.id, _user.c.name, _user.c.role, _user.c.disabled, _user.c.password_hash)
            .where(_user.c.name == name)
        ).first()
        return Credentials(*row) if row else None


def update_password_hash(engine: Engine, *, user_id: int, password_hash: str) -> None:
    """Store a re-hash (argon2 parameters changed); not audited, the password is the same."""
    with engine.begin() as connection:
        connection.execute(update(_user).where(_user.c.id == user_id).values(password_hash=password_hash))


def change_role(engine: Engine, *, name: str, role: str, actor: str, now: datetime, address: str | None = None) -> None:
    """Set a user's role, audited with the old and new role. Their sessions end (they log in again)."""
    _check_role(role)
    with engine.begin() as connection:
        row = connection.execute(select(_user.c.id, _user.c.role).where(_user.c.name == name)).first()
        if row is None:
            raise UserError(f"no user called {name!r}")
        connection.execute(update(_user).where(_user.c.id == row.id).values(role=role))
        connection.execute(delete(_session).where(_session.c.user_id == row.id))
        audit(connection, actor=actor, action="role_change", now=now, detail=f"{name}: {row.role} → {role}",
              address=address)


def set_disabled(engine: Engine, *, name: str, disabled: bool, actor: str, now: datetime,
                 address: str | None = None) -> None:
    """Disable (ending every session) or enable an account, audited."""
    with engine.begin() as connection:
        row = connection.execute(select(_user.c.id).where(_user.c.name == name)).first()
        if row is None:
            raise UserError(f"no user called {name!r}")
        connection.execute(update(_user).where(_user.c.id == row.id).values(disabled=disabled))
        if disabled:
            connection.execute(delete(_session).where(_session.c.user_id == row.id))
        audit(connection, actor=actor, action="user_disable" if disabled else "user_enable", now=now, detail=name,
              address=address)


@dataclass(frozen=True, slots=True)
class LoginFailures:
    pair: int  # this name from this address, since the window began and since the pair's last success
    name: int  # this name from any address, since ``name_since``


def login_failures(engine: Engine, *, name: str, address: str | None, pair_since: datetime,
                   name_since: datetime) -> LoginFailures:
    """Failed logins counted for the console's throttle (a success of the pair starts its count again)."""
    from_address = _attempt.c.address.is_(None) if address is None else _attempt.c.address == address
    with reading(engine) as connection:
        last_success = connection.execute(
            select(func.max(_attempt.c.at)).where(_attempt.c.name == name, from_address, _attempt.c.ok.is_(True),
                                                  _attempt.c.at >= pair_since)
        ).scalar_one()
        if isinstance(last_success, str):  # an aggregate loses the column type on SQLite
            last_success = datetime.fromisoformat(last_success)
        if last_success is not None and last_success.tzinfo is None:
            last_success = last_success.replace(tzinfo=UTC)
        pair = connection.execute(
            select(func.count()).select_from(_attempt)
            .where(_attempt.c.name == name, from_address, _attempt.c.ok.is_(False),
                   _attempt.c.at >= pair_since, *([_attempt.c.at > last_success] if last_success else []))
        ).scalar_one()
        by_name = connection.execute(
            select(func.count()).select_from(_attempt)
            .where(_attempt.c.name == name, _attempt.c.ok.is_(False), _attempt.c.at >= name_since)
        ).scalar_one()
        return LoginFailures(int(pair), int(by_name))


def record_login_attempt(engine: Engine, *, name: str, address: str | None, ok: bool, now: datetime) -> None:
    """Every try is kept for throttling, and audited (``login`` or ``login_failed``)."""
    with engine.begin() as connection:
        connection.execute(_attempt.insert().values(name=name[:100], address=address, at=now, ok=ok))
        audit(connection, actor=name[:200], action="login" if ok else "login_failed", now=now, address=address)


def create_session(engine: Engine, *, token_hash: str, user_id: int, csrf_token: str, now: datetime,
                   expires_at: datetime, address: str | None) -> None:
    with engine.begin() as connection:
        connection.execute(_session.insert().values(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                                    created_at=now, expires_at=expires_at, address=address))


def session_user(engine: Engine, *, token_hash: str, now: datetime) -> SessionUser | None:
    """The user of an unexpired session whose account is enabled; None otherwise."""
    with reading(engine) as connection:
        row = connection.execute(
            select(_user.c.id, _user.c.name, _user.c.role, _session.c.csrf_token, _session.c.expires_at)
            .join(_user, _user.c.id == _session.c.user_id)
            .where(_session.c.token_hash == token_hash, _session.c.expires_at > now, _user.c.disabled.is_(False))
        ).first()
        return SessionUser(*row) if row else None


def delete_session(engine: Engine, *, token_hash: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(_session).where(_session.c.token_hash == token_hash))


def delete_expired_sessions(engine: Engine, *, now: datetime) -> int:
    with engine.begin() as connection:
        return connection.execute(delete(_session).where(_session.c.expires_at <= now)).rowcount or 0
