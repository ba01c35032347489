"""What a post wants: a complaint, a question, praise, or none of these ("other").

Pure. The decision weighs cues, it does not match a single word:

- problem cues (a problem reported, a complaint phrased as a question, swearing, a confidently negative
  sentiment label) count for a complaint, less the cues that say the problem was already put right
  ("replaced my cracked jar for free" is praise);
- praise cues (thanks, love, a confidently positive label) that do not sit inside a problem phrase
  ("not impressed", "thanks for nothing") count for praise;
- with neither, a question (a question mark, or a question word first) is a question; anything else is other.
Praise outweighs problem cues only where the post says the problem was put right. Having pressed us already (called three
times, third time asking) is a problem cue. A post that leads with a plain question and mentions one problem
on the side ("do you ship to Iceland? checkout won't let me pick it") is a question; a terse "refund??" is a
demand, so a complaint. Praise words inside a hedge ("let's see if it's good") are not praise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from monitor.phrases import find_phrases
from responders.understanding.categories import KEYWORDS
from responders.understanding.cues import HEDGES, NEGATORS, NO_PROBLEM, PRAISE, PROBLEM, QUESTION, RESOLVED

INTENTS = ("complaint", "question", "praise", "other")
CONFIDENT = 0.5
"""A sentiment label at least this sure counts as one cue."""
SURE = 0.75
"""A positive label alone (no word of praise) makes praise only when at least this sure: "watching the keynote
tonight" reads as mildly positive to a sentiment model, and thanking it would be odd."""

_WORD = regex.compile(r"[\p{L}\p{N}]+")
_OPENING = regex.compile(r"^(?:[\s\u200e\u200f]*(?:@[\w.\-]+(?:@[\w.\-]+)?|/?u/[\w\-]+|hey|hi|hello|hej|moi|tere)[\s,:.!]*)*")


@dataclass(frozen=True, slots=True)
class IntentCues:
    problem: tuple[str, ...]
    praise: tuple[str, ...]
    resolved: tuple[str, ...]
    question: bool
    leading_question: bool
    negated: tuple[str, ...] = ()


def _lists(language: str) -> list[str]:
    return list(dict.fromkeys([language, "en"] if language in PROBLEM else list(PROBLEM)))


def _matches(text: str, table: dict[str, tuple[str, ...]], languages: list[str]) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for language in languages:
        found += [(m.start(), m.end(), m.group()) for m in find_phrases(text, table.get(language, ()), language)]
    kept: list[tuple[int, int, str]] = []
    for start, end, words in sorted(found, key=lambda f: (f[0], -(f[1] - f[0]))):
        if not any(start < k_end and k_start < end for k_start, k_end, _ in kept):
            kept.append((start, end, words))
    return kept


_FIRST_SENTENCE = regex.compile(r"^.*?(?:[?？]+|[.!…\n]|$)", regex.DOTALL)


def _opens_with_question_word(text: str, languages: list[str]) -> bool:
    return any(m.start() == 0 for lang in languages for m in find_phrases(text[:40], QUESTION.get(lang, ()), lang))


def _overlaps(span: tuple[int, int, str], others: list[tuple[int, int, str]], *, longer: bool = False) -> bool:
    """Whether ``span`` overlaps one of ``others`` (with ``longer``: one at least as long as itself)."""
    return any(span[0] < end and start < span[1] and (not longer or end - start >= span[1] - span[0])
               for start, end, _ in others)


_CLAUSES = regex.compile(r"[.!?;,\n…]+|\s[–—-]\s|\bbut\b|\bmen\b|\bmutta\b|\baga\b|\bאבל\b")
_KO_NEGATOR = regex.compile(r"(?:^|\s)(?:안|못)\s|없|않")


def _negated_topics(text: str, languages: list[str], catalogue: Sequence[str]) -> list[str]:
    """Topic words (and the brand's product names) denied in their own clause ("case won't charge",
    "tilini ei aukea", "안 보여요")."""
    found: list[str] = []
    for clause in _CLAUSES.split(text):
        negated = any(
            (_KO_NEGATOR.search(clause) if lang == "ko" else find_phrases(clause, NEGATORS.get(lang, ()), lang))
            for lang in languages
        )
        if not negated:
            continue
        products = [name for name in catalogue if name.casefold() in clause.casefold()]
        for lang in languages:
            topics = products + [m.group() for strong, weak in KEYWORDS.get(lang, {}).values()
                                 for m in find_phrases(clause, strong + weak, lang)]
            if topics:
                found.append(topics[0])
                break
    return found


