"""How each platform counts a reply's length, and the limit it enforces: both read from the platform's
description (``PlatformSpec.length`` in monitor.sources.platforms); the ways of counting are implemented here.

Counts never change the text: normalisation (X's NFC) happens on a copy used only for counting.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import regex

from monitor.sources.platforms import PLATFORMS, REPLAY
from monitor.sources.spec import Counting

REPLAY_LIMIT = 280
"""A reply drafted for a replay mention of no known platform: as short as the strictest platform's."""
PLATFORM_LIMITS: dict[str, int] = {**{name: spec.length.limit for name, spec in PLATFORMS.items()},
                                   REPLAY: REPLAY_LIMIT}
URL_WEIGHT = 23
"""What a http(s) URL counts on X and Mastodon, whatever its real length (links are shortened)."""

# A URL runs to the next whitespace, less trailing punctuation (as twitter-text leaves it out).
_URL = regex.compile(r"https?://[^\s<>\"]+?(?=[.,:;!?'\"”’»)\]]*(?:\s|$))", regex.IGNORECASE)
_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(
    r"\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F|\p{Regional_Indicator}|\u20E3"
)
# twitter-text v3: code points in these ranges weigh 1, every other code point weighs 2.
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _x_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _X_LIGHT_RANGES) else 2


def _x_text_length(text: str) -> int:
    total = 0
    for grapheme in _GRAPHEME.findall(text):
        total += 2 if _EMOJI.search(grapheme) else sum(_x_weight(c) for c in grapheme)
    return total


def _with_urls(text: str, count_rest: Callable[[str], int]) -> int:
    total, start = 0, 0
    for match in _URL.finditer(text):
        total += count_rest(text[start : match.start()]) + URL_WEIGHT
        start = match.end()
    return total + count_rest(text[start:])


def grapheme_count(text: str) -> int:
    """Extended grapheme clusters in ``text`` (what a reader sees as characters)."""
    return len(_GRAPHEME.findall(text))


def counted(text: str, counting: Counting) -> int:
    """``text``'s length counted one of the ways platforms count.

    x-weighted: twitter-text v3 weighted length of the NFC form (CJK, Hangul and emoji weigh 2, Latin and
    Hebrew 1, each http(s) URL 23); graphemes: grapheme clusters; code-points-urls-23: code points with each
    URL as 23; code-points: code points.
    """
    if counting == "x-weighted":
        return _with_urls(unicodedata.normalize("NFC", text), _x_text_length)
    if counting == "graphemes":
        return grapheme_count(text)
    if counting == "code-points-urls-23":
        return _with_urls(text, len)
    return len(text)


def platform_length(text: str, platform: str) -> int:
    """``text``'s length as ``platform`` counts it (its PlatformSpec's rule); replay and anything unknown:
    code points."""
    spec = PLATFORMS.get(platform)
    return counted(text, spec.length.counting if spec else "code-points")


def limit_for(platform: str) -> int:
    """The most ``platform`` accepts in one reply; ValueError for a platform without a known limit."""
    try:
        return PLATFORM_LIMITS[platform]
    except KeyError:
        known = ", ".join(PLATFORM_LIMITS)
        raise ValueError(f"unknown platform {platform!r} (known: {known})") from None


def fits(text: str, platform: str) -> bool:
    """Whether ``text`` is within ``platform``'s limit; ValueError for an unknown platform."""
    return platform_length(text, platform) <= limit_for(platform)


__all__ = ["PLATFORM_LIMITS", "URL_WEIGHT", "counted", "fits", "grapheme_count", "limit_for", "platform_length"]
