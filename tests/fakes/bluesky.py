"""A fake Bluesky: the XRPC endpoints closeloop calls, on FakePlatform, and a Jetstream (v1 JSON) websocket.

XRPC, under ``/xrpc/<nsid>`` (route names are the NSIDs, for ``inject``):

- ``com.atproto.server.createSession`` / ``refreshSession``: JWT-shaped tokens with an ``exp``; refresh
  tokens rotate; ``expire_access_tokens()`` makes the PDS answer 400 ExpiredToken to the current ones;
- ``app.bsky.notification.listNotifications``: newest first, ``limit``, ``cursor`` (keyset on indexedAt and
  cid, present while a page is full), ``reasons``; ``page_overlap`` makes pages overlap;
- ``app.bsky.feed.getPostThread`` (``uri``, ``depth``, ``parentHeight``; 400 NotFound), ``getPosts``,
  ``getAuthorFeed`` (``actor``, ``limit``, ``cursor``, ``filter``), ``app.bsky.actor.getProfiles``;
- ``com.atproto.repo.createRecord`` for posts: the reply lands in our author feed and on the stream.

Answers carry ``ratelimit-limit``/``-remaining``/``-reset``/``-policy``; errors are XRPC ``{"error", "message"}``.
Threadgates (``gate``) and blocks (``blocked_by``) show in views as the app view shows them to us.

Jetstream: ``ws://127.0.0.1:<port>/subscribe?wantedCollections=...&cursor=<time_us>`` replays the events at or
after the cursor (none without one), then streams new ones live. ``refuse_next(status)`` fails a handshake;
``drop_after(n)`` cuts the connection after n events.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes.server import FakePlatform, Handler, Request, Response

POST = "app.bsky.feed.post"
_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"


def tid(time_us: int, clock_id: int = 0) -> str:
    """A record key in the TID format: 13 sortable base32 characters of the time and a clock id."""
    value = ((time_us & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(_SORTABLE[(value >> shift) & 31] for shift in range(60, -1, -5))


def cid_for(data: Any) -> str:
    """A CIDv1 (dag-cbor, sha-256) in base32, derived from the JSON of ``data``."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
    return "b" + base64.b32encode(bytes([0x01, 0x71, 0x12, 0x20]) + digest).decode().lower().rstrip("=")


def did_for(handle: str) -> str:
    return "did:plc:" + base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()[:24]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_us_of(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(hashlib.sha256(json.dumps(claims).encode()).digest())}"


def _error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


@dataclass
class Account:
    did: str
    handle: str
    display_name: str | None = None
    followers: int = 0
    created_at: str = "2023-04-26T19:05:34.249Z"


@dataclass
class Post:
    uri: str
    cid: str
    did: str
    record: dict[str, Any]
    indexed_at: datetime

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[1]


@dataclass
class Notification:
    uri: str
    cid: str
    author: str
    reason: str
    record: dict[str, Any]
    indexed_at: datetime
    reason_subject: str | None = None


@dataclass
class _Tokens:
    access: dict[str, tuple[str, bool]] = field(default_factory=dict)  # token -> (did, expired)
    refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> did


