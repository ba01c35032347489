"""The radar's topics: a post's own words and phrases in every language, its category, the watch terms."""

from __future__ import annotations

import pytest

from monitor.radar.terms import MAX_TOPICS, display_words, surface_forms, topics, vocabulary

ACME = vocabulary(keywords=["acme", "#acmefail"], handles=["acme", "acme@mastodon.social", "acme.bsky.social"],
                  watch_terms=["outage", "log in", "Brew 2", "katko*", "로그인", "תקלה"])


@pytest.mark.parametrize(
    ("text", "language", "present", "absent"),
    [
        ("@acme can't log in to the app, login page is down! #acmefail https://acme.example/status",
         "en", {"t:login", "t:app", "t:down", "t:login page", "w:log in"},
         {"t:acme", "t:acmefail", "t:the", "t:can't", "t:app login", "t:https", "t:status"}),
        ("@acme appen virker ikke, jeg kan ikke logge ind", "da", {"t:appen", "t:virker", "t:logge"},
         {"t:ikke", "t:jeg", "t:kan"}),
        ("@acme sovellus ei toimi, kirjautuminen epäonnistuu. Onko katko?", "fi",
         {"t:sovell", "t:kirjau", "w:katko*"}, {"t:ei"}),
        ("@acme äpp ei tööta, ei saa sisse logida", "et", {"t:äpp", "t:tööta", "t:sisse logida"}, {"t:ei"}),
        ("@acme האפליקציה לא עובדת, יש תקלה", "he", {"t:אפליקציה", "t:עובדת", "w:תקלה"}, {"t:לא"}),
        ("@acme 로그인이 안 돼요 앱 먹통", "ko", {"t:로그인", "t:먹통", "w:로그인"}, set()),
        ("@acme@mastodon.social the Brew 2 is great", None, {"w:brew 2", "t:brew", "t:great"}, {"t:mastodon"}),
    ],
)
def test_a_post_counts_towards_its_own_words_and_phrases(text: str, language: str | None, present: set[str],
                                                         absent: set[str]) -> None:
    found = set(topics(text, language, vocabulary=ACME))
    assert present <= found
    assert not absent & found


@pytest.mark.parametrize(
    ("first", "second", "language", "shared"),
    [
        ("kirjautuminen ei onnistu", "en voi kirjautua sisään", "fi", "t:kirjau"),
        ("sovellus kaatuu", "sovelluksen päivitys", "fi", "t:sovell"),
        ("האפליקציה קורסת", "אפליקציה גרועה", "he", "t:אפליקציה"),
        ("로그인이 안 돼요", "로그인을 못 해요", "ko", "t:로그인"),
        ("로그인이 안 돼요", "로그인을 못 해요", None, "t:로그인"),
    ],
)
def test_inflected_and_attached_forms_count_together(first: str, second: str, language: str | None,
                                                     shared: str) -> None:
    assert shared in topics(first, language, vocabulary=ACME)
    assert shared in topics(second, language, vocabulary=ACME)


@pytest.mark.parametrize(
    ("category", "expected"),
    [("outage", "c:outage"), ("account", "c:account"), ("general", None), (None, None)],
)
def test_a_complaint_category_is_a_topic_and_general_is_not(category: str | None, expected: str | None) -> None:
    found = topics("@acme nothing works", "en", vocabulary=ACME, category=category)
    assert [t for t in found if t.startswith("c:")] == ([expected] if expected else [])


def test_watch_terms_match_as_phrases_in_the_posts_language() -> None:
    assert "w:outage" in topics("Is there an OUTAGE?", "en", vocabulary=ACME)
    assert "w:outage" not in topics("the outages page", "en", vocabulary=ACME)
    assert "w:katko*" in topics("onko katkoja tänään", "fi", vocabulary=ACME)
    assert "w:로그인" in topics("로그인이 안돼요", "en", vocabulary=ACME), "a Korean term matches inside words"


def test_a_long_post_counts_towards_a_bounded_number_of_topics() -> None:
    text = " ".join(f"word{chr(97 + n % 26)}{chr(97 + n // 26)}" for n in range(300))
    assert len(topics(text, "en", vocabulary=ACME, category="outage")) == MAX_TOPICS
    assert topics(text, "en", vocabulary=ACME, category="outage")[0] == "c:outage"


def test_display_words_give_back_what_people_wrote_without_repeats() -> None:
    surfaces = surface_forms([("sovellus ei toimi", "fi"), ("sovellus kaatuu", "fi"), ("sovelluksen vika", "fi"),
                              ("האפליקציה לא עובדת", "he")])
    ordered = ["c:outage", "w:outage", "t:sovell", "t:אפליקציה", "t:로그인", "t:로그", "w:katko*", "*"]
    assert display_words(ordered, surfaces, limit=10) == ["outage", "sovellus", "האפליקציה", "로그인", "katko"]
    assert display_words(ordered, surfaces, limit=2) == ["outage", "sovellus"]
