"""Which mentions are complaints."""

import pytest

from monitor.triage import is_complaint


@pytest.mark.parametrize(
    ("label", "score", "hits", "from_brand", "expected"),
    [
        ("negative", 0.9, [], False, True),
        ("negative", 0.3, [], False, False),
        ("negative", 0.3, ["refund"], False, True),
        ("neutral", 0.8, [], False, False),
        ("neutral", 0.8, ["cancel"], False, True),
        ("positive", 0.99, ["refund"], False, False),
        ("positive", 0.3, ["billing"], False, True),
        ("positive", 0.3, [], False, False),
        ("unscored", 0.0, [], False, True),
        ("negative", 0.99, ["refund"], True, False),
    ],
    ids=["clearly-negative", "weakly-negative", "weakly-negative-severe", "neutral", "neutral-severe",
         "confident-praise", "weak-praise-with-a-cue", "weak-praise", "unscored-reaches-a-human", "our-own-post"],
)
def test_it_decides_complaints(label: str, score: float, hits: list[str], from_brand: bool, expected: bool) -> None:
    assert is_complaint(label=label, score=score, cues=hits, negative_threshold=0.5,
                        from_brand=from_brand) is expected
