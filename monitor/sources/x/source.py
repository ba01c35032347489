"""The X source: recent search for the brand's keywords and, optionally, the brand account's mentions timeline.

One source may poll both endpoints; the cursor keeps each one's state:

    {"v": 1, "next": "search",
     "search": {"query": "...", "since_id": "1", "next_token": "b26v...", "newest_id": "9"},
     "mentions": {"user_id": "42", "since_id": null, "next_token": null, "newest_id": null}}

A *pass* pages one endpoint from its newest tweet down to ``since_id`` (exclusive). ``newest_id`` is the newest id
seen so far in the pass and becomes ``since_id`` only once the pass's last page is done, so a crash, a 429 or a
restart mid-pass resumes at the saved ``next_token`` with the old lower bound: nothing between them is skipped,
and a page fetched twice only yields duplicates (storage dedupes on the canonical id). A 400 naming a stale
since_id or a refused page token restarts the pass without it (more duplicates, no gap).

A single unreadable tweet is a BadRecord and the rest of its page goes in. The brand's own posts are dropped
from batches (our replies contain the keywords too). Tweets X reports as not found are returned as deleted.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import requests
import tweepy

from monitor.sources.base import Batch, ParsedMention, ParseError, SourceError, ThreadRef, credentials
from monitor.sources.common import Clock, utcnow
from monitor.sources.intake import DEFAULT_RULES, Intake, IntakeRules
from monitor.sources.spec import read_options
from monitor.sources.x import SPEC, XOptions
from monitor.sources.x.client import XClient, invalid_parameters, make_client, translate_errors
from monitor.sources.x.parse import Page, is_tweet_id, parse_page, snowflake_time

THREAD_MAX_PAGES = 5
# Recent search only reaches this far back; a start_time or since_id beyond it is a 400.
SEARCH_WINDOW = timedelta(days=7)

EXPANSIONS = ["author_id", "referenced_tweets.id"]
TWEET_FIELDS = [
    "created_at", "conversation_id", "in_reply_to_user_id", "public_metrics", "lang", "entities",
    "edit_history_tweet_ids", "referenced_tweets", "author_id",
]
USER_FIELDS = ["name", "username", "public_metrics", "verified"]

if TYPE_CHECKING:
    from monitor.config import Brand, SourceSettings

log = logging.getLogger("closeloop.sources.x")


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


def default_query(brand: Brand) -> str:
    """``(kw1 OR "#kw 2") -is:retweet`` from the brand's keywords; ``@handle`` when it has none."""
    terms = [k if re.fullmatch(r"\w+", k) else '"' + k.replace('"', " ").strip() + '"' for k in brand.keywords]
    if not terms and brand.handles.x:
        terms = ["@" + brand.handles.x.lstrip("@")]
    if not terms:
        raise SourceError(f"brand {brand.name!r} has no keywords and no X handle to search for", permanent=True)
    return f"({' OR '.join(terms)}) -is:retweet"


def read_page(response: requests.Response, *, brand_handle: str | None, endpoint: str, intake: Intake) -> Page:
    """The response's JSON body as a Page; an undecodable or malformed body is a transient SourceError."""
    try:
        return parse_page(response.json(), brand_handle=brand_handle, endpoint=endpoint, intake=intake)
    except (ValueError, RecursionError) as exc:  # ParseError, or the body is not JSON at all
        reason = str(exc) if isinstance(exc, ParseError) else "the body is not valid JSON"
        raise SourceError(f"X {endpoint}: malformed response: {reason}", permanent=False) from None


def _account_missing(errors: list[Mapping[str, Any]]) -> bool:
    return any(str(e.get("type", "")).endswith("/resource-not-found") and e.get("resource_type") == "user"
               for e in errors)


