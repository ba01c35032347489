"""The X source: recent search for the brand's keywords and, optionally, the brand account's mentions timeline.

It talks to the X API v2 through tweepy.Client (``XClient``: pointed at ``api_base_url``, with a timeout, no
retries, no sleeping on rate limits). One source may poll both endpoints; the cursor keeps each one's state:

    {"v": 1, "next": "search",
     "search": {"query": "...", "since_id": "1", "next_token": "b26v...", "newest_id": "9"},
     "mentions": {"user_id": "42", "since_id": null, "next_token": null, "newest_id": null}}

A *pass* pages one endpoint from its newest tweet down to ``since_id`` (exclusive). ``newest_id`` is the newest id
seen so far in the pass and becomes ``since_id`` only once the pass's last page is done, so a crash, a 429 or a
restart mid-pass resumes at the saved ``next_token`` with the old lower bound: nothing between them is skipped,
and a page fetched twice only yields duplicates (storage dedupes on the canonical id). A 400 naming a stale
since_id or a refused page token restarts the pass without it (more duplicates, no gap).

The parse_* functions are pure and strict; fetch reports a single unreadable tweet as a BadRecord and keeps the
rest of its page. The brand's own posts are dropped from batches (our replies contain the keywords too).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from tweepy.auth import OAuth1UserHandler
from urllib3.util.retry import Retry

from monitor.config import Brand, SourceSettings
from monitor.sources.base import (
    BadRecord,
    Batch,
    ParsedAuthor,
    ParsedMention,
    ParseError,
    RateLimited,
    SourceError,
    ThreadRef,
    credentials,
)

PLATFORM = "x"
READ_CREDENTIALS: dict[str, str] = {"bearer_token": "X_BEARER_TOKEN"}
POST_CREDENTIALS: dict[str, str] = {
    "consumer_key": "X_CONSUMER_KEY",
    "consumer_secret": "X_CONSUMER_SECRET",
    "access_token": "X_ACCESS_TOKEN",
    "access_token_secret": "X_ACCESS_TOKEN_SECRET",
}

DEFAULT_API_BASE_URL = "https://api.twitter.com"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESULTS = 100
DEFAULT_RETRY_AFTER = 60.0
THREAD_MAX_PAGES = 5
# Recent search only reaches this far back; a start_time or since_id beyond it is a 400.
SEARCH_WINDOW = timedelta(days=7)
TWITTER_EPOCH_MS = 1288834974657

EXPANSIONS = ["author_id", "referenced_tweets.id"]
TWEET_FIELDS = [
    "created_at", "conversation_id", "in_reply_to_user_id", "public_metrics", "lang", "entities",
    "edit_history_tweet_ids", "referenced_tweets", "author_id",
]
USER_FIELDS = ["name", "username", "public_metrics", "verified"]
# X's own "languages" for posts with no detectable language (undetermined, media/hashtag/link-only, ...).
NO_LANGUAGE = {"und", "zxx", "qam", "qct", "qht", "qme", "qst"}
METRICS = {"like_count": "likes", "retweet_count": "reposts", "reply_count": "replies", "quote_count": "quotes"}

log = logging.getLogger("closeloop.sources.x")


def _no_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


# oauthlib and requests-oauthlib log each signed request (consumer key, access token) at DEBUG; keep them out.
for _name in ("requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849"):
    logging.getLogger(_name).addFilter(_no_debug)


def utcnow() -> datetime:
    return datetime.now(UTC)


def snowflake_time(tweet_id: str) -> datetime:
    """When a tweet was created, from its id (X ids are Snowflakes: milliseconds since X's epoch << 22)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


# -- the client ----------------------------------------------------------------------------------------------


class XClient(tweepy.Client):
    """tweepy.Client sending to ``base_url`` with a ``timeout``; never retries, never follows redirects, never
    sleeps on a 429 (it raises tweepy.TooManyRequests). Methods return the raw requests.Response, so callers
    parse the body themselves. Unlike tweepy's own request(), nothing here logs headers (they hold secrets).
    """

    def __init__(self, *, base_url: str = DEFAULT_API_BASE_URL, timeout: float = DEFAULT_TIMEOUT,
                 **secrets: str | None) -> None:
        super().__init__(**secrets, return_type=requests.Response, wait_on_rate_limit=False)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        no_retries = HTTPAdapter(max_retries=Retry(total=0, read=False, redirect=False, status=False))
        self.session.mount("http://", no_retries)
        self.session.mount("https://", no_retries)

    def request(self, method: str, route: str, params: Any = None, json: Any = None,
                user_auth: bool = False) -> requests.Response:
        headers = {"User-Agent": self.user_agent}
        auth = None
        if user_auth:
            auth = OAuth1UserHandler(self.consumer_key, self.consumer_secret, self.access_token,
                                     self.access_token_secret).apply_auth()
        else:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        response = self.session.request(method, self.base_url + route, params=params, json=json, headers=headers,
                                        auth=auth, timeout=self.timeout, allow_redirects=False)
        raise_for_status(response)
        return response


def _error_body(response: requests.Response) -> dict[str, Any]:
    """The parts of an error body that tweepy's exceptions can read (they assume well-formed JSON)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    errors: list[Any] = []
    raw_errors = body.get("errors")
    for error in raw_errors if isinstance(raw_errors, list) else []:
        if isinstance(error, str):
            errors.append(error)
        elif isinstance(error, dict):
            errors.append({**error, **({"message": str(error["message"])} if "message" in error else {})})
    clean: dict[str, Any] = {"errors": errors}
    if isinstance(body.get("detail"), str):
        clean["detail"] = body["detail"]
    if isinstance(body.get("error"), str):
        clean["error"] = body["error"]
    return clean


def raise_for_status(response: requests.Response) -> None:
    """Raise tweepy's exception for a non-2xx response, as tweepy does, without tripping on odd bodies."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = _error_body(response)
    if status == 400:
        raise tweepy.BadRequest(response, response_json=body)
    if status == 401:
        raise tweepy.Unauthorized(response, response_json=body)
    if status == 403:
        raise tweepy.Forbidden(response, response_json=body)
    if status == 404:
        raise tweepy.NotFound(response, response_json=body)
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset", "")
        raise tweepy.TooManyRequests(response, response_json=body,
                                     reset_time=int(reset) if _digits(reset.strip()) else None)
    if status >= 500:
        raise tweepy.TwitterServerError(response, response_json=body)
    raise tweepy.HTTPException(response, response_json=body)


def retry_after(response: requests.Response, now: datetime) -> float:
    """Seconds to wait after a 429: x-rate-limit-reset (epoch seconds) minus ``now``, at least 1; else
    Retry-After (seconds or an HTTP date); else DEFAULT_RETRY_AFTER."""
    reset = response.headers.get("x-rate-limit-reset", "").strip()
    if _digits(reset):
        return max(1.0, int(reset) - now.timestamp())
    value = response.headers.get("retry-after", "").strip()
    if _digits(value):
        return max(1.0, float(value))
    if value:
        try:
            return max(1.0, (parsedate_to_datetime(value) - now).total_seconds())
        except (TypeError, ValueError):
            pass
    return DEFAULT_RETRY_AFTER


def invalid_parameters(exc: tweepy.HTTPException) -> set[str]:
    """Names of the request parameters a 400 complains about (X lists them per error under ``parameters``)."""
    names: set[str] = set()
    for error in exc.api_errors:
        if isinstance(error, dict):
            if isinstance(error.get("parameters"), dict):
                names.update(str(k) for k in error["parameters"])
            if isinstance(error.get("parameter"), str):
                names.add(error["parameter"])
    return names


# -- parsing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """One response body of a tweet-listing endpoint: its mentions, the tweets it could not read, and ``meta``."""

    mentions: list[ParsedMention]
    bad: list[BadRecord] = field(default_factory=list)
    newest_id: str | None = None
    next_token: str | None = None
    errors: list[Mapping[str, Any]] = field(default_factory=list)


def _string(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def _tweet_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if is_tweet_id(value):
        return str(value)
    if value is None:
        raise ParseError(f"{what} is missing")
    raise ParseError(f"{what} must be a numeric id string, got {str(value)[:40]!r}")


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def is_tweet_id(value: Any) -> bool:
    """X ids are decimal strings (JSON numbers would lose precision)."""
    return isinstance(value, str) and _digits(value)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _timestamp(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ParseError(f"{where}: created_at has no timezone: {value[:40]!r}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError(f"{where}: created_at is not an ISO 8601 timestamp: {value[:40]!r}") from None


def mentions_handle(text: str, mentioned: list[str], handle: str) -> bool:
    """Whether a tweet mentions @handle: in its entities, or as a whole @word in its text (case-insensitive)."""
    if handle.lower() in (m.lower() for m in mentioned):
        return True
    return re.search(rf"(?<![\w@])@{re.escape(handle)}(?!\w)", text, re.IGNORECASE) is not None


def _eligibility(text: str, mentioned: list[str], brand_handle: str | None) -> tuple[bool, str]:
    if not brand_handle:
        return False, "no X handle is configured for the brand, so X's mention rule cannot be checked"
    handle = brand_handle.lstrip("@")
    if mentions_handle(text, mentioned, handle):
        return True, f"the author mentioned @{handle}"
    return False, f"X allows API replies only where the author mentioned @{handle}"


def _author(author_id: str | None, user: Mapping[str, Any] | None, where: str) -> ParsedAuthor:
    if user is None:
        return ParsedAuthor(handle=author_id or "unknown", id=author_id)
    username = _string(user, "username", f"{where} author")
    metrics = user.get("public_metrics")
    verified = user.get("verified")
    return ParsedAuthor(
        handle=(username or author_id or "unknown").lstrip("@"),
        id=author_id,
        name=_string(user, "name", f"{where} author"),
        followers=_count(metrics.get("followers_count")) if isinstance(metrics, dict) else None,
        verified=verified if isinstance(verified, bool) else False,
    )


def parse_tweet(item: Any, users: Mapping[str, Mapping[str, Any]], *, brand_handle: str | None = None,
                where: str = "tweet") -> ParsedMention:
    """One v2 tweet object (plus the expanded users by id) as a mention; ParseError names the field at fault."""
    if not isinstance(item, dict):
        raise ParseError(f"{where} must be an object, got {type(item).__name__}")
    tweet_id = _tweet_id(item.get("id"), f"{where} id")
    where = f"{where} (id {tweet_id})"
    text = item.get("text")
    if not isinstance(text, str):
        raise ParseError(f"{where}: text is missing" if text is None else f"{where}: text must be a string")
    history = item.get("edit_history_tweet_ids")
    if history is not None and not isinstance(history, list):
        raise ParseError(f"{where}: edit_history_tweet_ids must be a list")
    canonical = _tweet_id(history[0], f"{where} edit_history_tweet_ids[0]") if history else tweet_id
    author_id = item.get("author_id")
    author_id = _tweet_id(author_id, f"{where} author_id") if author_id is not None else None
    created = _string(item, "created_at", where)
    in_reply_to = None
    referenced = item.get("referenced_tweets")
    if referenced is not None:
        if not isinstance(referenced, list) or not all(isinstance(r, dict) for r in referenced):
            raise ParseError(f"{where}: referenced_tweets must be a list of objects")
        replied = [r for r in referenced if r.get("type") == "replied_to"]
        in_reply_to = _tweet_id(replied[0].get("id"), f"{where} replied_to id") if replied else None
    entities = item.get("entities")
    mentions = entities.get("mentions") if isinstance(entities, dict) else None
    mentioned = [m["username"] for m in mentions if isinstance(m, dict) and isinstance(m.get("username"), str)] \
        if isinstance(mentions, list) else []
    metrics_in = item.get("public_metrics")
    metrics = {}
    if isinstance(metrics_in, dict):
        metrics = {name: n for key, name in METRICS.items() if (n := _count(metrics_in.get(key))) is not None}
    lang = _string(item, "lang", where)
    author = _author(author_id, users.get(author_id) if author_id else None, where)
    eligible, reason = _eligibility(text, mentioned, brand_handle)
    known_handle = author.handle if author.handle not in {author_id, "unknown"} else None
    return ParsedMention(
        platform=PLATFORM,
        canonical_id=canonical,
        platform_id=tweet_id,
        text=text,
        author=author,
        created_at=_timestamp(created, where) if created is not None else None,
        url=f"https://x.com/{known_handle}/status/{tweet_id}" if known_handle else f"https://x.com/i/web/status/{tweet_id}",
        in_reply_to_id=in_reply_to,
        conversation_id=_string(item, "conversation_id", where),
        lang=lang.lower() if lang and lang.lower() not in NO_LANGUAGE else None,
        metrics=metrics,
        reply_eligible=eligible,
        eligibility_reason=reason,
        raw=item,
    )


def parse_page(payload: Any, *, brand_handle: str | None = None, endpoint: str = "search") -> Page:
    """A v2 tweet-listing body ({"data", "includes", "meta", "errors"}) as a Page.

    Raises ParseError when the envelope is malformed (not an object, none of data/meta/errors, wrong types);
    a single unreadable tweet becomes a BadRecord and the rest of the page still goes in.
    """
    if not isinstance(payload, dict):
        raise ParseError(f"{endpoint}: the body must be a JSON object, got {type(payload).__name__}")
    if not any(key in payload for key in ("data", "meta", "errors")):
        raise ParseError(f"{endpoint}: the body has none of data, meta or errors")
    data = payload.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ParseError(f"{endpoint}: data must be a list, got {type(data).__name__}")
    errors = payload.get("errors")
    if errors is not None and not isinstance(errors, list):
        raise ParseError(f"{endpoint}: errors must be a list")
    includes = payload.get("includes")
    if includes is not None and not isinstance(includes, dict):
        raise ParseError(f"{endpoint}: includes must be an object")
    users_in = (includes or {}).get("users")
    if users_in is not None and not isinstance(users_in, list):
        raise ParseError(f"{endpoint}: includes.users must be a list")
    users = {str(u["id"]): u for u in users_in or [] if isinstance(u, dict) and isinstance(u.get("id"), str | int)}
    meta = payload.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise ParseError(f"{endpoint}: meta must be an object")
    meta = meta or {}
    newest = _tweet_id(meta["newest_id"], f"{endpoint}: meta.newest_id") if meta.get("newest_id") is not None else None
    next_token = meta.get("next_token")
    if next_token is not None and (not isinstance(next_token, str) or not next_token):
        raise ParseError(f"{endpoint}: meta.next_token must be a non-empty string")
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for index, item in enumerate(data):
        try:
            mentions.append(parse_tweet(item, users, brand_handle=brand_handle, where=f"{endpoint} data[{index}]"))
        except ParseError as exc:
            bad.append(BadRecord(f"{endpoint} data[{index}]", str(exc)))
    return Page(mentions, bad, newest, next_token, [e for e in errors or [] if isinstance(e, dict)])


def _strict(payload: Any, brand_handle: str | None, endpoint: str) -> list[ParsedMention]:
    page = parse_page(payload, brand_handle=brand_handle, endpoint=endpoint)
    if page.bad:
        raise ParseError(page.bad[0].reason)
    return page.mentions


def parse_search(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """GET /2/tweets/search/recent body -> mentions, bare (no expansions) or full (includes.users).

    Pure. Absent optional fields give None (an unexpanded author is known by author_id, else "unknown");
    partial ``errors`` are tolerated; anything malformed, down to one tweet, raises ParseError.
    """
    return _strict(payload, brand_handle, "search")


def parse_mentions(payload: Any, *, brand_handle: str | None = None) -> list[ParsedMention]:
    """GET /2/users/:id/mentions body -> mentions; the same shape and rules as parse_search."""
    return _strict(payload, brand_handle, "mentions")


# -- the cursor ----------------------------------------------------------------------------------------------


@dataclass
class _Pass:
    since_id: str | None = None
    next_token: str | None = None
    newest_id: str | None = None

    def saw(self, ids: list[str]) -> None:
        candidates = [i for i in [self.newest_id, *ids] if i is not None]
        self.newest_id = max(candidates, key=int) if candidates else None

    def finish(self) -> None:
        candidates = [i for i in (self.since_id, self.newest_id) if i is not None]
        self.since_id = max(candidates, key=int) if candidates else None
        self.next_token = self.newest_id = None


def _read_pass(raw: Any, key: str, expected: str) -> _Pass:
    """A saved pass, or a fresh one when it is absent, unreadable, or was made for another query/user."""
    if not isinstance(raw, dict) or raw.get(key) != expected:
        return _Pass()
    values = {k: raw.get(k) for k in ("since_id", "next_token", "newest_id")}
    if not all(v is None or isinstance(v, str) for v in values.values()):
        return _Pass()
    if any(v is not None and not is_tweet_id(v) for v in (values["since_id"], values["newest_id"])):
        return _Pass()
    return _Pass(**values)


# -- the source ----------------------------------------------------------------------------------------------


def default_query(brand: Brand) -> str:
    """``(kw1 OR "#kw 2") -is:retweet`` from the brand's keywords; ``@handle`` when it has none."""
    terms = [k if re.fullmatch(r"\w+", k) else '"' + k.replace('"', " ").strip() + '"' for k in brand.keywords]
    if not terms and brand.handles.x:
        terms = ["@" + brand.handles.x.lstrip("@")]
    if not terms:
        raise ValueError(f"brand {brand.name!r} has no keywords and no X handle to search for")
    return f"({' OR '.join(terms)}) -is:retweet"


class XSource:
    """Polls recent search (and the brand's mentions timeline when ``user_id`` is set), one page per fetch."""

    platform = PLATFORM

    def __init__(self, *, name: str, client: XClient, query: str, brand_handle: str | None,
                 user_id: str | None = None, max_results: int = DEFAULT_MAX_RESULTS,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.name = name
        self.client = client
        self.query = query
        self.brand_handle = brand_handle.lstrip("@") if brand_handle else None
        self.user_id = user_id
        self.max_results = max_results
        self.clock = clock

    @property
    def endpoints(self) -> list[str]:
        return ["search", "mentions"] if self.user_id else ["search"]

    def _decode(self, cursor: str | None) -> tuple[str, dict[str, _Pass]]:
        raw: Any = {}
        if cursor:
            try:
                raw = json.loads(cursor)
            except ValueError:
                raw = None
            if not isinstance(raw, dict) or raw.get("v") != 1:
                log.warning("source_cursor_reset source=%s reason=unreadable", self.name)
                raw = {}
        passes = {"search": _read_pass(raw.get("search"), "query", self.query)}
        if self.user_id:
            passes["mentions"] = _read_pass(raw.get("mentions"), "user_id", self.user_id)
        current = raw.get("next") if raw.get("next") in passes else "search"
        return current, passes

    def _encode(self, current: str, passes: dict[str, _Pass]) -> str:
        state: dict[str, Any] = {"v": 1, "next": current}
        for endpoint, state_pass in passes.items():
            owner = {"query": self.query} if endpoint == "search" else {"user_id": self.user_id}
            state[endpoint] = {**owner, "since_id": state_pass.since_id, "next_token": state_pass.next_token,
                               "newest_id": state_pass.newest_id}
        return json.dumps(state, sort_keys=True, separators=(",", ":"))

    def _request(self, endpoint: str, state: _Pass) -> requests.Response:
        fields = {"expansions": EXPANSIONS, "tweet_fields": TWEET_FIELDS, "user_fields": USER_FIELDS,
                  "since_id": state.since_id}
        if endpoint == "search":
            return self.client.search_recent_tweets(self.query, max_results=max(10, min(self.max_results, 100)),
                                                    next_token=state.next_token, **fields)
        return self.client.get_users_mentions(self.user_id, max_results=max(5, min(self.max_results, 100)),
                                              pagination_token=state.next_token, **fields)

    def fetch(self, cursor: str | None) -> Batch:
        """One page of the endpoint whose pass is running; ``exhausted`` once every endpoint's pass is done."""
        current, passes = self._decode(cursor)
        state = passes[current]
        with translate_errors(current, self.clock):
            try:
                response = self._request(current, state)
            except tweepy.BadRequest as exc:
                if not self._recover(current, state, exc):
                    raise
                return Batch(mentions=[], next_cursor=self._encode(current, passes), exhausted=False)
        page = read_page(response, brand_handle=self.brand_handle, endpoint=current)
        if current == "mentions" and not page.mentions and _account_missing(page.errors):
            raise SourceError(f"X mentions: no account with user_id {self.user_id}", permanent=True)
        state.saw([m.platform_id for m in page.mentions if m.platform_id] + ([page.newest_id] if page.newest_id else []))
        mentions = [m for m in page.mentions if not self._ours(m)]
        if page.next_token:
            state.next_token = page.next_token
            following, exhausted = current, False
        else:
            state.finish()
            index = self.endpoints.index(current)
            exhausted = index == len(self.endpoints) - 1
            following = self.endpoints[0] if exhausted else self.endpoints[index + 1]
        log.debug("source_page source=%s endpoint=%s fetched=%d own=%d bad=%d partial_errors=%d more=%s",
                  self.name, current, len(mentions), len(page.mentions) - len(mentions), len(page.bad),
                  len(page.errors), not exhausted)
        return Batch(mentions=mentions, next_cursor=self._encode(following, passes), bad=page.bad,
                     exhausted=exhausted)

    def _recover(self, endpoint: str, state: _Pass, exc: tweepy.BadRequest) -> bool:
        """A 400 about a stale since_id (older than search reaches) or a refused page token restarts the pass
        without it; duplicates are fine, gaps are not. Any other 400 is a configuration fault."""
        bad = invalid_parameters(exc)
        if state.next_token and bad & {"next_token", "pagination_token"}:
            log.warning("source_page_token_refused source=%s endpoint=%s action=restart_pass", self.name, endpoint)
            state.next_token = None
            return True
        if state.since_id and "since_id" in bad:
            log.warning("source_since_id_refused source=%s endpoint=%s action=drop_since_id", self.name, endpoint)
            state.since_id = state.next_token = None
            return True
        return False

    def _ours(self, mention: ParsedMention) -> bool:
        """The brand's own posts (our replies say the keywords too) are not mentions."""
        if self.user_id and mention.author.id == self.user_id:
            return True
        return bool(self.brand_handle) and mention.author.handle.lower() == (self.brand_handle or "").lower()

    def fetch_thread(self, ref: ThreadRef) -> list[ParsedMention]:
        """The case author's posts in the thread at or after ``ref.since`` (the newest one we have may come back;
        storage dedupes), other than the root. Searches ``conversation_id:<id> from:<author>``; same errors."""
        conversation = ref.conversation_id or ref.root_platform_id
        author = ref.author_id or ref.author_handle.lstrip("@")
        horizon = self.clock() - SEARCH_WINDOW + timedelta(minutes=1)
        start = max(ref.since, horizon)
        since_id = ref.root_platform_id if is_tweet_id(ref.root_platform_id) and \
            snowflake_time(ref.root_platform_id) > horizon else None
        query = f"conversation_id:{conversation} from:{author}"
        found: list[ParsedMention] = []
        token: str | None = None
        for _ in range(THREAD_MAX_PAGES):
            with translate_errors("thread search", self.clock):
                response = self.client.search_recent_tweets(
                    query, since_id=since_id, start_time=start, next_token=token, max_results=100,
                    expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
            page = read_page(response, brand_handle=self.brand_handle, endpoint="thread search")
            found.extend(page.mentions)
            token = page.next_token
            if not token:
                break
        since = ref.since.replace(microsecond=0)

        def later_post_by_author(m: ParsedMention) -> bool:
            same = m.author.id == ref.author_id if ref.author_id and m.author.id else \
                m.author.handle.lower() == ref.author_handle.lstrip("@").lower()
            return same and m.platform_id != ref.root_platform_id and (m.created_at is None or m.created_at >= since)

        return [m for m in found if later_post_by_author(m)]


def read_page(response: requests.Response, *, brand_handle: str | None, endpoint: str) -> Page:
    """The response's JSON body as a Page; an undecodable or malformed body is a transient SourceError."""
    try:
        return parse_page(response.json(), brand_handle=brand_handle, endpoint=endpoint)
    except ValueError as exc:  # ParseError, or the body is not JSON at all
        reason = str(exc) if isinstance(exc, ParseError) else "the body is not valid JSON"
        raise SourceError(f"X {endpoint}: malformed response: {reason}", permanent=False) from None


def _account_missing(errors: list[Mapping[str, Any]]) -> bool:
    return any(str(e.get("type", "")).endswith("/resource-not-found") and e.get("resource_type") == "user"
               for e in errors)


@contextmanager
def translate_errors(endpoint: str, clock: Callable[[], datetime]) -> Iterator[None]:
    """tweepy and requests exceptions as RateLimited / SourceError with a kind (permanent: auth, config)."""
    try:
        yield
    except tweepy.TooManyRequests as exc:
        raise RateLimited(retry_after(exc.response, clock()), f"X {endpoint} rate limited") from None
    except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
        raise SourceError(f"X {endpoint} refused the credentials: {_first_line(exc)}", permanent=True) from None
    except (tweepy.BadRequest, tweepy.NotFound) as exc:
        raise SourceError(f"X {endpoint} rejected the request: {_first_line(exc)}", permanent=True) from None
    except tweepy.TwitterServerError as exc:
        raise SourceError(f"X {endpoint} server error: {_first_line(exc)}", permanent=False) from None
    except tweepy.HTTPException as exc:
        status = exc.response.status_code
        raise SourceError(f"X {endpoint} answered {_first_line(exc)}",
                          permanent=status < 500 and status not in (408, 409, 425)) from None
    except requests.Timeout:
        raise SourceError(f"X {endpoint} timed out", permanent=False) from None
    except requests.RequestException as exc:
        raise SourceError(f"X {endpoint} unreachable: {type(exc).__name__}", permanent=False) from None


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _float_option(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"option {key!r} must be a positive number")
    return float(value)


def build_source(settings: SourceSettings, brand: Brand, env: Mapping[str, str]) -> XSource:
    """An XSource from config. Options: api_base_url (https://api.twitter.com), query (from brand.keywords),
    user_id (None: no mentions timeline), max_results (100), timeout (10 s). Secret: X_BEARER_TOKEN."""
    secrets = credentials(settings.name, env, READ_CREDENTIALS, settings.credentials_env)
    options = settings.options
    user_id = options.get("user_id")
    client = XClient(bearer_token=secrets["bearer_token"],
                     base_url=str(options.get("api_base_url") or DEFAULT_API_BASE_URL),
                     timeout=_float_option(options, "timeout", DEFAULT_TIMEOUT))
    return XSource(name=settings.name, client=client, query=str(options.get("query") or default_query(brand)),
                   brand_handle=brand.handles.x, user_id=str(user_id) if user_id else None,
                   max_results=int(_float_option(options, "max_results", DEFAULT_MAX_RESULTS)))
