"""The facts a post states: order numbers, amounts, dates, products, and what the customer already tried.

Pure. Everything returned is found in the text (order numbers and amounts are normalised, the rest is kept as
written), so a reply that uses a fact restates the customer, it never invents. Dates are the customer's own
expressions ("on the 9th", "i tirsdags", "2주"): they are repeated, never interpreted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import regex

from monitor.phrases import find_phrases, phrase_list
from responders.understanding.attempts import ATTEMPT_KINDS, Attempt, tried


@dataclass(frozen=True, slots=True)
class Amount:
    """A sum of money: ``value`` with a dot for decimals and no thousands separator, ``currency`` as ISO 4217."""

    value: str
    currency: str
    written: str

    def __str__(self) -> str:
        return f"{self.value} {self.currency}"


@dataclass(frozen=True, slots=True)
class Facts:
    order_numbers: tuple[str, ...] = ()
    amounts: tuple[Amount, ...] = ()
    dates: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    tried: tuple[Attempt, ...] = ()

    def merged(self, other: Facts) -> Facts:
        """These facts, then ``other``'s that are new (an attempt of a kind already known keeps the higher
        count)."""
        tried = {a.kind: a for a in self.tried}
        for attempt in other.tried:
            known = tried.get(attempt.kind)
            if known is None or (attempt.times or 0) > (known.times or 0):
                tried[attempt.kind] = attempt
        return Facts(
            order_numbers=_union(self.order_numbers, other.order_numbers),
            amounts=tuple({str(a): a for a in (*self.amounts, *other.amounts)}.values()),
            dates=_union(self.dates, other.dates),
            products=_union(self.products, other.products, key=str.casefold),
            tried=tuple(sorted(tried.values(), key=lambda a: ATTEMPT_KINDS.index(a.kind))),
        )

    def attempt(self, kind: str) -> Attempt | None:
        return next((a for a in self.tried if a.kind == kind), None)


def _same(text: str) -> str:
    return text


def _union(first: Iterable[str], second: Iterable[str], key: Callable[[str], str] = _same) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in (*first, *second):
        seen.setdefault(key(item), item)
    return tuple(seen.values())


# -- order numbers ------------------------------------------------------------------------------------------

_ORDER_WORDS = {
    "en": r"order(?:\s*(?:number|no\.?|nr\.?|id|ref))?|ref(?:erence)?",
    "da": r"ordre(?:nummer|nr\.?|\s*nr\.?)?|ordrenr\.?|bestilling(?:snummer|snr\.?)?",
    "fi": r"tilaus(?:numero|nro)?|tilauksesta|tilaukseen|tilauksen|tilauksessa",
    "et": r"tellimus(?:e|est|el|ele)?(?:\s*(?:number|nr\.?))?",
    "he": r"(?:[ובלמה]|מה|וה|של)?הזמנה(?:\s*מספר)?|מספר\s*הזמנה",
    "ko": r"주문\s*번호|주문",
}
_ORDER_ID = r"#?\s?((?:[A-Za-z]{1,3}-?)?\d{3,}(?:-\d+)?)(?![\d.,]*\s*(?:€|\$|£|₪|kr|eur|usd|원))"
_BARE_ORDER = regex.compile(r"(?<![\w#])#((?:[A-Za-z]{1,3}-)\d{3,}|[A-Za-z]{0,3}\d{4,})(?!\w)")
_ORDER = {
    language: regex.compile(rf"(?<!\w)(?:{words})\W{{0,3}}?{_ORDER_ID}(?!\w)", regex.IGNORECASE)
    for language, words in _ORDER_WORDS.items()
}


def order_numbers(text: str, language: str) -> list[str]:
    """Order numbers named in ``text`` ("order 774120", "ordre 48213", "주문번호 K-20931", "#A-30318"),
    upper-cased without "#". A bare "#" token counts only when it looks like an order number: letters, a
    dash and digits, or four or more digits ("#BA228" is a flight, "#fail" a hashtag)."""
    found: list[tuple[int, str]] = []
    for lang in dict.fromkeys([language, "en"] if language in _ORDER else list(_ORDER)):
        found += [(m.start(1), m.group(1)) for m in _ORDER[lang].finditer(text)]
    found += [(m.start(1), m.group(1)) for m in _BARE_ORDER.finditer(text)]
    return list(dict.fromkeys(number.upper() for _, number in sorted(found)))


# -- amounts ------------------------------------------------------------------------------------------------

_NUMBER = r"\d{1,3}(?:[.,\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "₪": "ILS"}
_SUFFIXES = (
    (r"€|eur(?:o[a-z]*)?|euro", "EUR"),
    (r"kr\.?|dkk|kroner", "DKK"),
    (r"\$|usd|dollars?", "USD"),
    (r"£|gbp|pounds?", "GBP"),
    (r"₪|ש[\"״]ח|שקל(?:ים)?|ils", "ILS"),
    (r"원|krw", "KRW"),
)
_PREFIXED = regex.compile(rf"(?<![\w.,])(?:US)?([€$£₪])\s?({_NUMBER})(?![\d])")
# Korean particles attach to the currency ("9,900원으로"); every other suffix ends at a word boundary.
_SUFFIXED = [
    (regex.compile(rf"(?<![\w.,])({_NUMBER})\s?(?:{pattern})" + ("" if code == "KRW" else r"(?!\w)"),
                   regex.IGNORECASE), code)
    for pattern, code in _SUFFIXES
]


def _normal_number(written: str) -> str:
    digits = written.replace("\u00a0", " ")
    separators = [i for i, ch in enumerate(digits) if ch in ".,' "]
    if not separators:
        return digits
    last = separators[-1]
    decimals = len(digits) - last - 1
    whole = regex.sub(r"[.,' ]", "", digits[:last])
    return whole + digits[last + 1 :] if decimals == 3 else f"{whole}.{digits[last + 1:]}"


def amounts(text: str) -> list[Amount]:
    """Sums of money with a currency ("€89.90", "59,90 €", "1.299 kr", "₪249", "9,900원"), in order.
    A separator followed by exactly three digits groups thousands; otherwise it marks decimals."""
    found: dict[int, Amount] = {}
    for match in _PREFIXED.finditer(text):
        found[match.start()] = Amount(_normal_number(match.group(2)), _SYMBOLS[match.group(1)], match.group())
    for pattern, code in _SUFFIXED:
        for match in pattern.finditer(text):
            if not any(start <= match.start() < start + len(a.written) for start, a in found.items()):
                found[match.start()] = Amount(_normal_number(match.group(1)), code, match.group().strip())
    return [found[start] for start in sorted(found)]


# -- dates --------------------------------------------------------------------------------------------------

_EN_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_EN_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
              r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_EN_COUNT = r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+)"
_DATES = {
    "en": rf"""yesterday(?:'s)?|today|tonight|this\s(?:morning|afternoon|evening|week|month)
        |since\s(?:yesterday|this\smorning|last\s\w+|{_EN_DAYS})|last\s(?:night|week|month|year|{_EN_DAYS})
        |(?:on\s)?{_EN_DAYS}s?|on\sthe\s\d{{1,2}}(?:st|nd|rd|th)|\d{{1,2}}(?:st|nd|rd|th)?\s{_EN_MONTHS}
        |{_EN_MONTHS}\s\d{{1,2}}(?:st|nd|rd|th)?|in\s(?:january|february|march|april|june|july|august|september
        |october|november|december)|(?:after\s)?{_EN_COUNT}\s(?:days?|weeks?|months?|years?|hours?)(?:\sago)?
        |\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?""",
    "da": r"""i\sgår|i\sdag|i\smorges|i\saftes|i\snat|i\s(?:man|tirs|ons|tors|fre|lør|søn)dags
        |på\s(?:man|tirs|ons|tors|fre|lør|søn)dag|(?:i\s)?sidste\s(?:uge|måned|år|weekend)
        |hele\s(?:formiddagen|dagen|morgenen|eftermiddagen|ugen|weekenden)
        |(?:for\s|efter\s|i\s)?(?:en|et|to|tre|fire|fem|seks|\d+)\s(?:dage?|uger?|måneder|måned|år|timer?)(?:\ssiden)?
        |\d{1,2}\.\s?(?:januar|februar|marts|april|maj|juni|juli|august|september|oktober|november|december)
        |\d{1,2}/\d{1,2}(?:[-/]\d{2,4})?""",
    "fi": r"""eilen|tänään|tänä\saamuna|toissapäivänä|viime\s(?:viikolla|kuussa|vuonna|yönä)
        |koko\s(?:aamun|päivän|illan|viikon)|(?:maanantai|tiistai|keskiviikko|torstai|perjantai|lauantai|sunnuntai)(?:na)?
        |\d{1,2}\.\d{1,2}\.(?:\d{2,4})?|(?:yksi|kaksi|kolme|neljä|viisi|\d+)\s(?:päivää|viikkoa|kuukautta|vuotta|tuntia)(?:\ssitten)?
        |(?:viikko|kuukausi|päivä)\ssitten|(?:viikon|kuukauden|päivän)\s(?:jälkeen|ajan)
        |(?:yhdessä|kahdessa|kolmessa|\d+)\s(?:päivässä|viikossa|kuukaudessa)|(?:jo\s)?(?:viikon|kuukauden)""",
    "et": r"""eile|täna(?:\shommikul)?|eelmisel\s(?:nädalal|kuul|aastal)
        |(?:esmaspäev|teisipäev|kolmapäev|neljapäev|reede|laupäev|pühapäev)(?:al|a)?
        |terve\s(?:hommiku|päeva|nädala)|\d{1,2}\.\s?(?:jaanuar|veebruar|märts|aprill|mai|juun|juul|august|septemb|oktoob|novemb|detsemb)\w*
        |(?:üks|kaks|kolm|neli|viis|\d+)\s(?:päeva|nädalat|kuud|aastat|tundi)(?:\stagasi)?
        |nädal(?:\saega)?(?:\stagasi)?|kuu\saja\s(?:pärast|eest)|(?:kahe|kolme|nelja|\d+)\s(?:kuuga|nädalaga|päevaga)""",
    "he": r"""אתמול|היום|הבוקר|כל\sהבוקר|כל\sהיום|בשבוע\sשעבר|בחודש\sשעבר
        |ביום\s(?:ראשון|שני|שלישי|רביעי|חמישי|שישי|שבת)
        |(?:לפני|אחרי)\s(?:שבוע|שבועיים|חודש|חודשיים|יומיים|\d+\s(?:ימים|שבועות|חודשים))
        |(?:שלושה|ארבעה|חמישה|\d+)\s(?:שבועות|ימים|חודשים)|שבועיים|חודשיים""",
    "ko": r"""어제|오늘|그저께|지난주|지난달|이번\s?주|아침\s내내|하루\s종일|\d{1,2}월\s?\d{1,2}일|[월화수목금토일]요일
        |\d+\s?(?:일|주|개월|달|시간)(?:째)?|(?:한|두|세|네)\s(?:달|주|시간)""",
}
# Korean particles attach to the date ("2주가"), so Korean dates match inside words.
_DATE_PATTERNS = {
    language: regex.compile(
        (r"(?:{})" if language == "ko" else r"(?<!\w)(?:{})(?!\w)").format(regex.sub(r"\s*\n\s*", "", source)),
        regex.IGNORECASE,
    )
    for language, source in _DATES.items()
}


def dates(text: str, language: str) -> list[str]:
    """Points and spans of time as the customer wrote them, in order ("yesterday", "3 days ago", "i tirsdags")."""
    patterns = [language, "en"] if language in _DATE_PATTERNS else ["en"]
    found: dict[int, str] = {}
    for lang in dict.fromkeys(patterns):
        for match in _DATE_PATTERNS[lang].finditer(text):
            if not any(start <= match.start() < start + len(seen) for start, seen in found.items()):
                found[match.start()] = match.group()
    return [found[start] for start in sorted(found)]


# -- products -----------------------------------------------------------------------------------------------

PRODUCT_NOUNS: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        blender jar | blender | kettle | charger | headphones | earbuds | earbud | tablet | pans | pan | mugs | mug
        phone case | running shoes | shoes | fan | coffee machine | coffee maker | toaster | vacuum | speaker
        laptop | jacket | carafe | lamp | router | smartwatch | watch
    """),
    "da": phrase_list("""
        kaffemaskine* | oplader* | pande* | kopper* | kop | ventilator* | høretelefon* | elkedel* | blender*
        brødrister* | støvsuger* | højttaler* | kande*
    """),
    "fi": phrase_list("""
        vedenkeit* | laturi* | kuulok* | muki* | tuuletin* | tuulettim* | kahvinkeit* | paistinpann* | kannu*
        pölynimur* | kaiutin* | tehosekoitin*
    """),
    "et": phrase_list("""
        veekeetja* | laadija* | kõrvaklapp* | tassid | tass | ventilaator* | kohvimasin* | pann* | kann*
        tolmuimeja* | kõlar*
    """),
    "he": phrase_list("""
        קומקום | מטען | אוזני* | כוסות | מאוורר | מכונת קפה | מכונת הקפה | קנקן | מחבת* | בלנדר | שואב אבק | רמקול
    """),
    "ko": phrase_list("전기포트 | 충전기 | 이어폰 | 컵 | 선풍기 | 커피머신 | 주전자 | 프라이팬 | 청소기 | 스피커 | 믹서기"),
}


