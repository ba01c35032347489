"""Where a post enters, it is made safe: every parser and the replay reader pass each mention through an Intake.

A post is attacker-controlled, and one post must never stop anything but itself. ``Intake.admit`` either
returns a mention that storage accepts on SQLite and PostgreSQL alike, or raises ParseError with a reason the
caller turns into a BadRecord:

- free text (text, names, handles, urls, keys and strings of ``raw``): lone surrogates and NUL become U+FFFD,
  and the repaired fields are counted in ``Intake.sanitised``; texts are kept whole (no length bound);
- identifiers (canonical, platform, reply and conversation ids, the author's id): must already be clean text
  that fits its column, else the record is refused;
- a handle or a name longer than its column: the handle refuses the record, the name is cut (counted);
- counts (followers, metrics): clamped to what an INTEGER column holds (counted when clamped);
- ``created_at``: inside the window [earliest, now + future tolerance], else the record is refused;
- ``raw``: non-finite numbers become null and nesting deeper than RAW_MAX_DEPTH is cut (counted).

Pure: the window's "now" comes from the caller's clock (``IntakeRules.at(now)``); only an Intake made with no
window at all (a parser called on its own) reads the wall clock, once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.languages import normalise_language
from monitor.sources.base import ParsedAuthor, ParsedMention, ParseError
from monitor.sources.common import INT_MAX, utcnow

EARLIEST_POST = datetime(2006, 3, 21, tzinfo=UTC)
"""The day the first tweet was posted: no social post of any platform closeloop reads is older."""
FUTURE_TOLERANCE = timedelta(days=1)
"""How far past now a post's date may be (clocks disagree); later ones are refused."""

