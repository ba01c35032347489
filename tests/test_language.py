"""Language detection: lingua on the text without handles and links, the platform's hint first."""

from __future__ import annotations

import pytest

from monitor.scoring import language
from monitor.scoring.language import (
    NOISE_WINDOW,
    PREFIX_CHARS,
    detect_languages,
    normalise_hint,
    strip_noise,
    supported_hint,
)

SAMPLES = {
    "en": "My order never arrived and nobody answers my emails",
    "da": "Min pakke er aldrig kommet, og ingen svarer på mine mails",
    "fi": "Tilaukseni ei ole vieläkään saapunut eikä kukaan vastaa viesteihini",
    "et": "Minu tellimus pole ikka veel kohale jõudnud ja keegi ei vasta",
    "he": "ההזמנה שלי עדיין לא הגיעה ואף אחד לא עונה",
    "ko": "주문한 물건이 아직 도착하지 않았고 아무도 답하지 않아요",
}


def test_it_detects_the_languages_closeloop_answers_in() -> None:
    assert detect_languages(list(SAMPLES.values())) == list(SAMPLES)


def test_a_hint_that_names_a_language_wins() -> None:
    texts = [SAMPLES["en"], SAMPLES["en"], SAMPLES["he"], SAMPLES["da"], SAMPLES["fi"], SAMPLES["ko"]]
    hints = ["da", "EN-us", "iw", "und", "zxx", None]
    assert detect_languages(texts, hints) == ["da", "en", "he", "da", "fi", "ko"]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("en", "en"),
        ("pt-BR", "pt"),
        ("iw", "he"),
        ("in", "id"),
        ("und", None),
        ("zxx", None),
        ("qme", None),
        ("", None),
        (None, None),
        ("e", None),
        ("e1", None),
    ],
)
def test_it_reads_platform_language_tags(hint: str | None, expected: str | None) -> None:
    assert normalise_hint(hint) == expected


def test_handles_links_and_hashtags_are_ignored() -> None:
    text = (
        "@acme_support @maria@mastodon.social @shop.bsky.social https://example.com/order/123 #fail #epicfail"
    )
    assert (
        strip_noise(text + " Tilaukseni ei ole vieläkään saapunut") == "Tilaukseni ei ole vieläkään saapunut"
    )
    assert detect_languages([text, text + " Min pakke er aldrig kommet, og ingen svarer"]) == [None, "da"]


@pytest.mark.parametrize("text", ["👍", "", "   ", "!!!", "ok", "lol", "🙂🙂 @acme https://x.co/1"])
def test_too_little_text_has_no_language(text: str) -> None:
    assert detect_languages([text]) == [None]


def test_it_keeps_order_and_length() -> None:
    texts = ["👍", SAMPLES["ko"], "", SAMPLES["et"], SAMPLES["en"]]
    assert detect_languages(texts, [None, None, "fi", None, None]) == [None, "ko", "fi", "et", "en"]
    assert detect_languages([]) == []
    with pytest.raises(ValueError):
        detect_languages(["one", "two"], ["en"])


class Spy:
    """lingua's detector, recording how many characters each call was given."""

    def __init__(self, real: object) -> None:
        self.real, self.lengths = real, []  # type: list[int]

    def detect_language_of(self, text: str) -> object:
        self.lengths.append(len(text))
        return self.real.detect_language_of(text)  # type: ignore[attr-defined]

    def detect_languages_in_parallel_of(self, texts: list[str]) -> object:
        self.lengths.extend(len(t) for t in texts)
        return self.real.detect_languages_in_parallel_of(texts)  # type: ignore[attr-defined]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> tuple[Spy, list[int]]:
    detector = Spy(language._detector())
    monkeypatch.setattr(language, "_detector", lambda: detector)
    stripped: list[int] = []
    real_strip = language.strip_noise

    def strip(text: str) -> str:
        stripped.append(len(text))
        return real_strip(text)

    monkeypatch.setattr(language, "strip_noise", strip)
    return detector, stripped


def megabyte(sentence: str) -> str:
    unit = f"@acme https://example.com/o/1 {sentence} #fail "
    return (unit * (1_000_000 // len(unit) + 1))[:1_000_000]


def test_a_megabyte_post_is_read_from_a_bounded_prefix(spy: tuple[Spy, list[int]]) -> None:
    detector, stripped = spy
    posts = [megabyte(SAMPLES["fi"]), megabyte(SAMPLES["da"]), SAMPLES["en"]]

    assert detect_languages(posts) == ["fi", "da", "en"]

    assert len(detector.lengths) == 3 and max(detector.lengths) <= PREFIX_CHARS
    assert detector.lengths[:2] == [PREFIX_CHARS, PREFIX_CHARS], "the prefix is full of text, noise removed"
    assert stripped == [NOISE_WINDOW, NOISE_WINDOW, len(SAMPLES["en"])], "noise is stripped within the window"


def test_hebrew_and_korean_are_read_from_their_script_without_lingua(spy: tuple[Spy, list[int]]) -> None:
    detector, _ = spy
    posts = [megabyte(SAMPLES["ko"]), SAMPLES["he"], "@acme " + SAMPLES["ko"] + " order #123 ok?"]

    assert detect_languages(posts) == ["ko", "he", "ko"]
    assert detector.lengths == []


def test_a_hint_counts_only_when_it_names_a_language_detection_knows(spy: tuple[Spy, list[int]]) -> None:
    detector, _ = spy
    texts = [SAMPLES["fi"], SAMPLES["fi"], SAMPLES["et"], SAMPLES["en"]]

    assert detect_languages(texts, ["xx", "fi-FI", "qme", "pt-BR"]) == ["fi", "fi", "et", "pt"]
    assert len(detector.lengths) == 2, "only the texts whose hint names no language were detected"
    assert (supported_hint("iw"), supported_hint("xx"), supported_hint("und")) == ("he", None, None)
