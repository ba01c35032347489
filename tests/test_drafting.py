"""Drafting: personal, style-clean replies in six languages that fit every platform, whatever the post says."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responders.drafting import (
    CATEGORIES,
    SUPPORTED_LANGUAGES,
    DraftRequest,
    DraftResult,
    classify_complaint,
    draft_reply,
    extract_problem,
    greeting_name,
    load_templates,
    reply_language,
)
from responders.lengths import PLATFORM_LIMITS, fits, platform_length
from responders.style import check_style

SIGNATURE = "– Maria"


def request(post: str, language: str | None = "en", **changes: object) -> DraftRequest:
    fields: dict[str, object] = {
        "platform": "x",
        "post_text": post,
        "language": language,
        "author_handle": "jd",
        "author_name": "Jane Doe",
        "brand_name": "Acme",
        "agent_name": "Maria",
        "agent_signature": SIGNATURE,
    }
    fields.update(changes)
    return DraftRequest(**fields)  # type: ignore[arg-type]


# (language, post, author's display name, expected category)
REALISTIC = [
    ("en", "@acme my order #4417 never arrived and it's been two weeks", "Jane Doe", "delivery"),
    (
        "en",
        "@acme you charged me twice for the same order and I still haven't got a refund",
        "Jane Doe",
        "billing",
    ),
    ("en", "@acme the app keeps crashing every time I open it. Fix it please!", "Jane Doe", "outage"),
    (
        "en",
        "@acme I can't log in, I'm locked out of my account and the password reset never comes",
        "Jane",
        "account",
    ),
    ("da", "@acme min pakke er stadig ikke kommet efter to uger", "Mette Hansen", "delivery"),
    (
        "da",
        "@acme I har trukket pengene to gange for min bestilling, og jeg vil have en refusion",
        "Mette",
        "billing",
    ),
    ("da", "@acme appen virker ikke, den går ned hver gang jeg åbner den", "Mette", "outage"),
    (
        "fi",
        "@acme tilaukseni ei ole vieläkään saapunut, vaikka se luvattiin viime viikolla",
        "Matti Virtanen",
        "delivery",
    ),
    ("fi", "@acme minulta veloitettiin kaksi kertaa ja hyvitystä ei ole kuulunut", "Matti", "billing"),
    ("fi", "@acme sovellus kaatuu aina kun yritän avata sen", "Matti", "outage"),
    ("fi", "@acme olen odottanut asiakaspalvelun vastausta jo viikon", "Matti", "service"),
    ("et", "@acme mu pakk pole ikka veel kohale jõudnud", "Kadri Tamm", "delivery"),
    ("et", "@acme raha võeti kaks korda, aga tagasimakset pole siiani tulnud", "Kadri", "billing"),
    ("et", "@acme ma ei saa oma kontole sisse logida, parool ei tööta", "Kadri", "account"),
    ("he", "@acme ההזמנה שלי עדיין לא הגיעה אחרי שבועיים", "דנה כהן", "delivery"),
    ("he", "@acme חייבו אותי פעמיים ועדיין לא קיבלתי החזר", "דנה", "billing"),
    ("he", "@acme האפליקציה קורסת כל פעם שאני מנסה להיכנס", "דנה", "outage"),
    ("he", "@acme אני לא יכול להתחבר לחשבון שלי, הסיסמה לא עובדת", "דנה", "account"),
    ("ko", "@acme 주문한 지 2주가 지났는데 아직도 택배가 안 왔어요", "김민지", "delivery"),
    ("ko", "@acme 결제가 두 번 됐는데 환불은 언제 되나요?", "김민지", "billing"),
    ("ko", "@acme 비밀번호를 바꿨는데도 로그인이 안 돼요", "김민지", "account"),
    ("ko", "@acme 받은 제품이 불량이에요. 화면이 깨졌어요", "김민지", "product"),
]


@pytest.mark.parametrize(("language", "post", "name", "category"), REALISTIC)
def test_a_realistic_complaint_gets_a_clean_personal_reply(
    language: str, post: str, name: str, category: str
) -> None:
    draft = draft_reply(request(post, language, author_name=name))
    assert draft.language == language
    assert draft.category == category
    assert draft.style_issues == []
    assert draft.quote and draft.quote in post  # their own words, verbatim and whole
    assert draft.quote in draft.text
    assert "@acme" not in draft.quote
    assert name.split()[0] in draft.text.splitlines()[0]
    assert draft.text.endswith("\n" + SIGNATURE)
    assert fits(draft.text, "x")
    assert draft.text.count(SIGNATURE) == 1


@pytest.mark.parametrize(
    ("language", "opening", "closing"),
    [
        ("en", "“", "”"),
        ("da", "»", "«"),
        ("fi", "”", "”"),
        ("et", "„", "“"),
        ("he", '"\u2068', '\u2069"'),
        ("ko", "“", "”"),
    ],
)
def test_the_quote_is_set_in_the_languages_quotation_marks(language: str, opening: str, closing: str) -> None:
    post = {"he": "@acme ההזמנה שלי לא הגיעה", "ko": "@acme 택배가 안 왔어요"}.get(
        language, "@acme order 4417 missing"
    )
    draft = draft_reply(request(post, language))
    assert f"{opening}{draft.quote}{closing}" in draft.text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("variant", ["long", "short"])
def test_every_template_renders_clean_with_and_without_a_quote(
    language: str, category: str, variant: str
) -> None:
    templates = load_templates(language)
    body = templates.bodies[(category, variant)]
    for quote in ("the words", ""):
        quoted = f"{templates.quote_open}{quote}{templates.quote_close}" if quote else ""
        text = body.render(name="Jane", quote=quote, quoted=quoted, brand="Acme", agent="Maria")
        assert not quote or quoted in text
        issues = check_style(
            f"{text}\n{SIGNATURE}",
            language=language,
            platform="x",
            signatures=[SIGNATURE],
            quoted=[quote] if quote else [],
        )
        assert issues == [], (language, category, variant, text)


LONG_EN = (
    "@acme " + " ".join(["my order never arrived and nobody answers the phone or the chat"] * 60) + " #fail"
)
LONG_KO = "@acme " + " ".join(["주문한 물건이 아직도 안 왔고 고객센터는 전화를 안 받아요"] * 60)
LONG_HE = "@acme " + " ".join(["ההזמנה שלי לא הגיעה ואף אחד לא עונה בטלפון"] * 60)
NO_SPACES = "@acme " + "가" * 2000


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon", "reddit", "replay"])
@pytest.mark.parametrize(
    ("language", "post"), [("en", LONG_EN), ("ko", LONG_KO), ("he", LONG_HE), ("ko", NO_SPACES)]
)
def test_a_very_long_complaint_still_fits(platform: str, language: str, post: str) -> None:
    draft = draft_reply(request(post, language, platform=platform))
    assert platform_length(draft.text, platform) <= PLATFORM_LIMITS[platform]
    assert draft.style_issues == []
    assert draft.text.endswith("\n" + SIGNATURE)
    assert draft.quote.endswith("…")
    assert draft.quote in draft.text
    assert draft.quote[:-1] in post  # a verbatim prefix, shortened
    assert not draft.quote[:-1].endswith(" ")


def test_a_long_quote_is_cut_at_a_word_boundary() -> None:
    draft = draft_reply(request(LONG_EN))
    kept = draft.quote.removesuffix("…")
    assert LONG_EN.removeprefix("@acme ")[len(kept)] == " "


@pytest.mark.parametrize(
    "post",
    [
        "@acme my order {{ 7*7 }} never arrived {% raw %}",
        "@acme {% for x in range(3) %}{{ x }}{% endfor %} is what your app shows",
        "@acme {{ ''.__class__.__mro__ }} my refund never came",
        "@acme {# comment #} {{ config }} broken again",
    ],
)
def test_template_syntax_in_a_post_comes_out_literally(post: str) -> None:
    draft = draft_reply(request(post))
    assert draft.quote in post.removeprefix("@acme ")
    assert draft.quote == post.removeprefix("@acme ")
    assert draft.quote in draft.text
    assert "49" not in draft.text
    assert "012" not in draft.text
    assert draft.style_issues == []


def test_template_syntax_in_names_and_brand_comes_out_literally() -> None:
    draft = draft_reply(
        request(
            "@acme nobody answers", author_name="{{7*7}}", author_handle="{{7*7}}", brand_name="{{ 7*7 }}"
        )
    )
    assert "49" not in draft.text
    assert "{{ 7*7 }}" in draft.text  # the brand, in the service template
    assert draft.text.startswith("Hi there,")


def test_hebrew_with_rtl_marks_survives_byte_identical() -> None:
    words = "ההזמנה\u200f שלי\u200f לא הגיעה\u200f, ואף אחד לא עונה"
    post = f"\u200f@acme {words}"
    draft = draft_reply(request(post, "he", author_name="דנה כהן"))
    assert draft.quote == words
    assert words.encode("utf-8") in draft.text.encode("utf-8")
    assert "דנה".encode() in draft.text.encode("utf-8")
    assert draft.style_issues == []


def test_decomposed_accents_are_left_as_written() -> None:
    words = "tilaukseni ei ole viela\u0308ka\u0308a\u0308n saapunut"
    draft = draft_reply(request(f"@acme {words}", "fi"))
    assert words in draft.text


@pytest.mark.parametrize(
    ("author_name", "handle", "platform", "expected"),
    [
        ("Jane Doe", "jd", "x", "Jane"),
        ("jane", "jd", "x", "jane"),
        ("Jean-Luc Picard", "jl", "x", "Jean-Luc"),
        ("O’Brien", "ob", "x", "O’Brien"),
        ("Søren Kierkegaard", "sk", "bluesky", "Søren"),
        ("דנה כהן", "dana", "x", "דנה"),
        ("김민지", "minji", "x", "김민지"),
        ("🌸✨ Jane", "jd", "x", "@jd"),
        ("Jane🌸", "jd", "x", "@jd"),
        ("Dr. Jane", "jd", "x", "@jd"),
        ("J", "jd", "x", "@jd"),
        ("ACME Support 24/7", "jd", "x", "ACME"),
        (None, "jd", "x", "@jd"),
        ("", "@jd", "x", "@jd"),
        (None, "jd", "reddit", "u/jd"),
        (None, "u/jd", "reddit", "u/jd"),
        (None, "jd@mastodon.social", "mastodon", "@jd@mastodon.social"),
        (None, "jd.bsky.social", "bluesky", "@jd.bsky.social"),
        (None, "", "x", ""),
        (None, "has space", "x", ""),
    ],
)
def test_greeting_name(author_name: str | None, handle: str, platform: str, expected: str) -> None:
    assert greeting_name(author_name, handle, platform) == expected


def test_the_greeting_uses_the_handle_when_the_name_is_emoji() -> None:
    draft = draft_reply(request("@acme my order never arrived", author_name="✨🌸✨"))
    assert draft.text.startswith("Hi @jd,")


@pytest.mark.parametrize(
    ("detected", "default", "expected"),
    [
        (None, "en", "en"),
        (None, "da", "da"),
        ("da-DK", "en", "da"),
        ("KO", "en", "ko"),
        ("iw", "en", "he"),
        ("de", "fi", "fi"),
        ("de", "xx", "en"),
        ("", "et", "et"),
    ],
)
def test_reply_language(detected: str | None, default: str, expected: str) -> None:
    assert reply_language(detected, default) == expected


def test_an_unknown_post_language_falls_back_to_the_brand_default() -> None:
    draft = draft_reply(request("@acme meine Bestellung ist nicht angekommen", "de", default_language="da"))
    assert draft.language == "da"
    assert draft.style_issues == []


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("my parcel never arrived", "en", "delivery"),
        ("where is my package? tracking says delivered", "en", "delivery"),
        ("I want my money back, you billed me twice", "en", "billing"),
        ("site is down again, error 500", "en", "outage"),
        ("my account was hacked", "en", "account"),
        ("your support agent was so rude", "en", "service"),
        ("the kettle arrived broken, terrible quality", "en", "product"),
        ("just disappointed", "en", "general"),
        ("", "en", "general"),
        ("jeg har ventet en time i telefonkøen hos kundeservice", "da", "service"),
        ("min konto er låst og jeg kan ikke logge ind", "da", "account"),
        ("tuote on rikki ja laatu on surkea", "fi", "product"),
        ("en pääse kirjautumaan, salasana ei kelpaa", "fi", "account"),
        ("klienditeenindus ei vasta, ootan juba nädal", "et", "service"),
        ("toode on katki ja kvaliteet on kehv", "et", "product"),
        ("הנציג היה גס רוח ואין מענה", "he", "service"),
        ("המוצר הגיע שבור", "he", "product"),
        ("고객센터 상담원이 너무 불친절해요", "ko", "service"),
        ("앱이 계속 먹통이에요", "ko", "outage"),
        ("appen virker ikke", "da", "outage"),  # English "app" counts in every language too
        ("the app crashed", "xx", "outage"),  # unknown language: every language's keywords
    ],
)
def test_classify_complaint(text: str, language: str, expected: str) -> None:
    assert classify_complaint(text, language) == expected


@pytest.mark.parametrize(
    ("post", "expected"),
    [
        ("@acme my order never arrived", "my order never arrived"),
        ("@acme, @support: my order never arrived.", "my order never arrived"),
        (
            "Hi @acme. My package still hasn't arrived after 3 weeks! https://t.co/x #fail #acme",
            "My package still hasn't arrived after 3 weeks!",
        ),
        (
            "Love the brand.\nBut the app keeps crashing when I log in",
            "But the app keeps crashing when I log in",
        ),
        ("@acme the @acme app is down", "the @acme app is down"),
        ("@jd@mastodon.social @acme@acme.social the site is down", "the site is down"),
        ("u/acme my refund never came", "my refund never came"),
        ("@acme https://x.com/a/b", ""),
        ("@acme #fail", ""),
        ("", ""),
        ("@acme 😡😡😡", "😡😡😡"),
        ("@acme ההזמנה\u200f לא הגיעה\u200f", "ההזמנה\u200f לא הגיעה\u200f"),
    ],
)
def test_extract_problem(post: str, expected: str) -> None:
    assert extract_problem(post) == expected


def test_a_post_with_no_words_still_gets_an_apology_and_a_next_step() -> None:
    draft = draft_reply(request("@acme https://x.com/jd/status/1"))
    assert draft.quote == ""
    assert "“" not in draft.text
    assert draft.style_issues == []


def test_the_result_carries_the_style_issues_of_its_text() -> None:
    draft = draft_reply(request("@acme my order never arrived", agent_signature="   "))
    assert isinstance(draft, DraftResult)
    assert [issue.code for issue in draft.style_issues] == ["no_signature"]


def test_an_unknown_platform_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        draft_reply(request("@acme my order never arrived", platform="myspace"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    post=st.text(max_size=600),
    handle=st.text(max_size=80),
    name=st.none() | st.text(max_size=80),
    platform=st.sampled_from(sorted(PLATFORM_LIMITS)),
    language=st.none() | st.sampled_from([*SUPPORTED_LANGUAGES, "de", "EN-gb", ""]),
    signature=st.sampled_from([SIGNATURE, "– 민지, Acme 고객지원팀", "— דנה", "/Mette"]),
    brand=st.sampled_from(["Acme", "{{ 7*7 }}", "Åbo Kaffe"]),
)
def test_any_post_gets_a_signed_draft_within_the_limit(
    post: str, handle: str, name: str | None, platform: str, language: str | None, signature: str, brand: str
) -> None:
    draft = draft_reply(
        request(
            post,
            language,
            author_handle=handle,
            author_name=name,
            platform=platform,
            agent_signature=signature,
            brand_name=brand,
        )
    )
    assert fits(draft.text, platform)
    assert draft.text.endswith("\n" + signature)
    assert draft.quote in draft.text
    assert draft.language in SUPPORTED_LANGUAGES
    assert draft.category in CATEGORIES
    assert not [
        i for i in draft.style_issues if i.code in ("too_long", "no_signature", "no_apology", "empty")
    ]
