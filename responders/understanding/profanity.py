"""Profanity and slurs per language: never quoted back to a customer, never in a reply.

Pure; ``monitor.phrases`` notation. The lists aim at words a care reply must not repeat in public, not at
judging the customer: a post that swears is still read, and still answered.
"""

from __future__ import annotations

from monitor.phrases import find_phrases, phrase_list

PROFANITY: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        fuck* | f*ck* | fck* | fcking | motherfuck* | shit* | bullshit* | crap | crappy | damn | goddamn* | wtf
        asshole* | arsehole* | ass | arse | bastard* | bitch* | piss* | dick | dicks | dickhead* | cunt* | bollocks | twat* | wank*
        screw you | stfu | moron* | idiot* | retard*
    """),
    "da": phrase_list("""
        fuck* | fandme | fanden | satan* | satme | helvede | lort* | pis | pisse* | skide* | skod* | røv* | kraftedeme
        for helvede | idiot* | møg* | kælling* | luder*
    """),
    "fi": phrase_list("""
        vittu* | vitun | perkele* | paska* | saatana* | helvetti* | helvetin | jumalauta | kusi* | perse* | mulkku*
        idiootti* | runkkari* | huora*
    """),
    "et": phrase_list("""
        kurat* | perse* | sitt* | sita* | raisk* | türa* | pask* | mölakas | idioot* | lits* | nahhui | vittu
    """),
    "he": phrase_list("""
        זין | חרא* | החרא | מחורבן* | המחורבן* | המחורבנת | כוס אמק | כוסאמק | כוס אמא | בן זונה | זונה
        מזדיין* | לעזאזל | מניאק* | אידיוט* | דפוק* | שיט
    """),
    "ko": phrase_list("""
        씨발 | 시발 | ㅅㅂ | 씨바 | 존나 | ㅈㄴ | 개새끼 | 개새 | 병신 | ㅂㅅ | 좆 | 지랄 | 엿 먹 | 미친놈 | 미친년 | 썅
    """),
}


def _lists(language: str | None) -> list[str]:
    # English swearing travels, so it is checked in every language. An unknown language is checked against
    # the lists whose words cannot be mistaken for ordinary English ("sitt*" is Estonian, "sitting" is not).
    if language in PROFANITY:
        return list(dict.fromkeys([language, "en"]))
    return ["en", "he", "ko"]


def profanities(text: str, language: str | None = None) -> list[str]:
    """The profane words in ``text`` (stems as matched), in order of appearance: ``language``'s list and
    English's; for an unknown language, the lists that cannot collide with English words."""
    found: list[tuple[int, str]] = []
    for lang in _lists(language):
        found += [(m.start(), m.group()) for m in find_phrases(text, PROFANITY[lang], lang)]
    seen: set[int] = set()
    words = []
    for start, word in sorted(found):
        if start not in seen:
            seen.add(start)
            words.append(word)
    return words


def is_profane(text: str, language: str | None = None) -> bool:
    return bool(profanities(text, language))


__all__ = ["PROFANITY", "is_profane", "profanities"]
