"""Within a category, the detail that changes what a reply should do next.

Pure; ``monitor.phrases`` notation. billing: "refund" (money owed back) or "charge" (a wrong charge);
account: "hacked"; delivery: "delivered" (marked delivered, never received); product: "safety" (heat, melting,
danger); a question: "address" (changing where an order goes needs the customer's address, in private).
"""

from __future__ import annotations

from monitor.phrases import find_phrases, phrase_list

DETAILS: dict[str, dict[str, tuple[str, ...]]] = {
    "refund": {
        "en": phrase_list("refund* | money back | my money | chargeback | reimburse*"),
        "da": phrase_list("refusion* | pengene tilbage | penge tilbage | pengene retur | retur | tilbagebetal*"),
        "fi": phrase_list("hyvity* | rahat takaisin | rahani takaisin | rahoja | palautettu | takaisin"),
        "et": phrase_list("tagasimakse* | raha tagasi | raha tagastami* | pole tagasi | ikka tagasi | tagasi"),
        "he": phrase_list("החזר* | בחזרה | תחזירו | הוחזר | זיכוי*"),
        "ko": phrase_list("환불 | 돌려 | 안 들어왔"),
    },
    "hacked": {
        "en": phrase_list("hacked | someone got into | someone logged into | compromised"),
        "da": phrase_list("hacket | nogen har logget ind"),
        "fi": phrase_list("murtautu* | hakkeroi* | murrettu"),
        "et": phrase_list("häkk* | häkit*"),
        "he": phrase_list("פרץ | פרצו | נפרץ"),
        "ko": phrase_list("해킹"),
    },
    "delivered": {
        "en": phrase_list("says delivered | marked as delivered | marked delivered | shows delivered | shows as delivered"),
        "da": phrase_list("er leveret | siger leveret | står som leveret"),
        "fi": phrase_list("on toimitettu | toimitetuksi"),
        "et": phrase_list("kätte toimetatud | on kohale toimetatud"),
        "he": phrase_list("נמסרה | נמסר"),
        "ko": phrase_list("배송 완료 | 배송완료"),
    },
    "safety": {
        "en": phrase_list("dangerous | unsafe | melted | melting | caught fire | smoke | overheat* | burned | burnt | burning | smells like burning"),
        "da": phrase_list("farligt | farlig | smeltede | smelter | brand | røg | overophed* | brændt | lugter af brændt"),
        "fi": phrase_list("vaarallis* | suli | sulanut | savu* | ylikuume* | palaneelta | palanut | uskallanko"),
        "et": phrase_list("ohtlik* | sulas | sulanud | suits* | ülekuume* | kõrbe*"),
        "he": phrase_list("מסוכן | נמס | עשן | התחמם | שרוף | ריח של שריפה"),
        "ko": phrase_list("위험 | 녹았 | 연기 | 과열 | 타는 냄새"),
    },
    "address": {
        "en": phrase_list("change the delivery address | change my address | change the address | delivery address"),
        "da": phrase_list("leveringsadresse* | ændre adressen"),
        "fi": phrase_list("toimitusosoit* | vaihdan osoitteen"),
        "et": phrase_list("tarneaadress* | muuta aadressi"),
        "he": phrase_list("כתובת למשלוח | לשנות כתובת | משנים כתובת"),
        "ko": phrase_list("배송지 변경 | 주소 변경"),
    },
}

# Which details can apply to a reading's category (or intent, for "address").
APPLIES = {"billing": ("refund",), "account": ("hacked",), "delivery": ("delivered",), "product": ("safety",)}


def detail_of(text: str, language: str, *, category: str, intent: str) -> str:
    """The detail of ``category`` that ``text`` names ("refund", "charge", "hacked", "delivered", "safety",
    "address"), or ""; billing without a refund cue is a wrong "charge"."""
    languages = list(dict.fromkeys([language, "en"]))

    def named(detail: str) -> bool:
        table = DETAILS[detail]
        return any(find_phrases(text, table.get(lang, ()), lang) for lang in languages)

    if intent == "question" and named("address"):
        return "address"
    for detail in APPLIES.get(category, ()):
        if named(detail):
            return detail
    return "charge" if category == "billing" and intent == "complaint" else ""


__all__ = ["DETAILS", "detail_of"]
