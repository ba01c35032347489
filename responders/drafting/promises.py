"""The promise guard: a reply commits the brand only to what the brand's own facts allow.

Pure. Within each sentence that commits us ("I'll", "you will get", "du får", "드리겠습니다", ...) it flags:

- money: any sum of money (the brand's config states none a reply may promise);
- a refund promised ("refund you", "full refund", "money back") unless the brand publishes a refund timing
  or policy (``refund_days``/``refund_policy``), and compensation (vouchers, discounts, free things) always;
- a date or deadline ("by Friday", "tomorrow", "within 3 days") other than the brand's ``refund_days`` and
  ``support_hours``.
Sentences that only restate the customer ("the charge of €89.90", "since the 9th") commit nothing and pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from monitor.phrases import find_phrases, phrase_list
from responders.drafting.request import BrandFacts
from responders.style import StyleIssue
from responders.understanding.facts import amounts, dates

COMMITMENTS: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        i'll | i will | we'll | we will | you'll get | you will get | you'll receive | you will receive | you'll have
        you will have | guarantee* | promise* | within | i can offer | we can offer | i'm sending | we're sending
        i've issued | i have issued | i'm issuing | we're issuing | is on its way | i'm refunding | we're refunding
        let me | i am going to | i'm going to | we are going to | we're going to | approved | has been | have been
        is being | are being | arranged | here is | here's | enjoy | i've added | we've added | i'd like to offer
        we'd like to offer | as a gesture | use code | with code
    """),
    "da": phrase_list("""
        jeg sørger for | vi sørger for | du får | du vil få | du modtager | jeg sender | vi sender | jeg refunderer
        vi refunderer | lover | garanterer | jeg giver | vi giver | inden | senest | er godkendt | er på vej
    """),
    "fi": phrase_list("""
        saat | tulet saamaan | lähetän | lähetämme | palautan | palautamme | hyvitän | hyvitämme | lupaan | lupaamme
        takaan | maksamme | annan | annamme | mennessä | viimeistään | -n sisällä | sisällä
    """),
    "et": phrase_list("""
        saate | saad | saadan | saadame | tagastan | tagastame | hüvitan | hüvitame | luban | lubame | garanteerin
        kanname | anname | annan | hiljemalt | jooksul | sees
    """),
    "he": phrase_list("""
        תקבל | תקבלי | נחזיר | אחזיר | נזכה | אזכה | מבטיח* | מבטיחה | מבטיחים | נפצה | נשלח | אשלח | ניתן לך
        אתן לך | עד | תוך
    """),
    "ko": phrase_list("드리겠 | 드릴게 | 드릴 | 약속 | 보내 드 | 지급 | 까지 | 이내"),
}

REFUNDS: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        refund you | refund your | refunded in full | full refund | money back | reimburse* | issue a refund
        issue the refund | issue your refund | process a refund | process the refund | process your refund
        send you a refund | get a refund | get your refund | receive a refund | receive your refund | a refund of
        refund of | refund the | refund it
    """),
    "da": phrase_list("pengene tilbage | pengene retur | fuld refusion | refunderer | refundere | godtgør* | tilbagebetal*"),
    "fi": phrase_list("rahat takaisin | rahasi takaisin | hyvitämme | hyvitän | hyvitys | hyvityksen | täyden hyvityksen | palautamme rahat"),
    "et": phrase_list("raha tagasi | raha tagastame | tagasimakse | hüvitame | hüvitan"),
    "he": phrase_list("החזר מלא | נחזיר לך | אחזיר לך | החזר של | החזר כספי | את הכסף"),
    "ko": phrase_list("환불해 드 | 환불을 해 드 | 전액 환불 | 돈을 돌려"),
}

COMPENSATION: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        voucher* | discount* | gift card* | store credit | compensat* | free of charge | for free | on the house
        coupon* | goodwill
    """),
    "da": phrase_list("kompensation | kompenser* | rabat* | gavekort | tilgodebevis | gratis"),
    "fi": phrase_list("korvau* | korvaamme | alennus* | alennuksen | lahjakortti* | ilmai* | hyvityskoodi*"),
    "et": phrase_list("hüvitis* | kompensats* | allahindlus* | kinkekaart* | tasuta | sooduskood*"),
    "he": phrase_list("פיצוי | שובר | הנחה | כרטיס מתנה | בחינם | קופון"),
    "ko": phrase_list("보상 | 할인 | 쿠폰 | 상품권 | 무료 | 적립금"),
}