def products(text: str, language: str, catalogue: Sequence[str] = ()) -> list[str]:
    """Products named in ``text``: the brand's own (``catalogue``, written as configured) and common product
    nouns of ``language`` (as written, stems as matched); the longest name wins where two overlap."""
    spans: list[tuple[int, int, str]] = []
    for name in catalogue:
        words = r"\s*".join(regex.escape(w) for w in name.split())
        if words:
            for match in regex.finditer(rf"(?<![^\W\d_])(?:{words})(?!\d)", text, regex.IGNORECASE):
                spans.append((match.start(), match.end(), name))
    for lang in dict.fromkeys([language, "en"] if language in PRODUCT_NOUNS else ["en"]):
        spans += [(m.start(), m.end(), m.group()) for m in find_phrases(text, PRODUCT_NOUNS[lang], lang)]
    kept: list[tuple[int, int, str]] = []
    for start, end, name in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if not any(start < k_end and k_start < end for k_start, k_end, _ in kept):
            kept.append((start, end, name))
    return list(dict.fromkeys(name for _, _, name in sorted(kept)))


def extract_facts(text: str, language: str, catalogue: Sequence[str] = ()) -> Facts:
    """Every fact ``text`` states, read with ``language``'s words (and English's)."""
    return Facts(
        order_numbers=tuple(order_numbers(text, language)),
        amounts=tuple(amounts(text)),
        dates=tuple(dates(text, language)),
        products=tuple(products(text, language, catalogue)),
        tried=tuple(tried(text, language)),
    )


__all__ = ["ATTEMPT_KINDS", "Amount", "Attempt", "Facts", "amounts", "dates", "extract_facts", "order_numbers",
           "products", "tried"]