class FakeJetstream:
    """Jetstream v1 over a real websocket server on 127.0.0.1; events are JSON objects with ``time_us``."""

    def __init__(self) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []  # (sequence, event)
        self.connections: list[dict[str, list[str]]] = []
        self._changed = threading.Condition()
        self._refuse: deque[int] = deque()
        self._drop_after: int | None = None
        self._server: Server | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/subscribe"

    def start(self) -> FakeJetstream:
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._process_request)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def publish(self, event: dict[str, Any]) -> None:
        with self._changed:
            self.events.append((len(self.events), event))
            self._changed.notify_all()

    def refuse_next(self, status: int = 503) -> None:
        self._refuse.append(status)

    def drop_after(self, count: int) -> None:
        """Cut the next connection abruptly after ``count`` events."""
        self._drop_after = count

    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        self.connections.append(parse_qs(urlsplit(request.path).query))
        if self._refuse:
            return connection.respond(self._refuse.popleft(), "jetstream is unavailable\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        query = parse_qs(urlsplit(connection.request.path).query)
        wanted = set(query.get("wantedCollections", []))
        cursor = int(query["cursor"][0]) if query.get("cursor") else None
        drop_after, self._drop_after = self._drop_after, None

        def wanted_event(event: dict[str, Any]) -> bool:
            commit = event.get("commit")
            if event.get("kind") == "commit" and wanted and isinstance(commit, dict):
                return commit.get("collection") in wanted
            return True

        with self._changed:
            seen = len(self.events)
            backlog = sorted((e for _, e in self.events if cursor is not None and e["time_us"] >= cursor),
                             key=lambda e: e["time_us"])
        pending = deque(e for e in backlog if wanted_event(e))
        sent = 0
        try:
            while not self._stopping.is_set():
                while pending:
                    if drop_after is not None and sent >= drop_after:
                        connection.socket.shutdown(socket.SHUT_RDWR)
                        return
                    connection.send(json.dumps(pending.popleft()))
                    sent += 1
                with contextlib.suppress(TimeoutError):
                    connection.recv(timeout=0.02)
                with self._changed:
                    fresh = [e for _, e in self.events[seen:]]
                    seen = len(self.events)
                pending.extend(e for e in fresh if wanted_event(e)
                               and (cursor is None or e["time_us"] >= cursor))
        except (ConnectionClosed, OSError):
            return


class FakeBluesky(FakePlatform):
    """A PDS and app view for one brand account, with customers, posts, notifications and a Jetstream."""

    def __init__(self, *, handle: str = "acme.bsky.social", app_password: str = "abcd-efgh-ijkl-mnop",
                 display_name: str = "Acme Support") -> None:
        super().__init__()
        self.app_password = app_password
        self.accounts: dict[str, Account] = {}
        self.posts: dict[str, Post] = {}
        self.notifications: list[Notification] = []
        self.gates: dict[str, list[Any]] = {}  # thread root uri -> threadgate allow rules
        self.blocked_by: set[str] = set()  # dids that block the brand
        self.page_overlap = 0
        self.rate_limit = 3000
        self._remaining = self.rate_limit
        self._tokens = _Tokens()
        self._serial = 0
        self.jetstream = FakeJetstream()
        self.brand = self.add_account(handle, display_name, followers=12400)
        self._register()

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> FakeBluesky:
        super().start()
        self.jetstream.start()
        return self

    def stop(self) -> None:
        self.jetstream.stop()
        super().stop()

    def __enter__(self) -> FakeBluesky:
        return self.start()

    # -- seeding ------------------------------------------------------------------------------------
    def add_account(self, handle: str, display_name: str | None = None, *, followers: int = 0) -> Account:
        account = Account(did_for(handle), handle, display_name, followers)
        self.accounts[account.did] = account
        return account

    def _account(self, who: str | Account) -> Account:
        if isinstance(who, Account):
            return who
        for account in self.accounts.values():
            if who in (account.did, account.handle):
                return account
        return self.add_account(who)

    def add_post(self, author: str | Account, text: str, *, at: datetime, reply_to: str | None = None,
                 quote: str | None = None, langs: tuple[str, ...] = ("en",), indexed_at: datetime | None = None,
                 rkey: str | None = None, publish: bool = True) -> str:
        """A post as the network sees it; notifies the brand of a reply to it, a quote of it, or an @mention.
        Returns its at-uri."""
        with self.lock:
            account = self._account(author)
            indexed = indexed_at or at
            self._serial += 1
            record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": iso(at), "langs": list(langs)}
            brand_mention = f"@{self.brand.handle}"
            if brand_mention in text:
                start = len(text[: text.index(brand_mention)].encode())
                record["facets"] = [{
                    "$type": "app.bsky.richtext.facet",
                    "index": {"byteStart": start, "byteEnd": start + len(brand_mention.encode())},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": self.brand.did}],
                }]
            parent = self.posts.get(reply_to) if reply_to else None
            if reply_to:
                assert parent is not None, f"no post {reply_to}"
                root_ref = (parent.record.get("reply") or {}).get("root") or {"uri": parent.uri, "cid": parent.cid}
                record["reply"] = {"root": dict(root_ref), "parent": {"uri": parent.uri, "cid": parent.cid}}
            quoted = self.posts.get(quote) if quote else None
            if quoted is not None:
                record["embed"] = {"$type": "app.bsky.embed.record",
                                   "record": {"uri": quoted.uri, "cid": quoted.cid}}
            key = rkey or tid(time_us_of(indexed), self._serial)
            uri = f"at://{account.did}/{POST}/{key}"
            post = Post(uri, cid_for([uri, record]), account.did, record, indexed)
            self.posts[uri] = post
            if account.did != self.brand.did:
                reason, subject = None, None
                if parent is not None and parent.did == self.brand.did:
                    reason, subject = "reply", parent.uri
                elif quoted is not None and quoted.did == self.brand.did:
                    reason, subject = "quote", quoted.uri
                elif brand_mention in text:
                    reason = "mention"
                if reason:
                    self.notifications.append(Notification(uri, post.cid, account.did, reason, record, indexed,
                                                           subject))
        if publish:
            self.jetstream.publish(self.commit_event(post, "create"))
        return uri

    def add_like(self, author: str | Account, subject: str, *, at: datetime) -> None:
        """A like of the brand's post: a notification whose reason is not a mention."""
        with self.lock:
            account = self._account(author)
            target = self.posts[subject]
            record = {"$type": "app.bsky.feed.like", "subject": {"uri": target.uri, "cid": target.cid},
                      "createdAt": iso(at)}
            uri = f"at://{account.did}/app.bsky.feed.like/{tid(time_us_of(at), 7)}"
            self.notifications.append(Notification(uri, cid_for(record), account.did, "like", record, at, subject))

    def delete_post(self, uri: str, *, at: datetime | None = None) -> None:
        """The author deletes the post ``at`` (default: a millisecond after it was indexed, in the fake's own
        time, which tests set; not the wall clock): gone from views, a delete event on the stream."""
        with self.lock:
            post = self.posts.pop(uri)
            self.notifications = [n for n in self.notifications if n.uri != uri]
        when = time_us_of(at or post.indexed_at + timedelta(milliseconds=1))
        self.jetstream.publish({"did": post.did, "time_us": when, "kind": "commit",
                                "commit": {"rev": tid(when), "operation": "delete", "collection": POST,
                                           "rkey": post.rkey}})

    def gate(self, root_uri: str, allow: list[Any] | None = None) -> None:
        """A threadgate on ``root_uri``; ``allow=[]`` (the default) lets nobody reply."""
        self.gates[root_uri] = [] if allow is None else allow

    def commit_event(self, post: Post, operation: str = "create") -> dict[str, Any]:
        return {"did": post.did, "time_us": time_us_of(post.indexed_at), "kind": "commit",
                "commit": {"rev": tid(time_us_of(post.indexed_at), 1), "operation": operation,
                           "collection": POST, "rkey": post.rkey, "record": post.record, "cid": post.cid}}

    def expire_access_tokens(self) -> None:
        """The PDS now answers 400 ExpiredToken to every access token issued so far."""
        with self.lock:
            self._tokens.access = {t: (did, True) for t, (did, _) in self._tokens.access.items()}

    def replies_by_brand(self) -> list[Post]:
        with self.lock:
            return [p for p in self.posts.values() if p.did == self.brand.did and "reply" in p.record]

    # -- views --------------------------------------------------------------------------------------
    def profile(self, did: str, *, detailed: bool = False) -> dict[str, Any]:
        account = self.accounts[did]
        view: dict[str, Any] = {
            "did": did, "handle": account.handle,
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafkreiavatar@jpeg",
            "associated": {"chat": {"allowIncoming": "following"}},
            "viewer": {"muted": False, "blockedBy": did in self.blocked_by},
            "labels": [], "createdAt": account.created_at,
        }
        if account.display_name:
            view["displayName"] = account.display_name
        if detailed:
            view.update({"followersCount": account.followers, "followsCount": 180,
                         "postsCount": sum(1 for p in self.posts.values() if p.did == did),
                         "indexedAt": account.created_at, "description": ""})
        return view

    def _root_of(self, post: Post) -> str:
        return str(((post.record.get("reply") or {}).get("root") or {}).get("uri") or post.uri)

    def post_view(self, post: Post) -> dict[str, Any]:
        root = self._root_of(post)
        gated = root in self.gates and not any(
            rule.get("$type") == "app.bsky.feed.threadgate#mentionRule" and f"@{self.brand.handle}" in
            self.posts[root].record.get("text", "") for rule in self.gates[root] if isinstance(rule, dict))
        children = [p for p in self.posts.values() if (p.record.get("reply") or {}).get("parent", {}).get("uri")
                    == post.uri]
        view: dict[str, Any] = {
            "$type": "app.bsky.feed.defs#postView",
            "uri": post.uri, "cid": post.cid, "author": self.profile(post.did), "record": post.record,
            "replyCount": len(children), "repostCount": 0, "likeCount": 2, "quoteCount": 0,
            "indexedAt": iso(post.indexed_at), "labels": [],
            "viewer": {"threadMuted": False, "embeddingDisabled": False, **({"replyDisabled": True} if gated else {})},
        }
        if post.uri in self.gates:
            gate_record = {"$type": "app.bsky.feed.threadgate", "post": post.uri, "allow": self.gates[post.uri],
                           "createdAt": iso(post.indexed_at)}
            view["threadgate"] = {"uri": f"at://{post.did}/app.bsky.feed.threadgate/{post.rkey}",
                                  "cid": cid_for(gate_record), "record": gate_record, "lists": []}
        return view

    # -- auth and headers ---------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        self._remaining = max(0, self._remaining - 1)
        return {"ratelimit-limit": str(self.rate_limit), "ratelimit-remaining": str(self._remaining),
                "ratelimit-reset": str(int(time.time()) + 300), "ratelimit-policy": f"{self.rate_limit};w=300"}

    def _ok(self, body: Any) -> Response:
        return Response(200, body, self._headers())

    def _issue(self, did: str) -> dict[str, Any]:
        now = int(time.time())
        access = _jwt({"scope": "com.atproto.appPass", "sub": did, "iat": now, "exp": now + 7200,
                       "aud": "did:web:fake.bsky", "jti": f"a{self._serial}-{len(self._tokens.access)}"})
        refresh = _jwt({"scope": "com.atproto.refresh", "sub": did, "iat": now, "exp": now + 90 * 86400,
                        "aud": "did:web:fake.bsky", "jti": f"r{self._serial}-{len(self._tokens.refresh)}"})
        self._tokens.access[access] = (did, False)
        self._tokens.refresh[refresh] = did
        account = self.accounts[did]
        return {"accessJwt": access, "refreshJwt": refresh, "handle": account.handle, "did": did,
                "didDoc": {
                    "@context": ["https://www.w3.org/ns/did/v1"], "id": did, "alsoKnownAs": [f"at://{account.handle}"],
                    "verificationMethod": [], "service": [
                        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": self.url}],
                }, "active": True}

    def _authorise(self, request: Request) -> tuple[str | None, Response | None]:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None, _error(401, "AuthMissing", "Authentication Required")
        entry = self._tokens.access.get(header[7:])
        if entry is None:
            return None, _error(401, "InvalidToken", "Token could not be verified")
        if entry[1]:
            return None, _error(400, "ExpiredToken", "Token has expired")
        return entry[0], None

    # -- routes -------------------------------------------------------------------------------------
    def _register(self) -> None:
        def xrpc(method: str, nsid: str) -> Callable[[Handler], Handler]:
            return self.route(method, "/xrpc/" + nsid.replace(".", r"\."), nsid)

        @xrpc("POST", "com.atproto.server.createSession")
        def create_session(request: Request) -> Response:
            body = request.json() or {}
            account = next((a for a in self.accounts.values() if body.get("identifier") in (a.handle, a.did)), None)
            if account is None or account.did != self.brand.did or body.get("password") != self.app_password:
                return _error(401, "AuthenticationRequired", "Invalid identifier or password")
            return self._ok(self._issue(account.did))

        @xrpc("POST", "com.atproto.server.refreshSession")
        def refresh_session(request: Request) -> Response:
            token = request.headers.get("authorization", "")[7:]
            did = self._tokens.refresh.pop(token, None)
            if did is None:
                return _error(400, "ExpiredToken", "Token has been revoked")
            return self._ok({k: v for k, v in self._issue(did).items() if k != "active"})

        @xrpc("GET", "app.bsky.notification.listNotifications")
        def list_notifications(request: Request) -> Response:
            _did, refused = self._authorise(request)
            if refused:
                return refused
            limit = int(request.arg("limit") or 50)
            if not 1 <= limit <= 100:
                return _error(400, "InvalidRequest", "limit must be between 1 and 100")
            reasons = set(request.query.get("reasons", []))
            items = sorted((n for n in self.notifications if not reasons or n.reason in reasons),
                           key=lambda n: (n.indexed_at, n.cid), reverse=True)
            page, cursor = self._page(items, request.arg("cursor"), limit, lambda n: (n.indexed_at, n.cid))
            body: dict[str, Any] = {"notifications": [{
                "uri": n.uri, "cid": n.cid, "author": self.profile(n.author), "reason": n.reason,
                **({"reasonSubject": n.reason_subject} if n.reason_subject else {}),
                "record": n.record, "isRead": False, "indexedAt": iso(n.indexed_at), "labels": [],
            } for n in page], "priority": False, "seenAt": "2026-11-01T00:00:00.000Z"}
            if cursor:
                body["cursor"] = cursor
            return self._ok(body)

        @xrpc("GET", "app.bsky.feed.getPostThread")
        def get_post_thread(request: Request) -> Response:
            _did, refused = self._authorise(request)
            if refused:
                return refused
            uri = request.arg("uri") or ""
            post = self.posts.get(uri)
            if post is None:
                return _error(400, "NotFound", f"Post not found: {uri}")
            depth = int(request.arg("depth") or 6)
            height = int(request.arg("parentHeight") or 80)

            def down(node: Post, level: int) -> dict[str, Any]:
                view: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(node)}
                if level < depth:
                    children = sorted((p for p in self.posts.values()
                                       if (p.record.get("reply") or {}).get("parent", {}).get("uri") == node.uri),
                                      key=lambda p: p.indexed_at)
                    view["replies"] = [down(child, level + 1) for child in children]
                return view

            thread = down(post, 0)
            cursor, node = post, thread
            for _ in range(height):
                parent_uri = ((cursor.record.get("reply") or {}).get("parent") or {}).get("uri")
                if not parent_uri:
                    break
                parent = self.posts.get(parent_uri)
                if parent is None:
                    node["parent"] = {"$type": "app.bsky.feed.defs#notFoundPost", "uri": parent_uri, "notFound": True}
                    break
                node["parent"] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(parent)}
                cursor, node = parent, node["parent"]
            body = {"thread": thread}
            root = self.posts.get(self._root_of(post))
            if root is not None and root.uri in self.gates:
                body["threadgate"] = self.post_view(root)["threadgate"]
            return self._ok(body)

        @xrpc("GET", "app.bsky.actor.getProfiles")
        def get_profiles(request: Request) -> Response:
            _did, refused = self._authorise(request)
            if refused:
                return refused
            actors = request.query.get("actors", [])
            if len(actors) > 25:
                return _error(400, "InvalidRequest", "actors must not have more than 25 elements")
            found = [self._account(a) for a in actors if any(a in (x.did, x.handle) for x in self.accounts.values())]
            return self._ok({"profiles": [self.profile(a.did, detailed=True) for a in found]})

        @xrpc("GET", "app.bsky.feed.getPosts")
        def get_posts(request: Request) -> Response:
            _did, refused = self._authorise(request)
            if refused:
                return refused
            uris = request.query.get("uris", [])
            return self._ok({"posts": [self.post_view(self.posts[u]) for u in uris if u in self.posts]})

        @xrpc("GET", "app.bsky.feed.getAuthorFeed")
        def get_author_feed(request: Request) -> Response:
            _did, refused = self._authorise(request)
            if refused:
                return refused
            actor = request.arg("actor") or ""
            account = next((a for a in self.accounts.values() if actor in (a.did, a.handle)), None)
            if account is None:
                return _error(400, "InvalidRequest", "Profile not found")
            limit = int(request.arg("limit") or 50)
            replies = request.arg("filter", "posts_with_replies") != "posts_no_replies"
            posts = sorted((p for p in self.posts.values() if p.did == account.did and (replies or "reply" not in
                                                                                         p.record)),
                           key=lambda p: (p.indexed_at, p.cid), reverse=True)
            page, cursor = self._page(posts, request.arg("cursor"), limit, lambda p: (p.indexed_at, p.cid))
            feed = []
            for post in page:
                item: dict[str, Any] = {"post": self.post_view(post)}
                reply = post.record.get("reply")
                if reply:
                    item["reply"] = {key: (self.post_view(self.posts[reply[key]["uri"]])
                                           if reply[key]["uri"] in self.posts else
                                           {"$type": "app.bsky.feed.defs#notFoundPost", "uri": reply[key]["uri"],
                                            "notFound": True}) for key in ("root", "parent")}
                feed.append(item)
            body: dict[str, Any] = {"feed": feed}
            if cursor:
                body["cursor"] = cursor
            return self._ok(body)

        @xrpc("POST", "com.atproto.repo.createRecord")
        def create_record(request: Request) -> Response:
            did, refused = self._authorise(request)
            if refused:
                return refused
            body = request.json() or {}
            if body.get("repo") not in (did, self.accounts[did or ""].handle):
                return _error(400, "InvalidRequest", "Input/repo must be the authenticated account")
            if body.get("collection") != POST:
                return _error(400, "InvalidRequest", "this fake stores posts only")
            record = body.get("record")
            if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "createdAt" not in record:
                return _error(400, "InvalidRecord", "Record/text and Record/createdAt are required")
            now = datetime.now(UTC)
            self._serial += 1
            uri = f"at://{did}/{POST}/{tid(time_us_of(now), self._serial)}"
            post = Post(uri, cid_for([uri, record]), str(did), record, now)
            self.posts[uri] = post
            self.jetstream.publish(self.commit_event(post))
            return self._ok({"uri": uri, "cid": post.cid, "commit": {"cid": cid_for(uri), "rev": tid(time_us_of(now))},
                             "validationStatus": "valid"})

    def _page(self, items: list[Any], cursor: str | None, limit: int, key: Any) -> tuple[list[Any], str | None]:
        """Keyset pagination, newest first: the page after ``cursor`` and the cursor after it (while full)."""
        start = 0
        if cursor:
            at, _, cid = cursor.partition("::")
            after = (datetime.fromisoformat(at), cid)
            start = next((i for i, item in enumerate(items) if key(item) < after), len(items))
            start = max(0, start - self.page_overlap)
        page = items[start:start + limit]
        if len(page) < limit:
            return page, None
        last_at, last_cid = key(page[-1])
        return page, f"{last_at.isoformat()}::{last_cid}"


