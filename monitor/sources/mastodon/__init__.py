"""Mastodon: the description of the platform. The client, parsers and source are beside it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from monitor.sources.spec import Budget, CanonicalId, HandleRule, LengthRule, PlatformSpec, SourceOptions

_HASHTAG = re.compile(r"\w+")


class MastodonOptions(SourceOptions):
    """``options`` of a Mastodon source (and of the brand's Mastodon poster, which takes the first one's)."""

    instance: str | None = Field(None, description="The instance's domain, when api_base_url is not given.")
    hashtags: tuple[str, ...] = Field((), description="Hashtag timelines to watch (# optional).")
    notifications: bool = Field(True, strict=True, description="Read the account's mention notifications.")
    limit: int = Field(40, ge=1, strict=True, description="Items per page (notifications cap at 80, timelines at 40).")
    timeout: float = Field(10.0, gt=0, le=300, strict=True, description="Seconds before a request gives up.")
    backfill_hours: float = Field(24, ge=0, strict=True, description="How far back a new source starts.")
    overlap_seconds: float = Field(600, ge=0, strict=True, description="Re-read margin for late-federated posts.")
    mention_author: bool = Field(True, strict=True, description="Replies start with @author when they lack it.")

    @field_validator("hashtags", mode="before")
    @classmethod
    def _hashtags(cls, value: Any) -> Any:
        if value is None:
            return ()
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(t, str) for t in names):
            raise ValueError("must be a list of strings")
        tags: list[str] = []
        for tag in names:
            name = tag.strip().lstrip("#").strip()
            if not _HASHTAG.fullmatch(name):
                raise ValueError(f"{tag!r} is not a hashtag")
            if name.lower() not in [t.lower() for t in tags]:
                tags.append(name)
        return tuple(tags)


SPEC = PlatformSpec(
    name="mastodon",
    title="Mastodon",
    length=LengthRule(limit=500, counting="code-points-urls-23"),
    # Per account: 300 requests per 5 minutes.
    budget=Budget(300, timedelta(seconds=300)),
    handle=HandleRule(description="The brand's Mastodon account, as user@instance.",
                      pattern=r"[A-Za-z0-9_]+(@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)?", example="acme@mastodon.social"),
    canonical_id=CanonicalId(rule="the status uri (the same on every instance a status federates to)",
                             pattern=r"\S+:\S+"),
    options=MastodonOptions,
    read_credentials={"access_token": "MASTODON_ACCESS_TOKEN"},
    post_credentials={"access_token": "MASTODON_ACCESS_TOKEN"},
    reply_eligibility="Public and unlisted posts take a public reply; followers-only and direct posts are "
                      "answered privately.",
)
