"""Understanding a post: what the customer wants, what it is about, and the facts they gave.

``understand(post, history) -> Reading`` is pure (ARCHITECTURE "Understanding, drafting, guarding"): plain
data in, plain data out, no storage, no model. It reads six languages (en, da, fi, et, he, ko) and English
words in any of them. ``history`` is the customer's earlier posts and cases on any platform, as plain data;
what they already told us (an order number, a call, an earlier case) is in ``Reading.known``, and an earlier
case makes this a repeat contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from monitor.languages import normalise_language
from monitor.phrases import find_phrases
from responders.understanding.categories import CATEGORIES, STRONG, category_scores, classify
from responders.understanding.cues import SINCE
from responders.understanding.details import detail_of
from responders.understanding.facts import ATTEMPT_KINDS, Amount, Attempt, Facts, extract_facts
from responders.understanding.intent import INTENTS, decide_intent, intent_cues
from responders.understanding.profanity import is_profane, profanities

CASE_STATES = ("open", "responded", "resolved", "unresolved", "reopened")

_WORD = regex.compile(r"[\p{L}\p{N}]+")
_NOISE = regex.compile(r"(?<![\w@])@[\w.\-]+(?:@[\w.\-]+)?|https?://\S+|www\.\S+|(?<![\w/])/?u/[\w\-]+")


@dataclass(frozen=True, slots=True)
class Post:
    """The post to understand. ``label``/``score`` are the sentiment scorer's, when there is one (a label of
    "unscored" or None is no evidence either way)."""

    text: str
    language: str | None = None
    label: str | None = None
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class EarlierContact:
    """One of the customer's earlier posts, on any platform, and the case it belonged to (None: no case)."""

    text: str
    platform: str = ""
    days_ago: float | None = None
    case_state: str | None = None
    category: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What a post says.

    ``detail`` refines the category where the next step differs (see ``details.detail_of``: "refund",
    "charge", "hacked", "delivered", "safety", "address", or ""). ``facts`` are this post's; ``known`` adds what the customer's earlier contacts said (this post's first),
    which is what a reply may use. ``contacts`` counts how often the customer has now raised a problem with us
    (1: first time), from earlier cases and from the post itself ("third time asking").
    """

    intent: str
    category: str
    language: str
    facts: Facts
    known: Facts
    contacts: int
    profane: bool
    detail: str = ""
    reasons: tuple[str, ...] = ()

    @property
    def repeat(self) -> bool:
        return self.contacts >= 2


def understand(post: Post, history: Sequence[EarlierContact] = (), *, catalogue: Sequence[str] = ()) -> Reading:
    """Read ``post`` in the light of ``history`` (the customer's earlier contacts, any order).

    ``catalogue`` names the brand's products so they are found as written ("Brew 2", "Air Pro"). An
    unsupported or unknown language is read with every language's words. Never raises for any text.
    """
    language = normalise_language(post.language) or "en"
    text = post.text
    profane = is_profane(text, language)
    facts = extract_facts(text, language, catalogue)
    scores = category_scores(text, language)
    # The brand's own products and sums of money are what product and billing posts name.
    scores["product"] += STRONG * sum(1 for p in facts.products if p in catalogue)
    scores["billing"] += len(facts.amounts)
    category = max(CATEGORIES, key=lambda c: (scores[c], -CATEGORIES.index(c)))
    category = category if scores[category] > 0 else "general"
    cues = intent_cues(text, language, catalogue)
    bare = _NOISE.sub(" ", text)
    words = len(_WORD.findall(bare))
    pressed = any(a.kind == "asked" or (a.times or 0) >= 2 for a in facts.tried)
    situational = []
    if category != "general" and any(find_phrases(text, SINCE.get(lang, ()), lang) for lang in {language, "en"}):
        situational.append("waiting")
    if category == "billing" and facts.amounts and not cues.leading_question:
        situational.append("money taken")
    intent, reasons = decide_intent(
        cues, label=post.label, score=post.score, profane=profane, pressed=pressed, category=category,
        words=words, terse_demand="??" in bare or "?!" in bare or "!?" in bare, situational=tuple(situational),
    )
    ordered = sorted(history, key=lambda h: h.days_ago if h.days_ago is not None else float("inf"))
    known = facts
    for earlier in ordered:
        known = known.merged(extract_facts(earlier.text, normalise_language(earlier.language) or language, catalogue))
    cases = [h for h in history if h.case_state is not None]
    if intent == "complaint" and cases and (scores[category] <= 1 or category in ("service", "general")):
        # A follow-up ("still nothing", "me again", "no reply to my DM") is about what the earlier case was
        # about, not about the chasing.
        latest = next((h.category for h in ordered if h.case_state is not None and h.category in CATEGORIES), None)
        if latest and latest != "general":
            category = latest
    asked = facts.attempt("asked")
    contacts = 1 + len(cases)
    if asked is not None:
        contacts = max(contacts, asked.times or 2)
    detail = detail_of(text, language, category=category, intent=intent)
    if not detail and category == "billing" and cases and intent == "complaint":
        detail = next((detail_of(h.text, language, category="billing", intent="complaint") for h in ordered
                       if h.case_state is not None), "")
    return Reading(
        intent=intent, category=category, language=language, facts=facts, known=known, contacts=contacts,
        profane=profane, detail=detail, reasons=reasons,
    )


__all__ = [
    "ATTEMPT_KINDS",
    "CASE_STATES",
    "CATEGORIES",
    "INTENTS",
    "Amount",
    "Attempt",
    "EarlierContact",
    "Facts",
    "Post",
    "Reading",
    "classify",
    "extract_facts",
    "profanities",
    "understand",
]
