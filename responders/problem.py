"""What a complaint is about, and the customer's problem in their own words.

Pure functions over the post's text. Keyword lists are per language (see ``monitor.phrases`` for the
notation): Finnish and Estonian keywords are stems, Korean ones match inside words.
"""

from __future__ import annotations

import regex

from monitor.phrases import count_phrases, phrase_list

CATEGORIES = ("delivery", "billing", "outage", "account", "service", "product", "general")
"""Every category a complaint can fall in; ties between keyword counts go to the earlier one."""

KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "delivery": phrase_list("""
            order* | package* | parcel* | deliver* | shipping | shipment* | shipped | arrive* | courier*
            tracking | tracking number | in the mail | postman | dispatch*
        """),
        "billing": phrase_list("""
            refund* | charged | charge | charges | overcharg* | double charged | invoice* | bill | billed
            billing | payment* | paid | pay | money back | my money | subscription* | debited
        """),
        "outage": phrase_list("""
            down | outage* | not working | stopped working | error* | crash* | app | website | site | offline
            bug* | glitch* | loading | won't load | server* | 500
        """),
        "account": phrase_list("""
            login | log in | logged out | sign in | password* | account* | locked | locked out | hacked
            2fa | verification code | reset
        """),
        "service": phrase_list("""
            support | customer service | rude | waiting | waited | no answer | no reply | no response
            agent* | on hold | ignored | nobody answers | no one answers | hung up | chat
        """),
        "product": phrase_list("""
            broken | broke | defective | quality | faulty | damaged | cracked | fell apart | leak* | doesn't work
            poor quality | cheap | useless | stopped charging | product* | item
        """),
    },
    "da": {
        "delivery": phrase_list("""
            ordre* | bestilling* | bestilt | pakke* | levering* | leveret | forsendelse* | fragt* | kommet
            ankommet | postnord | gls | sporing* | pakkeshop
        """),
        "billing": phrase_list("""
            refusion* | tilbagebetal* | penge* | pengene tilbage | trukket | opkræv* | faktura* | regning*
            betaling* | betalt | abonnement* | dobbelt
        """),
        "outage": phrase_list("""
            nede | virker ikke | fejl* | crash* | app | appen | hjemmeside* | siden | nedbrud* | går ned
        """),
        "account": phrase_list("""
            login | log ind | logge ind | adgangskode* | kodeord* | konto* | låst* | hacket | mitid | profil*
        """),
        "service": phrase_list("""
            kundeservice* | support* | uhøflig* | ventet | venter | ventetid* | intet svar | ingen svar
            svarer ikke | medarbejder* | telefonkø*
        """),
        "product": phrase_list("""
            i stykker | defekt* | kvalitet* | ødelagt* | gået i stykker | fejlbehæftet | itu | revnet | produkt*
        """),
    },
    "fi": {
        "delivery": phrase_list("""
            tilaus* | tilauk* | tilasin | tilaam* | paket* | toimit* | lähetys* | lähetyk* | saapu*
            perill* | posti* | kuriiri* | seuranta*
        """),
        "billing": phrase_list("""
            hyvity* | rahat takaisin | raha* | veloit* | lasku* | maksu* | maksoin | maksettu | tilaukse*
            tuplaveloit* | kuukausimaksu*
        """),
        "outage": phrase_list("""
            ei toimi | alhaalla | nurin | katko* | häiriö* | virhe* | kaatu* | sovellu* | sovellus* | appi*
            sivusto* | verkkosivu*
        """),
        "account": phrase_list("""
            kirjaudu* | kirjautu* | salasan* | tili* | tunnu* | lukittu* | lukossa | hakkeroi* | murrettu
        """),
        "service": phrase_list("""
            asiakaspalvelu* | tuki | tuke* | tyly* | epäkohteli* | odot* | vastaus* | ei vastaa* | jono*
            jonotin | jonottanut
        """),
        "product": phrase_list("""
            rikki | rikkinäi* | viallinen | viallis* | laatu* | laadu* | hajo* | vioittu* | haljen* | tuote*
            tuotte*
        """),
    },
    "et": {
        "delivery": phrase_list("""
            tellimus* | tellitud | tellisin | pakk* | paki* | tarne* | tarni* | kohale | saabu* | saadetis*
            kuller* | omniva | jõudnud | pakiautomaat*
        """),
        "billing": phrase_list("""
            raha* | tagasimakse* | arve* | makse* | maksin | maksnud | võeti | debiteeri* | tasu*
            kaks korda | tellimustasu*
        """),
        "outage": phrase_list("""
            maas | ei tööta | rike* | rikke* | viga* | vea* | krahh* | jookseb kokku | äpp* | rakendus*
            veebileh* | leht | lehekülg*
        """),
        "account": phrase_list("""
            sisse logi* | sisselogimi* | parool* | salasõn* | konto* | lukus* | lukust* | häkit* | häkk*
        """),
        "service": phrase_list("""
            klienditeenindus* | tugi | toe* | ebaviisaka* | ebaviisakas | ootan | oota* | vastus* | ei vasta*
            teenindaja* | järjekor*
        """),
        "product": phrase_list("""
            katki | defekt* | kvaliteet* | vigane | vigas* | purune* | praak* | toode | toote*
        """),
    },
    "he": {
        "delivery": phrase_list("""
            הזמנה* | הזמנת* | הזמנתי | חביל* | משלוח* | הגיע* | שליח* | מעקב | דואר
        """),
        "billing": phrase_list("""
            החזר* | חיוב* | חייבו | חשבונית* | תשלום* | שילמתי | כסף | זיכוי* | מנוי*
        """),
        "outage": phrase_list("""
            לא עובד* | נפל* | קרס* | קורס* | תקלה | תקלת* | שגיאה* | אפליקציה* | אתר
        """),
        "account": phrase_list("""
            התחבר* | להתחבר | כניסה | להיכנס | סיסמ* | חשבון | החשבון | נעול* | נפרץ | פרצו
        """),
        "service": phrase_list("""
            שירות* | תמיכה | נציג* | גס רוח | חצוף* | מחכה | ממתין* | המתנה | אין מענה | לא עונים | תשובה
        """),
        "product": phrase_list("""
            שבור* | פגום* | איכות* | מקולקל* | התקלקל* | נשבר* | מוצר*
        """),
    },
    "ko": {
        "delivery": phrase_list("""
            주문 | 택배 | 배송 | 배달 | 도착 | 소포 | 운송장 | 발송 | 물건이 안 와
        """),
        "billing": phrase_list("""
            환불 | 결제 | 청구 | 요금 | 돈 | 이중 | 영수증 | 카드 | 구독
        """),
        "outage": phrase_list("""
            먹통 | 안 돼 | 안돼 | 작동 | 오류 | 에러 | 장애 | 접속 | 앱 | 다운 | 튕겨 | 서버 | 사이트
        """),
        "account": phrase_list("""
            로그인 | 비밀번호 | 계정 | 잠겼 | 잠김 | 해킹 | 아이디
        """),
        "service": phrase_list("""
            고객센터 | 상담 | 불친절 | 기다 | 대기 | 답변 | 응답 | 연락이 없
        """),
        "product": phrase_list("""
            고장 | 불량 | 품질 | 파손 | 깨졌 | 망가 | 하자 | 제품 | 상품
        """),
    },
}

