"""The console as a browser uses it: pages fetched over HTTP, forms read from the HTML and submitted with
their hidden fields (CSRF token included) the way a browser encodes them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx


class Forms(HTMLParser):
    """The forms of a page: id, action, fields (inputs and textareas) and buttons with their formaction."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"id": a.get("id", ""), "action": a.get("action", ""), "fields": {}, "buttons": {}})
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.forms[-1]["fields"][a["name"]] = ""
        elif tag == "button" and a.get("id"):
            self.forms[-1]["buttons"][a["id"]] = a.get("formaction") or self.forms[-1]["action"]

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None

    def form(self, form_id: str) -> dict[str, Any]:
        found = [f for f in self.forms if f["id"] == form_id]
        assert found, f"no form #{form_id} on the page"
        return found[0]


def as_submitted(fields: dict[str, str]) -> dict[str, str]:
    """A form's fields as a browser sends them: line breaks become CRLF (HTML's form encoding)."""
    return {name: re.sub(r"\r?\n", "\r\n", value) for name, value in fields.items()}


def log_in(base_url: str, name: str, password: str) -> httpx.Client:
    """A session on the console: the login form's CSRF token (a double-submit cookie) is sent back."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    page = client.get("/login")
    assert page.status_code == 200, page.text
    fields = {**Forms(page.text).forms[0]["fields"], "name": name, "password": password}
    answer = client.post("/login", data=fields)
    assert (answer.status_code, answer.headers.get("location")) == (303, "/"), answer.text[:2000]
    return client


def press(client: httpx.Client, path: str, *, form: str, button: str) -> httpx.Response:
    """Open ``path`` and press ``button`` of form ``form``; the page's answer to the press (no redirect
    followed). A button that is not on the page is an AssertionError naming it."""
    page = client.get(path)
    assert page.status_code == 200, page.text[:2000]
    found = Forms(page.text).form(form)
    assert button in found["buttons"], f"no {button!r} button in form #{form} on {path}: {found['buttons']}"
    return client.post(found["buttons"][button], data=as_submitted(found["fields"]))
