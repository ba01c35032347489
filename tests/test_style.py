"""The care style guide: each issue code triggered and not triggered, per language, and the quoted exemption."""

from __future__ import annotations

import pytest

from responders.style import ISSUE_CODES, StyleIssue, check_style

SIGNATURE = "– Maria"

# A clean reply per language: apology, next step, signature. Each test below breaks exactly one thing.
GOOD = {
    "en": "Hi Jane, I’m so sorry about this. DM me your order number and I’ll trace it today.",
    "da": "Hej Mette! Undskyld! Send mig dit ordrenummer i en DM, så sporer jeg pakken i dag.",
    "fi": "Hei Matti! Olen pahoillani! Lähetä tilausnumerosi yksityisviestillä, niin jäljitän paketin tänään.",
    "et": "Tere, Kadri! Vabandan! Saada tellimuse number privaatsõnumiga, otsin paki täna üles.",
    "he": "היי דנה, ממש מצטערים! אפשר לשלוח לי בפרטי את מספר ההזמנה, ואאתר את החבילה היום.",
    "ko": "김민지 님, 안녕하세요. 정말 죄송합니다. 주문번호를 DM으로 주시면 오늘 바로 확인해 드릴게요.",
}


def check(body: str, language: str, *, quoted: tuple[str, ...] = (), platform: str = "x") -> list[StyleIssue]:
    return check_style(
        f"{body}\n{SIGNATURE}", language=language, platform=platform, signatures=[SIGNATURE], quoted=quoted
    )


def codes(issues: list[StyleIssue]) -> list[str]:
    return [issue.code for issue in issues]


@pytest.mark.parametrize("language", sorted(GOOD))
def test_a_good_reply_has_no_issues(language: str) -> None:
    assert check(GOOD[language], language) == []


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("en", "We apologize for any inconvenience."),
        ("en", "Sorry for any inconvenience caused."),
        ("en", "Thank you for reaching out!"),
        ("en", "Your call is important to us."),
        ("en", "We value your feedback."),
        ("en", "We understand your frustration."),
        ("en", "As per our policy, refunds take 10 days."),
        ("en", "Please be advised that we are busy."),
        ("en", "Kindly send us a DM."),
        ("en", "You are a valued customer."),
        ("en", "THANK YOU FOR REACHING OUT"),
        ("da", "Vi beklager ulejligheden."),
        ("da", "Tak for din henvendelse."),
        ("da", "Send venligst dit ordrenummer."),
        ("da", "Kære kunde, vi forstår din frustration."),
        ("fi", "Pahoittelemme aiheutunutta haittaa."),
        ("fi", "Kiitos yhteydenotostasi!"),
        ("fi", "Arvostamme palautettasi."),
        ("fi", "Lähetä ystävällisesti tilausnumero."),
        ("et", "Vabandame tekitatud ebamugavuste pärast."),
        ("et", "Täname pöördumast!"),
        ("et", "Lugupeetud klient, hindame teie tagasisidet."),
        ("he", "אנו מתנצלים על אי הנוחות."),
        ("he", "תודה על פנייתך!"),
        ("he", "לקוח יקר, בהתאם למדיניות החברה."),
        ("ko", "불편을 드려 죄송합니다."),
        ("ko", "문의해 주셔서 감사합니다."),
        ("ko", "소중한 고객님, 양해 부탁드립니다."),
        ("ko", "불편을드려 죄송합니다."),  # Korean spacing varies
        ("da", "Thank you for reaching out."),  # English boilerplate is caught in every language
    ],
)
def test_scripted_boilerplate_is_flagged(language: str, phrase: str) -> None:
    issues = check(f"{GOOD[language]} {phrase}", language)
    assert "scripted" in codes(issues)
    assert all(issue.code == "scripted" for issue in issues)


