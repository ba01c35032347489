"""The approval console: a FastAPI app over the database, server-rendered with Jinja2 and htmx.

``create_app(settings, engine)`` is the whole wiring; nothing is global, so tests and `closeloop run` build
as many apps as they like. Every response carries the security headers and a Server-Timing header.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.config import Settings
from responders.web import actions, admin, auth, views
from responders.web.auth import NotLoggedIn
from responders.web.render import build_environment, page

STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _wants_fragment(request: Request) -> bool:
    return ("hx-request" in request.headers or "x-requested-with" in request.headers
            or request.url.path.startswith("/api/"))


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """The console for ``settings`` over ``engine`` (whose schema is prepared)."""
    app = FastAPI(title="closeloop console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.templates = build_environment()

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, _exc: NotLoggedIn) -> Response:
        if _wants_fragment(request) or request.method != "GET":
            return JSONResponse({"error": "log in first"}, status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if request.url.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"error": message}, status_code=exc.status_code)
        if _wants_fragment(request):
            return PlainTextResponse(message, status_code=exc.status_code)
        return page(request, "error.html", {"status": exc.status_code, "message": message}, status=exc.status_code)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router)
    app.include_router(views.router)
    app.include_router(actions.router)
    app.include_router(admin.router)
    return app
