"""Posting replies on Bluesky: one ``createRecord`` per reply, never repeated.

Bluesky has no idempotency key, so this poster never retries the POST: not itself, not through atproto
(its request layer has no retries) and not through httpx (none by default). A reply whose answer was lost
raises OutcomeUnknown and the outbox reconciles it with ``find_reply`` (our own author feed) first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from atproto_client import exceptions as atp
from atproto_client import models
from atproto_client.utils import facet_detection
from atproto_core.exceptions import AtProtocolError

from monitor.config import Brand
from monitor.sources.base import ParseError, SourceError, credentials
from monitor.sources.bluesky import SPEC, BlueskyOptions
from monitor.sources.bluesky.client import BlueskySession, bluesky_handle, retry_after_seconds, xrpc_error
from monitor.sources.bluesky.parse import parse_timestamp, post_uri_parts
from monitor.sources.common import Clock, utcnow
from monitor.sources.spec import read_options
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget

log = logging.getLogger("closeloop.posters.bluesky")

GET_POSTS = "app.bsky.feed.getPosts"
AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
CREATE_RECORD = "com.atproto.repo.createRecord"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def normalise_text(text: str) -> str:
    return " ".join(text.split())


def _strong_ref(uri: Any, cid: Any, what: str) -> models.ComAtprotoRepoStrongRef.Main:
    if not isinstance(uri, str) or not isinstance(cid, str) or not cid:
        raise PostError(f"bluesky: the {what} has no usable uri and cid", permanent=True)
    return models.ComAtprotoRepoStrongRef.Main(uri=uri, cid=cid)


def _read_error(exc: Exception, endpoint: str, now: datetime) -> PostError:
    """A failed read (nothing was published): 401/403 and other 4xx permanent, the rest transient."""
    if isinstance(exc, PostError):
        return exc
    if isinstance(exc, atp.RateLimitExceededError):
        return PostError(f"bluesky {endpoint} rate limited; retry after {retry_after_seconds(exc, now):.0f}s",
                         permanent=False)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    permanent = (isinstance(exc, atp.UnauthorizedError | atp.BadRequestError)
                 and xrpc_error(exc) not in ("ExpiredToken", "InvalidToken")) or (
        isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429))
    return PostError(f"bluesky {endpoint}: {type(exc).__name__}: {exc}", permanent=permanent)


def _post_error(exc: Exception, now: datetime) -> PostError:
    """A failed createRecord: PostError when the PDS answered before acting (or we never reached it),
    OutcomeUnknown when the request may have been acted on (timeout or drop after sending, a gateway's
    502/504, a 2xx we cannot read)."""
    name = CREATE_RECORD
    if isinstance(exc, atp.RateLimitExceededError):
        return PostError(f"bluesky {name} rate limited; retry after {retry_after_seconds(exc, now):.0f}s",
                         permanent=False)
    if isinstance(exc, atp.UnauthorizedError | atp.BadRequestError):
        if xrpc_error(exc) == "ExpiredToken":  # refused before acting; the session was refreshed
            return PostError("bluesky: the access token had expired; refreshed, send again", permanent=False)
        return PostError(f"bluesky {name} refused: {exc}", permanent=True)
    if isinstance(exc, atp.RequestErrorBase) and exc.response is None:  # transport failure or timeout
        cause = exc.__cause__
        if isinstance(cause, _NOT_SENT):
            return PostError(f"bluesky {name}: could not connect ({type(cause).__name__})", permanent=False)
        return OutcomeUnknown(f"bluesky {name}: outcome lost ({type(cause or exc).__name__}: {cause or exc})")
    if isinstance(exc, atp.RequestErrorBase) and exc.response is not None:
        status = exc.response.status_code
        if status in (502, 504):
            return OutcomeUnknown(f"bluesky {name}: gateway answered {status}; the PDS may have acted")
        return PostError(f"bluesky {name}: {exc}", permanent=400 <= status < 500 and status not in (408, 409))
    if isinstance(exc, httpx.TransportError):  # e.g. RemoteProtocolError: atproto passes these through
        if isinstance(exc, _NOT_SENT):
            return PostError(f"bluesky {name}: could not connect ({type(exc).__name__})", permanent=False)
        return OutcomeUnknown(f"bluesky {name}: connection lost after sending ({type(exc).__name__}: {exc})")
    if isinstance(exc, ValueError | atp.ModelError):  # a 2xx whose body we cannot read: it was published
        return OutcomeUnknown(f"bluesky {name}: unreadable answer ({type(exc).__name__})")
    if isinstance(exc, atp.LoginRequiredError):
        return PostError(f"bluesky {name}: not logged in", permanent=False)
    return OutcomeUnknown(f"bluesky {name}: {type(exc).__name__}: {exc}")


class BlueskyPoster:
    """Replies as the brand's Bluesky account; keeps one session across replies (see BlueskySession)."""

    platform = SPEC.name

    def __init__(self, *, session: BlueskySession, find_reply_pages: int = 5, clock: Clock = utcnow) -> None:
        self.session = session
        self.find_reply_pages = find_reply_pages
        self.clock = clock

    def _reply_ref(self, target: ReplyTarget) -> tuple[models.AppBskyFeedPost.ReplyRef, list[str] | None]:
        """Root and parent strong refs from the target as the app view has it now (read-only, safe to fail).

        A deleted target or one closed to our replies is a permanent PostError: the PDS would accept a
        reply to either, leaving it orphaned or hidden.
        """
        uri = target.platform_id or target.canonical_id
        try:
            post_uri_parts(uri, "target")
            body = self.session.query(GET_POSTS, models.AppBskyFeedGetPosts.Params(uris=[uri]))
        except ParseError as exc:
            raise PostError(f"bluesky: cannot reply to {uri!r}: {exc}", permanent=True) from exc
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            raise _read_error(exc, GET_POSTS, self.clock()) from exc
        posts = body.get("posts")
        view = next((p for p in posts if isinstance(p, dict) and p.get("uri") == uri), None) if isinstance(
            posts, list) else None
        if view is None:
            raise PostError(f"bluesky: the post {uri} is gone (deleted or hidden from us)", permanent=True)
        viewer = view.get("viewer")
        if isinstance(viewer, dict) and viewer.get("replyDisabled") is True:
            raise PostError(f"bluesky: replies to {uri} are closed to our account (threadgate)", permanent=True)
        record_value = view.get("record")
        record: dict[str, Any] = record_value if isinstance(record_value, dict) else {}
        parent = _strong_ref(uri, view.get("cid"), "target post")
        reply = record.get("reply")
        root = parent
        if isinstance(reply, dict) and isinstance(reply.get("root"), dict):
            root = _strong_ref(reply["root"].get("uri"), reply["root"].get("cid"), "thread root")
        langs = record.get("langs")
        langs = [langs[0]] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
        return models.AppBskyFeedPost.ReplyRef(root=root, parent=parent), langs

    def post_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> str:
        """Publish ``text`` in reply to ``target``; returns the reply's at-uri. ``idempotency_key`` is only
        logged: Bluesky has none, which is why nothing here ever sends the POST twice."""
        reply_to, langs = self._reply_ref(target)
        created = self._publish(text, reply_to=reply_to, langs=langs)
        log.info("reply_posted platform=bluesky uri=%s parent=%s key=%s", created.uri, target.platform_id,
                 idempotency_key)
        return str(created.uri)

    def post_status(self, *, text: str, idempotency_key: str) -> str:
        """Publish ``text`` as a post of the brand's own (a status update, no reply); its at-uri. Errors as
        ``post_reply``'s; ``idempotency_key`` is only logged."""
        created = self._publish(text, reply_to=None, langs=None)
        log.info("status_posted platform=bluesky uri=%s key=%s", created.uri, idempotency_key)
        return str(created.uri)

    def _publish(self, text: str, *, reply_to: models.AppBskyFeedPost.ReplyRef | None,
                 langs: list[str] | None) -> Any:
        """One createRecord of an app.bsky.feed.post (checked first), never retried."""
        facets = facet_detection.detect_facets(text) or None
        try:  # the record atproto will build, checked before anything is sent
            models.AppBskyFeedPost.Record(created_at=self.clock().isoformat(), text=text, reply=reply_to,
                                          langs=langs, facets=facets)
        except ValueError as exc:
            raise PostError(f"bluesky: not a valid post: {str(exc)[:200]}", permanent=True) from exc
        try:
            self.session.client()
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            raise _read_error(exc, "com.atproto.server.createSession", self.clock()) from exc
        did = self.session.did
        try:
            created = self.session.call(
                lambda client: client.send_post(text, profile_identify=did, reply_to=reply_to, langs=langs,
                                                facets=facets),
                retry_after_refresh=False)
        except Exception as exc:
            raise _post_error(exc, self.clock()) from exc
        return created

    def find_reply(self, *, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """Our post replying to ``target`` (record.reply.parent.uri) with this text, whitespace normalised,
        created at or after ``since``; searched newest first through ``find_reply_pages`` pages of our
        author feed."""
        wanted = normalise_text(text)
        parent_uri = target.platform_id or target.canonical_id
        cursor: str | None = None
        try:
            self.session.client()
            did = self.session.did
            for _page in range(self.find_reply_pages):
                params = models.AppBskyFeedGetAuthorFeed.Params(
                    actor=did or self.session.handle, cursor=cursor, filter="posts_with_replies", limit=100)
                body = self.session.query(AUTHOR_FEED, params)
                feed = body.get("feed")
                if not isinstance(feed, list):
                    raise PostError(f"bluesky {AUTHOR_FEED}: malformed answer (no feed list)", permanent=False)
                older = False
                for item in feed:
                    found, is_older = self._match(item, did, parent_uri, wanted, since)
                    if found:
                        return found
                    older = older or is_older
                cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
                if older or not cursor or not feed:
                    return None
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            raise _read_error(exc, AUTHOR_FEED, self.clock()) from exc
        return None

    @staticmethod
    def _match(item: Any, did: str | None, parent_uri: str, wanted: str, since: datetime) -> tuple[str | None, bool]:
        """(the post's uri if it is the reply we look for, whether it is older than ``since``)."""
        if not isinstance(item, dict) or item.get("reason") is not None:  # reposts and pins are not ours
            return None, False
        post = item.get("post")
        if not isinstance(post, dict) or not isinstance(post.get("record"), dict):
            return None, False
        author = post.get("author")
        if did and (not isinstance(author, dict) or author.get("did") != did):
            return None, False
        record = post["record"]
        created = parse_timestamp(record.get("createdAt"))
        if created is None or created < since:
            return None, created is not None
        reply = record.get("reply")
        parent = reply.get("parent") if isinstance(reply, dict) else None
        if not isinstance(parent, dict) or parent.get("uri") != parent_uri:
            return None, False
        if not isinstance(record.get("text"), str) or normalise_text(record["text"]) != wanted:
            return None, False
        uri = post.get("uri")
        return (uri if isinstance(uri, str) else None), False


def build_poster(brand: Brand, options: Mapping[str, Any], env: Mapping[str, str]) -> BlueskyPoster:
    """A poster for the brand's Bluesky account; no network until the first reply. Raises MissingCredentials
    naming BLUESKY_APP_PASSWORD (or its override in ``options["credentials_env"]``), PostError(permanent)
    for a bad option or no handle (``options["handle"]``, else ``brand.handles.bluesky``)."""
    overrides = options.get("credentials_env") or {}
    owner = f"the {brand.name} Bluesky poster"
    secrets = credentials(f"{brand.name} poster", env, SPEC.post_credentials, overrides)
    try:
        parsed: BlueskyOptions = read_options(BlueskyOptions, options, owner)
        handle = bluesky_handle(parsed.handle, brand, owner)
    except (ValueError, SourceError) as exc:
        raise PostError(str(exc), permanent=True) from exc
    session = BlueskySession(base_url=parsed.base_url, handle=handle, app_password=secrets["app_password"],
                             timeout_seconds=parsed.timeout_seconds)
    return BlueskyPoster(session=session, find_reply_pages=parsed.find_reply_pages)