@pytest.mark.parametrize(
    ("language", "phrase", "named"),
    [
        ("en", "I can't refund it.", "can't"),
        ("en", "I can’t refund it.", "can’t"),
        ("en", "We CANNOT refund it.", "CANNOT"),
        ("en", "We can not refund it.", "can not"),
        ("en", "It won't happen again.", "won't"),
        ("en", "It won’t happen again.", "won’t"),
        ("en", "We will not refund it.", "will not"),
        ("en", "Don't worry.", "Don't"),
        ("en", "Don’t worry.", "Don’t"),
        ("en", "Please do not worry.", "do not"),
        ("en", "We are unable to help.", "unable to"),
        ("en", "Unfortunately it is gone.", "Unfortunately"),
        ("da", "Vi kan ikke refundere.", "kan ikke"),
        ("da", "Desværre er den væk.", "Desværre"),
        ("da", "Vi vil ikke refundere.", "vil ikke"),
        ("fi", "Emme voi hyvittää.", "Emme voi"),
        ("fi", "Valitettavasti paketti katosi.", "Valitettavasti"),
        ("fi", "Tätä ei voi hyvittää.", "ei voi"),
        ("et", "Me ei saa raha tagastada.", "Me ei saa"),
        ("et", "Kahjuks on pakk kadunud.", "Kahjuks"),
        ("he", "לצערנו החבילה אבדה.", "לצערנו"),
        ("he", "אנחנו לא נוכל להחזיר.", "לא נוכל"),
        ("he", "ולצערנו החבילה אבדה.", "ולצערנו"),  # a one-letter prefix attaches to the word
        ("he", "הנציג לא יכול לעזור.", "לא יכול"),
        ("ko", "환불은 불가능합니다.", "불가능"),
        ("ko", "처리할 수 없습니다.", "할 수 없"),
        ("ko", "안타깝게도 분실되었습니다.", "안타깝게도"),
        ("ko", "처리할수없습니다.", "할수없"),
        ("fi", "Unfortunately it is gone.", "Unfortunately"),  # English is checked in every language
    ],
)
def test_negative_wording_is_flagged_and_named(language: str, phrase: str, named: str) -> None:
    issues = check(f"{GOOD[language]} {phrase}", language)
    assert codes(issues) == ["negative_wording"]
    assert named in issues[0].message


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("en", "Scant details, a candid answer, a donation and a tin can."),
        ("en", "I can help, and I will."),
        ("en", "Your kindness is noted."),  # kindly is boilerplate, kindness is not
        ("da", "Jeg kan godt hjælpe."),
        ("fi", "Voin auttaa heti."),
        ("et", "Saada mulle number, saan aidata."),
        ("he", "אני יכולה לעזור."),
        ("ko", "바로 처리할 수 있습니다."),
    ],
)
def test_similar_but_fine_wording_is_not_flagged(language: str, phrase: str) -> None:
    assert check(f"{GOOD[language]} {phrase}", language) == []


@pytest.mark.parametrize(
    ("language", "without_apology"),
    [
        ("en", "Hi Jane, DM me your order number and I’ll trace it today."),
        ("da", "Hej Mette! Send mig dit ordrenummer i en DM, så sporer jeg pakken i dag."),
        ("fi", "Hei Matti! Lähetä tilausnumerosi yksityisviestillä, niin jäljitän paketin tänään."),
        ("et", "Tere, Kadri! Saada tellimuse number privaatsõnumiga, otsin paki täna üles."),
        ("he", "היי דנה, אפשר לשלוח לי בפרטי את מספר ההזמנה, ואאתר את החבילה היום."),
        ("ko", "김민지 님, 안녕하세요. 주문번호를 DM으로 주시면 오늘 바로 확인해 드릴게요."),
        (
            "da",
            "Hej Mette! Sorry! Send mig dit ordrenummer i en DM.",
        ),  # the apology must be in the reply's language
    ],
)
def test_a_reply_without_an_apology_is_flagged(language: str, without_apology: str) -> None:
    assert codes(check(without_apology, language)) == ["no_apology"]


