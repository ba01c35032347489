"""Choosing the customer's words to quote back: a short, clean span, or nothing.

Pure. A reply paraphrases the problem; it quotes only a clause that reads well on its own: three or more
words, at most ``MAX_WORDS`` words and ``MAX_GRAPHEMES`` graphemes, with no profanity, handles, links,
hashtags, markup or template syntax, and no order numbers (those the reply names itself). The quote is a
verbatim substring of the post (minus trailing punctuation), so the style guide can recognise it.
"""

from __future__ import annotations

import regex

from monitor.phrases import count_phrases
from responders.lengths import grapheme_count
from responders.understanding.cues import PROBLEM
from responders.understanding.profanity import is_profane

MIN_WORDS = 3
MAX_WORDS = 12
MAX_GRAPHEMES = 80

# Clauses end at sentence punctuation (not after a lone initial: "D. C."), at line breaks, and at commas,
# semicolons and dashes between words.
_CLAUSE = regex.compile(r"(?<=[.!?…。！？])(?<!\b\p{L}\.)\s+|\s*\n+\s*|\s*[,;:]\s+|\s+[–—-]\s+")
_UNQUOTABLE = regex.compile(r"@\w|https?://|www\.|#\w|[<>{}\[\]|\\]|\b[ur]/\w|\d{3,}")
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}'’\-]*")
_EDGE = " \t.,;:!?…-–—\"'“”«»„()"
_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
# A mention, link or hashtag: what a post carries at its edges that is no part of what it says.
_TOKEN = r"(?:@[\w.\-]+(?:@[\w.\-]+)?|/?u/[\w\-]+|https?://\S+|www\.\S+|#\w+)"
_LEADING = regex.compile(rf"^[\s{_BIDI}]*{_TOKEN}(?=[\s\p{{P}}]|$)[\s,:;.]*")
_TRAILING = regex.compile(rf"(?:^|\s)[\s{_BIDI}]*{_TOKEN}[\s\p{{P}}{_BIDI}]*$")


def _strip_edges(text: str) -> str:
    """``text`` without the mentions, links and hashtags at its start and end; the middle is untouched."""
    previous = None
    while previous != text:
        previous = text
        text = _LEADING.sub("", text, count=1)
        text = _TRAILING.sub("", text, count=1)
    return text


def clean_quote(text: str, language: str) -> str:
    """The clause of ``text`` most worth quoting (most problem cues, then earliest), or "" when none is
    short and clean enough."""
    candidates: list[tuple[int, int, str]] = []
    for index, raw in enumerate(_CLAUSE.split(_strip_edges(text))):
        clause = _strip_edges(raw).strip(_EDGE)
        words = _WORD.findall(clause)
        if not (MIN_WORDS <= len(words) <= MAX_WORDS) or grapheme_count(clause) > MAX_GRAPHEMES:
            continue
        if _UNQUOTABLE.search(clause) or is_profane(clause, language):
            continue
        if clause not in text:
            continue
        cues = sum(count_phrases(clause, PROBLEM.get(lang, ()), lang) for lang in dict.fromkeys([language, "en"]))
        candidates.append((cues, -index, clause))
    if not candidates:
        return ""
    return max(candidates)[2]


__all__ = ["MAX_GRAPHEMES", "MAX_WORDS", "MIN_WORDS", "clean_quote"]
