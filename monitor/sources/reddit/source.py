"""The Reddit source: keyword search of submissions, new comments in chosen subreddits, and the account's
username mentions. Every fetch is one HTTP request for one page of one endpoint.

Cursor (JSON, owned here)::

    {"v": 1, "pending": ["search", "mentions"],
     "endpoints": {"search": {"hwm": 1763640000.0, "pass": {"anchors": ["t3_b", "t3_a"], "top": 1763643600.0,
                                                           "pages": 2}}}}

Each endpoint keeps a high-water mark ``hwm`` (``created_utc`` of the newest item of its last finished pass).
A pass walks the newest-first listing from the top with ``after`` until it reaches an item older than
``hwm - overlap``, then adopts the newest ``created_utc`` it saw as the new mark: never before its last page,
so a pass interrupted by a crash, an error or a rate limit resumes from its saved ``after`` anchor and loses
nothing. An anchor that left the listing (deleted, removed) makes Reddit answer with an empty page; the pass
then tries the page's previous items as anchors, and after those restarts from the top, where the
``created_utc`` mark decides where to stop. ``max_pages`` bounds a pass, so nothing stalls the source forever.
``pending`` holds the endpoints still to finish in this round; ``Batch.exhausted`` is True when it is empty.

Posts Reddit shows as ``[deleted]`` or ``[removed]`` are returned as deleted, never as mentions.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import praw
import prawcore

from monitor.sources.base import (
    Batch,
    ParsedMention,
    ParseError,
    RateLimited,
    SourceError,
    ThreadRef,
    credentials,
)
from monitor.sources.common import Clock, utcnow
from monitor.sources.intake import DEFAULT_RULES, IntakeRules
from monitor.sources.reddit import READ_CREDENTIALS, SPEC, USER_CREDENTIALS, RedditOptions
from monitor.sources.reddit.client import (
    CLIENT_ERRORS,
    RateLimitState,
    client_options,
    describe_failure,
    make_reddit,
)
from monitor.sources.reddit.parse import CONTEXT_LINK, ListingPage, is_gone, read_listing, read_thread
from monitor.sources.spec import read_options

if TYPE_CHECKING:
    from monitor.config import Brand, SourceSettings

ENDPOINTS = ("search", "comments", "mentions")
MAX_ANCHORS = 3

log = logging.getLogger("closeloop.sources.reddit")

def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_endpoint(state: Any) -> None:
    if not isinstance(state, dict) or not _is_number(state.get("hwm")):
        raise ValueError("an endpoint has no high-water mark")
    run = state.get("pass")
    if run is None:
        return
    if not (isinstance(run, dict) and isinstance(run.get("anchors"), list)
            and all(isinstance(a, str) for a in run["anchors"]) and isinstance(run.get("pages"), int)
            and (run.get("top") is None or _is_number(run["top"]))):
        raise ValueError("a pass is not {anchors, top, pages}")


def _load_cursor(cursor: str | None) -> dict[str, Any]:
    """The cursor's state; a cursor this module did not write is a permanent error (nothing to resume)."""
    if not cursor:
        return {"v": 1, "pending": [], "endpoints": {}}
    try:
        state = json.loads(cursor)
        if not isinstance(state, dict) or state.get("v") != 1:
            raise ValueError("not a version 1 cursor")
        if not isinstance(state.get("pending"), list) or not isinstance(state.get("endpoints"), dict):
            raise ValueError("missing 'pending' or 'endpoints'")
        for endpoint in state["endpoints"].values():
            _check_endpoint(endpoint)
        return state
    except ValueError as exc:
        raise SourceError(f"unreadable reddit cursor ({exc}): {cursor[:80]!r}", permanent=True) from None


