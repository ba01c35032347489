"""The topics a post counts towards: its own words and phrases, its complaint category, the brand's watch terms.

Pure. A topic is a short string with a kind prefix: ``t:`` a word or a two-word phrase of the post (stemmed
where the language inflects heavily), ``c:`` the complaint category stored on its case, ``w:`` a watch term
configured for the brand. Korean (and the other scripts without reliable word breaks) is cut into character
2- and 3-grams, so "로그인이" and "로그인을" share "로그인". Finnish and Estonian words are cut to a six-letter
stem, and a Hebrew word loses one attached prefix letter, so inflected forms count together;
``display_words`` turns stems back into the words people wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import regex

from monitor.languages import normalise_language
from monitor.phrases import count_phrases
from monitor.radar.stopwords import STOPWORDS

ALL = "*"
"""The topic every post counts towards: the brand's (or the platform's) whole volume."""
MAX_TOPICS = 48
"""Most topics one post counts towards; a long post's tail of words adds noise, not signal."""

_URL = regex.compile(r"(?:https?://|www\.)\S+", regex.IGNORECASE)
_HANDLE = regex.compile(r"@[\w.@-]+")
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*")
_TOKEN_OR_BREAK = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*|[.,!?;:()\[\]\n\"“”]")
_NO_BREAKS = regex.compile(r"[\p{Hangul}\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]+")
_HEBREW = regex.compile(r"\p{Hebrew}")
_LETTER = regex.compile(r"\p{L}")
_HEBREW_PREFIXES = "והשבכלמ"
_STEMMED = frozenset({"fi", "et"})
_STEM_LENGTH = 6
_MIN_WORD = 3
_MAX_WORD = 40


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """A brand's words: its own names are never a topic, its watch terms always are (those in a script
    without word breaks match inside words, the others by the post's language)."""

    brand_words: frozenset[str] = frozenset()
    watch_terms: tuple[str, ...] = ()
    watch_by_words: tuple[str, ...] = ()
    watch_inside_words: tuple[str, ...] = ()


def vocabulary(*, keywords: Iterable[str], handles: Iterable[str | None], watch_terms: Iterable[str]) -> Vocabulary:
    """The vocabulary of a brand with these keywords, account handles and watch terms."""
    words = {token.casefold() for value in (*keywords, *handles) if value for token in _TOKEN.findall(value)}
    terms = tuple(dict.fromkeys(t.strip().casefold() for t in watch_terms if t.strip()))
    return Vocabulary(frozenset(words), terms, tuple(t for t in terms if not _NO_BREAKS.search(t)),
                      tuple(t for t in terms if _NO_BREAKS.search(t)))


def _stem(word: str, language: str | None) -> str:
    if _HEBREW.match(word):
        return word[1:] if len(word) >= 5 and word[0] in _HEBREW_PREFIXES else word
    if language in _STEMMED and len(word) > _STEM_LENGTH:
        return word[:_STEM_LENGTH]
    return word


def _words(text: str, language: str | None, brand_words: frozenset[str]) -> list[tuple[str, str] | None]:
    """(stem, surface) for each word worth counting, None where a dropped word breaks a phrase."""
    cleaned = _HANDLE.sub(" ", _URL.sub(" ", text))
    out: list[tuple[str, str] | None] = []
    for token in _TOKEN_OR_BREAK.findall(cleaned.casefold()):
        token = token.replace("’", "'")
        if not _LETTER.search(token) or _NO_BREAKS.search(token):
            out.append(None)
            continue
        if len(token) < _MIN_WORD or len(token) > _MAX_WORD or token in STOPWORDS or token in brand_words:
            out.append(None)
            continue
        out.append((_stem(token, language), token))
    return out


def _ngrams(text: str) -> list[str]:
    grams: list[str] = []
    for run in _NO_BREAKS.findall(_URL.sub(" ", text)):
        for size in (3, 2):
            grams.extend(run[i:i + size] for i in range(len(run) - size + 1))
    return grams


def _watched(text: str, vocabulary: Vocabulary, language: str) -> list[str]:
    """The watch terms ``text`` holds, in their configured order. One pattern per group first: most posts
    hold none."""
    found: set[str] = set()
    for group, rules in ((vocabulary.watch_by_words, language), (vocabulary.watch_inside_words, "ko")):
        if group and count_phrases(text, group, rules):
            found.update(t for t in group if count_phrases(text, (t,), rules))
    return [t for t in vocabulary.watch_terms if t in found] if found else []


def topics(text: str, language: str | None, *, vocabulary: Vocabulary, category: str | None = None) -> tuple[str, ...]:
    """Every topic ``text`` counts towards (without ``ALL``, which every post counts towards), at most
    MAX_TOPICS, the category and the watch terms first."""
    code = normalise_language(language)
    found: list[str] = []
    if category and category != "general":
        found.append(f"c:{category}")
    found.extend(f"w:{term}" for term in _watched(text, vocabulary, code or "en"))
    words = _words(text, code, vocabulary.brand_words)
    found.extend(f"t:{w[0]}" for w in words if w is not None)
    found.extend(f"t:{a[0]} {b[0]}" for a, b in pairwise(words)
                 if a is not None and b is not None and a[0] != b[0])
    found.extend(f"t:{gram}" for gram in _ngrams(text.casefold()))
    return tuple(dict.fromkeys(found))[:MAX_TOPICS]


def surface_forms(texts: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """For each stem in these (text, language) pairs, the form people wrote most often."""
    seen: dict[str, Counter[str]] = {}
    for text, language in texts:
        for word in _words(text, normalise_language(language), frozenset()):
            if word is not None:
                seen.setdefault(word[0], Counter())[word[1]] += 1
    return {stem: forms.most_common(1)[0][0] for stem, forms in seen.items()}


def display_word(topic: str, surfaces: dict[str, str]) -> str | None:
    """The words a person reads for ``topic``; None for ``ALL``."""
    if topic == ALL:
        return None
    kind, _, body = topic.partition(":")
    if kind == "t":
        return " ".join(surfaces.get(part, part) for part in body.split(" "))
    return body.rstrip("*")


def display_words(topics_in_order: Sequence[str], surfaces: dict[str, str], *, limit: int) -> list[str]:
    """Up to ``limit`` words naming these topics (most telling first), without repeats: a word already
    inside a chosen one ("로그" after "로그인", "login" after "login page") adds nothing."""
    chosen: list[str] = []
    for topic in topics_in_order:
        word = display_word(topic, surfaces)
        if not word:
            continue
        folded = word.casefold()
        if any(folded in other.casefold() for other in chosen):
            continue
        chosen.append(word)
        if len(chosen) == limit:
            break
    return chosen


__all__ = ["ALL", "MAX_TOPICS", "Vocabulary", "display_word", "display_words", "surface_forms", "topics",
           "vocabulary"]
