"""Reddit: the description of the platform. The client, parsers and source are beside it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from monitor.sources.spec import Budget, CanonicalId, HandleRule, LengthRule, PlatformSpec, SourceOptions

READ_CREDENTIALS = {"client_id": "REDDIT_CLIENT_ID", "client_secret": "REDDIT_CLIENT_SECRET"}
USER_CREDENTIALS = {"username": "REDDIT_USERNAME", "password": "REDDIT_PASSWORD"}


class RedditOptions(SourceOptions):
    """``options`` of a Reddit source (and of the brand's Reddit poster, which takes the first one's)."""

    subreddits: tuple[str, ...] = Field(("all",), min_length=1, description="Subreddits to watch (r/ optional).")
    search: bool = Field(True, strict=True, description="Search submissions for the query.")
    query: str | None = Field(None, description="Search query (default: the brand's keywords joined with OR).")
    comments: bool = Field(False, strict=True, description="New comments in the subreddits, filtered by keyword.")
    inbox: bool | None = Field(
        None, strict=True, description="Username mentions (default: on when REDDIT_USERNAME/REDDIT_PASSWORD are set)."
    )
    page_size: int = Field(100, ge=1, le=100, strict=True, description="Items per page.")
    backfill_hours: float = Field(24, ge=0, le=24 * 30, strict=True, description="How far back a new source starts.")
    overlap_seconds: float = Field(120, ge=0, le=86400, strict=True, description="Re-read margin below the mark.")
    max_pages: int = Field(10, ge=1, le=100, strict=True, description="Most pages one pass reads.")
    timeout: float = Field(16.0, ge=0.01, le=300, strict=True, description="Seconds before a request gives up.")
    user_agent: str | None = Field(None, description="User agent (default: closeloop/0.1 by <brand's account>).")
    auth_base_url: str | None = Field(
        None, description="Where tokens come from (www.reddit.com for the real API, else api_base_url)."
    )

    @field_validator("subreddits", mode="before")
    @classmethod
    def _subreddit_names(cls, value: Any) -> Any:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise ValueError("must be a list of subreddit names")
        cleaned = tuple(re.sub(r"^/?r/", "", n.strip()) for n in names)
        if not all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in cleaned):
            raise ValueError("holds a name that is not a subreddit")
        return cleaned


SPEC = PlatformSpec(
    name="reddit",
    title="Reddit",
    length=LengthRule(limit=10_000, counting="code-points"),
    # OAuth clients: 100 requests per minute.
    budget=Budget(100, timedelta(seconds=60)),
    handle=HandleRule(description="The brand's Reddit username, without u/.", pattern=r"[A-Za-z0-9_-]{3,20}",
                      example="acme_care", prefixes=("/u/", "u/", "@")),
    canonical_id=CanonicalId(rule="the fullname: t3_<id> for a submission, t1_<id> for a comment",
                             pattern=r"t[13]_[0-9a-z]+"),
    options=RedditOptions,
    read_credentials=READ_CREDENTIALS,
    post_credentials={**READ_CREDENTIALS, **USER_CREDENTIALS},
    reply_eligibility="Locked or archived threads, deleted or removed posts and the brand's own posts take no "
                      "reply.",
)