@dataclass
class RedditSource:
    """Polls Reddit for ``brand``: search (``query`` in ``subreddits``), new comments there matching the
    brand's keywords, and the account's username mentions; whichever ``endpoints`` are on."""

    name: str
    reddit: praw.Reddit
    brand: Brand
    subreddits: tuple[str, ...] = ("all",)
    endpoints: tuple[str, ...] = ("search",)
    query: str = ""
    page_size: int = 100
    backfill: timedelta = timedelta(hours=24)
    overlap: timedelta = timedelta(minutes=2)
    max_pages: int = 10
    rate_limit: RateLimitState = field(default_factory=RateLimitState)
    connect: Callable[[], praw.Reddit] | None = None  # makes a fresh client after Reddit refuses our token
    intake: IntakeRules = field(default_factory=IntakeRules)
    platform: str = SPEC.name

    @property
    def clock(self) -> Clock:
        """The one clock of the source and its rate limit (given at construction, through ``rate_limit``)."""
        return self.rate_limit.clock

    # -- requests
    def _path(self, endpoint: str) -> str:
        subs = "+".join(self.subreddits)
        return {"search": f"r/{subs}/search/", "comments": f"r/{subs}/comments/",
                "mentions": "message/mentions/"}[endpoint]

    def _params(self, endpoint: str) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": self.page_size}
        if endpoint == "search":
            restrict = "false" if self.subreddits == ("all",) else "true"
            params.update({"q": self.query, "sort": "new", "restrict_sr": restrict, "t": "all", "type": "link"})
        return params

    def _get(self, what: str, path: str, params: dict[str, str | int]) -> Any:
        wait = self.rate_limit.wait_seconds()
        if wait is not None:
            raise RateLimited(wait, f"reddit {what}: quota spent")
        try:
            return self.reddit.request(method="GET", path=path, params=params)
        except CLIENT_ERRORS as exc:
            if isinstance(exc, prawcore.InvalidToken) and self.connect is not None:
                self.reddit = self.connect()  # never send a refused token again
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: Exception) -> SourceError:
        if isinstance(exc, prawcore.TooManyRequests):
            return RateLimited(self.rate_limit.retry_after(exc.response.headers), f"reddit {what}: HTTP 429")
        message, permanent = describe_failure(exc)
        return SourceError(f"reddit {what}: {message}", permanent=permanent)

    def _wanted(self, endpoint: str, mention: ParsedMention) -> bool:
        own = self.brand.handles.reddit
        if own and mention.author.handle.lower() == own.lower():
            return False
        if endpoint == "comments":
            text = mention.text.lower()
            terms = [*(self.brand.keywords or (self.brand.name,)), *([f"u/{own}"] if own else [])]
            return any(term.lower() in text for term in terms)
        return True

    # -- the interface
    def fetch(self, cursor: str | None) -> Batch:
        """One page of one endpoint; ``exhausted`` once every endpoint finished its pass this round."""
        state = _load_cursor(cursor)
        pending = [e for e in state["pending"] if e in self.endpoints] or list(self.endpoints)
        endpoint = pending[0]
        initial = (self.clock() - self.backfill).timestamp()
        current = state["endpoints"].get(endpoint) or {"hwm": initial, "pass": None}
        run = current.get("pass") or {"anchors": [], "top": None, "pages": 0}
        params = self._params(endpoint)
        if run["anchors"]:
            params["after"] = run["anchors"][0]
        payload = self._get(endpoint, self._path(endpoint), params)
        intake = self.intake.at(self.clock())
        try:
            page = read_listing(payload, brand_handle=self.brand.handles.reddit, intake=intake)
        except ParseError as exc:
            raise self._error(endpoint, exc) from exc
        step = advance_pass(current, run, page, overlap=self.overlap, max_pages=self.max_pages)
        if step.truncated:
            log.warning("source_pass_truncated source=%s endpoint=%s pages=%d", self.name, endpoint, self.max_pages)
        deleted = [m.canonical_id for m in step.kept if is_gone(m)]
        mentions = [m for m in step.kept if not is_gone(m) and self._wanted(endpoint, m)]
        state["endpoints"][endpoint] = step.state
        state["pending"] = pending[1:] if step.done else pending
        log.info("source_polled source=%s endpoint=%s fetched=%d kept=%d bad=%d deleted=%d sanitised=%d "
                 "pass_done=%s", self.name, endpoint, page.size, len(mentions), len(page.bad), len(deleted),
                 intake.sanitised, step.done)
        return Batch(mentions=mentions, next_cursor=json.dumps(state, separators=(",", ":")), bad=page.bad,
                     exhausted=not state["pending"], deleted=deleted, sanitised=intake.sanitised)

    def fetch_thread(self, ref: ThreadRef) -> Batch:
        """The case author's posts in the submission's comment tree after ``ref.since``, oldest first, and
        the thread's posts Reddit shows as deleted or removed.

        Comments behind ``more`` placeholders are not expanded. A thread that is gone (404) has none.
        """
        submission = _submission_of(ref)
        if submission is None or ref.author_handle == "[deleted]":
            log.warning("thread_unknown source=%s root=%s", self.name, ref.root_canonical_id)
            return Batch(mentions=[], next_cursor=None)
        try:
            payload = self._get("thread", f"comments/{submission}/", {"sort": "new", "limit": 500})
        except SourceError as exc:
            if isinstance(exc.__cause__, prawcore.NotFound):
                return Batch(mentions=[], next_cursor=None)
            raise
        intake = self.intake.at(self.clock())
        try:
            posts, bad = read_thread(payload, brand_handle=self.brand.handles.reddit, intake=intake)
        except ParseError as exc:
            raise self._error("thread", exc) from exc
        author = ref.author_handle.lower()
        deleted = [p.canonical_id for p in posts if is_gone(p)]
        later = [p for p in posts if p.author.handle.lower() == author and p.created_at is not None
                 and p.created_at > ref.since and p.canonical_id != ref.root_canonical_id and not is_gone(p)]
        log.info("thread_polled source=%s thread=t3_%s posts=%d later=%d bad=%d deleted=%d", self.name,
                 submission, len(posts), len(later), len(bad), len(deleted))
        return Batch(mentions=sorted(later, key=lambda p: p.created_at or ref.since), next_cursor=None, bad=bad,
                     deleted=deleted, sanitised=intake.sanitised)