class XSource:
    """Polls recent search (and the brand's mentions timeline when ``user_id`` is set), one page per fetch."""

    platform = SPEC.name

    def __init__(self, *, name: str, client: XClient, query: str, brand_handle: str | None,
                 user_id: str | None = None, max_results: int = 100, clock: Clock = utcnow,
                 intake: IntakeRules = DEFAULT_RULES) -> None:
        self.name = name
        self.client = client
        self.query = query
        self.brand_handle = brand_handle.lstrip("@") if brand_handle else None
        self.user_id = user_id
        self.max_results = max_results
        self.clock = clock
        self.intake = intake

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
        intake = self.intake.at(self.clock())
        with translate_errors(current, self.clock):
            try:
                response = self._request(current, state)
            except tweepy.BadRequest as exc:
                if not self._recover(current, state, exc):
                    raise
                return Batch(mentions=[], next_cursor=self._encode(current, passes), exhausted=False)
        page = read_page(response, brand_handle=self.brand_handle, endpoint=current, intake=intake)
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
        log.debug("source_page source=%s endpoint=%s fetched=%d own=%d bad=%d partial_errors=%d deleted=%d "
                  "sanitised=%d more=%s", self.name, current, len(mentions), len(page.mentions) - len(mentions),
                  len(page.bad), len(page.errors), len(page.deleted), intake.sanitised, not exhausted)
        return Batch(mentions=mentions, next_cursor=self._encode(following, passes), bad=page.bad,
                     exhausted=exhausted, deleted=page.deleted, sanitised=intake.sanitised)

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

    def fetch_thread(self, ref: ThreadRef) -> Batch:
        """The case author's posts in the thread at or after ``ref.since`` (the newest one we have may come back;
        storage dedupes), other than the root, and the thread's tweets X reports gone. Searches
        ``conversation_id:<id> from:<author>``; same errors as fetch."""
        conversation = ref.conversation_id or ref.root_platform_id
        author = ref.author_id or ref.author_handle.lstrip("@")
        now = self.clock()
        intake = self.intake.at(now)
        horizon = now - SEARCH_WINDOW + timedelta(minutes=1)
        start = max(ref.since, horizon)
        since_id = ref.root_platform_id if is_tweet_id(ref.root_platform_id) and \
            snowflake_time(ref.root_platform_id) > horizon else None
        query = f"conversation_id:{conversation} from:{author}"
        found: list[ParsedMention] = []
        pages: list[Page] = []
        token: str | None = None
        for _ in range(THREAD_MAX_PAGES):
            with translate_errors("thread search", self.clock):
                response = self.client.search_recent_tweets(
                    query, since_id=since_id, start_time=start, next_token=token, max_results=100,
                    expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
            page = read_page(response, brand_handle=self.brand_handle, endpoint="thread search", intake=intake)
            pages.append(page)
            found.extend(page.mentions)
            token = page.next_token
            if not token:
                break
        since = ref.since.replace(microsecond=0)

        def later_post_by_author(m: ParsedMention) -> bool:
            same = m.author.id == ref.author_id if ref.author_id and m.author.id else \
                m.author.handle.lower() == ref.author_handle.lstrip("@").lower()
            return same and m.platform_id != ref.root_platform_id and (m.created_at is None or m.created_at >= since)

        return Batch(mentions=[m for m in found if later_post_by_author(m)], next_cursor=None,
                     bad=[b for p in pages for b in p.bad], deleted=[d for p in pages for d in p.deleted],
                     sanitised=intake.sanitised)


def build_source(settings: SourceSettings, brand: Brand, env: Mapping[str, str], *, clock: Clock = utcnow,
                 intake: IntakeRules = DEFAULT_RULES) -> XSource:
    """An XSource for a SourceSettings and its Brand (options: XOptions; secret: X_BEARER_TOKEN).

    Raises MissingCredentials naming the variable, SourceError(permanent) for a bad option."""
    secrets = credentials(settings.name, env, SPEC.read_credentials, settings.credentials_env)
    try:
        options: XOptions = read_options(XOptions, settings.options, f"source {settings.name!r}")
    except ValueError as exc:
        raise SourceError(str(exc), permanent=True) from None
    return XSource(name=settings.name, client=make_client(options, secrets),
                   query=options.query or default_query(brand), brand_handle=brand.handles.x,
                   user_id=options.user_id, max_results=options.max_results, clock=clock, intake=intake)