def seed_customers(fake: FakeBluesky, now: datetime) -> dict[str, str]:
    """A realistic morning for the brand: mentions, a reply and a quote of our post, a keyword post without
    a mention, a like, and posts in Danish and Korean. Returns name -> at-uri."""
    jane = fake.add_account("jane.bsky.social", "Jane Doe", followers=1520)
    mads = fake.add_account("mads.bsky.social", "Mads Jensen", followers=88)
    minji = fake.add_account("minji.bsky.social", "김민지", followers=4021)
    tomas = fake.add_account("tomas.example.com", None, followers=12)
    t = now - timedelta(hours=3)
    uris: dict[str, str] = {}
    uris["brand_post"] = fake.add_post(fake.brand, "Our spring range is live! Tell us what you think.",
                                       at=t - timedelta(days=2))
    uris["jane_mention"] = fake.add_post(jane, f"@{fake.brand.handle} my order never arrived and nobody answers",
                                         at=t)
    uris["mads_reply"] = fake.add_post(mads, "Min pakke er aldrig kommet, hvad sker der?",
                                       at=t + timedelta(minutes=5), reply_to=uris["brand_post"], langs=("da",))
    uris["minji_quote"] = fake.add_post(minji, "아크미 배송이 너무 늦어요", at=t + timedelta(minutes=9),
                                        quote=uris["brand_post"], langs=("ko",))
    uris["tomas_keyword"] = fake.add_post(tomas, "Anyone else having trouble with the Acme app today?",
                                          at=t + timedelta(minutes=12))
    uris["unrelated"] = fake.add_post(tomas, "Lovely weather in Tallinn", at=t + timedelta(minutes=13))
    fake.add_like(jane, uris["brand_post"], at=t + timedelta(minutes=14))
    return uris