# Words that mark the sentence carrying the complaint, beyond the category keywords.
CUES: dict[str, tuple[str, ...]] = {
    "en": phrase_list(
        "never | still | again | worst | terrible | awful | ridiculous | nobody | not | no | help"
    ),
    "da": phrase_list("aldrig | stadig | igen | ikke | dårlig* | elendig* | skuffet | utilfreds | hjælp"),
    "fi": phrase_list("ei | en | vieläkään | taas | edelleen | huono* | surkea* | pettynyt | apua"),
    "et": phrase_list("ei | pole | ikka | jälle | halb | kohutav | pettunud | abi"),
    "he": phrase_list("לא | אף פעם | עדיין | שוב | גרוע | נורא | מאוכזב* | עזרה"),
    "ko": phrase_list("아직 | 또 | 최악 | 실망 | 왜 | 못 | 안 왔 | 안 돼 | 안 받"),
}

_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
# A mention, link or hashtag: what a post carries at its edges that is no part of the complaint.
_TOKEN = r"(?:@[\w.\-]+(?:@[\w.\-]+)?|/?u/[\w\-]+|https?://\S+|www\.\S+|#\w+)"
_LEADING = regex.compile(rf"^[\s{_BIDI}]*{_TOKEN}(?=[\s\p{{P}}]|$)[\s,:;.]*")
_TRAILING = regex.compile(rf"(?:^|\s)[\s{_BIDI}]*{_TOKEN}[\s\p{{P}}{_BIDI}]*$")
_SENTENCES = regex.compile(r"(?<=[.!?…。！？])\s+|\s*\n\s*")
_LETTER = regex.compile(r"\p{L}")


def _strip_edges(text: str) -> str:
    """``text`` without the mentions, links and hashtags at its start and end; the middle is untouched."""
    previous = None
    while previous != text:
        previous = text
        text = _LEADING.sub("", text, count=1)
        text = _TRAILING.sub("", text, count=1)
    return text.strip()


def _cue_score(sentence: str) -> int:
    score = 0
    for language, categories in KEYWORDS.items():
        score += sum(count_phrases(sentence, words, language) for words in categories.values())
        score += count_phrases(sentence, CUES[language], language)
    return score


def extract_problem(text: str) -> str:
    """The customer's problem in their own words: the sentence with the most complaint cues.

    Mentions, links and hashtags at the edges are dropped, as is a trailing ``.``/``,``/``;``/``:``;
    everything kept is a verbatim substring of ``text`` (no normalisation, bidi marks inside it kept).
    Ties go to the earlier sentence; "" when the post holds no words at all.
    """
    sentences = [s for s in (_strip_edges(part) for part in _SENTENCES.split(_strip_edges(text))) if s]
    worded = [s for s in sentences if _LETTER.search(s)] or sentences
    if not worded:
        return ""
    best = max(worded, key=lambda s: (_cue_score(s), -worded.index(s)))
    return best.rstrip(" \t.,;:")


def classify_complaint(text: str, language: str) -> str:
    """The category (one of CATEGORIES) whose keywords ``text`` mentions most; "general" when none.

    The keywords of ``language`` count alongside English ones (posts mix in English words like "app");
    an unsupported language is matched against every language's keywords.
    """
    languages = [language, "en"] if language in KEYWORDS else list(KEYWORDS)
    scores = {category: 0 for category in CATEGORIES}
    for lang in dict.fromkeys(languages):
        for category, words in KEYWORDS[lang].items():
            scores[category] += count_phrases(text, words, lang)
    best = max(CATEGORIES, key=lambda c: (scores[c], -CATEGORIES.index(c)))
    return best if scores[best] > 0 else "general"


__all__ = ["CATEGORIES", "CUES", "KEYWORDS", "classify_complaint", "extract_problem"]
