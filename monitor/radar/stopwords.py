"""Words too common to name a topic, in the languages closeloop answers in (Korean is cut into n-grams).

One set for every language: a post's detected language is often wrong on a short text, and the lists barely
overlap. Words that carry a crisis ("down", "out", "nede", "ei toimi") are deliberately not here.
"""

from __future__ import annotations

_EN = """
a about after again all also am an and any are aren't as at be because been before being but by can can't
cannot could couldn't did didn't do does doesn't doing don't for from get got had has hasn't have haven't
having he her here hers him his how i i'm i've if in into is isn't it it's its just let me more most my no
nor not now of on once only or other our ours so some such than that that's the their them then there these
they this those through to too very was wasn't we we're were what when where which while who why will with
won't would you you're your yours again still even really please guys anyone today yesterday hey hi hello
thanks thank lol omg one two also any every says say said keeps keep going goes know think tried try trying
want wants need needs make made see seems
"""
_DA = """
og i jeg det at en den til er som på de med han af for ikke der var mig sig men et har om vi min havde ham
hun nu over da fra du sin dem os op man hans hvor eller hvad skal selv her alle vil blev kunne ind når være
dog noget ville jo deres efter skulle denne end dette mit også under have dig anden hende mine alt meget sit
sine vor mod disse hvis din nogle hos blive mange ad bliver hendes været jer sådan kan hej tak stadig bare
"""
_FI = """
ja on ei se että oli ole olen olet ovat mutta kun jos niin nyt vain myös tai kuin mitä miksi minä sinä hän
me te he minun sinun hänen meidän teidän heidän tämä tuo nämä ne joka mikä kanssa ollut olla vielä jo sitä
tätä siitä täällä siellä enää koko aina mä sä mun sun hei kiitos taas
"""
_ET = """
ja on ei see et oli olen oled nad aga kui siis nüüd ainult ka või mis miks mina sina tema meie teie nemad
minu sinu selle seda need kes koos olnud olla veel juba siin seal enam kõik alati mul sul tal tere aitäh
jälle
"""
_HE = """
של את על עם זה לא כי גם אני אתה הוא היא אנחנו הם מה איך למה כל אבל או רק עוד כבר יש אין היה היו להיות אם
כמו שלי שלך שלו עכשיו הזה הזאת זו אחרי לפני שוב היום תודה
"""

STOPWORDS = frozenset(word for block in (_EN, _DA, _FI, _ET, _HE) for word in block.split())

__all__ = ["STOPWORDS"]
