"""Admin pages: console users (create, change role, disable) and re-enabling a source. All audited."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.sources import enable_source
from models.tables import ROLES
from models.types import utcnow
from models.users import UserError, change_role, create_user, list_users, set_disabled
from responders.web.auth import Admin, client_address, hash_password, password_problem
from responders.web.render import page

router = APIRouter()


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, user: Admin) -> Response:
    return page(request, "users.html", {"users": list_users(request.app.state.engine), "roles": ROLES,
                                        "done": request.query_params.get("done", "")[:40]})


@router.post("/users")
def add_user(request: Request, *, name: str = Form(...), role: str = Form(...), password: str = Form(...),
             user: Admin) -> Response:
    problem = password_problem(password, min_length=request.app.state.settings.console.password_min_length)
    if problem:
        raise HTTPException(422, problem)
    try:
        create_user(request.app.state.engine, name=name, password_hash=hash_password(password), role=role,
                    now=utcnow(), actor=user.name, address=client_address(request))
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse("/users?done=created", status_code=303)


@router.post("/users/{name}/role")
def set_role(request: Request, name: str, *, role: str = Form(...),
             user: Admin) -> Response:
    try:
        change_role(request.app.state.engine, name=name, role=role, actor=user.name, now=utcnow(),
                    address=client_address(request))
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse("/users?done=role", status_code=303)


@router.post("/users/{name}/disable")
def disable(request: Request, name: str, user: Admin) -> Response:
    if name == user.name:
        raise HTTPException(422, "you cannot disable your own account")
    try:
        set_disabled(request.app.state.engine, name=name, disabled=True, actor=user.name, now=utcnow(),
                     address=client_address(request))
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/users?done=disabled", status_code=303)


@router.post("/users/{name}/enable")
def enable(request: Request, name: str, user: Admin) -> Response:
    try:
        set_disabled(request.app.state.engine, name=name, disabled=False, actor=user.name, now=utcnow(),
                     address=client_address(request))
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/users?done=enabled", status_code=303)


@router.post("/sources/{name}/enable")
def enable_a_source(request: Request, name: str, user: Admin) -> Response:
    if not enable_source(request.app.state.engine, name=name):
        raise HTTPException(404, "no such source")
    return RedirectResponse("/sources", status_code=303)
