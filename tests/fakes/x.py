"""A fake X API v2 on FakePlatform, close enough to the real one for tweepy.Client.

It speaks:
- GET /2/tweets/search/recent (query operators: words, "phrases", @handle, #tag, OR, parentheses, -negation,
  from:, to:, conversation_id:, is:retweet, is:reply; since_id, until_id, start_time, end_time, max_results
  10..100, next_token/pagination_token; the 7-day window; a 400 naming a too-old since_id/start_time);
- GET /2/users/:id/mentions and GET /2/users/:id/tweets (max_results 5..100, pagination_token, since_id,
  start_time; an unknown user is a 200 with a resource-not-found error, as X answers);
- GET /2/users/me (user context), POST /2/tweets (user context; X's reply rule: the parent's author must have
  mentioned us; deleted parents and duplicate text are 403s), DELETE /2/tweets/:id.

Bodies honour expansions, tweet.fields and user.fields; pages are newest first with opaque next_tokens that do
not expire; every answer carries x-rate-limit-limit/-remaining/-reset, and an exhausted window is a 429. A reply
is stored as X shows it: "@parent_author " prefixed, & < > escaped, links rewritten to t.co.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakePlatform, Request, Response

TWITTER_EPOCH_MS = 1288834974657
WINDOW = timedelta(days=7)
RATE_WINDOW_SECONDS = 900
DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
TWEET_FIELDS = ("created_at", "author_id", "conversation_id", "in_reply_to_user_id", "public_metrics", "lang",
                "entities", "referenced_tweets")
USER_FIELDS = ("public_metrics", "verified", "created_at", "description")
LIMITS = {"search": 450, "mentions": 450, "user_tweets": 1500, "me": 75, "create_tweet": 200,
          "delete_tweet": 50}


def snowflake(at: datetime, sequence: int) -> str:
    ms = int(at.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((ms << 22) | (sequence & 0x3FFFFF))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def invalid(parameter: str, value: str, message: str) -> Response:
    return Response(400, {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Response:
    return Response(status, {"title": title, "detail": detail, "type": kind, "status": status})


class Query:
    """A parsed search query; ``matches(tweet, fake)`` evaluates it."""

    TOKEN = re.compile(r'\(|\)|"[^"]*"|[^\s()"]+')

    def __init__(self, text: str) -> None:
        self.tokens = self.TOKEN.findall(text)
        self.pos = 0
        if not self.tokens:
            raise ValueError("empty query")
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos]!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self) -> Any:
        terms = [self._and()]
        while self._peek() == "OR":
            self.pos += 1
            terms.append(self._and())
        return ("or", terms) if len(terms) > 1 else terms[0]

    def _and(self) -> Any:
        terms = []
        while self._peek() not in (None, ")", "OR"):
            terms.append(self._unary())
        if not terms:
            raise ValueError("empty group")
        return ("and", terms) if len(terms) > 1 else terms[0]

    def _unary(self) -> Any:
        token = self._peek()
        assert token is not None
        if token == "-":
            self.pos += 1
            return ("not", self._unary())
        if token.startswith("-") and len(token) > 1:
            self.tokens[self.pos] = token[1:]
            return ("not", self._unary())
        if token == "(":
            self.pos += 1
            inner = self._or()
            if self._peek() != ")":
                raise ValueError("unbalanced parentheses")
            self.pos += 1
            return inner
        self.pos += 1
        if token.startswith('"'):
            return ("phrase", token.strip('"').lower())
        if ":" in token and not token.startswith(("@", "#", "http")):
            op, _, value = token.partition(":")
            if op not in ("from", "to", "conversation_id", "is"):
                raise ValueError(f"unknown operator {op}:")
            return ("op", op, value)
        return ("word", token.lower())

    def matches(self, tweet: dict[str, Any], fake: FakeX) -> bool:
        return self._eval(self.tree, tweet, fake)

    def _eval(self, node: Any, tweet: dict[str, Any], fake: FakeX) -> bool:
        kind = node[0]
        text = html.unescape(tweet["text"]).lower()
        if kind == "or":
            return any(self._eval(n, tweet, fake) for n in node[1])
        if kind == "and":
            return all(self._eval(n, tweet, fake) for n in node[1])
        if kind == "not":
            return not self._eval(node[1], tweet, fake)
        if kind == "phrase":
            return node[1] in text
        if kind == "word":
            return re.search(rf"(?<!\w){re.escape(node[1])}(?!\w)", text) is not None
        op, value = node[1], node[2]
        author = fake.users[tweet["author_id"]]
        if op == "from":
            return value.lower() in (author["username"].lower(), author["id"])
        if op == "to":
            parent = fake.users.get(tweet.get("in_reply_to_user_id") or "")
            return parent is not None and value.lower() in (parent["username"].lower(), parent["id"])
        if op == "conversation_id":
            return tweet["conversation_id"] == value
        if value == "retweet":
            return any(r["type"] == "retweeted" for r in tweet.get("referenced_tweets", []))
        if value == "reply":
            return any(r["type"] == "replied_to" for r in tweet.get("referenced_tweets", []))
        raise ValueError(f"unknown is:{value}")


class FakeX(FakePlatform):
    """An in-memory X. ``now`` is its clock; ``overlap`` makes each next page repeat that many tweets."""

    def __init__(self, *, now: datetime, bearer_token: str = "test-bearer-token") -> None:
        super().__init__()
        self.now = now
        self.bearer_token = bearer_token
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.access_tokens: dict[str, str] = {}
        self.overlap = 0
        self.remaining = dict(LIMITS)
        self.reset_at = int(now.timestamp()) + RATE_WINDOW_SECONDS
        self.canned: dict[str, deque[Any]] = {}
        self._sequence = 0
        self._tokens: dict[str, tuple[str, str]] = {}
        self.route("GET", r"/2/tweets/search/recent", "search")(self._search)
        self.route("GET", r"/2/users/me", "me")(self._me)
        self.route("GET", r"/2/users/(?P<id>\d+)/mentions", "mentions")(self._mentions)
        self.route("GET", r"/2/users/(?P<id>\d+)/tweets", "user_tweets")(self._user_tweets)
        self.route("POST", r"/2/tweets", "create_tweet")(self._create)
        self.route("DELETE", r"/2/tweets/(?P<id>\d+)", "delete_tweet")(self._delete)

    # -- seeding --------------------------------------------------------------------------------------------
    def add_user(self, username: str, *, name: str | None = None, followers: int = 0, verified: bool = False,
                 user_id: str | None = None, access_token: str | None = None) -> str:
        user_id = user_id or str(10_000 + len(self.users))
        self.users[user_id] = {
            "id": user_id, "username": username, "name": name or username.replace("_", " ").title(),
            "verified": verified, "created_at": "2015-03-02T10:00:00.000Z", "description": "",
            "public_metrics": {"followers_count": followers, "following_count": 120, "tweet_count": 900,
                               "listed_count": 3},
        }
        if access_token:
            self.access_tokens[access_token] = user_id
        return user_id

    def user_id(self, username: str) -> str:
        return next(u["id"] for u in self.users.values() if u["username"].lower() == username.lower())

    def post(self, username: str, text: str, *, at: datetime | None = None, reply_to: str | None = None,
             lang: str = "en", likes: int = 0, history: list[str] | None = None) -> str:
        """Store a tweet by ``username`` as X would show it; returns its id."""
        at = at or self.now
        self._sequence += 1
        tweet_id = snowflake(at, self._sequence)
        author_id = self.user_id(username)
        tweet: dict[str, Any] = {
            "id": tweet_id, "text": text, "edit_history_tweet_ids": [*(history or []), tweet_id],
            "author_id": author_id, "created_at": iso(at), "conversation_id": tweet_id, "lang": lang,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": likes, "quote_count": 0,
                               "bookmark_count": 0, "impression_count": 40 + likes * 10},
            "entities": self._entities(text), "_at": at,
        }
        if reply_to is not None:
            parent = self.tweets[reply_to]
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
            parent["public_metrics"]["reply_count"] += 1
        self.tweets[tweet_id] = tweet
        return tweet_id

    def retweet(self, username: str, tweet_id: str) -> str:
        original = self.tweets[tweet_id]
        author = self.users[original["author_id"]]["username"]
        new_id = self.post(username, f"RT @{author}: {original['text']}")
        self.tweets[new_id]["referenced_tweets"] = [{"type": "retweeted", "id": tweet_id}]
        return new_id

    def edit(self, tweet_id: str, text: str) -> str:
        """An edit: a new id whose edit_history_tweet_ids starts with the original's; the old version is hidden."""
        old = self.tweets[tweet_id]
        username = self.users[old["author_id"]]["username"]
        new_id = self.post(username, text, history=list(old["edit_history_tweet_ids"]))
        self.deleted.add(tweet_id)
        return new_id

    def replies_by(self, username: str) -> list[dict[str, Any]]:
        author_id = self.user_id(username)
        return [t for t in self.tweets.values() if t["author_id"] == author_id and t.get("referenced_tweets")]

    def exhaust(self, route_name: str, *, reset_in: int) -> None:
        """Use up ``route_name``'s rate-limit window; it resets ``reset_in`` seconds after ``now``."""
        self.remaining[route_name] = 0
        self.reset_at = int(self.now.timestamp()) + reset_in

    def serve_as_is(self, route_name: str, *bodies: Any) -> None:
        """Answer the next requests to ``route_name`` with these bodies (e.g. recorded payloads), unchanged."""
        self.canned.setdefault(route_name, deque()).extend(bodies)

    def _entities(self, text: str) -> dict[str, Any]:
        entities: dict[str, Any] = {}
        mentions = []
        for match in re.finditer(r"(?<!\w)@(\w{1,15})", text):
            user = next((u for u in self.users.values() if u["username"].lower() == match.group(1).lower()), None)
            mention = {"start": match.start(), "end": match.end(), "username": match.group(1)}
            if user is not None:
                mention["id"] = user["id"]
            mentions.append(mention)
        if mentions:
            entities["mentions"] = mentions
        tags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in re.finditer(r"#(\w+)", text)]
        if tags:
            entities["hashtags"] = tags
        return entities

    # -- helpers --------------------------------------------------------------------------------------------
    def _auth(self, request: Request, *, user_only: bool = False) -> str | Response:
        """The caller: "app" for the bearer token, a user id for OAuth 1.0a; or the error to answer."""
        header = request.headers.get("authorization", "")
        if header.startswith("OAuth "):
            token = re.search(r'oauth_token="([^"]*)"', header)
            user_id = self.access_tokens.get(token.group(1)) if token else None
            if user_id is None or "oauth_signature=" not in header:
                return problem(401, "Unauthorized", "Unauthorized")
            return user_id
        if header == f"Bearer {self.bearer_token}":
            if user_only:
                return problem(403, "Unsupported Authentication",
                               "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                               "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                               "https://api.twitter.com/2/problems/unsupported-authentication")
            return "app"
        return problem(401, "Unauthorized", "Unauthorized")

    def _limited(self, route_name: str, request: Request, handler: Any) -> Response:
        headers = {"x-rate-limit-limit": str(LIMITS[route_name]), "x-rate-limit-reset": str(self.reset_at)}
        if self.remaining[route_name] <= 0:
            headers["x-rate-limit-remaining"] = "0"
            return Response(429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                                  "status": 429}, headers)
        self.remaining[route_name] -= 1
        headers["x-rate-limit-remaining"] = str(self.remaining[route_name])
        canned = self.canned.get(route_name)
        response = Response(200, canned.popleft()) if canned else handler(request)
        response.headers.update(headers)
        return response

    def _visible(self) -> list[dict[str, Any]]:
        return [t for t in self.tweets.values() if t["id"] not in self.deleted]

    def _render_tweet(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        out = {k: tweet[k] for k in DEFAULT_FIELDS}
        out.update({k: tweet[k] for k in TWEET_FIELDS if k in fields and k in tweet and tweet[k] != {}})
        return out

    def _render_user(self, user: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        out = {k: user[k] for k in ("id", "name", "username")}
        out.update({k: user[k] for k in USER_FIELDS if k in fields})
        return out

    def _listing(self, request: Request, candidates: Iterable[dict[str, Any]], *, token_param: str,
                 min_results: int, signature: str) -> Response:
        """Newest first, one page, X's meta and opaque, non-expiring next_tokens bound to the request."""
        raw_max = request.arg("max_results", "10") or "10"
        if not raw_max.isdigit() or not min_results <= int(raw_max) <= 100:
            return invalid("max_results", raw_max, f"The `max_results` query parameter value [{raw_max}] is not "
                           f"between {min_results} and 100")
        max_results = int(raw_max)
        since_id, until_id = request.arg("since_id"), request.arg("until_id")
        start, end = request.arg("start_time"), request.arg("end_time")
        token = request.arg(token_param) or request.arg("pagination_token")
        before: int | None = None
        if token:
            known = self._tokens.get(token)
            if known is None or known[0] != signature:
                return invalid(token_param, token, f"The `{token_param}` query parameter value [{token}] is not "
                               "a valid token")
            before = int(known[1])
        tweets = sorted(candidates, key=lambda t: int(t["id"]), reverse=True)
        tweets = [t for t in tweets
                  if (since_id is None or int(t["id"]) > int(since_id))
                  and (until_id is None or int(t["id"]) < int(until_id))
                  and (start is None or t["_at"] >= parse_time(start))
                  and (end is None or t["_at"] <= parse_time(end))
                  and (before is None or int(t["id"]) < before)]
        page = tweets[:max_results]
        fields = set((request.arg("tweet.fields") or "").split(","))
        expansions = set((request.arg("expansions") or "").split(","))
        body: dict[str, Any] = {}
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            body["data"] = [self._render_tweet(t, fields) for t in page]
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
            includes: dict[str, Any] = {}
            if "author_id" in expansions:
                user_fields = set((request.arg("user.fields") or "").split(","))
                authors = dict.fromkeys(t["author_id"] for t in page)
                includes["users"] = [self._render_user(self.users[a], user_fields) for a in authors]
            if "referenced_tweets.id" in expansions:
                referenced = [r["id"] for t in page for r in t.get("referenced_tweets", [])
                              if r["id"] in self.tweets and r["id"] not in self.deleted]
                if referenced:
                    includes["tweets"] = [self._render_tweet(self.tweets[i], fields) for i in dict.fromkeys(referenced)]
            if includes:
                body["includes"] = includes
        if len(tweets) > len(page) and page:
            back = min(self.overlap, len(page) - 1)
            bound = page[-1 - back]["id"] if back else page[-1]["id"]
            next_token = hashlib.sha1(f"{signature}|{bound}".encode()).hexdigest()[:20]
            self._tokens[next_token] = (signature, bound)
            meta["next_token"] = next_token
        body["meta"] = meta
        return Response(200, body)

    def _signature(self, request: Request, *names: str) -> str:
        return "|".join([request.path, *(request.arg(n) or "" for n in names)])

    # -- endpoints ------------------------------------------------------------------------------------------
    def _search(self, request: Request) -> Response:
        caller = self._auth(request)
        if isinstance(caller, Response):
            return caller
        return self._limited("search", request, self._search_page)

    def _search_page(self, request: Request) -> Response:
        text = request.arg("query")
        if not text:
            return invalid("query", "", "The `query` query parameter can not be empty")
        try:
            query = Query(text)
        except ValueError as exc:
            return invalid("query", text, f"There were errors processing your request: {exc}")
        horizon = self.now - WINDOW
        start, since_id = request.arg("start_time"), request.arg("since_id")
        if start and parse_time(start) < horizon:
            return invalid("start_time", start, f"Invalid 'start_time':'{start}'. 'start_time' must be on or after "
                           f"{iso(horizon)}")
        if since_id and since_id.isdigit() and int(since_id) < int(snowflake(horizon, 0)):
            return invalid("since_id", since_id, f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id "
                           f"created after {iso(horizon)}")
        recent = [t for t in self._visible() if t["_at"] >= horizon and query.matches(t, self)]
        signature = self._signature(request, "query", "since_id", "until_id", "start_time", "end_time")
        return self._listing(request, recent, token_param="next_token", min_results=10, signature=signature)

    def _timeline(self, request: Request, route_name: str, select: Any) -> Response:
        caller = self._auth(request)
        if isinstance(caller, Response):
            return caller

        def page(request: Request) -> Response:
            user_id = request.params["id"]
            if user_id not in self.users:
                return Response(200, {"errors": [{
                    "value": user_id, "detail": f"Could not find user with id: [{user_id}].",
                    "title": "Not Found Error", "resource_type": "user", "parameter": "id",
                    "resource_id": user_id, "type": "https://api.twitter.com/2/problems/resource-not-found"}]})
            signature = self._signature(request, "since_id", "until_id", "start_time", "end_time")
            tweets = [t for t in self._visible() if select(t, user_id)]
            return self._listing(request, tweets, token_param="pagination_token", min_results=5, signature=signature)

        return self._limited(route_name, request, page)

    def _mentions(self, request: Request) -> Response:
        def mentions(tweet: dict[str, Any], user_id: str) -> bool:
            return any(m.get("id") == user_id for m in tweet["entities"].get("mentions", []))

        return self._timeline(request, "mentions", mentions)

    def _user_tweets(self, request: Request) -> Response:
        return self._timeline(request, "user_tweets", lambda tweet, user_id: tweet["author_id"] == user_id)

    def _me(self, request: Request) -> Response:
        caller = self._auth(request, user_only=True)
        if isinstance(caller, Response):
            return caller
        return self._limited("me", request, lambda r: Response(200, {"data": self._render_user(
            self.users[caller], set((r.arg("user.fields") or "").split(",")))}))

    def _create(self, request: Request) -> Response:
        caller = self._auth(request, user_only=True)
        if isinstance(caller, Response):
            return caller
        return self._limited("create_tweet", request, lambda r: self._create_tweet(r, caller))

    def _create_tweet(self, request: Request, user_id: str) -> Response:
        body = request.json()
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > 280:
            return invalid("text", str(text)[:40], "Tweet text must be between 1 and 280 characters")
        parent_id = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        me = self.users[user_id]
        if parent_id is not None:
            parent = self.tweets.get(parent_id)
            if parent is None or parent_id in self.deleted:
                return problem(403, "Forbidden", "You attempted to reply to a Tweet that is deleted or not visible "
                               "to you.", "https://api.twitter.com/2/problems/not-authorized-for-resource")
            mentioned = any(m.get("id") == user_id for m in parent["entities"].get("mentions", []))
            if parent["author_id"] != user_id and not mentioned:
                return problem(403, "Forbidden", "Reply to this conversation is not allowed because you have not "
                               "been mentioned or otherwise engaged by the author of the post you are replying to.",
                               "https://api.twitter.com/2/problems/disallowed-resource")
            prefix = "@" + self.users[parent["author_id"]]["username"] + " "
            if parent["author_id"] != user_id and not text.lower().startswith(prefix.lower()):
                text = prefix + text
        shown = re.sub(r"https?://\S+", lambda m: "https://t.co/" + hashlib.sha1(m.group().encode()).hexdigest()[:10],
                       html.escape(text, quote=False))
        if any(t["author_id"] == user_id and t["text"] == shown for t in self._visible()):
            return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        tweet_id = self.post(me["username"], shown, reply_to=parent_id)
        return Response(201, {"data": {"id": tweet_id, "text": shown, "edit_history_tweet_ids": [tweet_id]}})

    def _delete(self, request: Request) -> Response:
        caller = self._auth(request, user_only=True)
        if isinstance(caller, Response):
            return caller

        def delete(request: Request) -> Response:
            tweet = self.tweets.get(request.params["id"])
            if tweet is None or tweet["author_id"] != caller:
                return problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
            self.deleted.add(tweet["id"])
            return Response(200, {"data": {"deleted": True}})

        return self._limited("delete_tweet", request, delete)


BRAND = "acme"
BRAND_ID = "1500000000000000001"
ACCESS_TOKEN = f"{BRAND_ID}-brandaccesstoken"


def seeded(now: datetime) -> FakeX:
    """A FakeX holding the @acme account and a realistic week of posts about it (not started)."""
    fake = FakeX(now=now)
    fake.add_user(BRAND, name="Acme Support", followers=48_200, verified=True, user_id=BRAND_ID,
                  access_token=ACCESS_TOKEN)
    customers = [("jane_doe", 1520), ("mikkel_h", 88), ("sofia_r", 12_400), ("tom_b", 3), ("lee_k", 640)]
    for handle, followers in customers:
        fake.add_user(handle, followers=followers)
    fake.add_user("rival_co", followers=9000)
    texts = [
        "@acme my order never arrived and nobody answers",
        "acme charged me twice this month, want a refund",
        "Is acme down? app keeps crashing #acmefail",
        "@acme thanks, the replacement came today!",
        "three weeks waiting for acme support. #acmefail",
        "@acme the tracking link is broken https://acme.example/track/123",
        "acme & co lost my parcel again",
        "Anyone else getting errors from acme checkout?",
    ]
    start = now - timedelta(days=6)
    for i in range(40):
        handle = customers[i % len(customers)][0]
        fake.post(handle, f"{texts[i % len(texts)]} ({i})", at=start + timedelta(hours=3 * i, minutes=i),
                  likes=i % 7)
    fake.post("rival_co", "rival co is the best, nothing to do with anyone else", at=now - timedelta(hours=5))
    fake.post("jane_doe", "@acme an old complaint beyond search's reach", at=now - timedelta(days=9))
    return fake
