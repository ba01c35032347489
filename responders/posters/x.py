"""The X poster: a public reply through tweepy.Client (POST /2/tweets, OAuth 1.0a user context), exactly once.

The client never retries and never follows redirects (monitor.sources.x.client.XClient), so one call is at most one
POST. Whether X acted is known only from its answer: a lost answer (timeout, dropped connection) or a 5xx is
OutcomeUnknown, and the outbox reconciles with find_reply (our own timeline, GET /2/users/:id/tweets).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from monitor.config import Brand
from monitor.sources.base import ParseError, credentials
from monitor.sources.common import Clock, iso_timestamp, never_sent, utcnow
from monitor.sources.spec import read_options
from monitor.sources.x import SPEC, XOptions
from monitor.sources.x.client import XClient, make_client, retry_after
from monitor.sources.x.parse import is_tweet_id, parse_created_tweet
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget

PLATFORM = SPEC.name
# find_reply looks this far before ``since`` too: our clock and X's may disagree by a little.
CLOCK_SKEW = timedelta(seconds=60)
FIND_MAX_PAGES = 10

log = logging.getLogger("closeloop.posters.x")


def _url_free(text: str) -> str:
    return re.sub(r"https?://\S+", "<url>", text)


def normalise(text: str) -> str:
    """Text as compared by find_reply: HTML entities decoded (X escapes & < >), links reduced to a placeholder
    (X rewrites them to t.co), the leading @mentions X adds to a reply dropped, whitespace collapsed."""
    text = " ".join(_url_free(html.unescape(text)).split())
    return re.sub(r"^(?:@\w+\s*)+", "", text).strip()


def replied_to(tweet: Mapping[str, Any]) -> str | None:
    refs = tweet.get("referenced_tweets")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to" and isinstance(ref.get("id"), str):
            return ref["id"]
    return None


def _created_at(tweet: Mapping[str, Any]) -> datetime | None:
    value = tweet.get("created_at")
    try:
        return iso_timestamp(value, "created_at") if isinstance(value, str) else None
    except ParseError:
        return None


def _describe(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


class XPoster:
    """Replies as the brand's X account. ``user_id`` is our account's id (looked up via /2/users/me if None)."""

    platform = PLATFORM

    def __init__(self, *, client: XClient, user_id: str | None = None, clock: Clock = utcnow) -> None:
        self.client = client
        self.user_id = user_id
        self.clock = clock

    def post_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> str:
        """One POST /2/tweets in reply to ``target.platform_id``; returns the reply's id.

        PostError(permanent=True) for a 4xx refusal (deleted parent, replies restricted, duplicate, bad auth);
        PostError(permanent=False) for a 429 or a connection that never opened; OutcomeUnknown for a timeout,
        a dropped connection, a 5xx, or a success we cannot read. X has no idempotency key: the key is logged.
        """
        reply_id = self._create("reply", text, in_reply_to_tweet_id=target.platform_id)
        log.info("reply_posted platform=x target=%s reply=%s key=%s", target.platform_id, reply_id, idempotency_key)
        return reply_id

    def post_status(self, *, text: str, idempotency_key: str) -> str:
        """One POST /2/tweets of the brand's own (a status update, no reply); its id. Errors as ``post_reply``'s."""
        post_id = self._create("status update", text)
        log.info("status_posted platform=x id=%s key=%s", post_id, idempotency_key)
        return post_id

    def _create(self, what: str, text: str, **reply_to: str) -> str:
        """One POST /2/tweets (a reply with ``in_reply_to_tweet_id``); its id. Errors as ``post_reply`` says."""
        try:
            response = self.client.create_tweet(text=text, user_auth=True, **reply_to)
        except tweepy.TooManyRequests as exc:
            wait = retry_after(exc.response, self.clock())
            raise PostError(f"X rate limited the {what}; retry after {wait:.0f}s", permanent=False) from None
        except tweepy.TwitterServerError as exc:
            raise OutcomeUnknown(f"X answered {_describe(exc)}; the {what} may exist", permanent=False) from None
        except tweepy.HTTPException as exc:
            status = exc.response.status_code
            raise PostError(f"X refused the {what}: {_describe(exc)}", permanent=status not in (408, 409, 425)) from None
        except requests.ConnectionError as exc:
            if never_sent(exc):
                raise PostError(f"X unreachable: {type(exc).__name__}", permanent=False) from None
            raise OutcomeUnknown(f"X connection lost after sending: {type(exc).__name__}", permanent=False) from None
        except requests.Timeout as exc:
            raise OutcomeUnknown(f"X did not answer in time: {type(exc).__name__}", permanent=False) from None
        except requests.RequestException as exc:
            raise OutcomeUnknown(f"X request failed: {type(exc).__name__}", permanent=False) from None
        try:
            return parse_created_tweet(response.json())
        except ValueError:  # ParseError or a body that is not JSON
            raise OutcomeUnknown(f"X accepted the {what} but its id is unreadable", permanent=False) from None

    def _our_id(self) -> str:
        if self.user_id is None:
            response = self._calling(self.client.get_me, user_auth=True)
            try:
                body = response.json()
            except ValueError:
                body = None
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("id"), str):
                raise PostError("X /2/users/me answered without data.id", permanent=False)
            self.user_id = data["id"]
        return self.user_id

    def _calling(self, call: Callable[..., requests.Response], *args: Any, **kwargs: Any) -> requests.Response:
        """A read call, its failures as PostError: never a silent None that would let the outbox post twice."""
        try:
            response = call(*args, **kwargs)
            return response
        except tweepy.TooManyRequests as exc:
            raise PostError(f"X rate limited the lookup; retry after {retry_after(exc.response, self.clock()):.0f}s",
                            permanent=False) from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise PostError(f"X refused the lookup: {_describe(exc)}", permanent=True) from None
        except tweepy.HTTPException as exc:
            raise PostError(f"X lookup failed: {_describe(exc)}", permanent=False) from None
        except requests.RequestException as exc:
            raise PostError(f"X lookup failed: {type(exc).__name__}", permanent=False) from None

    def find_reply(self, *, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """Our reply to ``target.platform_id`` whose text matches ``text`` (see normalise), posted at/after
        ``since`` (less CLOCK_SKEW); its id, or None. Raises PostError when X cannot be asked."""
        user_id = self._our_id()
        wanted = normalise(text)
        start = (since - CLOCK_SKEW).astimezone(UTC)
        token: str | None = None
        for _ in range(FIND_MAX_PAGES):
            response = self._calling(self.client.get_users_tweets, user_id, start_time=start, max_results=100,
                                     pagination_token=token, user_auth=True,
                                     tweet_fields=["referenced_tweets", "created_at", "conversation_id"])
            try:
                body = response.json()
            except ValueError:
                raise PostError("X timeline answered with a body that is not JSON", permanent=False) from None
            if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
                raise PostError("X timeline answered in an unknown shape", permanent=False)
            if "data" not in body and body.get("errors"):  # e.g. our account not found: no answer, not "no reply"
                raise PostError(f"X timeline answered with errors only: {str(body['errors'])[:200]}", permanent=False)
            for tweet in body.get("data") or []:
                if not isinstance(tweet, dict) or replied_to(tweet) != target.platform_id:
                    continue
                created = _created_at(tweet)
                if created is not None and created < start.replace(microsecond=0):
                    continue
                if isinstance(tweet.get("text"), str) and normalise(tweet["text"]) == wanted \
                        and is_tweet_id(tweet.get("id")):
                    return str(tweet["id"])
            meta = body.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                return None
        raise PostError(f"X: more than {FIND_MAX_PAGES} pages of our posts since {since:%Y-%m-%dT%H:%M:%SZ}; "
                        "cannot rule out an earlier reply", permanent=False)


def build_poster(brand: Brand, options: Mapping[str, Any], env: Mapping[str, str]) -> XPoster:
    """An XPoster for ``brand`` from the options of its first X source (XOptions: api_base_url, timeout,
    user_id, looked up via /2/users/me when absent) and ``credentials_env`` (role -> variable). Secrets:
    X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET. PostError(permanent) for a
    bad option."""
    owner = f"{brand.name} poster"
    secrets = credentials(owner, env, SPEC.post_credentials, options.get("credentials_env", {}))
    try:
        parsed: XOptions = read_options(XOptions, options, owner)
    except ValueError as exc:
        raise PostError(str(exc), permanent=True) from None
    return XPoster(client=make_client(parsed, secrets), user_id=parsed.user_id)


__all__ = ["XPoster", "build_poster", "normalise", "parse_created_tweet", "replied_to"]
