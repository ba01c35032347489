"""Understanding a post: intent, category, detail and facts in six languages, and what history adds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responders.understanding import CATEGORIES, INTENTS, EarlierContact, Post, understand
from responders.understanding.facts import amounts, dates, order_numbers, products, tried
from responders.understanding.profanity import profanities

CATALOGUE = ("Brew 2", "Air Pro", "Buds", "Acme Plus")


def read(text: str, language: str = "en", **post: object) -> object:
    return understand(Post(text, language, **post), catalogue=CATALOGUE)  # type: ignore[arg-type]


# (language, post, intent, category)
INTENT_AND_CATEGORY = [
    ("en", "@acme my order #A-30318 says delivered yesterday but there's nothing here. what now?", "complaint", "delivery"),
    ("en", "@acme I cancelled my order 3 days ago and still no refund. Where is my €89.90?", "complaint", "billing"),
    ("en", "@acme login keeps failing with \"error 1042\" on android. reinstalled twice", "complaint", "account"),
    ("en", "@acme the app crashes every time I open the basket", "complaint", "outage"),
    ("en", "@acme my Brew 2 leaks water all over the counter every single morning", "complaint", "product"),
    ("en", "@acme 45 minutes on hold and then the call just dropped. called 3 times today.", "complaint", "service"),
    ("en", "@acme refund??", "complaint", "billing"),
    ("en", "Acme replaced my cracked blender jar for free, 4 years after I bought it. Not sponsored, just impressed.",
     "praise", "product"),
    ("en", "@acme shoutout to Leo on your support team, sorted my return in like 5 minutes 🙌", "praise", "service"),
    ("en", "@acme thanks for nothing, still no refund", "complaint", "billing"),
    ("en", "@acme.bsky.social Buds left earbud died. 3 months old. not impressed", "complaint", "product"),
    ("en", "@acme do you ship to Iceland? checkout won't let me pick it as a country", "question", "delivery"),
    ("en", "@acme what are your customer service hours on weekends?", "question", "service"),
    ("en", "@acme how long do refunds usually take?", "question", "billing"),
    ("en", "just ordered the Brew 2 from @acme, let's see if it's as good as everyone says", "other", "product"),
    ("en", "@acme Wym", "other", "general"),
    ("en", "@acme 👀", "other", "general"),
    ("da", "@acme hvor er min pakke?? ordre 48213 skulle have været leveret i tirsdags", "complaint", "delivery"),
    ("da", "@acme jeg annullerede min ordre for en uge siden og har stadig ikke fået mine 499 kr retur", "complaint",
     "billing"),
    ("da", "@acme jeres kundeservice er så uhøflige. Medarbejderen lagde bare på.", "complaint", "service"),
    ("da", "@acme tusind tak, pakken kom en dag før tid!", "praise", "delivery"),
    ("da", "@acme hvornår har I åbent i kundeservice i weekenden?", "question", "service"),
    ("fi", "@acme sovellus kaatuu joka kerta kun yritän kirjautua. onko teillä joku katko päällä?", "complaint",
     "outage"),
    ("fi", "@acme en pääse kirjautumaan, salasanan palautusviesti ei tule koskaan", "complaint", "account"),
    ("fi", "Kiitos @acme@mastodon.social, paketti tuli päivän etuajassa! 📦", "praise", "delivery"),
    ("fi", "@acme toimitatteko Ahvenanmaalle?", "question", "delivery"),
    ("fi", "tilasin juuri Brew 2:n @acme:lta, katsotaan onko hyvä", "other", "product"),
    ("et", "@acme tellisin kaks nädalat tagasi ja pakk pole ikka veel kohale jõudnud. kus see on?", "complaint",
     "delivery"),
    ("et", "@acme raha võeti kaks korda, aga tagasimakset pole siiani tulnud", "complaint", "billing"),
    ("et", "@acme suur tänu Kristiinale klienditeeninduses, lahendas kõik kohe ära", "praise", "service"),
    ("et", "@acme kas te saadate ka Saaremaale?", "question", "delivery"),
    ("he", "@acme ההזמנה שלי עדיין לא הגיעה אחרי שבועיים", "complaint", "delivery"),
    ("he", "@acme אני לא יכול להתחבר לחשבון שלי, הסיסמה לא עובדת", "complaint", "account"),
    ("he", "@acme תודה רבה! השליח הגיע בזמן והכל עובד מצוין 🙏", "praise", "delivery"),
    ("he", "@acme אתם שולחים לאילת?", "question", "delivery"),
    ("ko", "@acme 결제가 두 번 됐는데 환불은 언제 되나요?", "complaint", "billing"),
    ("ko", "@acme 앱이 계속 먹통이에요", "complaint", "outage"),
    ("ko", "@acme 새로 나온 Buds 음질 진짜 좋네요 👍 출퇴근길에 잘 쓰고 있어요", "praise", "product"),
    ("ko", "@acme 토요일에도 고객센터 운영하나요?", "question", "service"),
    ("ko", "@acme ㅋㅋㅋ", "other", "general"),
]


@pytest.mark.parametrize(("language", "post", "intent", "category"), INTENT_AND_CATEGORY)
def test_it_reads_intent_and_category(language: str, post: str, intent: str, category: str) -> None:
    reading = read(post, language)
    assert (reading.intent, reading.category) == (intent, category), reading.reasons  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("label", "score", "post", "intent"),
    [
        ("negative", 0.9, "@acme well that was something", "complaint"),
        ("positive", 0.9, "@acme well that was something", "praise"),
        ("negative", 0.3, "@acme well that was something", "other"),
        ("unscored", 0.0, "@acme well that was something", "other"),
        ("positive", 0.95, "@acme charged twice. great.", "complaint"),
    ],
)
def test_a_confident_sentiment_label_is_one_cue(label: str, score: float, post: str, intent: str) -> None:
    assert read(post, label=label, score=score).intent == intent  # type: ignore[attr-defined]


# Words outvote the model's mood, in each language: (language, post, label, score, intent).
WORDS_OVER_MOOD = [
    # A denied problem is praise, even when the model hears "problem" and says negative.
    ("en", "@acme not one issue in five years of ordering from you, keep going", "negative", 0.9, "praise"),
    ("da", "@acme har aldrig haft nogen problemer med jer", "negative", 0.8, "praise"),
    ("fi", "@acme ei ikinä mitään ongelmia teidän kanssa 👌", "negative", 0.7, "praise"),
    ("et", "@acme pole kunagi mingeid probleeme olnud, aitäh", "negative", 0.8, "praise"),
    ("he", "@acme אין לי שום בעיה איתכם, תודה", "negative", 0.9, "praise"),
    ("ko", "@acme 몇 년째 쓰는데 문제 하나도 없어요 감사해요", "negative", 0.9, "praise"),
    # A plain question is a question, however negative the model reads it.
    ("et", "@acme kas saab tellimusele kingipakendi lisada?", "negative", 0.85, "question"),
    ("ko", "@acme 선물 포장도 되나요?", "negative", 0.9, "question"),
    ("he", "@acme אפשר לשלם בביט?", "negative", 0.8, "question"),
    # A mildly positive mood alone is no praise; a sure one is.
    ("da", "kigger på @acme's nye katalog i aften", "positive", 0.6, "other"),
    ("da", "kigger på @acme's nye katalog i aften", "positive", 0.9, "praise"),
    # Sarcasm: a problem named and then "great service" is a complaint, whatever the label.
    ("en", "@acme 40 min of hold music and then it hangs up on me. great service 👏", "positive", 0.8, "complaint"),
    ("fi", "@acme tunti jonossa ja puhelu katkeaa. loistavaa palvelua 👏", "positive", 0.7, "complaint"),
    ("ko", "@acme 한 시간 기다렸는데 전화가 끊기네요. 최고의 서비스 👏", "positive", 0.9, "complaint"),
    # A problem the post says we put right, thanked for, is praise; put right and broken again is not.
    ("en", "@acme my kettle lid snapped and you sent a new one the next day, no fuss. thank you!", "negative", 0.62,
     "praise"),
    ("en", "@acme lid snapped on my kettle, you sent a new one but it snapped too", "negative", 0.9, "complaint"),
    ("da", "@acme låget knækkede, men I sendte mig en ny med det samme. Tak!", "negative", 0.7, "praise"),
    # A smell of burning is a product problem.
    ("en", "@acme my Air Pro smells like burning after a week", "neutral", 0.6, "complaint"),
    ("et", "@acme Air Pro lõhnab kõrbenud järele", "neutral", 0.6, "complaint"),
]


@pytest.mark.parametrize(("language", "post", "label", "score", "intent"), WORDS_OVER_MOOD)
def test_words_outvote_the_sentiment_model(language: str, post: str, label: str, score: float, intent: str) -> None:
    reading = read(post, language, label=label, score=score)
    assert reading.intent == intent, reading.reasons  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("language", "post", "category"),
    [
        ("en", "@acme the verification code never comes so I can't sign up", "account"),
        ("fi", "@acme vahvistusviesti ei tule, en pääse rekisteröitymään", "account"),
        ("ko", "@acme 업데이트하고 앱이 흰 화면만 떠요", "outage"),
        ("da", "@acme kan man købe et nyt låg til kanden separat?", "product"),
        ("he", "@acme המכשיר מריח כמו שרוף", "product"),
    ],
)
def test_categories_named_without_the_usual_words(language: str, post: str, category: str) -> None:
    assert read(post, language).category == category  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("language", "post", "detail"),
    [
        ("en", "@acme I cancelled my order and still no refund", "refund"),
        ("en", "@acme you charged me twice for order 4411", "charge"),
        ("en", "@acme someone hacked my account and changed the email", "hacked"),
        ("en", "@acme order 5521 says delivered but nothing came", "delivered"),
        ("en", "@acme the charger got so hot it melted. dangerous!", "safety"),
        ("en", "@acme how do I change the delivery address on order 6012?", "address"),
        ("da", "@acme min konto er blevet hacket", "hacked"),
        ("fi", "@acme laturi kuumeni niin että muovi suli. vaarallista!", "safety"),
        ("et", "@acme raha pole ikka tagasi", "refund"),
        ("he", "@acme מישהו פרץ לחשבון שלי", "hacked"),
        ("ko", "@acme 배송 완료라고 뜨는데 물건을 못 받았어요", "delivered"),
        ("en", "@acme the app keeps crashing", ""),
    ],
)
def test_it_reads_the_detail_that_changes_the_next_step(language: str, post: str, detail: str) -> None:
    assert read(post, language).detail == detail  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "@acme my order #A-30318 never came", ["A-30318"]),
        ("en", "@acme still no sign of order 774120. courier says", ["774120"]),
        ("en", "@acme the app cancels #BA228 D. C. bookings #fail", []),
        ("en", "@acme #4417 never arrived", ["4417"]),
        ("en", "@acme login fails with error 1042", []),
        ("da", "@acme GLS siger pakken er leveret. Ordrenr. 55201", ["55201"]),
        ("fi", "@acme hyvitys tilauksesta 40977 on käsittelyssä", ["40977"]),
        ("et", "@acme Tellimus 90412 pole kohale jõudnud", ["90412"]),
        ("he", "@acme איך משנים כתובת למשלוח בהזמנה 80441?", ["80441"]),
        ("ko", "@acme 주문번호 K-20931 아직 안 왔어요", ["K-20931"]),
    ],
)
def test_order_numbers(language: str, text: str, expected: list[str]) -> None:
    assert order_numbers(text, language) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where is my €89.90?", ["89.90 EUR"]),
        ("got charged $74.99 twice", ["74.99 USD"]),
        ("mine 499 kr retur", ["499 DKK"]),
        ("fakturaen siger 1.299 kr men prisen var 999 kr", ["1299 DKK", "999 DKK"]),
        ("rahoja 59,90 € ei ole", ["59.90 EUR"]),
        ("nousi 14,99 euroon", ["14.99 EUR"]),
        ("את ה-₪249 בחזרה", ["249 ILS"]),
        ("עלה ל-39 ש״ח", ["39 ILS"]),
        ("구독료가 9,900원으로 올랐나요", ["9900 KRW"]),
        ("£9.99 subscription", ["9.99 GBP"]),
        ("error 500, 2 of the 4 mugs", []),
    ],
)
def test_amounts(text: str, expected: list[str]) -> None:
    assert [str(a) for a in amounts(text)] == expected


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "ordered on the 9th and waited 6 days", ["on the 9th", "6 days"]),
        ("en", "cancelled 3 days ago, promised last week", ["3 days ago", "last week"]),
        ("en", "I DMed you on Monday", ["on Monday"]),
        ("da", "skulle have været leveret i tirsdags", ["i tirsdags"]),
        ("fi", "tilasin vedenkeittimen 12.11. eikä", ["12.11."]),
        ("et", "tellisin veekeetja 5. novembril", ["5. novembril"]),
        ("he", "הזמנתי לפני 10 ימים", ["לפני 10 ימים"]),
        ("ko", "주문한 지 2주가 지났는데", ["2주"]),
    ],
)
def test_dates_are_kept_as_written(language: str, text: str, expected: list[str]) -> None:
    assert dates(text, language) == expected


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "my Brew 2 leaks and the charger broke", ["Brew 2", "charger"]),
        ("en", "Acme replaced my cracked blender jar", ["blender jar"]),
        ("fi", "Ostin Acme Air Pro -tuulettimen", ["Air Pro", "tuulettim"]),
        ("ko", "새로 산 Buds 왼쪽이", ["Buds"]),
    ],
)
def test_products(language: str, text: str, expected: list[str]) -> None:
    assert products(text, language, CATALOGUE) == expected


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "called 3 times and emailed twice", ["called=3", "emailed=2"]),
        ("en", "I DMed you on Monday", ["messaged"]),
        ("en", "third time asking, package never arrived", ["asked=3"]),
        ("en", "me again. still crashing", ["asked"]),
        ("en", "reinstalled twice, same thing", ["reinstalled=2"]),
        ("da", "ventet 40 minutter i telefonkøen. Tredje gang i dag.", ["called=3"]),
        ("da", "har skrevet til jer i DM tre gange", ["messaged=3"]),
        ("fi", "soitin jo kahdesti", ["called=2"]),
        ("et", "kolmandat korda küsin: kus mu pakk on?", ["asked=3"]),
        ("he", "התקשרתי שלוש פעמים", ["called=3"]),
        ("ko", "인증번호 문자가 안 와요. 5번이나 시도했어요", ["retried=5"]),
        ("ko", "누가 제 계정을 해킹해서 이메일을 바꿨어요", []),
    ],
)
def test_what_the_customer_already_tried(language: str, text: str, expected: list[str]) -> None:
    assert [str(a) for a in tried(text, language)] == expected


def test_history_adds_what_the_customer_already_told_us() -> None:
    earlier = EarlierContact(
        text="@acme my order #A-30318 says delivered yesterday but there's nothing here", platform="x",
        days_ago=6, case_state="responded", category="delivery",
    )
    reading = understand(Post("@acme still nothing. no reply to my DM either", "en"), [earlier])
    assert reading.intent == "complaint"
    assert reading.category == "delivery", "a follow-up is about what the earlier case was about"
    assert reading.facts.order_numbers == ()
    assert reading.known.order_numbers == ("A-30318",)
    assert reading.contacts == 2 and reading.repeat


def test_the_post_itself_can_say_it_is_a_repeat_contact() -> None:
    reading = read("@acme third time asking, package never arrived, do I need a chargeback?")
    assert reading.contacts == 3 and reading.repeat  # type: ignore[attr-defined]
    first = read("@acme package never arrived")
    assert first.contacts == 1 and not first.repeat  # type: ignore[attr-defined]


def test_an_earlier_post_without_a_case_is_not_a_repeat_contact() -> None:
    earlier = EarlierContact(text="@acme love the new app", days_ago=30, case_state=None)
    assert understand(Post("@acme my order never arrived", "en"), [earlier]).contacts == 1


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "I'm fucking sick and tired of your shitty internet", ["fuck", "shit"]),
        ("en", "the class assistant passed", []),
        ("da", "jeres skide app", ["skide"]),
        ("fi", "verkkosivu on alhaalla, vittu mitä touhua", ["vittu"]),
        ("et", "kurat, teie äpp jälle ei tööta", ["kurat"]),
        ("en", "sitting here waiting", []),
        ("he", "האפליקציה המחורבנת שלכם", ["המחורבנת"]),
        ("ko", "앱 또 안 되네 존나 짜증나", ["존나"]),
    ],
)
def test_profanity(language: str, text: str, expected: list[str]) -> None:
    assert profanities(text, language) == expected


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400), language=st.none() | st.sampled_from(["en", "da", "fi", "et", "he", "ko", "de", ""]))
def test_any_text_is_read_without_raising(text: str, language: str | None) -> None:
    reading = understand(Post(text, language), [EarlierContact(text=text, case_state="open")])
    assert reading.intent in INTENTS
    assert reading.category in CATEGORIES
    assert reading.contacts >= 2


@pytest.mark.parametrize(
    ("language", "post"),
    [
        ("en", "@acme my Air Pro smells like burning plastic after a week"),
        ("fi", "@acme Air Pro haisee palaneelta, uskallanko edes käyttää?"),
        ("he", "@acme ה-Air Pro שלי מריח כמו פלסטיק שרוף"),
        ("ko", "@acme Air Pro에서 타는 냄새가 나요"),
    ],
)
def test_a_burning_smell_is_a_safety_problem(language: str, post: str) -> None:
    reading = read(post, language)
    assert (reading.intent, reading.category, reading.detail) == ("complaint", "product", "safety")  # type: ignore[attr-defined]
