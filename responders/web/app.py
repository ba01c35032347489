"""The approval console: a FastAPI app over the database, server-rendered with Jinja2 and htmx.

``create_app(settings, engine)`` is the whole wiring; nothing is global, so tests and `closeloop run` build
as many apps as they like. Every response carries the security headers and a Server-Timing header.
``server_config`` is how both `closeloop serve` and `closeloop run` serve it, so the two cannot differ in
whom they believe about a client's address.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.config import Settings
from responders.web import actions, admin, auth, scorer_banner, shift, spikes, views
from responders.web.auth import NotLoggedIn
from responders.web.render import build_environment, page

if TYPE_CHECKING:
    import uvicorn

STATIC = Path(__file__).parent / "static"
# The largest id a database row can have: a bigger number in a URL names nothing (404), it is no error.
MAX_ID = 2**63 - 1
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

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError) -> Response:
        # SQLite cannot bind an integer past 64 bits: a URL naming one asks for something that cannot exist.
        if not any(value.isdigit() and int(value) > MAX_ID for value in map(str, request.path_params.values())):
            raise exc
        return await http_error(request, StarletteHTTPException(404, "there is nothing at this address"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router)
    app.include_router(views.router)
    app.include_router(actions.router)
    app.include_router(shift.router)
    app.include_router(admin.router)
    spikes.install(app)
    scorer_banner.install(app)
    return app


def server_config(settings: Settings, engine: Engine, *, host: str | None = None,
                  port: int | None = None) -> uvicorn.Config:
    """uvicorn's configuration for the console: X-Forwarded-For and -Proto are believed only from the
    addresses in ``console.trusted_proxies`` (none by default; uvicorn alone would believe 127.0.0.1), and
    uvicorn's log lines go through closeloop's logging (one event per line, secrets masked)."""
    import uvicorn

    console = settings.console
    trusted = list(console.trusted_proxies)
    return uvicorn.Config(create_app(settings, engine), host=host or console.host, port=port or console.port,
                          proxy_headers=bool(trusted), forwarded_allow_ips=trusted, log_level="warning",
                          lifespan="off", log_config=None, server_header=False)


def listen(host: str, port: int) -> socket.socket:
    """The console's listening socket, bound before uvicorn starts so that an address in use is an OSError
    here (said in one line by the caller), not a log line and a silent exit inside uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)
