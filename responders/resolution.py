"""Case transitions: a pure state machine over plain data.

``open → responded → resolved(confirmed | agent | csat)``, ``responded → unresolved`` when no confirmation
comes within ``resolution.unresolved_after_days``, and ``→ reopened`` when the customer writes again
negatively in the thread, complains again soon after resolution, rates the help poorly, or an agent reopens.
``transition`` decides; it reads no database and no clock (``now`` is passed in), and it says *why* in
``cause`` so the recorded history explains itself. ``None`` means the signal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import regex

from monitor.config import ResolutionSettings

STATES = ("open", "responded", "resolved", "unresolved", "reopened")
RESOLUTIONS = ("confirmed", "agent", "csat")
LOW_CSAT = 2
"""A satisfaction answer this low on a resolved case reopens it: the customer says it is not fixed."""


class TransitionRefused(ValueError):
    """A signal that may not be applied as given (an agent resolution without a note)."""


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the state machine needs to know about a case."""

    state: str
    state_since: datetime
    resolved_at: datetime | None = None
    first_response_at: datetime | None = None
    csat_requested_at: datetime | None = None
    csat: int | None = None


@dataclass(frozen=True, slots=True)
class ReplySent:
    at: datetime


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
class AgentResolved:
    agent: str
    note: str


@dataclass(frozen=True, slots=True)
class AgentReopened:
    agent: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CsatAnswer:
    score: int


@dataclass(frozen=True, slots=True)
class StaleCheck:
    now: datetime


Signal = ReplySent | CustomerPost | AgentResolved | AgentReopened | CsatAnswer | StaleCheck


@dataclass(frozen=True, slots=True)
class Transition:
    """What to record: the move (``to_state`` may equal ``from_state`` for a CSAT score on a resolved case),
    its cause, and the fields it sets. ``clears_resolution`` empties resolution and resolved_at."""

    from_state: str
    to_state: str
    cause: str
    actor: str
    resolution: str | None = None
    note: str | None = None
    csat: int | None = None
    clears_resolution: bool = False


# Gratitude and "it's fixed" phrases per language, and the words that turn them around ("thanks, but still
# nothing"). English is checked in every language: customers switch.
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
_SPACED = ("he", "ko")  # scripts where a phrase may run into the next word (Hebrew prefixes, Korean particles)


def _found(text: str, phrases: tuple[str, ...], language: str) -> bool:
    for phrase in phrases:
        if language in _SPACED:
            if phrase in text:
                return True
        elif regex.search(rf"(?<!\w){regex.escape(phrase)}(?!\w)", text):
            return True
    return False


def _languages(language: str | None) -> list[str]:
    base = (language or "en").lower().replace("_", "-").split("-")[0]
    return [base, "en"] if base in _CONFIRM and base != "en" else ["en"]


def is_confirmation(text: str, language: str | None, sentiment: str) -> bool:
    """Whether a customer's later post reads as satisfied: positive sentiment, or a gratitude/fixed phrase in
    their language (or English), and never when it is negative or says it is still broken."""
    if sentiment == "negative":
        return False
    folded = text.casefold()
    languages = _languages(language)
    if any(_found(folded, _STILL_BROKEN[lang], lang) for lang in languages):
        return False
    if sentiment == "positive":
        return True
    return any(_found(folded, _CONFIRM[lang], lang) for lang in languages)


def _resolve(case: CaseFacts, resolution: str, cause: str, actor: str, *, note: str | None = None,
             csat: int | None = None) -> Transition:
    return Transition(case.state, "resolved", cause, actor, resolution=resolution, note=note, csat=csat)


def _customer_post(case: CaseFacts, post: CustomerPost, settings: ResolutionSettings) -> Transition | None:
    if not post.in_thread:
        if case.state != "resolved" or not post.is_complaint or case.resolved_at is None:
            return None
        if post.at - case.resolved_at > timedelta(days=settings.reopen_window_days):
            return None
        return Transition(case.state, "reopened", f"new_complaint_within_{settings.reopen_window_days}d",
                          "customer", clears_resolution=True)
    if post.label == "negative":
        if case.state in ("responded", "resolved", "unresolved"):
            return Transition(case.state, "reopened", "customer_negative_in_thread", "customer",
                              clears_resolution=case.state == "resolved")
        return None
    if case.state in ("open", "responded", "unresolved", "reopened") and is_confirmation(
        post.text, post.language, post.label
    ):
        return _resolve(case, "confirmed", "customer_confirmed", "customer")
    return None


def transition(case: CaseFacts, signal: Signal, *, now: datetime, settings: ResolutionSettings) -> Transition | None:
    """The move ``signal`` makes from ``case``'s state, or None when it changes nothing.

    Raises TransitionRefused for an agent resolution without a note. ``now`` stamps nothing here; it is the
    clock the caller records with, passed so every rule that depends on time is decided from the same one.
    """
    state = case.state
    if isinstance(signal, ReplySent):
        if state in ("open", "reopened"):
            return Transition(state, "responded", "reply_sent", "outbox")
        return None
    if isinstance(signal, CustomerPost):
        return _customer_post(case, signal, settings)
    if isinstance(signal, AgentResolved):
        if not signal.note.strip():
            raise TransitionRefused("an agent resolution needs a note saying what fixed it")
        if state == "resolved":
            return None
        return _resolve(case, "agent", "agent_resolved", signal.agent, note=signal.note.strip())
    if isinstance(signal, AgentReopened):
        if state in ("resolved", "unresolved"):
            return Transition(state, "reopened", "agent_reopened", signal.agent, note=signal.reason or None,
                              clears_resolution=state == "resolved")
        return None
    if isinstance(signal, CsatAnswer):
        if not 1 <= signal.score <= 5:
            raise TransitionRefused(f"a CSAT score is 1 to 5, not {signal.score}")
        if state == "resolved":
            if signal.score <= LOW_CSAT:
                return Transition(state, "reopened", f"low_csat_{signal.score}", "customer", csat=signal.score,
                                  clears_resolution=True)
            return Transition(state, state, f"csat_{signal.score}", "customer", csat=signal.score)
        if state in ("responded", "unresolved"):
            if signal.score <= LOW_CSAT:
                return Transition(state, state, f"csat_{signal.score}", "customer", csat=signal.score)
            return _resolve(case, "csat", f"csat_{signal.score}", "customer", csat=signal.score)
        return None
    if isinstance(signal, StaleCheck):
        days = settings.unresolved_after_days
        if state == "responded" and signal.now - case.state_since >= timedelta(days=days):
            return Transition(state, "unresolved", f"no_confirmation_{days}d", "tracker")
        return None
    raise TypeError(f"unknown signal {signal!r}")


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
    "transition",
]
