"""The offline sentiment model's features: a post's text as hashed, signed character and word n-grams.

Pure and deterministic (no randomness, no process-salted ``hash``): the same text gives the same
features in every process, on every machine, so the shipped weights and the training script agree.
Training (scripts/train_sentiment.py) and scoring (monitor.scoring.offline) both call ``featurise``.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Indices = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What ``featurise`` extracts; stored in the model's manifest and checked when the model loads."""

    buckets_log2: int = 19  # features hash into 2**buckets_log2 buckets
    char_min: int = 1  # character n-grams of these lengths, spaces included, over the normalised text
    char_max: int = 5
    word_ngrams: int = 2  # word unigrams up to word n-grams of this length

    @property
    def buckets(self) -> int:
        return 1 << self.buckets_log2

    def as_dict(self) -> dict[str, int]:
        return {"buckets_log2": self.buckets_log2, "char_min": self.char_min, "char_max": self.char_max,
                "word_ngrams": self.word_ngrams}


# Social-media noise that says nothing about sentiment: links, @handles (X, Mastodon's @user@instance,
# Bluesky's @a.bsky.social) and Reddit's u/user, r/subreddit. Hashtags keep their words.
_NOISE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|(?<![\w@])@[\w.-]+(?:@[\w.-]+)?"
    r"|(?<![\w/])/?[ur]/\w+"
)
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_REPEAT = re.compile(r"(.)\1{2,}")  # "soooo" -> "soo", "!!!!!" -> "!!", "ㅋㅋㅋㅋ" -> "ㅋㅋ"
# Tokenised text ("worst nightmare .", "( sic )") spaced out its punctuation; posts do not. Read both alike,
# or the spacing itself becomes a feature (in the English training data it marks the emotional lines).
_SPACE_BEFORE = re.compile(r"\s+(?=[.,!?;:%)\]}»”])")
_SPACE_AFTER = re.compile(r"(?<=[(\[{«“])\s+")
_DIGITS = re.compile(r"\d+")  # order numbers and prices: every run of digits reads as one "0"
_WORD = re.compile(r"\w+")
_EMOTICONS = {  # ASCII emoticons read as the emoji they stand for
    ":-)": "🙂", ":)": "🙂", "(:": "🙂", ":-d": "😀", ":d": "😀", ";-)": "😉", ";)": "😉", "<3": "❤",
    ":-(": "🙁", ":(": "🙁", "):": "🙁", ":'(": "😢", ":-/": "😕", ":/": "😕", "</3": "💔", ":-p": "😛", ":p": "😛",
}
_EMOTICON = re.compile(r"(?<!\S)(?:" + "|".join(re.escape(e) for e in sorted(_EMOTICONS, key=len, reverse=True))
                       + r")(?!\S)")
# Common emoji, glossed with English words the training data carries with the emoji's usual polarity.
# Unicode's own names ("SERIOUS FACE WITH SYMBOLS COVERING MOUTH") often do not; other symbols use them.
_EMOJI_WORDS = {
    "😡": "angry", "🤬": "angry furious", "😠": "angry", "😤": "angry", "😢": "sad crying", "😭": "sad crying",
    "😞": "disappointed sad", "😔": "sad", "🙁": "sad", "☹": "sad", "😕": "confused", "😒": "annoyed",
    "😩": "tired awful", "😫": "tired awful", "🤮": "disgusting", "🤢": "disgusting", "💩": "crap", "👎": "bad",
    "💔": "heartbroken sad", "😱": "scared", "😨": "scared", "🙄": "annoyed",
    "🙂": "happy", "😀": "happy", "😃": "happy", "😄": "happy", "😁": "happy", "😊": "happy", "😉": "happy",
    "😂": "haha funny", "🤣": "haha funny", "😍": "love", "🥰": "love", "😘": "love", "❤": "love", "♥": "love",
    "💕": "love", "💖": "love", "👍": "good", "👌": "good", "👏": "great", "🙏": "thank you", "🎉": "great",
    "🥳": "great", "😎": "cool", "⭐": "great", "🌟": "great", "✨": "great", "💯": "great", "😛": "funny",
}
_SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)
_CHAR_SALT = 0x9E3779B97F4A7C15
_WORD_SALT = 0xC2B2AE3D27D4EB4F


