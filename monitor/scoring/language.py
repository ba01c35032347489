"""Offline language detection for posts: the platform's hint when it names a language, else lingua."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

# The languages closeloop answers in, and neighbours that keep lingua from forcing a post into them.
LANGUAGES = ("en", "da", "fi", "et", "he", "ko")
DISTRACTORS = ("de", "fr", "es", "sv", "nb", "nl", "pt", "it", "pl")
MIN_RELATIVE_DISTANCE = 0.1  # below this lingua answers None: "ok", "lol" and "tak" are not evidence
MIN_LETTERS = 2

_LEGACY_CODES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv"}
_ISO_639_1 = re.compile(r"[a-z]{2}")
_NOISE = re.compile(
    r"\b(?:https?://|www\.)\S+"  # links
    r"|(?<![\w@])@[\w.-]+(?:@[\w.-]+)?"  # @handles, Mastodon's @user@instance, Bluesky's @a.bsky.social
    r"|(?<![\w#])#\w+"  # hashtags
    r"|(?<![\w/])/?[ur]/\w+"  # Reddit's u/user and r/subreddit
)


def normalise_hint(hint: str | None) -> str | None:
    """A platform's language tag as a lowercase ISO 639-1 code, or None.

    "en-US" -> "en", "iw" -> "he"; "und", "zxx", X's "qme"-style codes and None -> None.
    """
    if not hint:
        return None
    primary = hint.strip().lower().replace("_", "-").split("-")[0]
    primary = _LEGACY_CODES.get(primary, primary)
    return primary if _ISO_639_1.fullmatch(primary) else None


def strip_noise(text: str) -> str:
    """``text`` without links, handles and hashtags, whitespace collapsed."""
    return " ".join(_NOISE.sub(" ", text).split())


def detect_languages(texts: Sequence[str], hints: Sequence[str | None] | None = None) -> list[str | None]:
    """One ISO 639-1 code (lowercase) or None per text, in order.

    A hint that names a language wins. Otherwise lingua decides among LANGUAGES and DISTRACTORS on the
    text without links, handles and hashtags; too little text, or no clear winner, gives None.
    """
    if hints is not None and len(hints) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(hints)} hints")
    results: list[str | None] = (
        [normalise_hint(h) for h in hints] if hints is not None else [None] * len(texts)
    )
    todo: list[int] = []
    cleaned: list[str] = []
    for i, text in enumerate(texts):
        if results[i] is None:
            clean = strip_noise(text)
            if sum(ch.isalpha() for ch in clean) >= MIN_LETTERS:
                todo.append(i)
                cleaned.append(clean)
    if not todo:
        return results
    detector = _detector()
    if hasattr(detector, "detect_languages_in_parallel_of"):
        found = detector.detect_languages_in_parallel_of(cleaned)
    else:
        found = [detector.detect_language_of(text) for text in cleaned]
    for i, language in zip(todo, found, strict=True):
        results[i] = language.iso_code_639_1.name.lower() if language is not None else None
    return results


@cache
def _detector() -> Any:
    """lingua's detector for LANGUAGES and DISTRACTORS, built once; its models load on first use."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in LANGUAGES + DISTRACTORS]
    return (
        LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        .with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
        .build()
    )
