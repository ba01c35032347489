"""Offline language detection for posts: the platform's hint when it names a language, else lingua.

The work per post is bounded whatever its length: noise is stripped from the first NOISE_WINDOW characters,
and at most PREFIX_CHARS of what is left are examined (lingua's time grows faster than the text: a 200 KB
post took 22 s). The customer languages come first: Hebrew and Korean, the only ones written in their
script, are read from the script without lingua; lingua decides the rest among LANGUAGES and DISTRACTORS.
(Restricting lingua to LANGUAGES alone was measured and rejected: it forced 9 to 12 of 14 German, French,
Spanish, Swedish, Norwegian, Dutch and Portuguese sentences into Danish, English or Finnish.)
"""

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
PREFIX_CHARS = 1000  # the most characters of a post lingua examines
NOISE_WINDOW = 2 * PREFIX_CHARS  # links and handles are stripped within this many, then the prefix is cut
SCRIPT_SHARE = 0.6  # Hebrew or Hangul letters above this share of the prefix's letters decide the language
_SCRIPTS = (("he", re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f]")), ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")))

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


def supported_hint(hint: str | None) -> str | None:
    """A platform's hint as a code when it names a language lingua knows (so it could have detected it
    too), else None: "en-US" -> "en", "iw" -> "he"; "und", "qme", "xx" -> None."""
    code = normalise_hint(hint)
    return code if code is not None and code in _known_codes() else None


def prefix(text: str) -> str:
    """What detection examines of ``text``: at most PREFIX_CHARS characters without links, handles and
    hashtags, taken from its first NOISE_WINDOW characters."""
    return strip_noise(text[:NOISE_WINDOW])[:PREFIX_CHARS]


def by_script(text: str) -> str | None:
    """"he" or "ko" when that script writes most of ``text``'s letters, else None."""
    letters = sum(ch.isalpha() for ch in text)
    for code, script in _SCRIPTS:
        if letters and len(script.findall(text)) / letters > SCRIPT_SHARE:
            return code
    return None


def strip_noise(text: str) -> str:
    """``text`` without links, handles and hashtags, whitespace collapsed."""
    return " ".join(_NOISE.sub(" ", text).split())


def detect_languages(texts: Sequence[str], hints: Sequence[str | None] | None = None) -> list[str | None]:
    """One ISO 639-1 code (lowercase) or None per text, in order.

    A hint that names a language lingua knows wins. Otherwise the post's prefix (``prefix``) decides: by
    its script for Hebrew and Korean, else lingua among LANGUAGES and DISTRACTORS; too little text, or no
    clear winner, gives None.
    """
    if hints is not None and len(hints) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(hints)} hints")
    results: list[str | None] = (
        [supported_hint(h) for h in hints] if hints is not None else [None] * len(texts)
    )
    todo: list[int] = []
    cleaned: list[str] = []
    for i, text in enumerate(texts):
        if results[i] is None:
            clean = prefix(text)
            if sum(ch.isalpha() for ch in clean) < MIN_LETTERS:
                continue
            results[i] = by_script(clean)
            if results[i] is None:
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
def _known_codes() -> frozenset[str]:
    from lingua import Language

    return frozenset(language.iso_code_639_1.name.lower() for language in Language.all())


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