def _salt(base: int, n: int) -> np.uint64:
    """A distinct salt per kind and length of n-gram (python ints: numpy scalars warn on overflow)."""
    return np.uint64((base * n) & 0xFFFFFFFFFFFFFFFF)


def normalise(text: str) -> str:
    """The text the features are read from: lowercase NFKC, without links or handles, emoji as words,
    hashtags as their words (``#NeverAgain`` -> ``never again``), letter runs capped at two, no space
    before closing punctuation, digit runs as ``0``, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOISE.sub(" ", text)
    text = _HASHTAG.sub(lambda m: " " + _CAMEL.sub(" ", m.group(1)) + " ", text)
    text = text.lower()
    text = _EMOTICON.sub(lambda m: _EMOTICONS[m.group(0)], text)
    text = "".join(_symbol_words(ch) for ch in text)
    text = _REPEAT.sub(r"\1\1", text)
    text = _SPACE_AFTER.sub("", _SPACE_BEFORE.sub("", text))
    text = _DIGITS.sub("0", text)
    return " ".join(text.split())


def _symbol_words(ch: str) -> str:
    if ch in _EMOJI_WORDS:
        return f" {_EMOJI_WORDS[ch]} "
    if ch in _SKIN_TONES or ch == "\ufe0f" or ch == "\u200d":
        return " "
    if unicodedata.category(ch) == "So":
        return f" {unicodedata.name(ch, '').lower()} "
    return ch


def featurise(text: str, spec: FeatureSpec) -> tuple[Indices, Values]:
    """Sorted unique bucket indices and their values (signed counts, L2-normalised) for one text.

    Empty arrays for a text with nothing to read. Character n-grams run over the normalised text padded
    with one space each side, so they see word starts and ends; word n-grams over its ``\\w+`` words.
    """
    clean = normalise(text)
    if not clean:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    hashes = [_char_hashes(" " + clean + " ", spec), _word_hashes(_WORD.findall(clean), spec)]
    mixed = _mix(np.concatenate(hashes))
    index = (mixed & np.uint64(spec.buckets - 1)).astype(np.int64)
    sign = np.where(mixed >> np.uint64(63), -1.0, 1.0)
    unique, inverse = np.unique(index, return_inverse=True)
    values = np.bincount(inverse, weights=sign, minlength=len(unique))
    norm = float(np.sqrt(values @ values))
    if norm == 0.0:  # every feature cancelled out in a collision: nothing to read
        return np.empty(0, np.int64), np.empty(0, np.float64)
    return unique, values / norm


def _char_hashes(padded: str, spec: FeatureSpec) -> npt.NDArray[np.uint64]:
    points = np.frombuffer(padded.encode("utf-32-le", "replace"), dtype="<u4").astype(np.uint64)
    out = []
    rolling = np.zeros(len(points), np.uint64)
    for n in range(1, spec.char_max + 1):
        if len(points) < n:
            break
        rolling = rolling[: len(points) - n + 1] * _PRIME + points[n - 1:]
        if n >= spec.char_min:
            out.append(rolling ^ _salt(_CHAR_SALT, n))
    return np.concatenate(out) if out else np.empty(0, np.uint64)


def _word_hashes(words: list[str], spec: FeatureSpec) -> npt.NDArray[np.uint64]:
    if not words:
        return np.empty(0, np.uint64)
    base = np.array([zlib.crc32(w.encode("utf-8")) for w in words], np.uint64)
    out = []
    rolling = np.zeros(len(base), np.uint64)
    for n in range(1, spec.word_ngrams + 1):
        if len(base) < n:
            break
        rolling = rolling[: len(base) - n + 1] * _PRIME + base[n - 1:]
        out.append(rolling ^ _salt(_WORD_SALT, n))
    return np.concatenate(out)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit moves every output bit, so nearby n-grams spread."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (x ^ (x >> np.uint64(31))) & _MASK
