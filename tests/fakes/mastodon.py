"""A fake Mastodon instance on FakePlatform, close enough to the real API for Mastodon.py.

It holds accounts, statuses and notifications in memory and speaks:

- ``GET /api/v1/notifications`` (``types[]``, ``exclude_types[]``, ``max_id``/``since_id``/``min_id``/``limit``,
  default 40, at most 80) and ``GET /api/v1/timelines/tag/:hashtag`` (public statuses, limit 20, at most 40)
  and ``GET /api/v1/accounts/:id/statuses`` (limit 20, at most 40): newest first, Mastodon's id pagination
  (``min_id`` gives the page immediately newer) and its ``Link`` header (``next`` max_id, ``prev`` min_id);
- ``GET /api/v1/statuses/:id``, ``GET /api/v1/statuses/:id/context``, ``POST /api/v1/statuses`` (form
  fields as Mastodon.py sends them; 422 for blank or over-long text, 404 for a parent that is gone; the
  ``Idempotency-Key`` header returns the status already made with that key within an hour, as Mastodon
  does), ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/instance`` and ``/api/v2/instance``;
- bearer-token auth (401 with Mastodon's error body), and rate limiting per five-minute window with the
  ``X-RateLimit-Limit/Remaining/Reset`` headers (reset in ISO 8601) and a 429 past the limit.

Status ids are snowflakes from ``created_at`` (milliseconds << 16), as Mastodon gives them, so a status that
"federates late" (created in the past) gets an id older than what a poller has already read.
Recorded payloads can be loaded as they are with ``add_raw_status``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import FakePlatform, Request, Response

DOMAIN = "mastodon.example"
TOKEN = "fake-mastodon-token"
WINDOW = 300  # seconds: Mastodon's rate-limit period

_TOKEN_RE = re.compile(
    r"(?P<url>https?://[^\s<>\"]+)|(?<![\w/])@(?P<user>\w+)(?:@(?P<domain>[\w.\-]+\w))?|(?<![\w/&])#(?P<tag>\w+)"
)

COMPLAINTS = [
    "my order #{n} never arrived and nobody answers",
    "charged twice for order {n}, I want a refund",
    "the app crashes every time I open my basket",
    "still waiting on the refund for order {n}, 3 weeks now",
    "your support chat is down again",
    "delivery was late and the box was broken",
]


class ManualClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def iso(moment: datetime) -> str:
    """Mastodon's timestamp format: UTC, milliseconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


