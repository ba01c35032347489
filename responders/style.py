"""The care style guide: what a reply must and must not say, checked on every draft and every edit.

Pure: plain text in, a list of issues out. The customer's own words (``quoted``) are theirs to phrase as they
like, so they are left out of the boilerplate, negative-wording and placeholder checks, but never out of the
profanity check: a reply does not repeat swearing, not even as a quote. An apology is required where one is
owed (a complaint); a thank-you or an answer to a question needs none. The signature of whoever answers ends
the reply (drafts put it on a line of its own).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from monitor.phrases import find_phrases, phrase_list
from responders.lengths import limit_for, platform_length
from responders.understanding.profanity import profanities

ISSUE_CODES = (
    "empty",
    "placeholder",
    "scripted",
    "negative_wording",
    "profanity",
    "no_apology",
    "no_signature",
    "signature_not_last",
    "too_long",
)
"""Every issue code, in the order issues are reported."""


@dataclass(frozen=True, slots=True)
class StyleIssue:
    """One way a reply breaks the style guide; ``message`` names the offending phrase."""

    code: str
    message: str


# Boilerplate that makes a reply read like a script, per language. English is checked in every language.
SCRIPTED: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        we apologize for any inconvenience | we apologise for any inconvenience | for any inconvenience
        sorry for the inconvenience | apologies for the inconvenience | thank you for your patience
        thank you for reaching out | thanks for reaching out | thank you for contacting us | thanks for contacting us
        your call is important | we value your feedback | we appreciate your feedback
        we understand your frustration | i understand your frustration | as per our policy | per our policy
        please be advised | kindly | valued customer | dear customer | we regret to inform | rest assured
        do not hesitate | don't hesitate
    """),
    "da": phrase_list("""
        beklager ulejligheden | undskyld ulejligheden | beklager den ulejlighed | tak for din tålmodighed
        tak fordi du kontaktede os | tak for din henvendelse | tak for henvendelsen | dit opkald er vigtigt
        vi sætter pris på din feedback | vi forstår din frustration | jeg forstår din frustration
        i henhold til vores politik | ifølge vores politik | vær venligst opmærksom på | venligst
        kære kunde | værdsatte kunde | tøv ikke med
    """),
    "fi": phrase_list("""
        pahoittelemme aiheutunutta | aiheutunutta haittaa | aiheutunutta vaivaa | mahdollista haittaa
        kiitos yhteydenotost* | kiitos kun otit yhteyttä | kiitos kärsivällisyydest* | puhelusi on meille tärkeä
        arvostamme palautett* | ymmärrämme turhautumise* | ymmärrän turhautumise*
        käytäntöjemme mukaisesti | käytäntömme mukaisesti | pyydämme huomioimaan
        arvoisa asiakas | hyvä asiakas | ystävällisesti
    """),
    "et": phrase_list("""
        vabandame tekitatud ebamugavus* | tekitatud ebamugavus* | võimalike ebamugavus*
        täname pöördumast | täname pöördumise eest | aitäh pöördumise eest | täname kannatlikkuse eest
        täname, et võtsite meiega ühendust | aitäh, et võtsid meiega ühendust | teie kõne on meile oluline
        hindame teie tagasisidet | mõistame teie frustratsiooni | mõistame teie pettumust
        vastavalt meie reeglitele | vastavalt meie poliitikale | palun pange tähele
        lugupeetud klient | austatud klient | hea klient | lahkesti
    """),
    "he": phrase_list("""
        על אי הנוחות | על אי-הנוחות | תודה שפנית | תודה על פנייתך | תודה על הפנייה | תודה על הסבלנות
        שיחתך חשובה | אנו מעריכים את המשוב | מבינים את התסכול | מבין את התסכול | מבינים את תסכולך
        בהתאם למדיניות | לפי המדיניות שלנו | הננו להודיעך | לידיעתך
        לקוח יקר | לקוחה יקרה | לקוח נכבד | לקוחות יקרים | אל תהסס*
    """),
    "ko": phrase_list("""
        불편을 드려 | 불편을 끼쳐 | 불편을 드린 점 | 문의해 주셔서 감사 | 연락 주셔서 감사 | 기다려 주셔서 감사
        소중한 고객 | 소중한 의견 | 고객님의 전화 | 답답하신 마음 이해 | 불편하신 마음 이해
        정책에 따라 | 규정상 | 양해 부탁 | 양해해 주시기 | 참고하시기 바랍니다
    """),
}

