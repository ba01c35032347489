"""Hostile content: XSS and template-injection payloads in every attacker-controlled field stay inert text."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.tables import Case
from models.types import utcnow
from monitor.config import Settings
from tests.web_support import add_users, client, fill, lexicon_settings, login, post

CORPUS = Path(__file__).parent / "payloads" / "xss.txt"
OUR_HX = {"hx-get", "hx-post", "hx-trigger", "hx-swap", "hx-target", "hx-sync", "hx-headers"}
# The console's own skip links (base.html, queue.html): in-page fragments, never a post's URL.
SKIP_LINKS = {"#main", "#queue-list"}
OUR_SCRIPTS = {"/static/htmx.min.js", "/static/app.js", "/static/shift.js"}


def load_corpus() -> list[str]:
    payloads = []
    for line in CORPUS.read_text("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        payloads.append(codecs.decode(line[4:], "unicode_escape") if line.startswith("esc:") else line)
    payloads.append("A" * 20_000 + "<script>window.__pwned=1</script>")
    return payloads


PAYLOADS = load_corpus()


class Structure(HTMLParser):
    """Every element and attribute of a page, to show no payload became markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("iframe", "svg", "math", "object", "embed", "base", "style", "video", "img", "details"):
            self.problems.append(f"<{tag}>")
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))
        if tag == "meta" and any(k == "http-equiv" for k, _ in attrs):
            self.problems.append("meta http-equiv")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            if name.startswith("hx-") and name not in OUR_HX:
                self.problems.append(f"<{tag} {name}>")
            linked = name in ("href", "src", "action", "formaction", "hx-get", "hx-post")
            if linked and value is not None and (value.startswith("//")
                                                 or not value.startswith(("/", "https://", "http://", "#", "?"))):
                self.problems.append(f"<{tag} {name}={value[:40]!r}>")


def assert_inert(body: str, where: str) -> None:
    parser = Structure()
    parser.feed(body)
    assert not parser.problems, (where, parser.problems[:5])
    assert set(parser.scripts) <= OUR_SCRIPTS | {None} and None not in parser.scripts, (where, parser.scripts)
    for payload in PAYLOADS:
        if any(c in payload for c in "<>\"'"):
            assert payload not in body, (where, payload[:80])


@pytest.fixture
def settings() -> Settings:
    return lexicon_settings()


def _storable(payload: str, engine: Engine) -> bool:
    return engine.dialect.name != "postgresql" or "\x00" not in payload


@pytest.fixture
def hostile(engine: Engine, settings: Settings, tmp_path: Path) -> Engine:
    now = utcnow()
    posts = [
        post(f"p{i}", f"@acme my order never arrived, I want a refund, awful service {payload}", now=now,
             handle=payload[:300] or "x", name=payload[:500], url=payload, author_id=f"a{i}", minutes_ago=5 + i % 70)
        for i, payload in enumerate(PAYLOADS) if _storable(payload, engine)
    ]
    fill(engine, settings, posts, tmp_path / "hostile.jsonl", now=now)
    add_users(engine)
    return engine


def test_no_payload_renders_as_markup_on_any_page(hostile: Engine, settings: Settings) -> None:
    with hostile.connect() as connection:
        case_ids = [r.id for r in connection.execute(select(Case.__table__.c.id))]  # type: ignore[attr-defined]
    assert len(case_ids) >= 40, "each payload opened a case"
    c = client(hostile, settings)
    csrf = login(c, "admin")
    # Payloads reach the audit log too: as rejection reasons, escalation notes and login names.
    for case_id, payload in zip(case_ids, PAYLOADS, strict=False):
        if _storable(payload, hostile):
            c.post(f"/cases/{case_id}/escalate", data={"note": payload[:2000], "csrf": csrf})
    for payload in PAYLOADS[:10]:
        stranger = client(hostile, settings)
        token = re.search(r'name="csrf" value="([^"]+)"', stranger.get("/login").text).group(1)  # type: ignore[union-attr]
        stranger.post("/login", data={"name": payload[:100], "password": "x", "csrf": token})
    pages = ["/", "/?page=2", "/audit", "/sources", "/users"] + [f"/cases/{i}" for i in case_ids]
    for path in pages:
        response = c.get(path)
        assert response.status_code == 200, path
        assert_inert(response.text, path)
        title = re.search(r"<title>(.*?)</title>", response.text, re.S)
        assert title and "<" not in title.group(1), path
    fragment = c.get("/queue/list", headers={"HX-Request": "true"}).text
    assert_inert(fragment, "/queue/list")
    assert c.get("/api/queue").headers["content-type"].startswith("application/json")
    check = c.post(f"/cases/{case_ids[0]}/check", data={"text": PAYLOADS[0]}, headers={"X-CSRF-Token": csrf})
    assert_inert(check.text, "check")


def test_template_syntax_in_a_post_is_shown_literally(hostile: Engine, settings: Settings) -> None:
    c = client(hostile, settings)
    login(c, "viewer")
    body = "".join(c.get(f"/api/queue?page={n}").text for n in (1, 2))
    assert "{{7*7}}" in body
    page = "".join(c.get(f"/?page={n}").text for n in (1, 2))
    assert "{{7*7}}" in page and "${7*7}" in page and "{% for x in range(3) %}" in page
    assert "looplooploop" not in page
    assert str(escape("&lt;script&gt;")) in page, "an entity in a post is shown as typed, not decoded"


def test_only_http_links_become_links(hostile: Engine, settings: Settings) -> None:
    c = client(hostile, settings)
    login(c, "viewer")
    page = c.get("/").text + c.get("/?page=2").text
    hrefs = [h for h in re.findall(r'href="([^"]*)"', page) if h not in SKIP_LINKS]
    assert hrefs and all(h.startswith(("/", "https://", "http://")) for h in hrefs), [h for h in hrefs if "script" in h]
    assert 'class="badurl"' in page, "a javascript: URL is shown as text"
