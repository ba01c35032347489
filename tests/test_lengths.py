"""Platform lengths: X's weighted count, Bluesky's graphemes, Mastodon's URLs, and the limits."""

from __future__ import annotations

import pytest

from responders.lengths import PLATFORM_LIMITS, fits, grapheme_count, platform_length

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
THUMBS_DARK = "👍🏿"
FLAG_DK = "🇩🇰"
KEYCAP = "1\ufe0f\u20e3"
E_COMBINING = "e\u0301"
URL = "https://example.com/a/rather/long/path/that/goes/on?and=on&on=on"


def test_limits_are_the_contract() -> None:
    assert PLATFORM_LIMITS == {"x": 280, "bluesky": 300, "mastodon": 500, "reddit": 10_000, "replay": 280}


@pytest.mark.parametrize(
    ("text", "platform", "expected"),
    [
        ("hello", "x", 5),
        ("한국어", "x", 6),  # Hangul weighs 2 on X
        ("한국어", "bluesky", 3),
        ("한국어", "mastodon", 3),
        ("한국어", "reddit", 3),
        ("שלום", "x", 4),  # Hebrew weighs 1
        ("日本", "x", 4),
        ("’“”–—", "x", 5),  # punctuation in 8208-8223 weighs 1
        ("…", "x", 2),  # U+2026 lies outside the light ranges
        (URL, "x", 23),
        (f"see {URL}", "x", 27),
        (f"see {URL}.", "x", 28),  # trailing punctuation is no part of the URL
        ("http://a.io and https://b.io", "x", 23 + 5 + 23),
        ("HTTPS://EXAMPLE.COM/X", "x", 23),
        (URL, "mastodon", 23),
        (f"{URL} {URL}", "mastodon", 47),
        (URL, "bluesky", len(URL)),
        (URL, "reddit", len(URL)),
        (FAMILY, "x", 2),  # an emoji sequence counts 2 on X
        (FAMILY, "bluesky", 1),  # and is one grapheme on Bluesky
        (FAMILY, "mastodon", 7),  # Mastodon counts code points
        (THUMBS_DARK, "x", 2),
        (THUMBS_DARK, "bluesky", 1),
        (FLAG_DK, "x", 2),
        (FLAG_DK, "bluesky", 1),
        (KEYCAP, "bluesky", 1),
        (E_COMBINING, "x", 1),  # NFC first: é
        (E_COMBINING, "bluesky", 1),
        (E_COMBINING, "mastodon", 2),
        ("a\u0300\u0301\u0302", "bluesky", 1),  # combining marks stay with their base
        ("a\u0300\u0301\u0302", "reddit", 4),
        ("", "x", 0),
        ("line\nbreak", "x", 10),
        ("anything", "replay", 8),
    ],
)
def test_platform_length(text: str, platform: str, expected: int) -> None:
    assert platform_length(text, platform) == expected


def test_grapheme_count_sees_what_a_reader_sees() -> None:
    assert grapheme_count(FAMILY + FLAG_DK + E_COMBINING + "ab") == 5


@pytest.mark.parametrize(
    ("text", "platform", "expected"),
    [
        ("a" * 280, "x", True),
        ("a" * 281, "x", False),
        ("가" * 140, "x", True),
        ("가" * 141, "x", False),
        ("ש" * 280, "x", True),
        (FAMILY * 140, "x", True),
        (FAMILY * 141, "x", False),
        (FAMILY * 300, "bluesky", True),
        (FAMILY * 301, "bluesky", False),
        ("a" * 476 + " " + URL, "mastodon", True),
        ("a" * 477 + " " + URL, "mastodon", False),
        ("가" * 500, "mastodon", True),
        ("가" * 10_000, "reddit", True),
        ("가" * 10_001, "reddit", False),
        ("a" * 281, "replay", False),
    ],
)
def test_fits(text: str, platform: str, expected: bool) -> None:
    assert fits(text, platform) is expected


def test_fits_refuses_an_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        fits("hello", "myspace")


def test_counting_never_changes_the_text() -> None:
    text = E_COMBINING + " \u200fשלום\u200f"
    before = text.encode()
    platform_length(text, "x")
    assert text.encode() == before
