"""The parts of the configuration that say whom the desk speaks for and where posts come from: the brands
(their own accounts per platform, their keywords), the agents who sign replies, the sources polled, and what a
post must be to get in. Re-exported by ``monitor.config``, where every caller finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, create_model, field_validator, model_validator

from monitor.config_drafting import BrandFacts
from monitor.config_section import Section
from monitor.sources.platforms import PLATFORMS, SOURCE_KINDS, options_model
from monitor.sources.spec import read_options

if TYPE_CHECKING:
    Platform = str
else:
    Platform = Literal[SOURCE_KINDS]  # every registered platform, and replay (monitor.sources.platforms)


class _Handles(Section):
    """The brand's own accounts: one optional handle per registered platform, checked by its HandleRule."""

    def present(self) -> dict[str, str]:
        """The handles that are set, by platform."""
        return {name: handle for name in PLATFORMS if (handle := getattr(self, name, None))}

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> str | None: ...


def _check_handle(cls: type[_Handles], value: str | None, info: ValidationInfo) -> str | None:
    if value is None or info.field_name is None:
        return value
    return PLATFORMS[info.field_name].handle.normalise(value)


if TYPE_CHECKING:
    BrandHandles = _Handles
else:
    BrandHandles = create_model(
        "BrandHandles",
        __base__=_Handles,
        __validators__={"_valid_handle": field_validator(*PLATFORMS)(_check_handle)},
        **{name: (str | None, Field(None, description=spec.handle.description)) for name, spec in PLATFORMS.items()},
    )


class Brand(Section):
    name: str = Field(description="Display name of the brand.")
    handles: BrandHandles = Field(default_factory=BrandHandles, description="The brand's own accounts.")
    facts: BrandFacts = Field(
        default_factory=BrandFacts, description="What the brand says about itself in public; replies state nothing more."
    )
    keywords: tuple[str, ...] = Field(
        (), description="Words that make a post a mention of this brand (case-insensitive)."
    )
    default_language: str = Field("en", description="Language of replies when a post's language is unknown.")
    watch_terms: tuple[str, ...] = Field(
        (), description="Words and phrases the crisis radar always counts as topics for this brand (product "
        "names, \"outage\", \"recall\", \"hacked\"); a trailing * makes a stem."
    )

    @field_validator("keywords", "watch_terms")
    @classmethod
    def _keywords_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not k.strip() for k in value):
            raise ValueError("must not hold blank entries")
        if any(len(k.strip()) > 100 for k in value):
            raise ValueError("entries are at most 100 characters")
        return tuple(k.strip() for k in value)


class Agent(Section):
    name: str = Field(description="The agent's real name, as customers see it.")
    signature: str = Field(description="How the agent signs a reply, e.g. '– Maria'.")
    languages: tuple[str, ...] = Field(("en",), description="Languages the agent answers in (ISO 639-1).")
    email: str | None = Field(None, description="Where escalations for this agent go.")

    @field_validator("signature")
    @classmethod
    def _signature_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("signature must not be blank")
        return value.strip()


class SourceSettings(Section):
    name: str = Field(description="Unique name of this source, used in logs and the console.")
    platform: Platform = Field(description=f"{', '.join(PLATFORMS)} or replay.")
    brand: str | None = Field(None, description="The brand this source watches; the first brand when omitted.")
    interval_seconds: int = Field(300, ge=10, description="Seconds between polls.")
    enabled: bool = Field(True, description="A disabled source is kept but never polled.")
    path: str | None = Field(None, description="replay: the JSONL file to read.")
    credentials_env: Mapping[str, str] = Field(
        default_factory=dict,
        description="Names of the environment variables holding this source's secrets, by role.",
    )
    options: Mapping[str, Any] = Field(default_factory=dict, description="Platform-specific options.")

    @model_validator(mode="after")
    def _replay_needs_path(self) -> SourceSettings:
        if self.platform == "replay" and not self.path:
            raise ValueError("a replay source needs path")
        return self

    @model_validator(mode="after")
    def _options_fit_the_platform(self) -> SourceSettings:
        """Each platform's options model (monitor.sources.<platform>) checks its options: one line per fault."""
        read_options(options_model(self.platform), self.options, f"source {self.name!r}")
        return self


class IntakeSettings(Section):
    earliest_post_date: date = Field(
        date(2006, 3, 21),
        description="Posts dated before this day are refused as bad records (the first tweet: 2006-03-21).",
    )
    future_tolerance_hours: float = Field(
        24, ge=0, le=24 * 366, description="How far past now a post's date may be; later ones are bad records."
    )

    @property
    def future_tolerance(self) -> timedelta:
        return timedelta(hours=self.future_tolerance_hours)


__all__ = ["Agent", "Brand", "BrandHandles", "IntakeSettings", "Platform", "SourceSettings"]