class FakeMastodon(FakePlatform):
    def __init__(
        self,
        *,
        token: str = TOKEN,
        clock: Callable[[], datetime] | None = None,
        username: str = "acme",
        rate_limit: int = 300,
        idempotency_seconds: int = 3600,
    ) -> None:
        super().__init__()
        self.token = token
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rate_limit = rate_limit
        self.idempotency_seconds = idempotency_seconds
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[int, dict[str, Any]] = {}
        self.notifications: dict[int, dict[str, Any]] = {}
        self._idempotency: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._seq = 0
        self._notification_seq = 100
        self._window: tuple[int, int] = (0, 0)
        self.me = self.add_account(username, display_name="Acme Support", followers=12400)
        self._register()

    def start(self) -> FakeMastodon:
        super().start()
        return self

    def __enter__(self) -> FakeMastodon:
        return self.start()

    # -- seeding --------------------------------------------------------------------------------------
    def add_account(
        self, username: str, *, domain: str | None = None, display_name: str = "", followers: int = 10,
        account_id: str | None = None,
    ) -> dict[str, Any]:
        host = domain or DOMAIN
        self._seq += 1
        new_id = account_id or str(((1_700_000_000_000 + self._seq) << 16) | self._seq)
        account: dict[str, Any] = {
            "id": new_id,
            "username": username,
            "acct": f"{username}@{domain}" if domain else username,
            "display_name": display_name,
            "locked": False, "bot": False, "discoverable": True, "indexable": True, "group": False,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "url": f"https://{host}/@{username}",
            "uri": f"https://{host}/users/{username}",
            "avatar": f"https://{DOMAIN}/avatars/original/missing.png",
            "avatar_static": f"https://{DOMAIN}/avatars/original/missing.png",
            "header": f"https://{DOMAIN}/headers/original/missing.png",
            "header_static": f"https://{DOMAIN}/headers/original/missing.png",
            "followers_count": followers, "following_count": 3, "statuses_count": 0,
            "last_status_at": None, "emojis": [], "fields": [],
        }
        self.accounts[new_id] = account
        return account

    def _find_account(self, user: str, domain: str | None) -> dict[str, Any] | None:
        for account in self.accounts.values():
            acct = account["acct"].lower()
            if acct == (f"{user}@{domain}" if domain and domain != DOMAIN else user).lower():
                return account
        return None

    def _snowflake(self, moment: datetime) -> int:
        self._seq += 1
        return (int(moment.timestamp() * 1000) << 16) | (self._seq & 0xFFFF)

    def render(self, text: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        """Plain text as Mastodon renders it: HTML content, its mentions and its tags."""
        mentions: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []

        def token(match: re.Match[str]) -> str:
            if match["url"]:
                url = match["url"]
                scheme, rest = url.split("://", 1)
                return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
                        f'<span class="invisible">{scheme}://</span><span class="ellipsis">{html.escape(rest[:30])}'
                        f'</span><span class="invisible">{html.escape(rest[30:])}</span></a>')
            if match["user"]:
                account = self._find_account(match["user"], match["domain"])
                if account is None:
                    return html.escape(match[0])
                if account["id"] not in [m["id"] for m in mentions]:
                    mentions.append({"id": account["id"], "username": account["username"], "url": account["url"],
                                     "acct": account["acct"]})
                return (f'<span class="h-card" translate="no"><a href="{account["url"]}" class="u-url mention">'
                        f'@<span>{account["username"]}</span></a></span>')
            name = match["tag"]
            tags.append({"name": name.lower(), "url": f"https://{DOMAIN}/tags/{name.lower()}"})
            return f'<a href="https://{DOMAIN}/tags/{name.lower()}" class="mention hashtag" rel="tag">#<span>{name}</span></a>'

        paragraphs = []
        for paragraph in re.split(r"\n\s*\n", text.strip()):
            pieces, start = [], 0
            for match in _TOKEN_RE.finditer(paragraph):
                pieces.append(html.escape(paragraph[start:match.start()], quote=False))
                pieces.append(token(match))
                start = match.end()
            pieces.append(html.escape(paragraph[start:], quote=False))
            paragraphs.append("<p>" + "".join(pieces).replace("\n", "<br />") + "</p>")
        return "".join(paragraphs), mentions, tags

    def post(
        self,
        account: dict[str, Any],
        text: str,
        *,
        in_reply_to: dict[str, Any] | None = None,
        visibility: str = "public",
        created_at: datetime | None = None,
        language: str | None = "en",
        spoiler_text: str = "",
    ) -> dict[str, Any]:
        """Publish a status as ``account`` (notifying us when it mentions us); returns it."""
        moment = created_at or self.clock()
        status_id = self._snowflake(moment)
        content, mentions, tags = self.render(text)
        local = "@" not in account["acct"]
        host = DOMAIN if local else account["acct"].split("@", 1)[1]
        status = {
            "id": str(status_id),
            "created_at": iso(moment),
            "in_reply_to_id": in_reply_to["id"] if in_reply_to else None,
            "in_reply_to_account_id": in_reply_to["account"]["id"] if in_reply_to else None,
            "sensitive": False,
            "spoiler_text": spoiler_text,
            "visibility": visibility,
            "language": language,
            "uri": f"https://{host}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{host}/@{account['username']}/{status_id}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "quotes_count": 0,
            "edited_at": None, "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "pinned": False,
            "content": content,
            "filtered": [],
            "reblog": None,
            "application": {"name": "Web", "website": None} if local else None,
            "account": account,
            "media_attachments": [],
            "mentions": mentions,
            "tags": tags,
            "emojis": [],
            "card": None,
            "poll": None,
        }
        return self.add_raw_status(status, notify=True, at=moment)

    def add_raw_status(self, status: dict[str, Any], *, notify: bool = False, at: datetime | None = None) -> dict[str, Any]:
        """Store a status object as it is (a recorded payload, say); with ``notify``, a mention of us in it
        becomes a mention notification."""
        account = status["account"]
        self.accounts.setdefault(account["id"], account)
        account["statuses_count"] = account.get("statuses_count", 0) + 1
        self.statuses[int(status["id"])] = status
        parent = self.statuses.get(int(status["in_reply_to_id"])) if status.get("in_reply_to_id") else None
        if parent is not None:
            parent["replies_count"] = parent.get("replies_count", 0) + 1
        mentions_me = any(m.get("id") == self.me["id"] for m in status.get("mentions", []))
        if notify and mentions_me and account["id"] != self.me["id"]:
            self.add_notification("mention", account, status, at=at)
        return status

    def add_notification(
        self, kind: str, account: dict[str, Any], status: dict[str, Any] | None, *, at: datetime | None = None
    ) -> dict[str, Any]:
        self._notification_seq += 1
        notification = {
            "id": str(self._notification_seq),
            "type": kind,
            "created_at": iso(at or self.clock()),
            "group_key": f"ungrouped-{self._notification_seq}",
            "account": account,
        }
        if status is not None:
            notification["status"] = status
        self.notifications[self._notification_seq] = notification
        return notification

    def delete(self, status_id: str) -> None:
        """Delete a status and the notifications about it, as Mastodon does."""
        self.statuses.pop(int(status_id), None)
        for key in [k for k, n in self.notifications.items() if (n.get("status") or {}).get("id") == status_id]:
            del self.notifications[key]

    def seed(self, *, mentions: int = 25, tagged: int = 12, tag: str = "acme", start: datetime | None = None) -> None:
        """Customers (local and remote) mentioning us, statuses with ``#tag``, and other notification types,
        one minute apart ending at ``start`` (the clock's now by default)."""
        end = start or self.clock()
        customers = [
            self.add_account("jane", display_name="Jane Doe", followers=1520),
            self.add_account("ola", domain="fosstodon.example", display_name="Ola Nordmann", followers=88),
            self.add_account("kim", domain="social.example", display_name="Kim", followers=12),
        ]
        total = mentions + tagged
        for n in range(total):
            author = customers[n % len(customers)]
            moment = end - timedelta(minutes=total - n)
            complaint = COMPLAINTS[n % len(COMPLAINTS)].format(n=1000 + n)
            if n % 2 == 0 or n >= 2 * tagged:
                self.post(author, f"@{self.me['username']}@{DOMAIN} {complaint}", created_at=moment)
            else:
                self.post(author, f"{complaint} #{tag}", created_at=moment)
            if n % 5 == 0:
                ours = self.post(self.me, f"Update {n}: we are looking into delivery delays.", created_at=moment)
                self.add_notification("favourite", author, ours, at=moment)

    # -- queries for tests ----------------------------------------------------------------------------
    def mention_status_ids(self) -> set[str]:
        return {n["status"]["id"] for n in self.notifications.values() if n["type"] == "mention"}

    def tagged_status_ids(self, tag: str) -> set[str]:
        return {s["id"] for s in self.statuses.values() if self._tagged(s, tag)}

    def replies_to(self, status_id: str, *, by: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [s for s in self.statuses.values()
                if s.get("in_reply_to_id") == status_id and (by is None or s["account"]["id"] == by["id"])]

    # -- serving --------------------------------------------------------------------------------------
    def _register(self) -> None:
        api = self._api
        self.route("GET", r"/api/v1/notifications", "notifications")(api(self._notifications))
        self.route("GET", r"/api/v1/timelines/tag/(?P<tag>[^/]+)", "tag_timeline")(api(self._tag_timeline))
        self.route("GET", r"/api/v1/statuses/(?P<id>\d+)/context", "context")(api(self._context))
        self.route("GET", r"/api/v1/statuses/(?P<id>\d+)", "status")(api(self._status))
        self.route("POST", r"/api/v1/statuses", "post_status")(api(self._post_status))
        self.route("GET", r"/api/v1/accounts/verify_credentials", "verify_credentials")(api(self._verify))
        self.route("GET", r"/api/v1/accounts/(?P<id>\d+)/statuses", "account_statuses")(api(self._account_statuses))
        self.route("GET", r"/api/v2/instance/?", "instance_v2")(api(self._instance, auth=False))
        self.route("GET", r"/api/v1/instance/?", "instance_v1")(api(self._instance, auth=False))

    def _api(self, handler: Callable[[Request], Response], *, auth: bool = True) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            if auth and request.headers.get("authorization") != f"Bearer {self.token}":
                return Response(401, {"error": "The access token is invalid"})
            now = self.clock()
            start = int(now.timestamp()) // WINDOW * WINDOW
            used = self._window[1] + 1 if self._window[0] == start else 1
            self._window = (start, used)
            reset = datetime.fromtimestamp(start + WINDOW, UTC)
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            if used > self.rate_limit:
                return Response(429, {"error": "Too many requests"}, headers)
            response = handler(request)
            response.headers.update(headers)
            return response

        return serve

    def _visible(self, status: dict[str, Any]) -> bool:
        if status["visibility"] in ("public", "unlisted") or status["account"]["id"] == self.me["id"]:
            return True
        return any(m.get("id") == self.me["id"] for m in status.get("mentions", []))

    @staticmethod
    def _tagged(status: dict[str, Any], tag: str) -> bool:
        return any(t.get("name", "").lower() == tag.lower() for t in status.get("tags", []))

    def _page(
        self, request: Request, items: Iterable[tuple[int, dict[str, Any]]], *, default: int, cap: int
    ) -> Response:
        """Mastodon's id pagination over ``items`` (id, object), newest first, with its Link header."""
        limit = min(max(_int(request.arg("limit")) or default, 1), cap)
        max_id, since_id, min_id = (_int(request.arg(k)) for k in ("max_id", "since_id", "min_id"))
        chosen = sorted(
            (pair for pair in items
             if (max_id is None or pair[0] < max_id) and (since_id is None or pair[0] > since_id)
             and (min_id is None or pair[0] > min_id)),
            key=lambda pair: pair[0], reverse=min_id is None,
        )[:limit]
        chosen.sort(key=lambda pair: pair[0], reverse=True)
        headers = {}
        if chosen:
            kept = [(k, v) for k, values in request.query.items() if k not in ("max_id", "since_id", "min_id")
                    for v in values]
            base = f"{self.url}{request.path}?"
            newer = urlencode([*kept, ("min_id", str(chosen[0][0]))])
            older = urlencode([*kept, ("max_id", str(chosen[-1][0]))])
            headers["Link"] = f'<{base}{older}>; rel="next", <{base}{newer}>; rel="prev"'
        return Response(200, [item for _, item in chosen], headers)

    def _notifications(self, request: Request) -> Response:
        types = set(request.query.get("types[]", []))
        excluded = set(request.query.get("exclude_types[]", []))
        items = [(k, n) for k, n in self.notifications.items()
                 if (not types or n["type"] in types) and n["type"] not in excluded]
        return self._page(request, items, default=40, cap=80)

    def _tag_timeline(self, request: Request) -> Response:
        tag = request.params["tag"]
        items = [(k, s) for k, s in self.statuses.items()
                 if s["visibility"] == "public" and not s.get("reblog") and self._tagged(s, tag)]
        return self._page(request, items, default=20, cap=40)

    def _account_statuses(self, request: Request) -> Response:
        account_id = request.params["id"]
        if account_id not in self.accounts:
            return Response(404, {"error": "Record not found"})
        items = [(k, s) for k, s in self.statuses.items()
                 if s["account"]["id"] == account_id and self._visible(s)
                 and not (_flag(request.arg("exclude_replies")) and s.get("in_reply_to_id"))
                 and not (_flag(request.arg("exclude_reblogs")) and s.get("reblog"))]
        if _flag(request.arg("pinned")):
            items = [(k, s) for k, s in items if s.get("pinned")]
        return self._page(request, items, default=20, cap=40)

    def _get_visible(self, status_id: str) -> dict[str, Any] | None:
        status = self.statuses.get(int(status_id))
        return status if status is not None and self._visible(status) else None

    def _status(self, request: Request) -> Response:
        status = self._get_visible(request.params["id"])
        return Response(200, status) if status else Response(404, {"error": "Record not found"})

    def _context(self, request: Request) -> Response:
        status = self._get_visible(request.params["id"])
        if status is None:
            return Response(404, {"error": "Record not found"})
        ancestors: list[dict[str, Any]] = []
        parent = status.get("in_reply_to_id")
        while parent and (found := self._get_visible(parent)) is not None and found not in ancestors:
            ancestors.insert(0, found)
            parent = found.get("in_reply_to_id")
        descendants: list[dict[str, Any]] = []

        def walk(node_id: str) -> None:
            for key in sorted(self.statuses):
                child = self.statuses[key]
                if child.get("in_reply_to_id") == node_id and self._visible(child) and child not in descendants:
                    descendants.append(child)
                    walk(child["id"])

        walk(status["id"])
        return Response(200, {"ancestors": ancestors, "descendants": descendants})

    def _post_status(self, request: Request) -> Response:
        form = request.form()
        key = request.headers.get("idempotency-key")
        now = self.clock()
        if key:
            earlier = self._idempotency.get((self.me["id"], key))
            if earlier and (now - earlier[1]).total_seconds() < self.idempotency_seconds and earlier[0] in self.statuses:
                return Response(200, self.statuses[earlier[0]])
        text = form.get("status", "")
        if not text.strip():
            return Response(422, {"error": "Validation failed: Text can't be blank"})
        counted = len(re.sub(r"https?://\S+", "x" * 23, text))
        if counted > 500:
            return Response(422, {"error": "Validation failed: Text character limit of 500 exceeded"})
        visibility = form.get("visibility", "public")
        if visibility not in ("public", "unlisted", "private", "direct"):
            return Response(422, {"error": "Validation failed: Visibility is not included in the list"})
        parent = None
        if form.get("in_reply_to_id"):
            parent = self._get_visible(form["in_reply_to_id"]) if form["in_reply_to_id"].isdigit() else None
            if parent is None:
                return Response(404, {"error": "The post you are trying to reply to does not appear to exist."})
        status = self.post(self.me, text, in_reply_to=parent, visibility=visibility, created_at=now,
                           language=form.get("language") or "en", spoiler_text=form.get("spoiler_text", ""))
        if key:
            self._idempotency[(self.me["id"], key)] = (int(status["id"]), now)
        return Response(200, status)

    def _verify(self, request: Request) -> Response:
        return Response(200, {**self.me, "source": {"privacy": "public", "sensitive": False, "language": None,
                                                    "note": "", "fields": [], "follow_requests_count": 0}})

    def _instance(self, request: Request) -> Response:
        feeds = {"local": "public", "remote": "public"}
        return Response(200, {
            "domain": DOMAIN, "uri": DOMAIN, "title": "Fake Mastodon", "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon", "description": "A fake instance for tests.",
            "languages": ["en"], "rules": [], "api_versions": {"mastodon": 2},
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": f"admin@{DOMAIN}", "account": None},
            "configuration": {
                "urls": {"streaming": f"wss://{DOMAIN}"},
                "statuses": {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23},
                "timelines_access": {"live_feeds": feeds, "hashtag_feeds": feeds, "trending_link_feeds": feeds},
            },
        })
