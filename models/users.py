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

from models.audit import audit
from models.db import reading, writing
from models.tables import LOGIN_ATTEMPT, ROLES, USER, WEB_SESSION


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
        with writing(engine) as connection:
            user_id = connection.execute(
                USER.insert().values(name=name, password_hash=password_hash, role=role, disabled=False,
                                      created_at=now).returning(USER.c.id)
            ).scalar_one()
            audit(connection, actor=actor, action="user_create", now=now, detail=f"{name} as {role}",
                  address=address)
            return int(user_id)
    except IntegrityError:
        raise UserError(f"a user called {name!r} already exists") from None


def list_users(engine: Engine) -> list[UserRow]:
    with reading(engine) as connection:
        rows = connection.execute(
            select(USER.c.id, USER.c.name, USER.c.role, USER.c.disabled, USER.c.created_at).order_by(USER.c.name)
        )
        return [UserRow(*row) for row in rows]


def credentials_for(engine: Engine, *, name: str) -> Credentials | None:
    with reading(engine) as connection:
        row = connection.execute(
            select(USER.c.id, USER.c.name, USER.c.role, USER.c.disabled, USER.c.password_hash)
            .where(USER.c.name == name)
        ).first()
        return Credentials(*row) if row else None


def user_signature(engine: Engine, *, name: str) -> str | None:
    """How ``name`` signs the replies they approve (None: not set, or no such user)."""
    with reading(engine) as connection:
        value = connection.execute(select(USER.c.signature).where(USER.c.name == name)).scalar()
        return str(value) if value and str(value).strip() else None


def set_signature(engine: Engine, *, name: str, signature: str | None, actor: str, now: datetime,
                  address: str | None = None) -> None:
    """Set (or clear, with None) how ``name`` signs the replies they approve. Audited."""
    with writing(engine) as connection:
        if connection.execute(update(USER).where(USER.c.name == name).values(signature=signature)).rowcount != 1:
            raise UserError(f"no user {name!r}")
        audit(connection, actor=actor, action="signature", now=now, detail=f"{name}: {signature or '(default)'}",
              address=address)


def update_password_hash(engine: Engine, *, user_id: int, password_hash: str) -> None:
    """Store a re-hash (argon2 parameters changed); not audited, the password is the same."""
    with writing(engine) as connection:
        connection.execute(update(USER).where(USER.c.id == user_id).values(password_hash=password_hash))


def change_role(engine: Engine, *, name: str, role: str, actor: str, now: datetime, address: str | None = None) -> None:
    """Set a user's role, audited with the old and new role. Their sessions end (they log in again)."""
    _check_role(role)
    with writing(engine) as connection:
        row = connection.execute(select(USER.c.id, USER.c.role).where(USER.c.name == name)).first()
        if row is None:
            raise UserError(f"no user called {name!r}")
        connection.execute(update(USER).where(USER.c.id == row.id).values(role=role))
        connection.execute(delete(WEB_SESSION).where(WEB_SESSION.c.user_id == row.id))
        audit(connection, actor=actor, action="role_change", now=now, detail=f"{name}: {row.role} → {role}",
              address=address)


def set_disabled(engine: Engine, *, name: str, disabled: bool, actor: str, now: datetime,
                 address: str | None = None) -> None:
    """Disable (ending every session) or enable an account, audited."""
    with writing(engine) as connection:
        row = connection.execute(select(USER.c.id).where(USER.c.name == name)).first()
        if row is None:
            raise UserError(f"no user called {name!r}")
        connection.execute(update(USER).where(USER.c.id == row.id).values(disabled=disabled))
        if disabled:
            connection.execute(delete(WEB_SESSION).where(WEB_SESSION.c.user_id == row.id))
        audit(connection, actor=actor, action="user_disable" if disabled else "user_enable", now=now, detail=name,
              address=address)


@dataclass(frozen=True, slots=True)
class LoginFailures:
    pair: int  # this name from this address, since the window began and since the pair's last success
    name: int  # this name from any address, since ``name_since``


def login_failures(engine: Engine, *, name: str, address: str | None, pair_since: datetime,
                   name_since: datetime) -> LoginFailures:
    """Failed logins counted for the console's throttle (a success of the pair starts its count again)."""
    from_address = LOGIN_ATTEMPT.c.address.is_(None) if address is None else LOGIN_ATTEMPT.c.address == address
    with reading(engine) as connection:
        last_success = connection.execute(
            select(func.max(LOGIN_ATTEMPT.c.at)).where(LOGIN_ATTEMPT.c.name == name, from_address, LOGIN_ATTEMPT.c.ok.is_(True),
                                                  LOGIN_ATTEMPT.c.at >= pair_since)
        ).scalar_one()
        if isinstance(last_success, str):  # an aggregate loses the column type on SQLite
            last_success = datetime.fromisoformat(last_success)
        if last_success is not None and last_success.tzinfo is None:
            last_success = last_success.replace(tzinfo=UTC)
        pair = connection.execute(
            select(func.count()).select_from(LOGIN_ATTEMPT)
            .where(LOGIN_ATTEMPT.c.name == name, from_address, LOGIN_ATTEMPT.c.ok.is_(False),
                   LOGIN_ATTEMPT.c.at >= pair_since, *([LOGIN_ATTEMPT.c.at > last_success] if last_success else []))
        ).scalar_one()
        by_name = connection.execute(
            select(func.count()).select_from(LOGIN_ATTEMPT)
            .where(LOGIN_ATTEMPT.c.name == name, LOGIN_ATTEMPT.c.ok.is_(False), LOGIN_ATTEMPT.c.at >= name_since)
        ).scalar_one()
        return LoginFailures(int(pair), int(by_name))


def record_login_attempt(engine: Engine, *, name: str, address: str | None, ok: bool, now: datetime) -> None:
    """Every try is kept for throttling, and audited (``login`` or ``login_failed``)."""
    with writing(engine) as connection:
        connection.execute(LOGIN_ATTEMPT.insert().values(name=name[:100], address=address, at=now, ok=ok))
        audit(connection, actor=name[:200], action="login" if ok else "login_failed", now=now, address=address)


def create_session(engine: Engine, *, token_hash: str, user_id: int, csrf_token: str, now: datetime,
                   expires_at: datetime, address: str | None) -> None:
    with writing(engine) as connection:
        connection.execute(WEB_SESSION.insert().values(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                                    created_at=now, expires_at=expires_at, address=address))


def session_user(engine: Engine, *, token_hash: str, now: datetime) -> SessionUser | None:
    """The user of an unexpired session whose account is enabled; None otherwise."""
    with reading(engine) as connection:
        row = connection.execute(
            select(USER.c.id, USER.c.name, USER.c.role, WEB_SESSION.c.csrf_token, WEB_SESSION.c.expires_at)
            .join(USER, USER.c.id == WEB_SESSION.c.user_id)
            .where(WEB_SESSION.c.token_hash == token_hash, WEB_SESSION.c.expires_at > now, USER.c.disabled.is_(False))
        ).first()
        return SessionUser(*row) if row else None


def delete_session(engine: Engine, *, token_hash: str) -> None:
    with writing(engine) as connection:
        connection.execute(delete(WEB_SESSION).where(WEB_SESSION.c.token_hash == token_hash))


def delete_expired_sessions(engine: Engine, *, now: datetime) -> int:
    with writing(engine) as connection:
        return connection.execute(delete(WEB_SESSION).where(WEB_SESSION.c.expires_at <= now)).rowcount or 0
