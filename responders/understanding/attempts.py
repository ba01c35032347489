"""What a customer already tried before writing: calls, emails, messages, chats, tickets, asking again,
reinstalling, retrying. Pure; per-language phrase lists in ``monitor.phrases`` notation, and the repetition
said nearest to each ("called 3 times", "emailed twice", "Tredje gang i dag", "5번이나 시도했어요").
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from monitor.phrases import find_phrases, phrase_list

ATTEMPT_KINDS = (
    "called", "emailed", "messaged", "chat", "ticket", "asked", "reinstalled", "restarted", "retried", "reset",
    "visited",
)
"""What a customer may already have tried, in the order a reply acknowledges them."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """Something the customer already did to get help; ``times`` when they said how often."""

    kind: str
    times: int | None = None

    def __str__(self) -> str:
        return self.kind if self.times is None else f"{self.kind}={self.times}"


ATTEMPTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "called": phrase_list("called | phoned | rang | on the phone | on hold | the call | call just dropped | rudest call"),
        "emailed": phrase_list("emailed | e-mailed | sent an email | sent emails | answers email | answers emails | my emails"),
        "messaged": phrase_list("dmed | dm'd | dm’d | sent a dm | sent you a dm | my dm | messaged | sent a message"),
        "chat": phrase_list("chat bot | chatbot | help chat | live chat | the chat | your chat | their chat | chat"),
        "ticket": phrase_list("ticket | tickets"),
        "asked": phrase_list("""
            second time asking | third time asking | fourth time asking | fifth time asking | 2nd time asking
            3rd time asking | 4th time asking | asking again | asked again | me again | time i've asked | times i've asked
        """),
        "reinstalled": phrase_list("reinstall*"),
        "restarted": phrase_list("restart* | reboot*"),
        "retried": phrase_list("tried again | tried"),
        "reset": phrase_list("password reset | reset email | reset link | reset my password"),
        "visited": phrase_list("went to the store | went into the store | visited the store | in store"),
    },
    "da": {
        "called": phrase_list("ringet | ringede | ringer | telefonkø* | i telefonen | lagde bare på"),
        "emailed": phrase_list("mails | e-mails | sendt en mail | skrevet en mail | mailet"),
        "messaged": phrase_list("dm | besked* | skrevet til jer"),
        "chat": phrase_list("chat*"),
        "asked": phrase_list("anden gang jeg skriver | tredje gang jeg skriver | fjerde gang jeg skriver | skriver igen | spørger igen"),
        "reinstalled": phrase_list("geninstall*"),
        "restarted": phrase_list("genstart*"),
        "retried": phrase_list("prøvet | prøvede"),
        "reset": phrase_list("nulstil*"),
        "visited": phrase_list("i butikken"),
    },
    "fi": {
        "called": phrase_list("soitin | soittanut | soitettu | puhelimessa | puhelu* | jonotin"),
        "emailed": phrase_list("lähetin sähköpostia | sähköpostia | sähköpostiin | sähköposteihin | meilasin"),
        "messaged": phrase_list("yksityisviesti* | viestin | viestejä | dm"),
        "chat": phrase_list("chat* | chätti*"),
        "asked": phrase_list("toinen kerta kun kysyn | kolmas kerta kun kysyn | neljäs kerta kun kysyn | kysyn taas | kysyin jo"),
        "reinstalled": phrase_list("asensin uudelleen | asensin sovelluksen uudelleen"),
        "restarted": phrase_list("käynnistin uudelleen"),
        "retried": phrase_list("kokeilin | yritin"),
        "reset": phrase_list("salasanan palautus* | palautusviesti*"),
        "visited": phrase_list("myymälässä | kaupassa"),
    },
    "et": {
        "called": phrase_list("helistasin | helistanud | telefonil | kõne | pani toru ära"),
        "emailed": phrase_list("e-kiri* | e-kirjadele | meilisin | kirjutasin meili"),
        "messaged": phrase_list("sõnumi* | privaatsõnum* | dm"),
        "chat": phrase_list("vestlus* | chat*"),
        "asked": phrase_list("teist korda küsin | kolmandat korda küsin | neljandat korda küsin | küsin jälle | küsin uuesti"),
        "reinstalled": phrase_list("installisin uuesti"),
        "restarted": phrase_list("taaskäivit*"),
        "retried": phrase_list("proovisin | proovinud"),
        "reset": phrase_list("parooli lähtest* | parooli taast*"),
        "visited": phrase_list("poes"),
    },
    "he": {
        "called": phrase_list("התקשרתי | התקשר* | על הקו | בטלפון | השיחה"),
        "emailed": phrase_list("שלחתי מייל | מיילים | למיילים"),
        "messaged": phrase_list("הודעה פרטית | הודעה | בפרטי | dm"),
        "chat": phrase_list("צ'אט | צאט"),
        "asked": phrase_list("הפעם השנייה שאני שואל* | הפעם השלישית שאני שואל* | הפעם הרביעית שאני שואל* | שואל שוב | שואלת שוב"),
        "reinstalled": phrase_list("התקנתי מחדש"),
        "restarted": phrase_list("הפעלתי מחדש"),
        "retried": phrase_list("ניסיתי"),
        "reset": phrase_list("איפוס סיסמה | איפוס הסיסמה"),
        "visited": phrase_list("בחנות"),
    },
    "ko": {
        "called": phrase_list("전화 | 통화"),
        "emailed": phrase_list("이메일에 | 이메일 | 메일 보냈"),
        "messaged": phrase_list("dm | 메시지 | 쪽지"),
        "chat": phrase_list("채팅 | 챗봇"),
        "asked": phrase_list("번째 문의 | 다시 문의 | 또 문의"),
        "reinstalled": phrase_list("재설치"),
        "restarted": phrase_list("재부팅 | 재시작"),
        "retried": phrase_list("시도했 | 해봤"),
        "reset": phrase_list("비밀번호 재설정"),
        "visited": phrase_list("매장"),
    },
}
# Words in these phrases that only look like an attempt ("changed the email", "이메일을 바꿨") are left to the
# lists above, which name the act ("emailed", "이메일에"), not the thing.
_NOT_AN_ATTEMPT = {"ko": phrase_list("이메일을 바꿨 | 이메일을 변경 | 이메일 주소")}

_NUMBER_WORDS = {
    "en": {"once": 1, "twice": 2, "thrice": 3, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
           "second": 2, "third": 3, "fourth": 4, "fifth": 5, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5},
    "da": {"en": 1, "et": 1, "to": 2, "tre": 3, "fire": 4, "fem": 5, "anden": 2, "tredje": 3, "fjerde": 4,
           "femte": 5},
    "fi": {"kerran": 1, "kahdesti": 2, "yksi": 1, "kaksi": 2, "kolme": 3, "neljä": 4, "viisi": 5, "toinen": 2,
           "kolmas": 3, "neljäs": 4, "viides": 5, "kahdella": 2, "kolmella": 3, "neljällä": 4},
    "et": {"üks": 1, "kaks": 2, "kolm": 3, "neli": 4, "viis": 5, "teist": 2, "kolmandat": 3, "neljandat": 4,
           "kahe": 2, "kolme": 3, "nelja": 4},
    "he": {"פעם": 1, "פעמיים": 2, "שלוש": 3, "שלושה": 3, "ארבע": 4, "ארבעה": 4, "חמש": 5, "חמישה": 5,
           "השנייה": 2, "השלישית": 3, "הרביעית": 4, "שני": 2, "שתי": 2},
    "ko": {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5},
}
_COUNTS = {
    "en": r"(?<!\w)(?:(\d+|one|two|three|four|five|six)\s+times|(once|twice|thrice)|(second|third|fourth|fifth|2nd|3rd|4th|5th)\s+time"
          r"|tried\s+(\d+|two|three|four|five)\s+\w+|(\d+|two|three|four|five)\s+(?:(?:e-?)?mails|messages|calls|tickets))(?!\w)",
    "da": r"(?<!\w)(?:(\d+|to|tre|fire|fem)\s+gange|(anden|tredje|fjerde|femte)\s+gang"
          r"|(\d+|to|tre|fire|fem)\s+(?:(?:e-?)?mails|beskeder|opkald))(?!\w)",
    "fi": r"(?<!\w)(?:(\d+|kaksi|kolme|neljä|viisi)\s+kertaa|(kerran|kahdesti)|(toinen|kolmas|neljäs|viides)\s+kerta"
          r"|(kahdella|kolmella|neljällä|\d+)\s+(?:eri\s+)?kortilla)(?!\w)",
    "et": r"(?<!\w)(?:(\d+|kaks|kolm|neli|viis)\s+korda|(teist|kolmandat|neljandat)\s+korda"
          r"|(kahe|kolme|nelja|\d+)\s+kaardiga)(?!\w)",
    "he": r"(?:(פעמיים)|(\d+|שלוש|ארבע|חמש)\s+פעמים|הפעם\s+(השנייה|השלישית|הרביעית)"
          r"|(\d+|שני|שתי|שלושה|ארבעה|חמישה)\s+(?:כרטיסים|מיילים|הודעות))",
    "ko": r"(?:(\d+)\s?번|(한|두|세|네|다섯)\s번|(한|두|세|네|다섯)\s(?:장|통))",
}
_COUNT_PATTERNS = {language: regex.compile(source, regex.IGNORECASE) for language, source in _COUNTS.items()}


def _count_value(word: str, language: str) -> int | None:
    if word.isdigit():
        return int(word)
    return _NUMBER_WORDS.get(language, {}).get(word.casefold()) or _NUMBER_WORDS["en"].get(word.casefold())


def tried(text: str, language: str) -> list[Attempt]:
    """What the customer says they already tried, in ATTEMPT_KINDS order, each with the repetition said
    nearest to it ("called 3 times", "emailed twice", "Tredje gang i dag", "5번이나 시도했어요")."""
    languages = list(dict.fromkeys([language, "en"] if language in ATTEMPTS else ["en"]))
    masked = text
    for lang in languages:
        for match in find_phrases(text, _NOT_AN_ATTEMPT.get(lang, ()), lang):
            masked = masked[: match.start()] + " " * len(match.group()) + masked[match.end() :]
    places: dict[str, list[int]] = {}
    for lang in languages:
        for kind, phrases in ATTEMPTS[lang].items():
            for match in find_phrases(masked, phrases, lang):
                places.setdefault(kind, []).append(match.start())
    if not places:
        return []
    counts: dict[str, int] = {}
    for lang in languages:
        pattern = _COUNT_PATTERNS.get(lang)
        for match in pattern.finditer(text) if pattern else ():
            word = next(g for g in match.groups() if g)
            value = _count_value(word, lang)
            if value is None:
                continue
            nearest = min(places, key=lambda k: min(abs(p - match.start()) for p in places[k]))
            counts.setdefault(nearest, value)
    return [Attempt(kind, counts.get(kind)) for kind in ATTEMPT_KINDS if kind in places]



__all__ = ["ATTEMPTS", "ATTEMPT_KINDS", "Attempt", "tried"]
