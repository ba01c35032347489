"""Customer satisfaction: reading a rating from a reply, and drafting the follow-up that asks for one.

``parse_csat`` turns an answer into 1..5: a digit ("4", "4/5", "8/10" scaled to five), stars ("⭐⭐⭐⭐",
"★★★☆☆"), or words in the customer's language ("great", "rigtig godt", "erinomainen", "מצוין", "최고예요").
It returns None rather than guess: an answer it cannot read is left for a person. The follow-up is drafted
from ``responders/templates/csat_<language>.toml`` in the same sandboxed Jinja2 environment as replies, so
names and handles are only ever data, and checked by the care style guide.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import regex
from jinja2 import Template

from responders.drafting import (
    _ENVIRONMENT,
    SUPPORTED_LANGUAGES,
    greeting_name,
    reply_language,
    reply_mention,
)
from responders.style import StyleIssue, check_style

_RATIO = regex.compile(r"(?<![\d.])(\d{1,2})\s*(?:/|out of|ud af|af)\s*(5|10)(?![\d.])")
_NUMBER = regex.compile(r"(?<![\d.,/#])(\d{1,2})(?:\s*(?:점|stars?|stjerner|tähteä|tärni|כוכבים))?(?![\d.,/])")
_FILLED_STARS = regex.compile(r"[⭐★🌟]")

# Words per language, longest first when matched; a phrase wins over the words inside it ("not good").
WORDS: dict[str, dict[str, int]] = {
    "en": {"excellent": 5, "amazing": 5, "great": 5, "perfect": 5, "fantastic": 5, "brilliant": 5, "superb": 5,
           "very good": 5, "good": 4, "pretty good": 4, "helpful": 4, "okay": 3, "ok": 3, "fine": 3, "average": 3,
           "not good": 2, "bad": 2, "poor": 2, "not great": 2, "terrible": 1, "awful": 1, "horrible": 1,
           "useless": 1, "worst": 1, "five": 5, "four": 4, "three": 3, "two": 2, "one": 1},
    "da": {"fremragende": 5, "fantastisk": 5, "rigtig godt": 5, "super": 5, "perfekt": 5, "godt": 4, "god": 4,
           "ok": 3, "fint": 3, "middel": 3, "ikke godt": 2, "dårligt": 2, "dårlig": 2, "elendigt": 1,
           "elendig": 1, "forfærdeligt": 1, "fem": 5, "fire": 4, "tre": 3},
    "fi": {"erinomainen": 5, "erinomaista": 5, "loistava": 5, "mahtava": 5, "tosi hyvä": 5, "hyvä": 4,
           "hyvin": 4, "ok": 3, "kohtalainen": 3, "ihan ok": 3, "huono": 2, "ei hyvä": 2, "surkea": 1,
           "kamala": 1, "viisi": 5, "neljä": 4, "kolme": 3, "kaksi": 2, "yksi": 1},
    "et": {"suurepärane": 5, "väga hea": 5, "super": 5, "hea": 4, "ok": 3, "rahuldav": 3, "keskmine": 3,
           "halb": 2, "väga halb": 1, "kohutav": 1, "viis": 5, "neli": 4, "kolm": 3, "kaks": 2, "üks": 1},
    "he": {"מצוין": 5, "מעולה": 5, "מושלם": 5, "טוב מאוד": 5, "טוב": 4, "בסדר": 3, "סביר": 3, "לא טוב": 2,
           "גרוע": 2, "נורא": 1, "גרוע מאוד": 1, "חמש": 5, "ארבע": 4, "שלוש": 3, "שתיים": 2, "אחת": 1},
    "ko": {"최고": 5, "매우 만족": 5, "아주 좋": 5, "완벽": 5, "만족": 4, "좋아요": 4, "좋았어요": 4, "괜찮": 3,
           "보통": 3, "불만족": 2, "별로": 2, "최악": 1, "다섯": 5, "넷": 4, "셋": 3, "둘": 2, "하나": 1},
}
_INFIX = ("he", "ko")  # a word may carry a prefix (Hebrew) or a particle or ending (Korean)


def _scaled(value: int, out_of: int) -> int | None:
    if not 0 <= value <= out_of:
        return None
    return max(1, min(5, round(value * 5 / out_of))) if out_of != 5 else (value or None)


def _word_score(text: str, language: str) -> int | None:
    table = WORDS.get(language, {})
    found: list[tuple[int, int, int]] = []  # (start, -length, score)
    for word, score in table.items():
        pattern = regex.escape(word) if language in _INFIX else rf"(?<!\w){regex.escape(word)}(?!\w)"
        for match in regex.finditer(pattern, text):
            found.append((match.start(), -len(word), score))
    if not found:
        return None
    # Keep the longest phrase at each place, dropping words that sit inside a longer phrase.
    found.sort()
    kept: list[tuple[int, int, int]] = []
    end = -1
    for start, negative_length, score in found:
        if start >= end:
            kept.append((start, negative_length, score))
            end = start - negative_length
    scores = {score for _start, _length, score in kept}
    return scores.pop() if len(scores) == 1 else None


def parse_csat(text: str, language: str | None) -> int | None:
    """A 1..5 satisfaction score read from ``text``, or None when it holds none or contradicts itself."""
    folded = text.casefold().strip()
    if not folded:
        return None
    ratio = _RATIO.search(folded)
    if ratio:
        return _scaled(int(ratio.group(1)), int(ratio.group(2)))
    numbers = {int(n) for n in _NUMBER.findall(folded)}
    if numbers:
        in_range = {n for n in numbers if 1 <= n <= 5}
        return in_range.pop() if len(numbers) == 1 and in_range else None
    stars = len(_FILLED_STARS.findall(text))
    if stars:
        return min(stars, 5)
    lang = reply_language(language, "en")
    score = _word_score(folded, lang)
    if score is None and lang != "en":
        score = _word_score(folded, "en")
    return score


@dataclass(frozen=True, slots=True)
class CsatRequest:
    platform: str
    language: str | None
    author_handle: str
    author_name: str | None
    brand_name: str
    agent_name: str
    agent_signature: str
    default_language: str = "en"


@dataclass(frozen=True, slots=True)
class CsatDraft:
    text: str
    language: str
    style_issues: list[StyleIssue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _CsatTemplates:
    named: Template
    anonymous: Template
    body: Template


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES))
def load_csat_templates(language: str) -> _CsatTemplates:
    """The bundled follow-up templates for ``language``; ValueError naming the key that is missing."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"no CSAT templates for language {language!r}")
    name = f"templates/csat_{language}.toml"
    data = tomllib.loads(resources.files("responders").joinpath(name).read_text(encoding="utf-8"))

    def source(section: str, key: str) -> Template:
        value = data.get(section, {}).get(key)
        if not isinstance(value, str):
            raise ValueError(f"responders/{name}: missing [{section}] {key}")
        return _ENVIRONMENT.from_string(value)

    return _CsatTemplates(source("greeting", "named"), source("greeting", "anonymous"), source("body", "text"))


def draft_csat_followup(request: CsatRequest) -> CsatDraft:
    """A short, personal request to rate the help, in the customer's language, signed by the agent."""
    language = reply_language(request.language, request.default_language)
    templates = load_csat_templates(language)
    name = greeting_name(request.author_name, request.author_handle, request.platform)
    greeting = (templates.named if name else templates.anonymous).render(name=name)
    body = templates.body.render(name=name, brand=request.brand_name, agent=request.agent_name)
    prefix = reply_mention(request.platform, request.author_handle)
    text = f"{prefix}{greeting} {body}\n{request.agent_signature}"
    issues = check_style(text, language=language, platform=request.platform, signatures=[request.agent_signature],
                         quoted=[w for w in (name, request.brand_name, prefix.strip()) if w])
    return CsatDraft(text=text, language=language, style_issues=issues)


__all__ = ["WORDS", "CsatDraft", "CsatRequest", "draft_csat_followup", "load_csat_templates", "parse_csat"]
