"""A fake OpenAI-compatible chat server on FakePlatform, close enough to the real API for the ``openai`` client.

It speaks ``POST /v1/chat/completions`` (the request body as the client sends it; the answer in the
documented ``chat.completion`` shape) and ``GET /v1/models``. Bearer auth when a key is set (401 with the
API's error body otherwise). Replies are scripted per request, in order: a string, or a function of the
request's messages; once the script runs out, the default model answers. The default model is a well-behaved
one: it returns the example reply the prompt carries, with one clean sentence of its own, so a test can tell
its reply from the template's. Faults (timeouts, 5xx, malformed bodies) are injected on the route ``chat``
with ``FakePlatform.inject``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.fakes.server import FakePlatform, Request, Response

OWN_SENTENCE = "I’ve noted this on your case."

Reply = str | Callable[[list[dict[str, str]]], str] | dict[str, Any]


def case_data(messages: list[dict[str, str]]) -> dict[str, Any]:
    """The JSON data block of a drafting prompt (the last user message)."""
    user = [m["content"] for m in messages if m.get("role") == "user"]
    return json.loads(user[-1])


def well_behaved(messages: list[dict[str, str]]) -> str:
    return f"{case_data(messages)['example_reply'].strip()} {OWN_SENTENCE}"


def completion(content: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_764_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
    }


class FakeChatServer:
    def __init__(self, *, api_key: str | None = None, default: Callable[[list[dict[str, str]]], str] = well_behaved) -> None:
        self.platform = FakePlatform()
        self.api_key = api_key
        self.default = default
        self.script: deque[Reply] = deque()
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        platform = self.platform

        @platform.route("POST", r"/v1/chat/completions", name="chat")
        def chat(request: Request) -> Response:
            denied = self._denied(request)
            if denied is not None:
                return denied
            body = request.json()
            with self._lock:
                self.bodies.append(body)
                reply = self.script.popleft() if self.script else self.default
            if isinstance(reply, dict):
                return Response(200, reply)
            content = reply(body["messages"]) if callable(reply) else reply
            return Response(200, completion(content, body.get("model", "fake")))

        @platform.route("GET", r"/v1/models", name="models")
        def models(request: Request) -> Response:
            return self._denied(request) or Response(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def _denied(self, request: Request) -> Response | None:
        if self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return Response(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                        "code": "invalid_api_key"}})

    def reply(self, *replies: Reply) -> None:
        """Script the next replies, in order."""
        with self._lock:
            self.script.extend(replies)

    @property
    def base_url(self) -> str:
        return f"{self.platform.url}/v1"

    def start(self) -> FakeChatServer:
        self.platform.start()
        return self

    def stop(self) -> None:
        self.platform.stop()

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
