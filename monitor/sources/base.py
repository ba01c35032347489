"""The shape every source shares: parsed mentions, batches, and errors as values with a kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# Mentions are defined where they are stored; the sources that produce them import them from here.
from models.mentions import ParsedAuthor, ParsedMention

__all__ = [
    "BadRecord",
    "Batch",
    "MissingCredentials",
    "ParseError",
    "ParsedAuthor",
    "ParsedMention",
    "RateLimited",
    "Source",
    "SourceError",
    "ThreadRef",
    "credentials",
]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record a parser rejected: where it was and why. The rest of its batch still goes in."""

    position: str
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """One fetch's worth: the mentions (already made safe, see monitor.sources.intake), the cursor after them,
    the records refused, the canonical ids of posts the platform showed as deleted (of the source's
    platform), how many fields intake repaired (surrogates, NULs, clamped numbers), and whether the source
    has nothing more to give right now."""

    mentions: list[ParsedMention]
    next_cursor: str | None
    bad: list[BadRecord] = field(default_factory=list)
    exhausted: bool = True
    deleted: list[str] = field(default_factory=list)
    sanitised: int = 0


class SourceError(Exception):
    """A fetch that failed. ``permanent`` errors disable the source until someone fixes it."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class RateLimited(SourceError):
    """The platform asked us to wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message}; retry after {retry_after:.0f}s", permanent=False)
        self.retry_after = retry_after


class ParseError(ValueError):
    """A payload that is not in the platform's documented shape."""


class Source(Protocol):
    name: str
    platform: str

    def fetch(self, cursor: str | None) -> Batch: ...


class ThreadSource(Source, Protocol):
    """A source that can also read an open case's thread: the customer's later posts, and what was deleted."""

    def fetch_thread(self, ref: ThreadRef) -> Batch: ...


class MissingCredentials(SourceError):
    """The environment variables a source needs are not set; the source is skipped, the others run."""

    def __init__(self, source: str, variables: list[str]) -> None:
        super().__init__(f"source {source!r} needs the environment variable(s) {', '.join(variables)}", permanent=True)
        self.variables = variables


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """An open case's thread, to poll for the customer's later posts.

    ``root`` is the stored mention that opened the case (its platform ids and raw payload), ``since`` the
    newest post of the thread we already have.
    """

    platform: str
    conversation_id: str | None
    root_platform_id: str
    root_canonical_id: str
    author_handle: str
    author_id: str | None
    since: datetime
    root_raw: Mapping[str, Any] = field(default_factory=dict)


def credentials(
    source: str, env: Mapping[str, str], wanted: Mapping[str, str], overrides: Mapping[str, str]
) -> dict[str, str]:
    """The secrets a source needs, by role, read from the environment.

    ``wanted`` maps each role to its default variable name; ``overrides`` (the config's ``credentials_env``)
    renames variables. Raises MissingCredentials naming every variable that is unset. Values are never logged.
    """
    names = {role: overrides.get(role, default) for role, default in wanted.items()}
    missing = [name for name in names.values() if not env.get(name)]
    if missing:
        raise MissingCredentials(source, missing)
    return {role: env[name] for role, name in names.items()}