# The columns of models.tables that a mention's fields land in (tests/test_intake.py keeps them in step).
ID_MAX = 500
AUTHOR_KEY_MAX = 300
HANDLE_MAX = 300
NAME_MAX = 500
REASON_MAX = 500
RAW_MAX_DEPTH = 64

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` with every lone surrogate and NUL replaced by U+FFFD (what UTF-8 and PostgreSQL refuse)."""
    return _UNSAFE.sub(REPLACEMENT, text)


def is_clean(text: str) -> bool:
    return _UNSAFE.search(text) is None


def _storable(raw: Mapping[str, Any]) -> bool:
    """Whether a JSON value needs no repair: clean strings and keys, finite numbers, nesting within
    RAW_MAX_DEPTH. Level by level and one regex search over every string at once: it runs for every post."""
    strings: list[str] = []
    level: list[Any] = [raw]
    for _depth in range(RAW_MAX_DEPTH + 1):
        below: list[Any] = []
        for value in level:
            kind = type(value)
            if kind is str:
                strings.append(value)
            elif kind is dict:
                strings.extend(value)
                below.extend(value.values())
            elif kind is list:
                below.extend(value)
            elif kind is float:
                if not math.isfinite(value):
                    return False
            elif not (value is None or kind is int or kind is bool):
                return False
        if not below:
            try:
                return _UNSAFE.search("".join(strings)) is None
            except TypeError:  # a key that is not a string
                return False
        level = below
    return False


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """The configured window for a post's date (config ``[intake]``)."""

    earliest: datetime = EARLIEST_POST
    future_tolerance: timedelta = FUTURE_TOLERANCE

    def at(self, now: datetime) -> Intake:
        """An Intake for one fetch made at ``now``."""
        return Intake(earliest=self.earliest, latest=now + self.future_tolerance)


DEFAULT_RULES = IntakeRules()


@dataclass
class Intake:
    """Makes the posts of one fetch safe to store (see the module docstring) and counts what it repaired."""

    earliest: datetime = EARLIEST_POST
    latest: datetime = field(default_factory=lambda: utcnow() + FUTURE_TOLERANCE)
    sanitised: int = 0

    # -- dates --------------------------------------------------------------------------------------------
    def admits(self, when: datetime) -> bool:
        """Whether a post dated ``when`` is inside the window."""
        return self.earliest <= when <= self.latest

    def check_time(self, when: datetime | None, what: str = "created_at") -> datetime | None:
        """``when`` when it is None or inside the window; ParseError saying which bound it broke."""
        if when is None or self.admits(when):
            return when
        if when < self.earliest:
            raise ParseError(f"{what} {when.isoformat()} is before the earliest allowed post date "
                             f"{self.earliest.date().isoformat()}")
        raise ParseError(f"{what} {when.isoformat()} is in the future (later than {self.latest.isoformat()})")

    # -- fields -------------------------------------------------------------------------------------------
    def text(self, value: str) -> str:
        """Free text with surrogates and NUL replaced; a repaired field is counted."""
        if is_clean(value):
            return value
        self.sanitised += 1
        return clean(value)

    def _optional_text(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def _bounded(self, value: str | None, limit: int) -> str | None:
        if value is None:
            return None
        safe = clean(value)[:limit]
        if safe != value:  # counted once, whether cleaned, cut or both
            self.sanitised += 1
        return safe

    @staticmethod
    def identifier(value: str | None, what: str, limit: int = ID_MAX) -> str | None:
        """An id as it is: ParseError when it holds a surrogate or NUL, or is longer than ``limit``."""
        if value is None:
            return None
        if not is_clean(value):
            raise ParseError(f"{what} holds a lone surrogate or a NUL character")
        if len(value) > limit:
            raise ParseError(f"{what} is longer than {limit} characters")
        return value

    def clamp(self, value: int | None) -> int | None:
        """A count inside 0..INT_MAX (None stays None); a clamped value is counted."""
        if value is None:
            return None
        bounded = min(max(value, 0), INT_MAX)
        if bounded != value:
            self.sanitised += 1
        return bounded

    def author(self, author: ParsedAuthor) -> ParsedAuthor:
        handle = self.text(author.handle)
        if not handle.strip():
            raise ParseError("the author's handle is empty")
        if len(handle) > HANDLE_MAX:
            raise ParseError(f"the author's handle is longer than {HANDLE_MAX} characters")
        author_id = self.identifier(author.id, "the author's id", AUTHOR_KEY_MAX)
        if author_id is None and len("@" + handle.lower()) > AUTHOR_KEY_MAX:
            raise ParseError(f"the author's handle is longer than {AUTHOR_KEY_MAX - 1} characters")
        name, followers = self._bounded(author.name, NAME_MAX), self.clamp(author.followers)
        if (handle, author_id, name, followers) == (author.handle, author.id, author.name, author.followers) \
                and author.verified in (True, False):
            return author
        return ParsedAuthor(handle=handle, id=author_id or None, name=name, followers=followers,
                            verified=author.verified is True)

    def metrics(self, metrics: Mapping[str, int]) -> Mapping[str, int]:
        """Counts clamped to 0..INT_MAX; what is not a count is dropped (counted). The same mapping when it
        needs nothing."""
        if all(type(v) is int and 0 <= v <= INT_MAX and type(k) is str and is_clean(k) for k, v in metrics.items()):
            return metrics
        safe: dict[str, int] = {}
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, int):
                self.sanitised += 1
                continue
            bounded = self.clamp(value)
            assert bounded is not None
            safe[self.text(str(key))] = bounded
        return safe

    def raw(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """``raw`` as JSON every database stores and reads back: the same object when it already is, else a
        repaired copy (one repaired payload counts once)."""
        if _storable(raw):
            return raw
        before = self.sanitised
        safe = self._json(dict(raw), 0)
        self.sanitised = min(self.sanitised, before + 1)
        return safe if isinstance(safe, dict) else {}

    def _json(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, float) and not math.isfinite(value):
            self.sanitised += 1
            return None
        if isinstance(value, dict | list | tuple) and depth >= RAW_MAX_DEPTH:
            self.sanitised += 1
            return None
        if isinstance(value, dict):
            return {self.text(str(k)): self._json(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._json(v, depth + 1) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        self.sanitised += 1
        return self.text(str(value))

    # -- the whole mention --------------------------------------------------------------------------------
    def admit(self, mention: ParsedMention) -> ParsedMention:
        """``mention`` made safe to store; ParseError (the record is refused) when it cannot be."""
        canonical = self.identifier(mention.canonical_id, "the post's id")
        if not canonical or not canonical.strip():
            raise ParseError("the post's id is empty")
        lang = normalise_language(mention.lang) if isinstance(mention.lang, str) else None
        return ParsedMention(
            platform=mention.platform,
            canonical_id=canonical,
            text=self.text(mention.text),
            author=self.author(mention.author),
            created_at=self.check_time(mention.created_at),
            platform_id=self.identifier(mention.platform_id, "the post's platform id"),
            url=self._optional_text(mention.url),
            in_reply_to_id=self.identifier(mention.in_reply_to_id, "in_reply_to_id"),
            conversation_id=self.identifier(mention.conversation_id, "conversation_id"),
            lang=lang,
            metrics=self.metrics(mention.metrics),
            reply_eligible=mention.reply_eligible,
            eligibility_reason=self._bounded(mention.eligibility_reason, REASON_MAX),
            raw=self.raw(mention.raw),
        )


__all__ = ["DEFAULT_RULES", "EARLIEST_POST", "FUTURE_TOLERANCE", "Intake", "IntakeRules", "clean", "is_clean"]