@pytest.mark.parametrize(
    ("language", "apology"),
    [
        ("en", "I apologise."),
        ("en", "My apologies."),
        ("en", "I APOLOGIZE."),
        ("da", "Jeg beklager."),
        ("fi", "Anteeksi!"),
        ("fi", "Pahoittelen."),
        ("et", "Mul on kahju."),
        ("et", "Vabandust!"),
        ("he", "סליחה!"),
        ("he", "אנחנו מתנצלים."),
        ("ko", "사과드립니다."),
    ],
)
def test_each_apology_word_counts(language: str, apology: str) -> None:
    body = {"en": "Hi Jane,", "da": "Hej!", "fi": "Hei!", "et": "Tere!", "he": "היי,", "ko": "안녕하세요."}[
        language
    ]
    assert check(f"{body} {apology}", language) == []


def test_unfortunately_in_estonian_is_no_apology() -> None:
    assert codes(check("Tere! Kahjuks on pakk kadunud.", "et")) == ["negative_wording", "no_apology"]


@pytest.mark.parametrize("language", sorted(GOOD))
def test_a_reply_without_the_signature_is_flagged(language: str) -> None:
    issues = check_style(GOOD[language], language=language, platform="x", signatures=[SIGNATURE])
    assert codes(issues) == ["no_signature"]
    assert SIGNATURE in issues[0].message


def test_any_accepted_signature_will_do_and_is_trimmed() -> None:
    text = f"{GOOD['en']}\n– M."
    assert check_style(text, language="en", platform="x", signatures=[SIGNATURE, "  – M.  "]) == []
    assert codes(check_style(text, language="en", platform="x", signatures=[])) == ["no_signature"]


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ name }}",
        "{{name}}",
        "{% if vip %}",
        "{name}",
        "{first_name}",
        "[NAME]",
        "[ORDER NUMBER]",
        "[name]",
        "<NAME>",
        "<AGENT_NAME>",
        "XXX",
        "xxxx",
        "TODO",
        "todo",
        "Lorem ipsum",
        "{{ 7*7",
    ],
)
def test_unfilled_placeholders_are_flagged(placeholder: str) -> None:
    issues = check(f"{GOOD['en']} Order {placeholder} is on its way.", "en")
    assert codes(issues) == ["placeholder"]


@pytest.mark.parametrize("fine", ["[1]", "<3", "a {} b", "xx", "Todos", "the (small) print", "50%"])
def test_ordinary_brackets_are_not_placeholders(fine: str) -> None:
    assert check(f"{GOOD['en']} {fine}", "en") == []


@pytest.mark.parametrize(
    ("platform", "length", "flagged"),
    [
        ("x", 280, False),
        ("x", 281, True),
        ("bluesky", 300, False),
        ("bluesky", 301, True),
        ("mastodon", 501, True),
    ],
)
def test_too_long_names_the_count_and_the_limit(platform: str, length: int, flagged: bool) -> None:
    padding = "a" * (length - len(GOOD["en"]) - len(SIGNATURE) - 2)
    issues = check(f"{GOOD['en']} {padding}", "en", platform=platform)
    assert codes(issues) == (["too_long"] if flagged else [])
    if flagged:
        assert str(length) in issues[0].message
        assert platform in issues[0].message


