"""Which mentions are complaints: a pure decision over sentiment and complaint cues."""

from __future__ import annotations

from collections.abc import Sequence

# Below this confidence a "positive" label is too weak to outvote a complaint cue ("charged me twice, great").
WEAK_POSITIVE = 0.5


def is_complaint(
    *,
    label: str,
    score: float,
    cues: Sequence[str],
    negative_threshold: float,
    from_brand: bool = False,
) -> bool:
    """True when a mention should open (or join) a case.

    ``cues`` are what the post names that complaints name: severity words (refund, outage, ...) and a
    complaint category (delivery, billing, ...). Our own posts never open a case. Unscored text always does,
    so that what no model can read still reaches a human. A clearly negative post does; a weakly negative,
    neutral or weakly positive one does when it carries a cue. Confident praise never does. The desk errs
    towards a human look: a wrong case costs one reject, a missed complaint costs a customer.
    """
    if from_brand:
        return False
    if label == "unscored":
        return True
    if label == "negative":
        return score >= negative_threshold or bool(cues)
    if label == "neutral":
        return bool(cues)
    if label == "positive":
        return score < WEAK_POSITIVE and bool(cues)
    return False
