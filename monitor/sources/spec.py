"""What a platform is, said once: the description config, budgets, lengths, drafting and the posters read.

Each platform package (``monitor/sources/<platform>/``) defines one frozen PlatformSpec in its ``__init__``;
``monitor.sources.platforms`` lists them. Light by design: nothing here imports a client library or
``monitor.config`` (config reads these descriptions, so they cannot read config).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Counting = Literal["x-weighted", "graphemes", "code-points-urls-23", "code-points"]
"""How a platform counts a reply's length (responders.lengths implements each):

x-weighted: twitter-text v3 weights of the NFC form, each URL 23; graphemes: grapheme clusters;
code-points-urls-23: code points with each URL as 23; code-points: code points."""


@dataclass(frozen=True, slots=True)
class LengthRule:
    limit: int
    counting: Counting


@dataclass(frozen=True, slots=True)
class Budget:
    """How many requests (fetch pages) one credential may make per window."""

    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class HandleRule:
    """The brand account's handle on the platform, as config ``brands.handles.<platform>`` takes it.

    ``prefixes`` are what an operator may write in front that is not part of the handle (``@``, ``u/``).
    """

    description: str
    pattern: str
    example: str
    prefixes: tuple[str, ...] = ("@",)

    def normalise(self, value: str) -> str:
        """The handle without prefixes; ValueError with a one-line reason when it is not a valid handle."""
        handle = value.strip()
        for prefix in self.prefixes:
            if handle.lower().startswith(prefix):
                handle = handle[len(prefix):]
                break
        if not re.fullmatch(self.pattern, handle):
            raise ValueError(f"{value!r} is not a handle here (expected e.g. {self.example!r})")
        return handle


@dataclass(frozen=True, slots=True)
class CanonicalId:
    """What makes a mention unique on the platform (with ``platform``): a description and its shape."""

    rule: str
    pattern: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


class SourceOptions(BaseModel):
    """``options`` every platform source takes; each platform's model extends it. Unknown keys are refused,
    so a misspelt option is a config error naming it rather than a silently ignored setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_base_url: str | None = Field(None, description="Where the platform's API lives (tests point it at fakes).")
    requests_per_window: int | None = Field(
        None, gt=0, strict=True, description="Requests the credential may make per window (default: the platform's)."
    )
    window_seconds: float | None = Field(
        None, gt=0, strict=True, description="The request budget's window in seconds (default: the platform's)."
    )


class ReplayOptions(SourceOptions):
    """A replay source reads a local file; extra keys are kept (tests and tools tag sources with them)."""

    model_config = ConfigDict(frozen=True, extra="allow")


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """Everything closeloop knows about a platform that is not code talking to it.

    The code lives by convention next to the spec: ``monitor.sources.<name>.source.build_source`` builds its
    source and ``responders.posters.<name>.build_poster`` its poster (see CONTRIBUTING.md).
    """

    name: str
    title: str
    length: LengthRule
    budget: Budget
    handle: HandleRule
    canonical_id: CanonicalId
    options: type[SourceOptions]
    read_credentials: Mapping[str, str]
    post_credentials: Mapping[str, str]
    reply_eligibility: str

    @property
    def source_module(self) -> str:
        return f"monitor.sources.{self.name}.source"

    @property
    def poster_module(self) -> str:
        return f"responders.posters.{self.name}"


def option_error(owner: str, error: ValidationError) -> str:
    """A pydantic error about options as one line naming the owner and the key: ``source 'r': options.x: ...``."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(options)"
        problems.append(f"options.{key}: {item['msg']}")
    return f"{owner}: " + "; ".join(problems)


def read_options(model: type[SourceOptions], options: Mapping[str, Any], owner: str) -> Any:
    """``options`` validated by ``model``; ValueError with a one-line message naming ``owner`` and the key.

    Keys another part of closeloop adds (``credentials_env``) are left out first.
    """
    given = {k: v for k, v in options.items() if k != "credentials_env"}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise ValueError(option_error(owner, exc)) from None


__all__ = [
    "Budget",
    "CanonicalId",
    "Counting",
    "HandleRule",
    "LengthRule",
    "PlatformSpec",
    "ReplayOptions",
    "SourceOptions",
    "option_error",
    "read_options",
]
