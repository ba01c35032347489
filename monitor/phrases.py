"""Phrase matching shared by the care style guide and the complaint classifier.

A phrase list is written per language in a small notation: a space matches any run of whitespace, a
trailing ``*`` makes a stem (any ending may follow) and ``'`` matches straight and curly apostrophes.
Matching is case-insensitive and on word boundaries where the script has them: phrases of the
``NO_WORD_BREAKS`` languages (Korean: particles attach to words) match as substrings, and Hebrew ones may
carry the one-letter prefixes (ו, ה, ש, ב, כ, ל, מ) that attach to the word they precede.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import regex

from monitor.languages import NO_WORD_BREAKS

_APOSTROPHES = "['’‘ʼ`´]"
_HEBREW_PREFIXES = "[והשבכלמ]{0,2}"


def _phrase_source(phrase: str, language: str) -> str:
    stem = phrase.endswith("*")
    words = phrase.rstrip("*").split()
    substring = language in NO_WORD_BREAKS
    gap = r"\s*" if substring else r"\s+"
    body = gap.join(regex.escape(word).replace("'", _APOSTROPHES) for word in words)
    if substring:
        return body
    start = r"(?<!\w)" + (_HEBREW_PREFIXES if language == "he" else "")
    return start + body + ("" if stem else r"(?!\w)")


@lru_cache(maxsize=2048)
def _compile(phrases: tuple[str, ...], language: str) -> regex.Pattern[str] | None:
    if not phrases:
        return None
    # Longest first, so "sorry for any inconvenience" wins over a phrase it contains.
    ordered = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    source = "|".join(_phrase_source(p, language) for p in ordered)
    return regex.compile(source, regex.IGNORECASE)


def phrase_list(block: str) -> tuple[str, ...]:
    """Phrases written one or more to a line, separated by ``|`` (the notation used for the word lists)."""
    return tuple(p.strip() for line in block.splitlines() for p in line.split("|") if p.strip())


def find_phrases(text: str, phrases: Iterable[str], language: str) -> list[regex.Match[str]]:
    """Non-overlapping matches of any of ``phrases`` (written for ``language``) in ``text``, in order."""
    pattern = _compile(tuple(phrases), language)
    return [] if pattern is None else list(pattern.finditer(text))


def count_phrases(text: str, phrases: Iterable[str], language: str) -> int:
    """How many non-overlapping matches of ``phrases`` ``text`` holds."""
    return len(find_phrases(text, phrases, language))


__all__ = ["count_phrases", "find_phrases", "phrase_list"]