def _masked(text: str, spans: list[tuple[int, int, str]]) -> str:
    for start, end, _ in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def intent_cues(text: str, language: str, catalogue: Sequence[str] = ()) -> IntentCues:
    """The cues in ``text``; praise inside a problem phrase or a hedge is not praise."""
    languages = _lists(language)
    opening = _OPENING.sub("", text)
    found_problems = _matches(opening, PROBLEM, languages)
    hedges = _matches(opening, HEDGES, languages)
    found_praise = _matches(opening, PRAISE, languages)
    found_praise += [(m.start(), m.end(), m.group()) for lang in languages if lang in NO_PROBLEM
                     for m in regex.finditer(NO_PROBLEM[lang], opening, regex.IGNORECASE)]
    # Where a problem phrase and a praise phrase overlap, the longer one is meant ("not impressed" is a
    # problem, "no complaints" is praise).
    problems = [p for p in found_problems if not _overlaps(p, [q for q in found_praise if q[1] - q[0] > p[1] - p[0]])]
    praise = [p for p in found_praise if not _overlaps(p, problems, longer=True) and not _overlaps(p, hedges)]
    resolved = _matches(opening, RESOLVED, languages)
    unexplained = _masked(opening, problems + praise + resolved)
    first = _FIRST_SENTENCE.match(opening)
    first_end = first.end() if first else len(opening)
    asks = "?" in opening or "？" in opening or _opens_with_question_word(opening, languages)
    leading = (opening[:first_end].rstrip().endswith(("?", "？")) or _opens_with_question_word(opening, languages)) \
        and not any(start < first_end for start, _, _ in problems)
    return IntentCues(
        problem=tuple(words for _, _, words in problems),
        praise=tuple(words for _, _, words in praise),
        resolved=tuple(words for _, _, words in resolved),
        question=asks,
        leading_question=leading,
        negated=tuple(_negated_topics(unexplained, languages, catalogue)),
    )


def decide_intent(
    cues: IntentCues, *, label: str | None, score: float, profane: bool, pressed: bool, category: str, words: int,
    terse_demand: bool = False, situational: tuple[str, ...] = (),
) -> tuple[str, tuple[str, ...]]:
    """The intent and the reasons for it (for tests and for explaining a decision in the console).

    ``pressed``: the customer says they already chased us (several calls, "third time asking");
    ``words``: how many words the post has besides handles and links; ``terse_demand``: it is a few words
    punctuated like a demand ("refund??"); ``situational``: problem cues from the facts (waiting since a day
    named, money taken), each one cue.
    """
    if words == 0:
        return "other", ("no words",)
    problem = len(cues.problem) + len(cues.negated) + len(situational) + int(profane) + int(pressed)
    praise = len(cues.praise)
    reasons = [f"problem:{w}" for w in cues.problem] + [f"denied:{w}" for w in cues.negated]
    reasons += [*situational, *(f"praise:{w}" for w in cues.praise)]
    if profane:
        reasons.append("profanity")
    if pressed:
        reasons.append("pressed")
    if label == "negative" and score >= CONFIDENT:
        problem += 1
        reasons.append("label:negative")
    worded_praise = praise
    if label == "positive" and score >= (CONFIDENT if worded_praise or problem else SURE):
        praise += 1
        reasons.append("label:positive")
    net = problem - len(cues.resolved)
    reasons += [f"resolved:{w}" for w in cues.resolved]
    negative = label == "negative" and score >= CONFIDENT
    if cues.question and terse_demand and words <= 3 and category != "general" and praise == 0:
        return "complaint", (*reasons, "terse demand")
    worded = problem - int(negative)
    # A plain question whose only sign of trouble is the model's mood is a question: sentiment models read
    # many a question as negative ("can I have two addresses on one account?").
    if cues.leading_question and praise == 0 and not pressed and not profane and (
            (net <= 1 and not negative) or worded == 0):
        return "question", (*reasons, "leading question")
    # A problem the post does not call solved is a complaint, however warmly it is put ("charged twice.
    # great."); praise outweighs problems only where it says they were put right.
    # Words outvote the model's mood: praise in words with no problem in words is praise, whatever the label
    # ("never had a single problem with you, keep it up" reads as negative to a sentiment model).
    if worded == 0 and worded_praise > 0 and not cues.resolved:
        return "praise", (*reasons, "praise in words")
    if net > 0 and (net >= praise or not cues.resolved):
        return "complaint", tuple(reasons)
    if praise > 0:
        return "praise", tuple(reasons)
    if cues.question:
        return "question", (*reasons, "question")
    return "other", tuple(reasons)


__all__ = ["CONFIDENT", "INTENTS", "IntentCues", "decide_intent", "intent_cues"]
