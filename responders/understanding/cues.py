"""The words that tell what a post wants: a problem reported, praise given, a problem already put right, a
question asked. Per language, in ``monitor.phrases`` notation; English is checked in every language.

Problem cues include the question forms that are really complaints ("where is my", "why was I").
"""

from __future__ import annotations

from monitor.phrases import phrase_list

PROBLEM: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        never arrived | never came | never comes | never arrives | never answers | hasn't arrived | has not arrived
        haven't received | not received | didn't receive | didn't get | still no | still not | still nothing
        still waiting | still haven't | no sign of | where is my | where's my | wheres my | where the | missing
        lost | broken | broke | cracked | crash* | not working | doesn't work | does nothing | nothing works
        won't | can't | cannot | couldn't | unable | locked out | hacked | deleted | charged twice | charged me
        double charged | overcharg* | no refund | wrong | late | delayed | damaged | defective | faulty | leaks
        leaking | stopped | died | failing | fails | failed | error | errors | down | rude* | laughed | on hold
        no reply | no answer | no response | nobody | no one | ignored | ignoring | worst | terrible | awful
        horrible | ridiculous | disappointed | disappointing | joke | garbage | useless | unacceptable | scam
        chargeback | never again | not buying | get it together | what now | explain | not impressed | peeling
        frayed | soaked | dropped | downgrade | sick and tired | fed up | annoying | annoyed | problem | problems
        issue | issues | complain* | again | why is | why was | why did | why am i | why do i | why does
        why have | why are | need help | need a human | keeps | spins forever | looping | never signed up
        for no reason | gone | what's the point | me again | who do i talk to | thanks for nothing | rattl*
        noise | dangerous | unsafe | not happy | unhappy | not good | not great | not ok | nothing here
        still broken | still crashing | still not working | still down | still missing | where is | where's
        seriously | what's going on | what is going on | snapped | don't recommend | do not recommend
        wouldn't recommend | would not recommend | not okay | not ok | losing patience | want it back
        not here | days straight | weeks straight | for days | for weeks | weeks waiting | days waiting | waiting for
        i was home | was promised | promised | no sound | charged for | instead of | is there a human | not yet |
        at random | randomly | twice now | keeps cancelling | cancels my | 😡 | 😤 | 🤬 | 👎 | 😠 | 🙄 | 😞
        hangs up | hung up | hang up | line dropped | call dropped | dropped the call | 502 | white screen
        smells like burning | smelling like burning | smell of burning | burning | burnt | smoke | been trying | keep trying | straight to nowhere | goes nowhere
    """),
    "da": phrase_list("""
        ikke kommet | ikke modtaget | stadig ikke | stadig ingen | stadig ingenting | hvor er min | hvor er mine
        hvor bliver | mangler | forsvundet | i stykker | ødelagt* | smadret | revnet | virker ikke | kan ikke
        går ned | nede | låst | hacket | fejler | trukket pengene to gange | to gange | dobbelt | ingen refusion
        ikke fået | forkert* | forsinket | defekt* | lækker | fejl | uhøflig* | lagde bare på | smidt af
        ventet | venter | uden svar | intet svar | ingen svar | ikke svar | dårlig* | elendig* | skuffe* | utilfreds
        irriterende | latterlig* | aldrig igen | hvorfor | igen | tredje gang | anden gang | problem* | farligt
        larmer | skaller af | uden varsel | ikke engang | lovede | lovet | stadig | logger mig ud | går til banken
        ikke god | ikke godt | ikke ok | ikke okay | er her ikke | ikke her | ingen lyd | opkrævet mig | ikke endnu
        hvad sker der | knækket | anbefaler ikke | kan ikke anbefale | tålmodighed | håbløst | håbløs
        lagde på | afbrudt | bliver afbrudt | hvid skærm | kommer aldrig
        lugter af brændt | brændt plastik | røg | har prøvet
    """),
    "fi": phrase_list("""
        ei ole vieläkään | vieläkään | ei ole tullut | ei tullut | ei tule | ei toimi | ei vastaa | ole vastannut
        missä | kadon* | hukassa | rikki | hajo* | säpäleinä | kaatuu | kaatui | alhaalla | nurin | virhe*
        lukittiin | lukossa | murtautu* | kaksi kertaa | tuplaveloit* | ei ole kuulunut | ei ole palautettu
        väärin | myöhässä | viallinen | vuotaa | suli | vaarallis* | tyly* | katkesi | odottanut | odotan
        jonotin | surkea* | surkeita | huono* | kamala* | kamalaa | pettynyt | pettymys | ärsyttä* | naurettava*
        ei enää ikinä | taas | edelleen | miksi | kolmas kerta | ongelma* | ilman syytä | ilman ilmoitusta
        räminä* | lakkasi | kukaan ei | eikä kukaan | tyhjä | haluan rahani | ei hyvä | ei kovin hyvä
        kuulunut mitään | ei ääntä | käsittelyssä | ei vielä | mitä tapahtuu | en suosittele | hermo
        katkeaa | puhelu katkesi | valkoinen näyttö
        palaneelta | palanut | savua | yritin
    """),
    "et": phrase_list("""
        pole ikka | ikka veel | pole siiani | siiani | pole kohale | ei ole kohale | kus see on | kus mu | kadunud
        katki | katkisena | puruks | jookseb kokku | maas | ei tööta | viga | lukustati | häkkis | kaks korda
        pole tagasi | ikka tagasi | vale | hilinenud | lekib | sulas | ohtlik | ebaviisaka* | katkes | ootan
        ootasin | ei vasta | pole vastanud | kohutav* | halb | kehv | pettunud | tüütu | naeruväärne
        mitte kunagi enam | jälle | miks | kolmandat korda | probleem* | ilma põhjuseta | ilma teavitamata
        müriseb | lakkas | ei soovita | keegi ei | keegi pole | tahan oma raha | ei saa | pole midagi
        pole hea | ei ole hea | ikka | heli pole | veel mitte | mis toimub | kannatus
        katkeb | valge ekraan | ei tule
        kõrbenud | suitsu | proovisin
    """),
    "he": phrase_list("""
        לא הגיע* | עדיין לא | עדיין | איפה | נעלם* | שבור* | קרוע* | קורס* | קרסה | נפל | למטה | לא עובד*
        שגיאה | ננעל | פרץ | פרצו | פעמיים | לא קיבלתי | לא הוחזר | הלא נכונה | לא נכון | באיחור | דולף | נמס
        מסוכן | גס רוח | התנתקה | מחכה | חיכיתי | אין מענה | לא ענה | לא עונה | לא עונים | אף אחד | גרוע*
        נורא | מאוכזב* | מעצבן | מגוחך | אף פעם לא | שוב | למה | הפעם השלישית | בעיה | בלי סיבה | בלי הודעה
        מרעיש | הפסיק* | התקלקל | אי אפשר | לא יכול | לא יכולה | תחזירו לי | לא טוב
        עוד לא | לא מגיע* | אין קול | שהחזרתי | חשבונית על | מה קורה | לא ממליץ | לא ממליצה | סבלנות
        מתנתקת | ניתקו | ניתק | מסך לבן | לא מגיע
        פלסטיק שרוף | ריח של שרוף | עשן | מנסה
    """),
    "ko": phrase_list("""
        안 왔 | 안 와 | 안 오 | 아직도 | 어디 있 | 못 받 | 분실 | 없어졌 | 고장 | 깨졌 | 깨져 | 찢어 | 먹통
        안 돼 | 안돼 | 안 되 | 안되 | 안 됐 | 오류 | 에러 | 튕겨 | 다운 | 잠겼 | 해킹 | 두 번 | 이중 | 환불은 언제
        처리가 안 | 안 들어왔 | 엉뚱한 | 잘못 | 불량 | 새요 | 녹았 | 위험 | 불친절 | 끊겼 | 기다렸 | 답장이 없
        답변이 없 | 답변이 하나도 | 답을 안 | 아무도 | 최악 | 실망 | 짜증 | 어이없 | 다시는 | 또 | 왜 | 세 번째
        두 번째 | 문제 | 이유도 없이 | 예고도 없이 | 소음 | 꺼져 | ㅠㅠ | ㅜㅜ | 돌려줄 | 안 나오 | 안 좋 | 청구됐 | 소리가 안
        어떻게 된 | 추천 안 | 추천하지 않 | 인내심
        끊기 | 끊겨 | 끊어 | 흰 화면 | 안 와요
        타는 냄새 | 연기 | 못 하고
    """),
}

PRAISE: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        thank* | thanks | thx | love | loving | loved | amazing | wonderful | great | awesome | brilliant
        excellent | best | kudos | shoutout | shout out | impress* | you rock | guys rock | well done | helpful
        no complaints | no problems | never had a problem | never had any problems | keep it up | 10/10
        will order again | would buy again | can't recommend enough | couldn't be happier
        lovely | fantastic | perfect | happy with | so happy | saved my | appreciate* | superb | outstanding
        well packed | so fast | recommend* | 🙌 | ❤️ | ❤ | 👍 | 🙏 | 😍 | 🥰 | 💯 | 👏
        👌 | 🤩 | nice one | that's how it's done | how it's done
    """),
    "da": phrase_list("""
        tak | tusind tak | mange tak | takker | elsker | super | fantastisk* | fremragende | bedste | ros
        stor ros | rigtig god | virkelig god | super god | så god | søde | sød | dejlig* | perfekt | glad | anbefal*
        hurtig* | sådan | godt gået | ingen problemer | ingen klager | fortsæt sådan
        👌 | sådan skal det gøres
    """),
    "fi": phrase_list("""
        kiitos* | kiitti | kiitokset | rakastan | ihana* | mahtava* | loistava* | erinomai* | paras | parhaita
        parhaat | hyvä | tosi hyvä | nopea* | nopeasta | hienoa | huippu* | suosittel* | sain avun | sain apua
        ei ongelmia | ei valittamista | jatkakaa samaan malliin
        👌 | näin se tehdään
    """),
    "et": phrase_list("""
        aitäh | tänan | tänu | suur tänu | armastan | super | suurepära* | parim* | parimad | väga hea | hea | kiire
        kiiresti | lahe | soovitan | sain abi | probleeme pole | jätkake samas vaimus
        👌 | nii seda tehakse
    """),
    "he": phrase_list("""
        תודה | תודה רבה | תודה ענקית | אוהב* | מת על | מעולה | מצוין | מדהים* | הכי טוב* | טוב | נהדר
        מהיר* | ממליץ* | אלופים | קיבלתי עזרה | עזרו לי | אין בעיות | אין תלונות | תמשיכו ככה
        👌 | ככה עושים את זה | כל הכבוד
    """),
    "ko": phrase_list("""
        감사 | 고맙 | 좋아요 | 좋네요 | 좋았 | 최고 | 친절하셨 | 친절해 주 | 빨라 | 빠른 | 잘 쓰고 | 만족 | 추천
        해결해 주셨 | 해결했 | 덕분에 | 문제없
        👌 | 이게 서비스
    """),
}

