"""Helpers every platform package shares, said once: the clock, numbers, timestamps, rate-limit headers and
the kinds of failure. Pure; no client library is imported here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from monitor.sources.base import ParseError, SourceError

Clock = Callable[[], datetime]

INT_MAX = 2**31 - 1
"""The largest value an INTEGER column holds on PostgreSQL (and so the largest count closeloop stores)."""

DEFAULT_RETRY_AFTER = 60.0
"""Seconds to wait after a 429 that says nothing usable about when to come back."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- numbers and text -------------------------------------------------------------------------------------


def count(value: Any) -> int | None:
    """A non-negative integer count, clamped to INT_MAX; None for anything else (bools, floats, strings)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return min(value, INT_MAX)


def number(value: Any) -> float | None:
    """A finite JSON number as a float; None for anything else (bools, NaN, infinities, strings)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def digits(value: Any) -> bool:
    """Whether ``value`` is a string of ASCII digits (ids that JSON numbers would lose precision on)."""
    return isinstance(value, str) and value.isascii() and value.isdigit()


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about attacker-controlled values."""
    text = repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    return " ".join(str(exc).split())[:limit]


# -- timestamps ------------------------------------------------------------------------------------------


def iso_timestamp(value: str, what: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset) in UTC; ParseError naming ``what`` when it is unreadable,
    naive (unless ``naive_is_utc``) or outside what a datetime holds in UTC (``0001-01-01T00:00:00+05:00``)."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"{what} is not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise ParseError(f"{what} has no timezone offset: {value[:40]!r}")
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ParseError(f"{what} is outside the years a date can hold: {value[:40]!r}") from None


def epoch_timestamp(value: Any, what: str) -> datetime:
    """Seconds since the epoch as a UTC datetime; ParseError when it is not a finite number a date holds."""
    seconds = number(value)
    if seconds is None:
        raise ParseError(f"{what} must be seconds since the epoch, got {short(value)}")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"{what} is not a usable time: {short(value)}") from None


# -- rate limits -----------------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (delta seconds or an HTTP date) as seconds from ``now``; None when unusable."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


def reset_seconds(value: str | None, now: datetime) -> float | None:
    """A rate-limit reset header (epoch seconds, or an ISO 8601 time) as seconds from ``now``; None when
    unusable."""
    text = (value or "").strip()
    if not text:
        return None
    if digits(text):
        return int(text) - now.timestamp()
    try:
        return (iso_timestamp(text, "reset", naive_is_utc=True) - now).total_seconds()
    except ParseError:
        return None


def retry_after(headers: Mapping[str, str], now: datetime, *, reset_header: str,
                default: float = DEFAULT_RETRY_AFTER) -> float:
    """Seconds to wait after a 429: the platform's reset header (epoch seconds or ISO 8601) less ``now``,
    else Retry-After (seconds or an HTTP date), else ``default``. Never less than one second."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    seconds = reset_seconds(lowered.get(reset_header.lower()), now)
    if seconds is None:
        seconds = retry_after_seconds(lowered.get("retry-after"), now)
    return max(1.0, default if seconds is None else seconds)


# -- kinds of failure ------------------------------------------------------------------------------------


def permanent_status(status: int) -> bool:
    """Whether an HTTP error status means "fix something before trying again": 4xx, except the ones that
    say "later" (408 timeout, 409 conflict, 425 too early, 429 rate limited)."""
    return 400 <= status < 500 and status not in (408, 409, 425, 429)


def never_sent(exc: BaseException) -> bool:
    """Whether a requests/urllib3 failure happened before the request left (the connection could not be
    made), along the exception's causes. Anything later may have reached the platform."""
    import requests
    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, requests.exceptions.ConnectTimeout | NewConnectionError):
            return True
        if isinstance(cause, requests.exceptions.ConnectionError) and cause.args:
            reason = getattr(cause.args[0], "reason", None)
            if isinstance(reason, NewConnectionError):
                return True
        cause = cause.__cause__ or cause.__context__
    return False


@contextmanager
def translated(translate: Callable[[Exception], SourceError | None]) -> Iterator[None]:
    """Run a platform call; an exception ``translate`` knows leaves as the SourceError it gives, chained;
    one it does not know (None: a bug, not the platform) and any SourceError leave unchanged.

    The one shape of error translation: each platform supplies only its ``translate``.
    """
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc


__all__ = [
    "DEFAULT_RETRY_AFTER",
    "INT_MAX",
    "Clock",
    "count",
    "digits",
    "epoch_timestamp",
    "first_line",
    "iso_timestamp",
    "never_sent",
    "number",
    "permanent_status",
    "reset_seconds",
    "retry_after",
    "retry_after_seconds",
    "short",
    "translated",
    "utcnow",
]
