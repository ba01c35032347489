"""The urgency ranker: each component, each reason's format, ordering, monotonicity and boundaries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.urgency import (
    UNSCORED_REASON,
    Urgency,
    UrgencyInput,
    format_followers,
    ordinal,
    rank,
    severity_hits,
    time_pressure,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TARGET = 60
WORDS: dict[str, tuple[str, ...]] = {
    "en": ("refund", "refunds", "cancel", "outage", "down", "charged twice", "never arrived", "lawyer"),
    "da": ("refundering", "pengene tilbage", "nedbrud"),
    "ko": ("환불", "먹통", "해지"),
    "he": ("החזר", "ביטול"),
}


def mention(**overrides: object) -> UrgencyInput:
    """A mention worth 0 points: neutral, no followers, no severity words, posted just now."""
    base = UrgencyInput(
        text="hi",
        language="en",
        sentiment_label="neutral",
        sentiment_score=0.9,
        followers=0,
        verified=False,
        created_at=NOW,
        prior_complaints=0,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def ranked(item: UrgencyInput, *, now: datetime = NOW, window: int = 7) -> Urgency:
    return rank(item, now=now, target_minutes=TARGET, severity_words=WORDS, repeat_window_days=window)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_it_scores_a_calm_fresh_mention_zero() -> None:
    result = ranked(mention())
    assert result.score == 0
    assert result.reasons == ("60 min left",)


@pytest.mark.parametrize(
    ("label", "confidence", "points", "reason"),
    [
        ("negative", 0.94, 37.6, "negative 0.94"),
        ("negative", 0.5, 20.0, "negative 0.50"),
        ("negative", 1.0, 40.0, "negative 1.00"),
        ("negative", 1.7, 40.0, "negative 1.00"),
        ("unscored", 0.0, 20.0, UNSCORED_REASON),
        ("neutral", 0.99, 0.0, None),
        ("positive", 0.99, 0.0, None),
    ],
    ids=["negative-094", "negative-050", "negative-max", "clamped", "unscored", "neutral", "positive"],
)
def test_it_scores_negativity(label: str, confidence: float, points: float, reason: str | None) -> None:
    result = ranked(mention(sentiment_label=label, sentiment_score=confidence))
    assert result.score == pytest.approx(points)
    assert result.reasons[0] == (reason or "60 min left")


@pytest.mark.parametrize(
    ("followers", "verified", "points"),
    [
        (None, False, 0.0),
        (0, False, 0.0),
        (100, False, 0.0),
        (1_000, False, 5.0),
        (10_000, False, 10.0),
        (100_000, False, 15.0),
        (1_000_000, False, 20.0),
        (50_000_000, False, 20.0),
        (None, True, 5.0),
        (10_000, True, 15.0),
        (100_000, True, 20.0),
        (1_000_000, True, 20.0),
    ],
    ids=[
        "unknown",
        "none",
        "100",
        "1k",
        "10k",
        "100k",
        "1M",
        "50M-capped",
        "verified-unknown",
        "verified-10k",
        "verified-100k-capped",
        "verified-1M-capped",
    ],
)
def test_it_scores_reach_on_a_log_scale(followers: int | None, verified: bool, points: float) -> None:
    assert ranked(mention(followers=followers, verified=verified)).score == pytest.approx(points)


@pytest.mark.parametrize(
    ("followers", "text"),
    [
        (0, "0 followers"),
        (850, "850 followers"),
        (999, "999 followers"),
        (1_000, "1k followers"),
        (1_050, "1k followers"),
        (12_400, "12.4k followers"),
        (12_499, "12.4k followers"),
        (50_000, "50k followers"),
        (999_999, "999.9k followers"),
        (1_000_000, "1M followers"),
        (1_250_000, "1.2M followers"),
        (12_000_000, "12M followers"),
    ],
    ids=lambda value: str(value),
)
def test_it_formats_followers(followers: int, text: str) -> None:
    assert format_followers(followers) == text


@pytest.mark.parametrize(
    ("followers", "verified", "expected"),
    [
        (999, False, ()),
        (1_000, False, ("1k followers",)),
        (12_400, False, ("12.4k followers",)),
        (999, True, ("verified account",)),
        (1_200_000, True, ("1.2M followers", "verified account")),
    ],
    ids=["999-hidden", "1000-shown", "12.4k", "verified-small", "verified-capped-after-followers"],
)
def test_it_shows_followers_from_1000_and_verified(
    followers: int, verified: bool, expected: tuple[str, ...]
) -> None:
    reasons = ranked(mention(followers=followers, verified=verified)).reasons
    assert reasons[:-1] == expected


@pytest.mark.parametrize(
    ("text", "points", "reasons"),
    [
        ("just a question", 0.0, ()),
        ("I want a refund", 10.0, ("mentions refund",)),
        ("refund or I cancel", 15.0, ("mentions refund", "mentions cancel")),
        ("outage, refund, cancel", 20.0, ("mentions refund", "mentions cancel", "mentions outage")),
        (
            "outage, refund, cancel, lawyer",
            20.0,
            ("mentions refund", "mentions cancel", "mentions outage", "mentions lawyer"),
        ),
    ],
    ids=["none", "one-10", "two-15", "three-20", "four-capped"],
)
def test_it_scores_severity(text: str, points: float, reasons: tuple[str, ...]) -> None:
    result = ranked(mention(text=text))
    assert result.score == pytest.approx(points)
    assert result.reasons[:-1] == reasons


@pytest.mark.parametrize(
    ("text", "language", "hits"),
    [
        ("I want a REFUND!", "en", ["refund"]),
        ("refund.", "en", ["refund"]),
        ("#refund", "en", ["refund"]),
        ("is this refundable?", "en", []),
        ("they refunded me", "en", []),
        ("prerefund", "en", []),
        ("where are my refunds", "en", ["refunds"]),
        ("I got charged twice for one order", "en", ["charged twice"]),
        ("Charged\n  TWICE!!", "en", ["charged twice"]),
        ("charged me twice", "en", []),
        ("overcharged twice", "en", []),
        ("my parcel never arrived", "en", ["never arrived"]),
        ("outage again, need a refund", "en", ["refund", "outage"]),
        ("refund refund REFUND", "en", ["refund"]),
        ("app is down", "en", ["down"]),
        ("downloading now", "en", []),
        ("Jeg vil have refundering", "da", ["refundering"]),
        ("Jeg vil have refundering", "en", []),
        ("Jeg vil have refundering", "da-DK", ["refundering"]),
        ("Jeg vil have pengene tilbage, refund nu", "da", ["refund", "pengene tilbage"]),
        ("Jeg vil have refundering", None, ["refundering"]),
        ("환불해주세요 앱이 또 먹통이네요", "ko", ["환불", "먹통"]),
        ("refund 해주세요 환불", "ko", ["refund", "환불"]),
        ("환불해주세요", "en", []),
        ("\u200fאני רוצה החזר כספי עכשיו", "he", ["החזר"]),
        ("\u200fלמה אין החזר? refund!", "he", ["refund", "החזר"]),
    ],
    ids=[
        "case-insensitive",
        "punctuation",
        "hashtag",
        "no-prefix-refundable",
        "no-inflection-refunded",
        "no-suffix-prerefund",
        "listed-plural",
        "phrase",
        "phrase-any-whitespace",
        "phrase-interrupted",
        "phrase-word-boundary",
        "phrase-never-arrived",
        "config-order",
        "deduplicated",
        "down",
        "down-not-downloading",
        "danish",
        "danish-word-not-for-english-post",
        "language-region-tag",
        "language-plus-english",
        "unknown-language-checks-all",
        "korean-substring",
        "korean-plus-english",
        "korean-word-not-for-english-post",
        "hebrew-rtl-mark",
        "hebrew-plus-english",
    ],
)
def test_it_finds_severity_words(text: str, language: str | None, hits: list[str]) -> None:
    assert severity_hits(text, language, WORDS) == hits


def test_it_reports_a_word_listed_in_two_languages_once() -> None:
    words = {"en": ("refund",), "da": ("refund", "nedbrud")}
    assert severity_hits("refund! nedbrud", "da", words) == ["refund", "nedbrud"]


@pytest.mark.parametrize(
    ("prior", "window", "points", "reason"),
    [
        (0, 7, 0.0, None),
        (1, 7, 5.0, "2nd complaint in 7 days"),
        (2, 7, 10.0, "3rd complaint in 7 days"),
        (3, 7, 10.0, "4th complaint in 7 days"),
        (2, 14, 10.0, "3rd complaint in 14 days"),
        (1, 1, 5.0, "2nd complaint in 1 day"),
        (-1, 7, 0.0, None),
    ],
    ids=["first", "second", "third", "fourth-capped", "window-14", "window-1-singular", "negative-clamped"],
)
def test_it_scores_repeat_complainers(prior: int, window: int, points: float, reason: str | None) -> None:
    result = ranked(mention(prior_complaints=prior), window=window)
    assert result.score == pytest.approx(points)
    assert result.reasons[:-1] == ((reason,) if reason else ())


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (101, "101st"),
        (111, "111th"),
        (112, "112th"),
    ],
    ids=lambda value: str(value),
)
def test_it_writes_ordinals(n: int, text: str) -> None:
    assert ordinal(n) == text


@pytest.mark.parametrize(
    ("minutes_left", "target", "pressure"),
    [
        (90, 60, 0.0),
        (60, 60, 0.0),
        (45, 60, 0.25),
        (30, 60, 0.5),
        (0, 60, 1.0),
        (-5, 60, 1.0),
        (-600, 60, 1.0),
        (60, 120, 0.5),
    ],
    ids=[
        "more-than-target",
        "full-target",
        "quarter",
        "half",
        "deadline",
        "breached",
        "long-breached",
        "target-120",
    ],
)
def test_it_measures_time_pressure(minutes_left: float, target: int, pressure: float) -> None:
    assert time_pressure(minutes_left, target) == pytest.approx(pressure)


@pytest.mark.parametrize(
    ("age", "reason", "points"),
    [
        (timedelta(0), "60 min left", 0.0),
        (timedelta(minutes=42), "18 min left", 7.0),
        (timedelta(minutes=42, seconds=30), "17 min left", 7.083333),
        (timedelta(minutes=59, seconds=59), "0 min left", 9.997222),
        (timedelta(minutes=60), "0 min left", 10.0),
        (timedelta(minutes=60, seconds=1), "breached by 1 min", 10.0),
        (timedelta(minutes=65), "breached by 5 min", 10.0),
        (timedelta(minutes=65, seconds=59), "breached by 5 min", 10.0),
        (timedelta(minutes=120), "breached by 60 min", 10.0),
        (timedelta(minutes=121), "breached by 1 h 1 min", 10.0),
        (timedelta(minutes=180), "breached by 2 h", 10.0),
        (timedelta(minutes=185), "breached by 2 h 5 min", 10.0),
        (timedelta(days=1, minutes=5), "breached by 23 h 5 min", 10.0),
    ],
    ids=[
        "fresh",
        "18-left",
        "rounded-down",
        "last-second",
        "exactly-at-deadline",
        "just-breached",
        "breached-5",
        "breached-rounded-down",
        "breached-60",
        "breached-hours",
        "breached-whole-hours",
        "breached-2h5",
        "breached-a-day",
    ],
)
def test_it_counts_down_from_created_at(age: timedelta, reason: str, points: float) -> None:
    result = ranked(mention(created_at=NOW - age))
    assert result.reasons == (reason,)
    assert result.score == pytest.approx(points, abs=1e-5)
    assert result.deadline == NOW - age + timedelta(minutes=TARGET)
    assert result.minutes_left == pytest.approx(TARGET - age.total_seconds() / 60)


def test_it_is_not_breached_exactly_at_the_deadline() -> None:
    result = ranked(mention(created_at=ago(TARGET)))
    assert result.minutes_left == 0
    assert result.deadline == NOW
    assert "0 min left" in result.reasons


def test_it_accepts_any_aware_timezone() -> None:
    cet = timezone(timedelta(hours=1))
    created = datetime(2026, 11, 20, 12, 30, tzinfo=cet)  # 11:30 UTC
    result = ranked(mention(created_at=created))
    assert result.deadline == datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    assert result.reasons == ("30 min left",)


def test_it_orders_reasons_by_contribution() -> None:
    angry = mention(
        text="Where is my refund?? 3 weeks now",
        sentiment_label="negative",
        sentiment_score=0.94,
        followers=50_000,
        verified=True,
        created_at=ago(50),
        prior_complaints=1,
    )
    # negative 37.6, followers 13.5, refund 10, time 8.3, then a tie at 5: verified before repeat.
    assert ranked(angry).reasons == (
        "negative 0.94",
        "50k followers",
        "mentions refund",
        "10 min left",
        "verified account",
        "2nd complaint in 7 days",
    )


def test_it_breaks_ties_in_the_listed_order() -> None:
    tied = mention(
        text="refund",
        sentiment_label="unscored",
        sentiment_score=0.0,
        followers=10_000,
        created_at=ago(TARGET),
        prior_complaints=2,
    )
    # unscored 20; then refund, followers, repeat and time at 10 each.
    assert ranked(tied).reasons == (
        UNSCORED_REASON,
        "mentions refund",
        "10k followers",
        "3rd complaint in 7 days",
        "0 min left",
    )


def test_it_reaches_100_at_most() -> None:
    worst = mention(
        text="outage, refund, cancel, lawyer",
        sentiment_label="negative",
        sentiment_score=1.0,
        followers=5_000_000,
        verified=True,
        created_at=ago(600),
        prior_complaints=9,
    )
    assert ranked(worst).score == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("urgent", "calm"),
    [
        (
            mention(
                text="@acme I was charged twice and I want a refund NOW",
                sentiment_label="negative",
                sentiment_score=0.93,
                followers=50_000,
                verified=True,
                created_at=ago(50),
            ),
            mention(
                text="@acme do you ship to Iceland?",
                sentiment_label="neutral",
                sentiment_score=0.8,
                followers=230,
                created_at=ago(5),
            ),
        ),
        (
            mention(
                text="app down again", sentiment_label="negative", sentiment_score=0.7, created_at=ago(55)
            ),
            mention(
                text="app down again", sentiment_label="negative", sentiment_score=0.7, created_at=ago(5)
            ),
        ),
        (
            mention(
                text="still no reply", sentiment_label="negative", sentiment_score=0.6, prior_complaints=2
            ),
            mention(text="no reply yet", sentiment_label="negative", sentiment_score=0.6),
        ),
        (
            mention(text="???", sentiment_label="unscored", sentiment_score=0.0),
            mention(text="love it", sentiment_label="positive", sentiment_score=0.99, followers=900),
        ),
    ],
    ids=["angry-verified-refund-vs-mild-question", "older-vs-newer", "repeat-vs-first", "unscored-vs-praise"],
)
def test_it_ranks_realistic_cases(urgent: UrgencyInput, calm: UrgencyInput) -> None:
    assert ranked(urgent).score > ranked(calm).score


@pytest.mark.parametrize(
    "ladder",
    [
        [mention(sentiment_label="negative", sentiment_score=s) for s in (0.0, 0.2, 0.5, 0.51, 0.9, 1.0)],
        [mention(followers=f) for f in (None, 0, 100, 101, 999, 1_000, 50_000, 1_000_000, 10**9)],
        [mention(followers=f, verified=True) for f in (None, 0, 999, 1_000, 50_000, 1_000_000)],
        [mention(created_at=ago(m)) for m in (-30, 0, 1, 30, 59, 60, 61, 120, 10_000)],
        [mention(prior_complaints=p) for p in range(6)],
        [
            mention(text=t)
            for t in ("ok", "refund", "refund cancel", "refund cancel outage", "refund cancel outage down")
        ],
        [
            mention(sentiment_label="positive", sentiment_score=0.9),
            mention(sentiment_label="neutral", sentiment_score=0.9),
            mention(sentiment_label="unscored", sentiment_score=0.0),
            mention(sentiment_label="negative", sentiment_score=0.9),
        ],
    ],
    ids=[
        "more-negative",
        "more-followers",
        "more-followers-verified",
        "less-time",
        "more-repeats",
        "more-severe",
        "labels",
    ],
)
def test_it_never_lowers_the_score_when_a_factor_worsens(ladder: list[UrgencyInput]) -> None:
    scores = [ranked(item).score for item in ladder]
    assert scores == sorted(scores)


@given(
    confidence=st.floats(0, 1),
    followers=st.none() | st.integers(0, 10**9),
    verified=st.booleans(),
    prior=st.integers(0, 50),
    age_minutes=st.floats(-120, 10_000),
    later_minutes=st.floats(0, 1_000),
)
def test_it_stays_within_bounds_and_rises_with_the_clock(
    confidence: float,
    followers: int | None,
    verified: bool,
    prior: int,
    age_minutes: float,
    later_minutes: float,
) -> None:
    item = mention(
        text="refund, outage",
        sentiment_label="negative",
        sentiment_score=confidence,
        followers=followers,
        verified=verified,
        prior_complaints=prior,
        created_at=ago(age_minutes),
    )
    now_result = ranked(item)
    later_result = ranked(item, now=NOW + timedelta(minutes=later_minutes))
    assert 0 <= now_result.score <= 100
    assert later_result.score >= now_result.score


@pytest.mark.parametrize(
    ("item", "now"),
    [
        (mention(created_at=datetime(2026, 11, 20, 11, 0)), NOW),
        (mention(), datetime(2026, 11, 20, 12, 0)),
    ],
    ids=["naive-created-at", "naive-now"],
)
def test_it_rejects_naive_datetimes(item: UrgencyInput, now: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ranked(item, now=now)


@pytest.mark.parametrize(
    ("item", "target", "message"),
    [
        (mention(sentiment_label="angry"), TARGET, "sentiment label"),
        (mention(), 0, "target_minutes"),
        (mention(), -5, "target_minutes"),
    ],
    ids=["unknown-label", "zero-target", "negative-target"],
)
def test_it_rejects_bad_arguments(item: UrgencyInput, target: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rank(item, now=NOW, target_minutes=target, severity_words=WORDS)