def test_korean_too_long_counts_hangul_double_on_x() -> None:
    issues = check(GOOD["ko"] + " 가" * 100, "ko")
    assert codes(issues) == ["too_long"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_an_empty_reply_has_one_issue(text: str) -> None:
    assert check_style(text, language="en", platform="x", signatures=[SIGNATURE]) == [
        StyleIssue("empty", "the reply is empty")
    ]


@pytest.mark.parametrize(
    ("language", "customer_words"),
    [
        ("en", "I can't log in and support won't answer"),
        ("en", "I can’t log in, kindly fix it"),
        ("en", "{{ 7*7 }} {% raw %} TODO"),
        ("da", "jeg kan ikke logge ind, desværre"),
        ("fi", "en voi kirjautua, valitettavasti"),
        ("et", "ma ei saa sisse logida, kahjuks"),
        ("he", "אני לא יכול להתחבר, לצערי"),
        ("ko", "로그인할 수 없어요, 불가능하대요"),
    ],
)
def test_the_customers_own_words_are_exempt(language: str, customer_words: str) -> None:
    text = f"{GOOD[language]} “{customer_words}”"
    assert check(text, language, quoted=(customer_words,)) == []
    assert check(text, language) != []


def test_the_exemption_covers_only_the_quote() -> None:
    quote = "I can't log in"
    issues = check(f"{GOOD['en']} You wrote “{quote}”, and I don't like that.", "en", quoted=(quote,))
    assert [(i.code, "don't" in i.message) for i in issues] == [("negative_wording", True)]


def test_issues_come_in_a_stable_order_each_phrase_once() -> None:
    text = "Hi, {{ name }} kindly note we can't and can't, unfortunately. " + "a" * 300
    first = check_style(text, language="en", platform="x", signatures=[SIGNATURE])
    assert first == check_style(text, language="en", platform="x", signatures=[SIGNATURE])
    assert codes(first) == [
        "placeholder",
        "scripted",
        "negative_wording",
        "negative_wording",
        "no_apology",
        "no_signature",
        "too_long",
    ]
    assert ["can't" in first[2].message, "unfortunately" in first[3].message] == [True, True]
    assert [c for c in ISSUE_CODES if c in codes(first)] == list(dict.fromkeys(codes(first)))


def test_unknown_language_is_checked_as_english() -> None:
    assert codes(check("Hallo Jane, we can't.", "de")) == ["negative_wording", "no_apology"]


def test_unknown_platform_is_an_error() -> None:
    with pytest.raises(ValueError):
        check(GOOD["en"], "en", platform="myspace")


@pytest.mark.parametrize(
    ("language", "thanks"),
    [
        ("en", "Hi Jane! Thank you so much! I’ll pass your kind words on to the team."),
        ("da", "Hej Mette! Tusind tak! Jeg giver dine søde ord videre til holdet."),
        ("fi", "Hei Aino! Kiitos paljon! Välitän lämpimät sanasi tiimille."),
        ("et", "Tere, Kaur! Suur aitäh! Annan su head sõnad meeskonnale edasi."),
        ("he", "היי יעל, תודה רבה! אעביר את המילים הטובות לצוות."),
        ("ko", "민지 님, 안녕하세요. 정말 감사합니다! 팀에 꼭 전할게요."),
    ],
)
def test_a_thank_you_needs_no_apology(language: str, thanks: str) -> None:
    text = f"{thanks}\n{SIGNATURE}"
    assert check_style(text, language=language, platform="x", signatures=[SIGNATURE], needs_apology=False) == []
    assert codes(check_style(text, language=language, platform="x", signatures=[SIGNATURE])) == ["no_apology"]


@pytest.mark.parametrize(
    ("language", "swearing"),
    [("en", "this shitty app"), ("da", "jeres skide app"), ("fi", "vittu mitä touhua"), ("et", "kurat, jälle"),
     ("he", "האפליקציה המחורבנת"), ("ko", "존나 짜증나")],
)
def test_profanity_is_flagged_even_as_the_customers_own_words(language: str, swearing: str) -> None:
    issues = check(f"{GOOD[language]} “{swearing}”", language, quoted=(swearing,))
    assert codes(issues) == ["profanity"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{GOOD['en']}\n{SIGNATURE}", []),
        (f"{GOOD['en']}\n{SIGNATURE}\n\n", []),
        (f"{SIGNATURE}\n{GOOD['en']}", ["signature_not_last"]),
        (f"{GOOD['en']} {SIGNATURE} and one more thing.", ["signature_not_last"]),
        (f"{GOOD['en']}\n{SIGNATURE}\nP.S. one more thing", ["signature_not_last"]),
        (f"{GOOD['en']} {SIGNATURE}", []),
        (GOOD["en"], ["no_signature"]),
    ],
)
def test_the_signature_ends_the_reply(text: str, expected: list[str]) -> None:
    assert codes(check_style(text, language="en", platform="x", signatures=[SIGNATURE])) == expected
