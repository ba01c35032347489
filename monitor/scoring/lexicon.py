"""The lexicon backend: VADER for English, AFINN's Danish list for Danish, nothing else.

Used when no transformer can be loaded. A language it has no lexicon for is UNSCORED, never neutral.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import cache

from monitor.scoring.base import UNSCORED, Sentiment, check_lengths

VADER_MODEL = "lexicon:vader"
AFINN_DA_MODEL = "lexicon:afinn-da"
THRESHOLD = 0.05  # VADER's own cut-off for a non-neutral compound score
_AFINN_ALPHA = 15.0  # VADER's normalisation constant, applied to AFINN's sums too


def label_compound(compound: float, model: str) -> Sentiment:
    """A Sentiment from a compound score in [-1, 1], with VADER's thresholds."""
    if compound >= THRESHOLD:
        return Sentiment("positive", min(compound, 1.0), model)
    if compound <= -THRESHOLD:
        return Sentiment("negative", min(-compound, 1.0), model)
    return Sentiment("neutral", 1.0 - abs(compound), model)


# Bare numbers carry no sentiment in care text (order numbers, prices), but VADER's lexicon scores some
# ("143" is texting slang for "I love you"), so they are removed before scoring.
_NUMBER = re.compile(r"(?<![\w<])[#$€£]?\d[\d.,:/-]*(?!\w)")


def without_numbers(text: str) -> str:
    return _NUMBER.sub(" ", text)


@cache
def _vader() -> Callable[[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: float(analyzer.polarity_scores(without_numbers(text))["compound"])


@cache
def _afinn_da() -> Callable[[str], float]:
    from afinn import Afinn

    afinn = Afinn(language="da", emoticons=True)

    def compound(text: str) -> float:
        total = float(afinn.score(text))
        return total / math.sqrt(total * total + _AFINN_ALPHA)

    return compound


def _primary(language: str | None) -> str | None:
    if language is None:
        return None
    return language.strip().lower().replace("_", "-").split("-")[0] or None


class LexiconScorer:
    """Scores English (and texts of unknown language) with VADER and Danish with AFINN."""

    model_name = "lexicon"

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        check_lengths(texts, languages)
        return [self._score_one(text, language) for text, language in zip(texts, languages, strict=True)]

    def _score_one(self, text: str, language: str | None) -> Sentiment:
        if not text.strip():
            return UNSCORED
        lang = _primary(language)
        if lang in (None, "en"):
            return label_compound(_vader()(text), VADER_MODEL)
        if lang == "da":
            return label_compound(_afinn_da()(text), AFINN_DA_MODEL)
        return UNSCORED
