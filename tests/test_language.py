"""Language detection: lingua on the text without handles and links, the platform's hint first."""

from __future__ import annotations

import pytest

from monitor.scoring.language import detect_languages, normalise_hint, strip_noise

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