DEADLINES: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        tomorrow | tonight | today | by monday | by tuesday | by wednesday | by thursday | by friday | by saturday
        by sunday | next week | this week | end of the day | end of day | within the hour | in an hour | asap
        right away | immediately | by the end of
    """),
    "da": phrase_list("i morgen | i dag | i aften | næste uge | denne uge | med det samme | straks | inden fredag"),
    "fi": phrase_list("huomenna | tänään | tänä iltana | ensi viikolla | tällä viikolla | heti | välittömästi"),
    "et": phrase_list("homme | täna | täna õhtul | järgmisel nädalal | sel nädalal | kohe | viivitamata"),
    "he": phrase_list("מחר | היום | הערב | בשבוע הבא | השבוע | מיד | מייד"),
    "ko": phrase_list("내일 | 오늘 | 오늘 밤 | 다음 주 | 이번 주 | 즉시 | 바로"),
}

# Durations a deadline is made of, in every language ("within 10 business days", "5 hverdage", "5일").
_DURATION = regex.compile(
    r"\d+\s?(?:(?:business|working)\s)?(?:days?|hours?|weeks?|months?)\b"
    r"|\d+\s(?:hverdage|arbejdsdage|dage|timer|uger)\b"
    r"|\d+\s(?:arkipäivä\w*|päivä\w*|tunni\w*|viiko\w*)"
    r"|\d+\s(?:tööpäeva\w*|päeva\w*|tunni\w*|nädala\w*)"
    r"|\d+\s(?:ימי\sעסקים|ימים|שעות|שבועות)"
    r"|(?:영업일\s?(?:기준\s)?)?\d+\s?(?:영업일|일|시간|주)",
    regex.IGNORECASE,
)
_SENTENCE = regex.compile(r"(?<=[.!?。！？])\s+|\n+")
_NUMBER = regex.compile(r"\d+")


def _found(text: str, table: dict[str, tuple[str, ...]], language: str) -> list[str]:
    found: list[str] = []
    for lang in dict.fromkeys([language, "en"] if language in table else ["en"]):
        found += [m.group() for m in find_phrases(text, table[lang], lang)]
    return found


def _allowed_time(expression: str, facts: BrandFacts) -> bool:
    numbers = _NUMBER.findall(expression)
    if facts.refund_days and numbers and all(int(n) == facts.refund_days for n in numbers):
        return True
    return bool(facts.support_hours) and expression.casefold() in facts.support_hours.casefold()


def promise_issues(text: str, *, language: str, facts: BrandFacts, allowed_text: Sequence[str] = ()) -> list[StyleIssue]:
    """Every commitment in ``text`` that ``facts`` do not allow, as ``promise`` issues, each reported once.

    ``allowed_text`` is text of ours the guard must not read as a promise (the brand's facts as rendered,
    e.g. its support hours). Never raises.
    """
    body = text
    for allowed in allowed_text:
        if allowed.strip():
            body = body.replace(allowed, " ")
    refunds_allowed = bool(facts.refund_days or facts.refund_policy)
    issues: list[StyleIssue] = []
    seen: set[str] = set()

    def flag(message: str) -> None:
        if message not in seen:
            seen.add(message)
            issues.append(StyleIssue("promise", message))

    for sentence in _SENTENCE.split(body):
        if not _found(sentence, COMMITMENTS, language):
            continue
        for amount in amounts(sentence):
            flag(f"promises money the brand’s config does not allow: “{amount.written}”")
        for words in _found(sentence, COMPENSATION, language):
            flag(f"promises compensation the brand’s config does not allow: “{words}”")
        if not refunds_allowed:
            for words in _found(sentence, REFUNDS, language):
                flag(f"promises a refund the brand’s config does not allow: “{words}”")
        expressions = [*dates(sentence, language), *_found(sentence, DEADLINES, language),
                       *(m.group() for m in _DURATION.finditer(sentence))]
        for expression in dict.fromkeys(expressions):
            if not _allowed_time(expression, facts):
                flag(f"promises a date the brand’s config does not allow: “{expression}”")
    return issues


__all__ = ["COMMITMENTS", "COMPENSATION", "DEADLINES", "REFUNDS", "promise_issues"]
