"""Which mentions open a case, which go to the praise lane, and which go nowhere."""

import pytest

from monitor.triage import is_complaint, triage
from responders.understanding import Post, understand


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
def test_without_an_intent_it_decides_from_sentiment_and_cues(label: str, score: float, hits: list[str],
                                                              from_brand: bool, expected: bool) -> None:
    assert is_complaint(label=label, score=score, cues=hits, negative_threshold=0.5,
                        from_brand=from_brand) is expected


@pytest.mark.parametrize(
    ("intent", "label", "score", "hits", "lane", "complaint"),
    [
        ("praise", "negative", 0.9, ["refund"], "praise", False),
        ("praise", "unscored", 0.0, [], "praise", False),
        ("complaint", "positive", 0.99, [], "case", True),
        ("complaint", "unscored", 0.0, [], "case", True),
        ("question", "neutral", 0.9, [], "case", False),
        ("other", "neutral", 0.9, [], "none", False),
        ("other", "neutral", 0.9, ["refund"], "case", True),
        ("other", "unscored", 0.0, [], "case", True),
        ("other", "negative", 0.9, [], "case", True),
    ],
    ids=["praise-never-a-case", "unscored-praise", "sarcastic-complaint", "unscored-complaint", "question",
         "other", "other-with-a-severity-word", "unread-other-still-reaches-a-human", "other-but-negative"],
)
def test_with_an_intent_praise_never_opens_a_case(intent: str, label: str, score: float, hits: list[str],
                                                 lane: str, complaint: bool) -> None:
    decision = triage(intent=intent, label=label, score=score, cues=hits, negative_threshold=0.5)
    assert (decision.lane, decision.complaint) == (lane, complaint)
    assert decision.opens_case is (lane == "case")


def test_our_own_posts_go_nowhere_whatever_they_say() -> None:
    for intent in ("complaint", "question", "praise", "other", None):
        decision = triage(intent=intent, label="negative", score=0.99, cues=["refund"], negative_threshold=0.5,
                          from_brand=True)
        assert decision.lane == "none"


@pytest.mark.parametrize(
    ("post", "language", "label", "lane"),
    [
        ("Acme replaced my cracked blender jar for free, 4 years after I bought it. Just impressed.", "en", "negative",
         "praise"),
        ("@acme תודה רבה! השליח הגיע בזמן והכל עובד מצוין 🙏", "he", "unscored", "praise"),
        ("@acme 환불 요청한 지 2주 됐는데 아직도 처리가 안 됐어요", "ko", "unscored", "case"),
        ("@acme do you ship to Iceland?", "en", "neutral", "case"),
    ],
)
def test_read_posts_land_in_their_lane(post: str, language: str, label: str, lane: str) -> None:
    reading = understand(Post(post, language, label, 0.8))
    assert triage(intent=reading.intent, label=label, score=0.8, cues=[], negative_threshold=0.5).lane == lane
