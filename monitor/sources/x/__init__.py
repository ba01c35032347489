"""X (formerly Twitter): the description of the platform. The client, parsers and source are beside it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from monitor.sources.spec import Budget, CanonicalId, HandleRule, LengthRule, PlatformSpec, SourceOptions


class XOptions(SourceOptions):
    """``options`` of an X source (and of the brand's X poster, which takes the first X source's)."""

    query: str | None = Field(None, description="Recent-search query (default: the brand's keywords).")
    user_id: str | None = Field(
        None, description="The brand account's id: enables the mentions timeline, saves a lookup when posting."
    )
    max_results: int = Field(100, ge=1, le=100, strict=True, description="Tweets per page (search asks at least 10).")
    timeout: float = Field(10.0, gt=0, le=300, strict=True, description="Seconds before a request gives up.")

    @field_validator("user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


SPEC = PlatformSpec(
    name="x",
    title="X",
    length=LengthRule(limit=280, counting="x-weighted"),
    # Recent search with app auth: 450 requests per 15 minutes.
    budget=Budget(450, timedelta(seconds=900)),
    handle=HandleRule(description="The brand's X username, without @.", pattern=r"[A-Za-z0-9_]{1,15}",
                      example="acme"),
    canonical_id=CanonicalId(rule="edit_history_tweet_ids[0]: the first version of an edited tweet",
                             pattern=r"[0-9]{1,20}"),
    options=XOptions,
    read_credentials={"bearer_token": "X_BEARER_TOKEN"},
    post_credentials={"consumer_key": "X_CONSUMER_KEY", "consumer_secret": "X_CONSUMER_SECRET",
                      "access_token": "X_ACCESS_TOKEN", "access_token_secret": "X_ACCESS_TOKEN_SECRET"},
    reply_eligibility="An API reply is allowed only where the author mentioned the brand's account.",
)
