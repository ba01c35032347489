"""Which mentions are complaints: a pure decision over sentiment and severity words."""

from __future__ import annotations

from collections.abc import Sequence


def is_complaint(
    *,
    label: str,
    score: float,
    severity_hits: Sequence[str],
    negative_threshold: float,
    from_brand: bool = False,
) -> bool:
    """True when a mention should open (or join) a case.

    Our own posts never do. Unscored text always does, so that what no model can read still reaches a human.
    A clearly negative post does; a weakly negative or neutral one does when it names something severe
    (refund, outage, ...). Praise never does.
    """
    if from_brand:
        return False
    if label == "unscored":
        return True
    if label == "negative":
        return score >= negative_threshold or bool(severity_hits)
    if label == "neutral":
        return bool(severity_hits)
    return False
