"""A fake platform API: a real HTTP server on 127.0.0.1 with routes, recorded requests and injected faults.

Each platform's fake (tests/fakes/<platform>.py) registers routes that speak that platform's documented
shapes. Faults are queued per route and consumed in order:

- ``Fault.status(429, headers={...})``: answer with that status, headers and body instead of the handler;
- ``Fault.timeout(seconds)``: sleep before answering (the client should give up first);
- ``Fault.malformed()``: a 200 whose body is not the documented JSON;
- ``Fault.drop_after_handling()``: run the handler (the platform saves the reply) and then close the socket
  without answering, so the client never learns the outcome;
- ``Fault.hold(event)``: run the handler, then hold the answer until ``event`` is set (a test kills the
  client meanwhile). ``FakePlatform.handled`` counts handled requests per route, to wait on.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Fault:
    kind: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0

    @classmethod
    def status_code(cls, status: int, *, headers: dict[str, str] | None = None, body: Any = None) -> Fault:
        return cls("status", status=status, headers=headers or {}, body=body)

    @classmethod
    def timeout(cls, seconds: float) -> Fault:
        return cls("timeout", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed")

    @classmethod
    def drop_after_handling(cls) -> Fault:
        return cls("drop")

    @classmethod
    def hold(cls, event: threading.Event) -> Fault:
        fault = cls("hold")
        fault.event = event
        return fault

    event: threading.Event | None = None


Handler = Callable[[Request], Response]


class FakePlatform:
    """Routes are (method, regex on the path); named groups become ``request.params``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._faults: dict[str, deque[Fault]] = {}
        self.requests: list[Request] = []
        self.handled: dict[str, int] = {}
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up -------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, name: str | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), re.compile(f"^{pattern}$"), name or handler.__name__, handler))
            return handler

        return register

    def inject(self, route_name: str, *faults: Fault) -> None:
        """Queue faults for the next requests to the route called ``route_name``."""
        with self.lock:
            self._faults.setdefault(route_name, deque()).extend(faults)

    def calls(self, method: str, path_prefix: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # -- life ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakePlatform:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------------
    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(http.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in http.headers.items()}, body)
        with self.lock:
            self.requests.append(request)
        for method, pattern, name, handler in self._routes:
            match = pattern.match(parts.path)
            if method == http.command and match:
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                with self.lock:
                    queue = self._faults.get(name)
                    fault = queue.popleft() if queue else None
                self._answer(http, request, handler, fault, name)
                return
        self._send(http, Response(404, {"error": f"no route for {http.command} {parts.path}"}))

    def _answer(self, http: BaseHTTPRequestHandler, request: Request, handler: Handler, fault: Fault | None,
                name: str = "") -> None:
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            self._send(http, Response(fault.status, fault.body if fault.body is not None else {"error": "injected"},
                                      fault.headers))
            return
        if fault is not None and fault.kind == "malformed":
            self._send(http, Response(200, raw=b'{"data": [ this is not json'))
            return
        with self.lock:
            response = handler(request)
            self.handled[name] = self.handled.get(name, 0) + 1
        if fault is not None and fault.kind == "hold" and fault.event is not None:
            fault.event.wait(timeout=60)
        if fault is not None and fault.kind == "drop":
            http.close_connection = True
            with contextlib.suppress(OSError):
                http.connection.shutdown(2)
            return
        self._send(http, response)

    @staticmethod
    def _send(http: BaseHTTPRequestHandler, response: Response) -> None:
        payload = response.raw if response.raw is not None else json.dumps(response.body).encode("utf-8")
        try:
            http.send_response(response.status)
            http.send_header("Content-Type", "application/json; charset=utf-8")
            http.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                http.send_header(key, value)
            if http.headers.get("Connection", "").lower() == "close" and "Connection" not in response.headers:
                http.send_header("Connection", "close")
                http.close_connection = True
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
