"""A customer's words as moves of the case state machine.

The machine itself is pure and language-free (``models.case_states``); what needs a language lives here:
whether a later post reads as "it's fixed, thanks" (``is_confirmation``), and turning a post into the move it
makes (``read_post``). ``transition`` composes the two for the tracker's tests and tools: the decision a post
or a signal makes from a case's facts, with the thresholds taken from ``resolution`` settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.case_states import (
    RESOLUTIONS,
    STATES,
    AgentReopened,
    AgentResolved,
    CaseFacts,
    Confirmed,
    CsatAnswer,
    Move,
    NewComplaint,
    Posted,
    ReplySent,
    Transition,
    TransitionRefused,
    Unhappy,
)
from models.case_states import StaleCheck as StaleAfter
from models.case_states import transition as decide
from monitor.config import ResolutionSettings
from monitor.languages import normalise_language
from monitor.phrases import find_phrases


@dataclass(frozen=True, slots=True)
class CustomerPost:
    """A later post by the case's author: ``in_thread`` when it is in the case's thread, else a new complaint."""

    label: str
    score: float
    text: str
    language: str | None
    in_thread: bool
    at: datetime
    is_complaint: bool = False


@dataclass(frozen=True, slots=True)
class StaleCheck:
    """The sweep at ``now`` (the stale window comes from the settings)."""

    now: datetime


Signal = ReplySent | CustomerPost | AgentResolved | AgentReopened | CsatAnswer | StaleCheck


# Gratitude and "it's fixed" phrases per language, and the words that turn them around ("thanks, but still
# nothing"), in the notation of monitor.phrases. English is checked in every language: customers switch.
_CONFIRM: dict[str, tuple[str, ...]] = {
    "en": ("thank you", "thanks", "thx", "ty", "cheers", "fixed", "sorted", "resolved", "solved", "it arrived",
           "has arrived", "just arrived", "arrived today", "works now", "working now", "working again",
           "all good", "got it", "received it", "got my refund", "appreciate it", "perfect", "brilliant"),
    "da": ("tak", "mange tak", "tusind tak", "løst", "virker nu", "virker igen", "kom frem", "er kommet",
           "modtaget", "fint nu", "i orden", "perfekt"),
    "fi": ("kiitos", "kiitti", "kiitoksia", "korjattu", "korjaantui", "toimii nyt", "toimii taas",
           "tuli perille", "saapui", "ratkesi", "kunnossa", "täydellistä"),
    "et": ("aitäh", "tänan", "täname", "tänud", "parandatud", "korras", "töötab nüüd", "töötab jälle",
           "jõudis kohale", "sain kätte", "lahendatud", "suurepärane"),
    "he": ("תודה", "תודה רבה", "הסתדר", "נפתר", "עובד עכשיו", "עובד שוב", "הגיע", "קיבלתי", "מעולה",
           "מושלם"),
    "ko": ("감사", "고마워", "고맙", "해결", "잘 받았", "받았어요", "도착했", "이제 돼", "이제 잘 돼",
           "작동해요", "최고"),
}
_STILL_BROKEN: dict[str, tuple[str, ...]] = {
    "en": ("still", "not fixed", "not working", "isn't working", "doesn't work", "never arrived",
           "hasn't arrived", "not arrived", "no thanks", "thanks for nothing", "not resolved", "nothing yet",
           "again"),
    "da": ("stadig", "ikke løst", "virker ikke", "ikke kommet", "nej tak", "igen"),
    "fi": ("vieläkään", "edelleen", "ei toimi", "ei ole tullut", "ei korjaantunut", "taas"),
    "et": ("ikka veel", "endiselt", "ei tööta", "pole kohale", "pole ikka", "jälle ei"),
    "he": ("עדיין לא", "עדיין", "לא עובד", "לא הגיע", "שוב"),
    "ko": ("아직도", "여전히", "안 돼", "안돼", "안 왔", "또"),
}


def _languages(language: str | None) -> list[str]:
    """The post's language (when we have phrases for it) and English."""
    code = normalise_language(language) or "en"
    return [code, "en"] if code in _CONFIRM and code != "en" else ["en"]


def _says(text: str, phrases: dict[str, tuple[str, ...]], languages: list[str]) -> bool:
    return any(find_phrases(text, phrases[language], language) for language in languages)


def is_confirmation(text: str, language: str | None, sentiment: str) -> bool:
    """Whether a customer's later post reads as satisfied: positive sentiment, or a gratitude/fixed phrase in
    their language (or English), and never when it is negative or says it is still broken."""
    if sentiment == "negative":
        return False
    languages = _languages(language)
    if _says(text, _STILL_BROKEN, languages):
        return False
    return sentiment == "positive" or _says(text, _CONFIRM, languages)


def read_post(post: CustomerPost, settings: ResolutionSettings) -> Move:
    """The move a customer's later post makes: in the thread, unhappy (negative), confirmed (satisfied) or just
    posted; outside it, a new complaint (reopens a case resolved within ``reopen_window_days``) or nothing."""
    if not post.in_thread:
        if post.is_complaint:
            return NewComplaint(at=post.at, window_days=settings.reopen_window_days)
        return Posted(post.label)
    if post.label == "negative":
        return Unhappy()
    if is_confirmation(post.text, post.language, post.label):
        return Confirmed()
    return Posted(post.label)


def move_for(signal: Signal, settings: ResolutionSettings) -> Move:
    """The state machine's move for ``signal``, with the thresholds of ``settings``."""
    if isinstance(signal, CustomerPost):
        return read_post(signal, settings)
    if isinstance(signal, StaleCheck):
        return StaleAfter(now=signal.now, after_days=settings.unresolved_after_days)
    return signal


def transition(case: CaseFacts, signal: Signal, *, now: datetime, settings: ResolutionSettings) -> Transition | None:
    """The transition ``signal`` makes from ``case``'s state, or None when it changes nothing.

    Raises TransitionRefused for an agent resolution without a note. ``now`` stamps nothing here; it is the
    clock the caller records with.
    """
    return decide(case, move_for(signal, settings))


__all__ = [
    "RESOLUTIONS",
    "STATES",
    "AgentReopened",
    "AgentResolved",
    "CaseFacts",
    "CsatAnswer",
    "CustomerPost",
    "ReplySent",
    "Signal",
    "StaleCheck",
    "Transition",
    "TransitionRefused",
    "is_confirmation",
    "move_for",
    "read_post",
    "transition",
]