# "Never had a (single) problem with you": a problem word that is denied is praise. Regular expressions, as
# the denial and the problem word may stand a few words apart.
NO_PROBLEM: dict[str, str] = {
    "en": r"\b(?:never|no|not a single|not one|zero)\b(?:\W+\w+){0,3}?\W+(?:problems?|issues?|complaints?)\b",
    "da": r"\b(?:aldrig|ingen|ikke et eneste|ikke ét)\b(?:\W+\w+){0,3}?\W+(?:problem\w*|klage\w*|ballade)\b",
    "fi": r"\b(?:ei|en|ei koskaan)\b(?:\W+\w+){0,3}?\W+(?:ongelm\w*|valitet\w*)",
    "et": r"\b(?:pole|ei|mitte)\b(?:\W+\w+){0,3}?\W+(?:probleem\w*|kaebus\w*|muret?)\b",
    "he": r"(?:אף פעם לא|אין|לא)(?:\s+\S+){0,3}?\s+(?:בעיה|בעיות|תלונות|תלונה)",
    "ko": r"문제\s*(?:가|는)?\s*(?:한 번\s*도?|하나도|전혀)?\s*(?:없|안 생)",
}

# A problem the post itself says was put right ("replaced my cracked jar for free"): it does not count
# towards a complaint.
RESOLVED: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        replaced | sorted | fixed | resolved | came through | for free | no charge | got my refund | refunded
        a day early | on time | working again | back up | saved my | sent a new one | sent me a new one
        sent me a new | sent a replacement | sent me a replacement | a new one at my door | had a new one
        new one the next day | no questions asked | no fuss
    """),
    "da": phrase_list("løste | løst | ordnet | fik en ny | sendte en ny | sendte mig en ny | uden bøvl | byttet | erstattet | refunderet | før tid | til tiden | uden besvær"),
    "fi": phrase_list("hoiti | hoidettu | sain uuden | lähetitte uuden | ilman kyselyjä | korjattu | ratkes* | vaihdettiin | etuajassa | ajallaan | toimii taas"),
    "et": phrase_list("lahendas | lahendatud | saatsite uue | sain uue | parandatud | asendati | päev varem | õigel ajal | töötab jälle"),
    "he": phrase_list("פתרה | פתר | שלחתם לי חדש | קיבלתי חדש | בלי שאלות | נפתר | תוקן | הוחלף | בזמן | הכל עובד"),
    "ko": phrase_list("해결해 주 | 새로 보내 | 새 제품으로 | 해결됐 | 하루 일찍 | 교환해 주 | 고쳐 주"),
}

# How a question opens; a question mark anywhere also makes a post a question.
QUESTION: dict[str, tuple[str, ...]] = {
    "en": phrase_list("""
        how | what | when | where | why | who | which | do you | does | did | is | are | can i | can you
        could | will | would | any chance | anyone know | does anyone | is there | are there
    """),
    "da": phrase_list("""
        hvordan | hvad | hvornår | hvor | hvorfor | hvem | hvilken | hvilke | kan man | kan jeg | kan i | sender i
        har i | er der | er det | findes der | må man | skal jeg
    """),
    "fi": phrase_list("miten | mikä | mitä | milloin | missä | miksi | kuka | mihin | kuinka | voiko | voinko | onko"),
    "et": phrase_list("kuidas | mis | millal | kus | miks | kes | kas | kui kaua | kui palju"),
    "he": phrase_list("איך | מה | מתי | איפה | למה | מי | האם | כמה | אפשר"),
    "ko": phrase_list("어떻게 | 언제 | 어디 | 왜 | 뭐 | 무엇 | 몇"),
}



# Praise words inside these are a hope, not praise ("let's see if it's as good as everyone says").
HEDGES: dict[str, tuple[str, ...]] = {
    "en": phrase_list("if it's as good | if it's good | if it is good | as good as everyone says | hope it's good"),
    "da": phrase_list("om den er god | om det er godt | om den er så god"),
    "fi": phrase_list("onko hyvä | onko se hyvä | onko hyvää"),
    "et": phrase_list("kas on hea | kas see on hea"),
    "he": phrase_list("אם הוא טוב | אם זה טוב | אם היא טובה"),
    "ko": phrase_list("좋은지"),
}


# Words that deny (a negator near a topic word is a problem: "won't charge", "ei aukea", "안 보여요").
NEGATORS: dict[str, tuple[str, ...]] = {
    "en": phrase_list("not | no | never | nothing | nobody | won't | can't | cannot | doesn't | don't | isn't | didn't | hasn't | haven't | wasn't | aren't"),
    "da": phrase_list("ikke | ingen | intet | aldrig | ingenting"),
    "fi": phrase_list("ei | en | et | emme | eivät | eikä | ettei"),
    "et": phrase_list("ei | pole | polnud | ega | mitte"),
    "he": phrase_list("לא | אין | בלי"),
    "ko": phrase_list("안 | 못 | 없 | 않"),
}

# "Since ..." in the customer's own dates: they have been waiting.
SINCE: dict[str, tuple[str, ...]] = {
    "en": phrase_list("since"),
    "da": phrase_list("siden mandag | siden tirsdag | siden onsdag | siden torsdag | siden fredag | siden lørdag | siden søndag | siden i går"),
    "fi": phrase_list("asti"),
    "et": phrase_list("saati | alates"),
    "he": phrase_list("מאז | מיום"),
    "ko": phrase_list("부터 계속 | 째"),
}

__all__ = ["HEDGES", "NEGATORS", "NO_PROBLEM", "PRAISE", "PROBLEM", "QUESTION", "RESOLVED", "SINCE"]
