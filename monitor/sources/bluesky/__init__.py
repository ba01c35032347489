"""Bluesky: the description of the platform. The client, parsers and source are beside it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from monitor.sources.spec import Budget, CanonicalId, HandleRule, LengthRule, PlatformSpec, SourceOptions

DEFAULT_API_BASE_URL = "https://bsky.social"
DEFAULT_JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"


class BlueskyOptions(SourceOptions):
    """``options`` of a Bluesky source (and of the brand's Bluesky poster, which takes the first one's)."""

    handle: str | None = Field(None, description="The account to log in as (default: brands.handles.bluesky).")
    timeout_seconds: float = Field(10.0, ge=0.01, le=600, strict=True, description="Seconds before a call gives up.")
    page_size: int = Field(50, ge=1, le=100, strict=True, description="Notifications per page.")
    backfill_hours: float = Field(24.0, ge=0, le=24 * 365, strict=True, description="How far back a new source starts.")
    thread_depth: int = Field(100, ge=0, le=1000, strict=True, description="Reply depth read of a case's thread.")
    keywords_stream: bool = Field(True, strict=True, description="Match the brand's keywords on Jetstream.")
    jetstream_url: str = Field(DEFAULT_JETSTREAM_URL, min_length=1, description="Jetstream's websocket URL.")
    stream_batch: int = Field(500, ge=1, le=100_000, strict=True, description="Most Jetstream events per fetch.")
    stream_seconds: float = Field(5.0, ge=0.001, le=600, strict=True, description="Longest one fetch reads the stream.")
    stream_idle_seconds: float = Field(1.0, ge=0.001, le=600, strict=True, description="A quiet stream ends a fetch.")
    stream_rewind_seconds: float = Field(3.0, ge=0, le=3600, strict=True, description="Re-read margin of the stream.")
    stream_batches_per_pass: int = Field(10, ge=1, le=10_000, strict=True, description="Full batches before the "
                                         "notifications are read again.")
    find_reply_pages: int = Field(5, ge=1, le=100, strict=True, description="Pages of our feed searched for a reply.")

    @field_validator("api_base_url", "jetstream_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: Any) -> Any:
        return value.strip().rstrip("/") if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        return self.api_base_url or DEFAULT_API_BASE_URL


SPEC = PlatformSpec(
    name="bluesky",
    title="Bluesky",
    length=LengthRule(limit=300, counting="graphemes"),
    # Per account: 3000 requests per 5 minutes.
    budget=Budget(3000, timedelta(seconds=300)),
    handle=HandleRule(description="The brand's Bluesky handle, e.g. acme.bsky.social.",
                      pattern=r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                              r"|did:[a-z]+:[A-Za-z0-9._:%-]+",
                      example="acme.bsky.social"),
    canonical_id=CanonicalId(rule="the post's at-uri (at://<did>/app.bsky.feed.post/<rkey>)",
                             pattern=r"at://[^/\s]+/app\.bsky\.feed\.post/[A-Za-z0-9._:~-]{1,512}"),
    options=BlueskyOptions,
    read_credentials={"app_password": "BLUESKY_APP_PASSWORD"},
    post_credentials={"app_password": "BLUESKY_APP_PASSWORD"},
    reply_eligibility="Posts whose threadgate, viewer state or author block shuts the brand's account out take "
                      "no reply.",
)
