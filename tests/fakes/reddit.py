"""A fake Reddit speaking enough of the OAuth API for praw: tokens, search, subreddit comments, username
mentions, comment trees, a user's comments, and posting comments.

Listings behave like Reddit's: newest first, ``limit`` (at most 100), ``after``/``before`` fullnames (an
anchor no longer in the listing gives an empty page), and ``after``/``before`` in the answer only when there is
more that way. Every answer carries ``x-ratelimit-remaining``/``-used``/``-reset``; past ``quota`` requests it
answers 429. Posts are built from the recorded shapes in tests/fixtures/reddit so they carry Reddit's fields.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.server import FakePlatform, Request, Response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reddit"
TRUE = ("1", "true", "on", "yes")


def _template(name: str, index: int = 0) -> dict[str, Any]:
    payload = json.loads((FIXTURES / name).read_text())
    data: dict[str, Any] = payload["data"]["children"][index]["data"]
    return data


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def listing(children: list[dict[str, Any]], after: str | None = None, before: str | None = None) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"after": after, "dist": len(children), "modhash": None, "geo_filter": "",
                                        "children": children, "before": before}}


class FakeReddit(FakePlatform):
    """Seed with ``add_submission``/``add_comment``; ``remove`` takes a post out of every listing."""

    def __init__(self, *, client_id: str = "test-client", client_secret: str = "test-secret",
                 username: str = "acme_care", password: str = "test-password",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.accounts = {username: password}
        self.username = username
        self.clock = clock
        self.things: dict[str, dict[str, Any]] = {}  # fullname -> {"kind", "data"}
        self.removed: set[str] = set()
        self.tokens: dict[str, str | None] = {}  # access token -> username (None: application-only)
        self.quota, self.used, self.reset_seconds = 1000, 0, 420
        self._next_id = 2_000_000_000
        self._templates = {"t3": _template("search_listing.json"), "t1": _template("comments_listing.json"),
                           "mention": _template("mentions_listing.json")}
        self._register_routes()

    # -- seeding ------------------------------------------------------------------------------------
    def _new_id(self) -> str:
        self._next_id += 1
        return _base36(self._next_id)

    def add_submission(self, *, title: str, selftext: str = "", author: str = "jane_doe",
                       subreddit: str = "CustomerService", created: float | None = None, locked: bool = False,
                       archived: bool = False) -> str:
        thing_id = self._new_id()
        created = self.clock() if created is None else created
        slug = "_".join(title.lower().split()[:5])
        data = copy.deepcopy(self._templates["t3"])
        data.update(id=thing_id, name=f"t3_{thing_id}", title=title, selftext=selftext, author=author,
                    author_fullname=f"t2_{zlib.crc32(author.encode()):x}", subreddit=subreddit,
                    subreddit_name_prefixed=f"r/{subreddit}", created=created, created_utc=created, locked=locked,
                    archived=archived, num_comments=0, domain=f"self.{subreddit}",
                    permalink=f"/r/{subreddit}/comments/{thing_id}/{slug}/",
                    url=f"https://www.reddit.com/r/{subreddit}/comments/{thing_id}/{slug}/",
                    selftext_html=None)
        self.things[data["name"]] = {"kind": "t3", "data": data}
        return str(data["name"])

    def add_comment(self, *, parent: str, body: str, author: str = "jane_doe", created: float | None = None,
                    locked: bool = False) -> str:
        with self.lock:
            parent_thing = self.things[parent]["data"]
            link = parent if parent.startswith("t3_") else parent_thing["link_id"]
            submission = self.things[link]["data"]
            thing_id = self._new_id()
            created = self.clock() if created is None else created
            data = copy.deepcopy(self._templates["t1"])
            data.update(id=thing_id, name=f"t1_{thing_id}", body=body, author=author,
                        author_fullname=f"t2_{zlib.crc32(author.encode()):x}", parent_id=parent, link_id=link,
                        subreddit=submission["subreddit"], subreddit_name_prefixed=f"r/{submission['subreddit']}",
                        created=created, created_utc=created, locked=locked, archived=submission["archived"],
                        replies="", body_html=f'<div class="md"><p>{body}</p>\n</div>',
                        permalink=f"{submission['permalink']}{thing_id}/", link_title=submission["title"])
            submission["num_comments"] += 1
            self.things[data["name"]] = {"kind": "t1", "data": data}
            return str(data["name"])

    def remove(self, fullname: str) -> None:
        """A post deleted by its author: gone from listings, ``[deleted]`` in its thread."""
        with self.lock:
            self.removed.add(fullname)
            data = self.things[fullname]["data"]
            data["author"] = "[deleted]"
            data.pop("author_fullname", None)
            data["body" if fullname.startswith("t1_") else "selftext"] = "[deleted]"

    def lock_thread(self, fullname: str) -> None:
        with self.lock:
            self.things[fullname]["data"]["locked"] = True

    def comments_by(self, author: str) -> list[dict[str, Any]]:
        return [t["data"] for t in self._newest("t1") if t["data"]["author"] == author]

    # -- listing mechanics --------------------------------------------------------------------------
    def _newest(self, kind: str) -> list[dict[str, Any]]:
        items = [t for name, t in self.things.items() if t["kind"] == kind and name not in self.removed]
        return sorted(items, key=lambda t: (t["data"]["created_utc"], t["data"]["id"]), reverse=True)

    @staticmethod
    def _page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        limit = max(1, min(int(request.arg("limit") or 25), 100))
        names = [t["data"]["name"] for t in items]
        after, before = request.arg("after"), request.arg("before")
        anchor = after or before
        if anchor and anchor not in names:
            return listing([])
        if after:
            start = names.index(after) + 1
            window = items[start : start + limit]
        elif before:
            end = names.index(before)
            start = max(0, end - limit)
            window = items[start:end]
        else:
            start = 0
            window = items[:limit]
        if not window:
            return listing([])
        more_after = start + len(window) < len(items)
        return listing(copy.deepcopy(window), after=window[-1]["data"]["name"] if more_after else None,
                       before=window[0]["data"]["name"] if start > 0 else None)

    def _in(self, subs: str, item: dict[str, Any]) -> bool:
        wanted = {s.lower() for s in subs.split("+")}
        return "all" in wanted or str(item["data"]["subreddit"]).lower() in wanted

    def _user(self, request: Request) -> tuple[str | None, Response | None]:
        header = request.headers.get("authorization", "")
        token = header.split(" ", 1)[1] if header.lower().startswith("bearer ") else ""
        if token not in self.tokens:
            return None, Response(401, {"message": "Unauthorized", "error": 401},
                                  {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})
        return self.tokens[token], None

    def _reply(self, body: Any, status: int = 200) -> Response:
        self.used += 1
        headers = {"x-ratelimit-remaining": f"{max(self.quota - self.used, 0):.1f}",
                   "x-ratelimit-used": str(self.used), "x-ratelimit-reset": str(self.reset_seconds)}
        if self.used > self.quota:
            return Response(429, {"message": "Too Many Requests", "error": 429}, headers)
        return Response(status, body, headers)

    # -- routes -------------------------------------------------------------------------------------
    def _register_routes(self) -> None:
        @self.route("POST", "/api/v1/access_token", "token")
        def token(request: Request) -> Response:
            basic = request.headers.get("authorization", "")
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if basic != f"Basic {expected}":
                return Response(401, {"message": "Unauthorized", "error": 401}, {"Connection": "close"})
            form = request.form()
            user: str | None = None
            if form.get("grant_type") == "password":
                user = form.get("username")
                if user is None or self.accounts.get(user) != form.get("password"):
                    return Response(200, {"error": "invalid_grant"}, {"Connection": "close"})
            access = f"token-{len(self.tokens) + 1}"
            self.tokens[access] = user
            # prawcore asks for "Connection: close" here; say so, or a client may reuse the closed socket.
            return Response(200, {"access_token": access, "token_type": "bearer", "expires_in": 86400,
                                  "scope": "*"}, {"Connection": "close"})

        @self.route("GET", r"/r/(?P<subs>[A-Za-z0-9_+]+)/search/?", "search")
        def search(request: Request) -> Response:
            _user, denied = self._user(request)
            if denied:
                return denied
            terms = [t.strip().strip('"').lower() for t in (request.arg("q") or "").split(" OR ") if t.strip()]
            restrict = (request.arg("restrict_sr") or "").lower() in TRUE
            found = [t for t in self._newest("t3")
                     if (not restrict or self._in(request.params["subs"], t))
                     and any(term in f"{t['data']['title']} {t['data']['selftext']}".lower() for term in terms)]
            return self._reply(self._page(found, request))

        @self.route("GET", r"/r/(?P<subs>[A-Za-z0-9_+]+)/comments/?", "subreddit_comments")
        def subreddit_comments(request: Request) -> Response:
            _user, denied = self._user(request)
            if denied:
                return denied
            found = [t for t in self._newest("t1") if self._in(request.params["subs"], t)]
            return self._reply(self._page(found, request))

        @self.route("GET", r"/message/mentions/?", "mentions")
        def mentions(request: Request) -> Response:
            user, denied = self._user(request)
            if denied:
                return denied
            if user is None:
                return self._reply({"message": "Forbidden", "error": 403}, 403)
            found = [self._as_message(t, user) for t in self._newest("t1")
                     if f"u/{user}".lower() in t["data"]["body"].lower() and t["data"]["author"] != user]
            return self._reply(self._page(found, request))

        @self.route("GET", r"/comments/(?P<id>[0-9a-z]+)(/[^/]*)?/?", "thread")
        def thread(request: Request) -> Response:
            _user, denied = self._user(request)
            if denied:
                return denied
            link = f"t3_{request.params['id']}"
            if link not in self.things:
                return self._reply({"message": "Not Found", "error": 404}, 404)
            return self._reply([listing([copy.deepcopy(self.things[link])]), self._tree(link)])

        @self.route("GET", r"/user/(?P<name>[A-Za-z0-9_-]+)/comments/?", "user_comments")
        def user_comments(request: Request) -> Response:
            _user, denied = self._user(request)
            if denied:
                return denied
            found = [t for t in self._newest("t1") if t["data"]["author"] == request.params["name"]]
            return self._reply(self._page(found, request))

        @self.route("POST", r"/api/comment/?", "comment")
        def comment(request: Request) -> Response:
            user, denied = self._user(request)
            if denied:
                return denied
            if user is None:
                return self._reply({"message": "Forbidden", "error": 403}, 403)
            form = request.form()
            parent = form.get("thing_id", "")
            errors = self._refusal(parent)
            if errors:
                return self._reply({"json": {"errors": [errors]}})
            name = self.add_comment(parent=parent, body=form.get("text", ""), author=user)
            return self._reply({"json": {"errors": [], "data": {"things": [copy.deepcopy(self.things[name])]}}})

    def _refusal(self, parent: str) -> list[str] | None:
        thing = self.things.get(parent)
        if thing is None:
            return ["INVALID_THING_ID", "that item does not exist", "parent"]
        data = thing["data"]
        link = self.things[parent if parent.startswith("t3_") else data["link_id"]]["data"]
        if parent in self.removed:
            return ["DELETED_COMMENT", "that comment has been deleted", "parent"]
        if data["locked"] or link["locked"]:
            return ["THREAD_LOCKED", "Comments are locked.", "parent"]
        if link["archived"]:
            return ["TOO_OLD", "that's a piece of history now; it's too late to reply to it", "parent"]
        return None

    def _tree(self, parent: str, depth: int = 0) -> dict[str, Any]:
        children = [t for t in self._all_comments() if t["data"]["parent_id"] == parent]
        built = []
        for child in children:
            node = copy.deepcopy(child)
            below = self._tree(child["data"]["name"], depth + 1)
            node["data"]["replies"] = below if below["data"]["children"] else ""
            node["data"]["depth"] = depth
            built.append(node)
        return listing(built)

    def _all_comments(self) -> list[dict[str, Any]]:
        """Every comment, deleted ones included (a thread keeps their place), newest first."""
        items = [t for t in self.things.values() if t["kind"] == "t1"]
        return sorted(items, key=lambda t: (t["data"]["created_utc"], t["data"]["id"]), reverse=True)

    def _as_message(self, thing: dict[str, Any], user: str) -> dict[str, Any]:
        data, link = thing["data"], self.things[thing["data"]["link_id"]]["data"]
        message = copy.deepcopy(self._templates["mention"])
        message.update({key: data[key] for key in ("id", "name", "author", "author_fullname", "body", "body_html",
                                                   "parent_id", "subreddit", "created", "created_utc")})
        message.update(dest=user, link_title=link["title"], num_comments=link["num_comments"],
                       subreddit_name_prefixed=f"r/{data['subreddit']}", context=f"{data['permalink']}?context=3")
        return {"kind": "t1", "data": message}
