"""Which mentions open a case: a pure decision over what the post wants (its intent), its sentiment and cues.

Three lanes: ``case`` (a complaint, or a question, that needs a reply from a person), ``praise`` (thanks to
record, and to answer with a thank-you where ``drafting.praise = "thank"``: the pipeline opens a case in the
praise lane, ``case.lane = "praise"``, drafted as a thank-you; never an apology case) and ``none``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Below this confidence a "positive" label is too weak to outvote a complaint cue ("charged me twice, great").
WEAK_POSITIVE = 0.5

LANES = ("case", "praise", "none")


@dataclass(frozen=True, slots=True)
class Triage:
    """Where a mention goes. ``complaint``: the desk treats the post as a complaint (what complaint detection
    measures): read as one, or negative, or unread by any scorer; a question opens a case without being one."""

    lane: str
    complaint: bool
    reason: str

    @property
    def opens_case(self) -> bool:
        return self.lane == "case"


def triage(
    *,
    intent: str | None,
    label: str,
    score: float,
    cues: Sequence[str],
    negative_threshold: float,
    from_brand: bool = False,
    category: str | None = None,
) -> Triage:
    """The lane for a mention.

    ``intent`` is ``understand(...).intent`` (None: unknown, decided from sentiment and cues alone, as before
    the post could be read). ``cues`` are what the post names that complaints name: severity words (refund,
    outage, ...) and, when ``intent`` is None, a complaint category. Our own posts go nowhere. Praise goes to
    the praise lane whatever its sentiment. A complaint opens a case; so does a question (it needs an answer).
    Otherwise: unscored text opens a case (what no model can score still reaches a human); a clearly negative
    post does; a weakly negative, neutral or weakly positive one does when it carries a cue; confident praise
    never does. The desk errs towards a human look: a wrong case costs one reject, a missed complaint costs a
    customer. ``category`` (the reading's problem category) counts as one more cue unless it is "general":
    a negative post about a refund is a complaint even when no word of it is a severity word.
    """
    if category and category != "general":
        cues = [*cues, category]
    if from_brand:
        return Triage("none", False, "our own post")
    if intent == "praise":
        return Triage("praise", False, "praise")
    if intent == "complaint":
        return Triage("case", True, "complaint")
    if intent == "question":
        return Triage("case", False, "question")
    if label == "unscored":
        return Triage("case", True, "unscored: needs a human look")
    if label == "negative" and (score >= negative_threshold or cues):
        return Triage("case", True, "negative")
    if label == "neutral" and cues:
        return Triage("case", True, "neutral with a complaint cue")
    if label == "positive" and score < WEAK_POSITIVE and cues:
        return Triage("case", True, "weakly positive with a complaint cue")
    return Triage("none", False, "no complaint")


def is_complaint(
    *,
    label: str,
    score: float,
    cues: Sequence[str],
    negative_threshold: float,
    from_brand: bool = False,
    intent: str | None = None,
    category: str | None = None,
) -> bool:
    """True when a mention should open (or join) a case (``triage(...).opens_case``)."""
    return triage(
        intent=intent, label=label, score=score, cues=cues, negative_threshold=negative_threshold,
        from_brand=from_brand, category=category,
    ).opens_case


__all__ = ["LANES", "WEAK_POSITIVE", "Triage", "is_complaint", "triage"]