@dataclass(frozen=True, slots=True)
class PassStep:
    """One page's effect on an endpoint: the mentions to keep, its next state, whether the pass is done, and
    whether it ended at ``max_pages`` before reaching the mark (items older than the last page may be missed)."""

    kept: list[ParsedMention]
    state: dict[str, Any]
    done: bool
    truncated: bool = False


def advance_pass(current: Mapping[str, Any], run: Mapping[str, Any], page: ListingPage, *, overlap: timedelta,
                 max_pages: int) -> PassStep:
    """Pure cursor step for one endpoint: ``current`` is its state, ``run`` its pass, ``page`` the answer."""
    hwm = float(current["hwm"])
    floor = hwm - overlap.total_seconds()
    anchors = list(run["anchors"])
    pages = int(run["pages"]) + 1
    top = run.get("top")
    if anchors and page.size == 0:
        # The anchor left the listing: try the page's earlier items, then the top (the mark decides the stop).
        if pages < max_pages:
            return PassStep([], {"hwm": hwm, "pass": {"anchors": anchors[1:], "top": top, "pages": pages}}, False)
        return PassStep([], {"hwm": max(hwm, top or hwm), "pass": None}, True, truncated=True)
    stamps = [m.created_at.timestamp() for m in page.mentions if m.created_at is not None]
    if stamps:
        top = max([*stamps, top] if top is not None else stamps)
    kept = [m for m in page.mentions if m.created_at is None or m.created_at.timestamp() >= floor]
    reached = any(stamp < floor for stamp in stamps)
    if reached or page.after is None or pages >= max_pages:
        finished = {"hwm": max(hwm, top if top is not None else hwm), "pass": None}
        return PassStep(kept, finished, True, truncated=not reached and page.after is not None)
    earlier = [m.canonical_id for m in reversed(page.mentions) if m.canonical_id != page.after]
    next_anchors = [page.after, *earlier][:MAX_ANCHORS]
    return PassStep(kept, {"hwm": hwm, "pass": {"anchors": next_anchors, "top": top, "pages": pages}}, False)


def _submission_of(ref: ThreadRef) -> str | None:
    candidates: Iterable[Any] = (ref.conversation_id, ref.root_raw.get("link_id"), ref.root_canonical_id,
                                 ref.root_raw.get("name"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith("t3_") and len(candidate) > 3:
            return candidate[3:]
    context = ref.root_raw.get("context")
    if isinstance(context, str) and (found := CONTEXT_LINK.search(context)):
        return found.group(1)
    return None


def default_query(brand: Brand) -> str:
    """Reddit search syntax for the brand's keywords (or its name): ``acme OR "acme corp"``."""
    terms = brand.keywords or (brand.name,)
    return " OR ".join(f'"{t}"' if " " in t else t for t in terms)


def build_source(settings: SourceSettings, brand: Brand, env: Mapping[str, str], *, clock: Clock = utcnow,
                 intake: IntakeRules = DEFAULT_RULES) -> RedditSource:
    """A RedditSource from config (options: RedditOptions). Username mentions are read when ``inbox`` is
    on, which it is by default when REDDIT_USERNAME/REDDIT_PASSWORD are set.

    Raises MissingCredentials naming the variables, SourceError(permanent) for a bad option or when search,
    comments and inbox are all off."""
    owner = f"source {settings.name!r}"
    secrets = credentials(settings.name, env, READ_CREDENTIALS, settings.credentials_env)
    try:
        options: RedditOptions = read_options(RedditOptions, settings.options, owner)
    except ValueError as exc:
        raise SourceError(str(exc), permanent=True) from None
    user_names = {role: settings.credentials_env.get(role, default) for role, default in USER_CREDENTIALS.items()}
    inbox = options.inbox if options.inbox is not None else all(env.get(name) for name in user_names.values())
    if inbox:
        secrets.update(credentials(settings.name, env, SPEC.post_credentials, settings.credentials_env))
    wanted = {"search": options.search, "comments": options.comments, "mentions": inbox}
    endpoints = tuple(e for e in ENDPOINTS if wanted[e])
    if not endpoints:
        raise SourceError(f"{owner}: search, comments and inbox are all off", permanent=True)
    rate_limit = RateLimitState(clock=clock)
    connect = functools.partial(make_reddit, client_id=secrets["client_id"], client_secret=secrets["client_secret"],
                                username=secrets.get("username"), password=secrets.get("password"),
                                rate_limit=rate_limit, **client_options(options, brand))
    return RedditSource(
        name=settings.name, reddit=connect(), connect=connect, brand=brand, subreddits=options.subreddits,
        endpoints=endpoints, query=options.query or default_query(brand), page_size=options.page_size,
        backfill=timedelta(hours=options.backfill_hours), overlap=timedelta(seconds=options.overlap_seconds),
        max_pages=options.max_pages, rate_limit=rate_limit, intake=intake,
    )