# Wording that tells the customer what we will not do. English is checked in every language.
NEGATIVE: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        can't | cannot | can not | won't | will not | don't | do not | dont | unable to | not able to
        unfortunately
    """),
    "da": phrase_list("""
        kan ikke | kan vi ikke | kan jeg ikke | vil ikke | vil vi ikke | desværre | ikke muligt
        ikke i stand til | lad være med | lad vær med | må ikke
    """),
    "fi": phrase_list("""
        emme voi | en voi | ei voi | emme pysty | en pysty | ei pysty | ei onnistu | ei ole mahdollista
        valitettavasti | älä | älkää
    """),
    "et": phrase_list("""
        ei saa | me ei saa | ei suuda | ei ole võimalik | pole võimalik | kahjuks | ei tohi | ärge
    """),
    "he": phrase_list("""
        לא יכול | לא יכולה | לא יכולים | לא נוכל | לא ניתן | לצערנו | לצערי | אי אפשר
        איננו יכולים | אין באפשרותנו | אל תדאג*
    """),
    "ko": phrase_list("""
        할 수 없 | 수 없습니다 | 드릴 수 없 | 불가능 | 안타깝게도 | 유감스럽게도
        못 합니다 | 못합니다 | 못 해요 | 못해요 | 안 됩니다 | 안됩니다 | 지 마세요 | 지 마십시오
    """),
}

# At least one of these, in the reply's language, makes an apology.
APOLOGY: dict[str, tuple[str, ...]] = {
    "en": ("sorry", "apolog*"),
    "da": ("undskyld*", "beklag*"),
    "fi": ("pahoillani*", "pahoittel*", "anteeksi"),
    "et": ("vabandan", "vabandame", "vabandust", "vabandus*", "kahju"),
    "he": ("סליחה", "מצטער*", "מתנצל*", "התנצל*"),
    "ko": ("죄송", "사과", "미안"),
}

_PLACEHOLDER = regex.compile(
    r"\{\{.*?\}\}|\{%.*?%\}|\{\{|\}\}|\{%|%\}|\{#|#\}"
    r"|\{\s*[A-Za-z_][\w.]*\s*\}"
    r"|\[(?:[A-Z][A-Z0-9_]*(?:[ _][A-Z0-9_]+)*|(?i:(?:first[ _]?|last[ _]?|customer[ _]?|agent[ _]?)?name"
    r"|handle|username|brand|order[ _]?(?:number|id)|signature))\]"
    r"|<(?:[A-Z][A-Z0-9_]*(?:[ _][A-Z0-9_]+)*|(?i:(?:first[ _]?|customer[ _]?|agent[ _]?)?name|handle|brand))>"
    r"|(?<!\w)(?i:xxx+|todo|tbd|lorem)(?!\w)",
    regex.DOTALL,
)
_MASK = "\ufffc"


def _lists(table: dict[str, tuple[str, ...]], language: str) -> list[tuple[str, tuple[str, ...]]]:
    """The language's own list (English for an unknown language), then English's where it differs."""
    own = language if language in table else "en"
    return [(own, table[own])] + ([("en", table["en"])] if own != "en" else [])


def _mask(text: str, quoted: Sequence[str]) -> str:
    for words in sorted({q.strip() for q in quoted if q.strip()}, key=len, reverse=True):
        text = text.replace(unicodedata.normalize("NFC", words), _MASK)
    return text


def _phrase_issues(
    code: str, label: str, text: str, lists: list[tuple[str, tuple[str, ...]]]
) -> list[StyleIssue]:
    found: list[tuple[int, str]] = []
    for language, phrases in lists:
        found += [(m.start(), m.group()) for m in find_phrases(text, phrases, language)]
    issues, seen = [], set()
    for _, phrase in sorted(found):
        if phrase.casefold() not in seen:
            seen.add(phrase.casefold())
            issues.append(StyleIssue(code, f"{label}: “{phrase}”"))
    return issues


def check_style(
    text: str, *, language: str, platform: str, signatures: Sequence[str], quoted: Sequence[str] = (),
    needs_apology: bool = True,
) -> list[StyleIssue]:
    """Every way ``text`` breaks the care style guide, in ISSUE_CODES order then order of appearance.

    ``language`` picks the phrase lists (an unsupported one is checked as English); ``platform`` sets the
    length limit (ValueError when unknown); ``signatures`` are the accepted sign-offs (trimmed), the
    approver's at approval; ``quoted`` are the customer's own words restated in the reply, exempt from the
    wording checks; ``needs_apology`` is False for a reply to praise or to a plain question. A signature
    present but not at the end is ``signature_not_last``. An empty text has exactly one issue,
    ``empty``. Each distinct offending phrase is reported once.
    """
    if not text.strip():
        return [StyleIssue("empty", "the reply is empty")]
    normal = unicodedata.normalize("NFC", text)
    ours = _mask(normal, quoted)
    issues: list[StyleIssue] = []
    seen_placeholders: set[str] = set()
    for match in _PLACEHOLDER.finditer(ours):
        if match.group() not in seen_placeholders:
            seen_placeholders.add(match.group())
            issues.append(StyleIssue("placeholder", f"unfilled placeholder: “{match.group()}”"))
    issues += _phrase_issues("scripted", "scripted boilerplate", ours, _lists(SCRIPTED, language))
    issues += _phrase_issues(
        "negative_wording", "negative wording, say what you will do instead", ours, _lists(NEGATIVE, language)
    )
    swearing = list(dict.fromkeys(word.casefold() for word in profanities(normal, language)))
    if swearing:
        issues.append(StyleIssue("profanity", "profanity, never repeated in a reply: " +
                                 ", ".join(f"“{w}”" for w in swearing)))
    apology_language = language if language in APOLOGY else "en"
    if needs_apology and not find_phrases(normal, APOLOGY[apology_language], apology_language):
        words = "/".join(p.rstrip("*") for p in APOLOGY[apology_language])
        issues.append(StyleIssue("no_apology", f"no apology ({words})"))
    accepted = [unicodedata.normalize("NFC", s.strip()) for s in signatures if s.strip()]
    if not any(s in normal for s in accepted):
        shown = " or ".join(f"“{s}”" for s in accepted) or "(none configured)"
        issues.append(StyleIssue("no_signature", f"not signed with {shown}"))
    elif not any(normal.rstrip().endswith(s) for s in accepted):
        issues.append(StyleIssue("signature_not_last", "the signature must end the reply"))
    length, limit = platform_length(text, platform), limit_for(platform)
    if length > limit:
        issues.append(StyleIssue("too_long", f"too long for {platform}: {length} counted, limit {limit}"))
    return issues


__all__ = ["APOLOGY", "ISSUE_CODES", "NEGATIVE", "SCRIPTED", "StyleIssue", "check_style"]
