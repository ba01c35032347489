"""What a post is about: one of CATEGORIES, from weighted multilingual keywords.

Pure. Keyword lists use ``monitor.phrases`` notation (``*`` makes a stem, Korean matches inside words, Hebrew
words may carry their one-letter prefixes). Each category has strong keywords (worth 2: "refund", "never
arrived", "password") and weak ones (worth 1: "order", "app", "account", words that turn up in every kind of
post), so "I cancelled my order and still no refund" is about billing, not delivery.
"""

from __future__ import annotations

from monitor.phrases import count_phrases, phrase_list

CATEGORIES = ("delivery", "billing", "account", "outage", "product", "service", "general")
"""Every category, most specific first; "general" is the "other" category (nothing more specific fits).
Ties go to the earlier one."""

STRONG, WEAK = 2, 1

# category -> (strong, weak), per language.
KEYWORDS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "en": {
        "delivery": (
            phrase_list("""
                package* | parcel* | deliver* | shipping | shipment* | shipped | courier* | tracking | driver
                never arrived | hasn't arrived | not arrived | not here | still not here | in the mail | dispatch*
                wrong address | postman | label created | ship to | arriving | arrive* | missing parcel
            """),
            phrase_list("order* | box | items missing | sent | ship"),
        ),
        "billing": (
            phrase_list("""
                refund* | charged | charge | charges | overcharg* | double charged | double-charg* | invoice*
                billed | billing | money back | my money | debited | chargeback | payment* | paid | fee | fees
                subscription* | pay with | cost | costs | discount*
            """),
            phrase_list("bill | pay | card | bank | cancelled | canceled | returned | price | prices"),
        ),
        "account": (
            phrase_list("""
                login | log in | logged out | sign in | signed out | password* | locked out | hacked | 2fa
                two-factor | verification code | reset email | password reset | email address | username
                account got | my account | account was
            """),
            phrase_list("account* | locked | code | settings | profile"),
        ),
        "outage": (
            phrase_list("""
                down | outage* | crash* | error* | bug* | glitch* | not loading | won't load | offline | server*
                website | site | app | apps | checkout | session expired | logged me out | sync | update
                status page | desktop app | internet
            """),
            phrase_list("loading | spins | page | build | not working | stopped working"),
        ),
        "product": (
            phrase_list("""
                broken | broke | defective | faulty | damaged | cracked | fell apart | leak* | peeling | frayed
                stopped heating | stopped charging | rattl* | noise | died | quality | warranty | dishwasher safe
                in stock | sleep timer | coating | screen
            """),
            phrase_list("""
                product* | item | kettle* | blender* | jar | charger* | headphones | earbud* | tablet* | pan | pans
                mug | mugs | fan | shoes
            """),
        ),
        "service": (
            phrase_list("""
                support | customer service | rude* | on hold | no answer | no reply | no response | nobody answers
                nobody ever answers | no one answers | hung up | call dropped | agent* | chat bot | chatbot | human
                ignored | ticket* | help chat | service hours | support team
            """),
            phrase_list("waiting | waited | chat | call | phone | team | staff | hours | dm | bot | robot"),
        ),
    },
    "da": {
        "delivery": (
            phrase_list("""
                pakke* | levering* | leveret | leveringsadresse* | forsendelse* | fragt* | kommet | ankommet
                postnord | gls | sporing* | pakkeshop | sendt | sender i | forkert adresse | emballage
            """),
            phrase_list("ordre* | bestilling* | bestilt | bestilte"),
        ),
        "billing": (
            phrase_list("""
                refusion* | tilbagebetal* | pengene tilbage | penge tilbage | trukket | opkræv* | faktura*
                betaling* | betalt | betale | abonnement* | dobbelt | retur | prisen | pris | mobilepay
            """),
            phrase_list("penge* | regning* | kr | annullerede | returneret | banken"),
        ),
        "account": (
            phrase_list("""
                login | log ind | logge ind | adgangskode* | kodeord* | hacket | mitid | konto* | låst
                nulstilling
            """),
            phrase_list("profil* | mail"),
        ),
        "outage": (
            phrase_list("""
                nede | fejl* | crash* | appen | app | hjemmeside* | nedbrud* | går ned | logger mig ud
                tjekke ud | opdatering*
            """),
            phrase_list("virker ikke | siden"),
        ),
        "product": (
            phrase_list("""
                i stykker | defekt* | kvalitet* | ødelagt* | gået i stykker | fejlbehæftet | itu | revnet
                lækker | larmer | smeltede | skaller af | garanti* | opvaskemaskine*
            """),
            phrase_list("""
                produkt* | vare | varer | kaffemaskine* | oplader* | pande* | kopper* | ventilator*
            """),
        ),
        "service": (
            phrase_list("""
                kundeservice* | support* | uhøflig* | ventetid* | intet svar | ingen svar | uden svar | svarer ikke
                medarbejder* | telefonkø* | lagde bare på | smidt af | åbent
            """),
            phrase_list("ventet | venter | chat | telefon* | ringet | ringede | bot | robot"),
        ),
    },
    "fi": {
        "delivery": (
            phrase_list("""
                paket* | toimit* | lähetys* | lähetyk* | saapu* | perill* | posti* | kuriiri* | seuranta*
                rappu* | toimitusosoit* | toimitatte*
            """),
            phrase_list("tilaus* | tilauk* | tilasin | tilaam* | lähti"),
        ),
        "billing": (
            phrase_list("""
                hyvity* | rahat takaisin | rahani takaisin | rahoja | veloit* | lasku* | maksu* | maksoin | maksettu
                tuplaveloit* | kuukausimaksu* | palautettu | maksaa | mobilepay*
            """),
            phrase_list("raha* | euro* | peruin | palautin"),
        ),
        "account": (
            phrase_list("""
                kirjaudu* | kirjautu* | salasan* | tili* | tunnu* | lukittu* | lukittiin | lukossa | hakkeroi*
                murrettu | murtautu* | tunnistautu* | pankkitunnu*
            """),
            phrase_list("sähköpost*"),
        ),
        "outage": (
            phrase_list("""
                alhaalla | nurin | katko* | häiriö* | virhe* | kaatu* | sovellu* | sovellus* | appi* | sivusto*
                verkkosivu* | maksusivu* | päivity*
            """),
            phrase_list("ei toimi"),
        ),
        "product": (
            phrase_list("""
                rikki | rikkinäi* | viallinen | viallis* | laatu* | laadu* | hajo* | vioittu* | haljen* | vuota*
                räminä* | suli | takuu* | astianpesu* | lakkasi toimimasta
            """),
            phrase_list("""
                tuote* | tuotte* | vedenkeit* | laturi* | kuulok* | muki* | tuuletin* | tuulettim* | kahvinkeit*
            """),
        ),
        "service": (
            phrase_list("""
                asiakaspalvelu* | asiakaspalvelija* | tuki | tuke* | tyly* | epäkohteli* | ei vastaa* | jono*
                jonotin | jonottanut | puhelu katkesi | lopetti puhelun | ole vastannut | auki
            """),
            phrase_list("odot* | vastaus* | soitin | puhelime* | chat* | botti*"),
        ),
    },
    "et": {
        "delivery": (
            phrase_list("""
                pakk | paki* | pakk* | tarne* | tarni* | kohale | saabu* | saadetis* | kuller* | omniva
                jõudnud | pakiautomaat* | kätte toimetatud | saadate | tarneaadress*
            """),
            phrase_list("tellimus* | tellitud | tellisin | tellimuse*"),
        ),
        "billing": (
            phrase_list("""
                raha tagasi | tagasimakse* | raha tagastami* | arve* | makse* | maksin | maksnud | võeti
                debiteeri* | kuutasu* | kaks korda | maksta | pangalink* | pole tagasi | ikka tagasi
            """),
            phrase_list("raha* | tasu* | euro* | tühistasin | tagastasin"),
        ),
        "account": (
            phrase_list("""
                sisse logi* | sisselogimi* | parool* | salasõn* | konto* | kontole | lukus* | lukust* | häkit*
                häkk* | smart-id | tuvastami*
            """),
            phrase_list("e-post*"),
        ),
        "outage": (
            phrase_list("""
                maas | rike* | rikke* | viga | vea* | krahh* | jookseb kokku | äpp* | äpi* | rakendus*
                veebileh* | makseleh* | uuendus*
            """),
            phrase_list("ei tööta | leht | lehekülg*"),
        ),
        "product": (
            phrase_list("""
                katki | defekt* | kvaliteet* | vigane | vigas* | purune* | praak* | lekib | müriseb | sulas
                garantii* | nõudepesu* | lakkas töötamast | puruks
            """),
            phrase_list("""
                toode | toote* | veekeetja* | laadija* | kõrvaklapp* | tass* | ventilaator* | kohvimasin*
            """),
        ),
        "service": (
            phrase_list("""
                klienditeenindus* | tugi | toe* | ebaviisaka* | ebaviisakas | ei vasta* | teenindaja*
                järjekor* | kõne katkes | pani toru ära | pole vastanud | avatud
            """),
            phrase_list("ootan | oota* | vastus* | helistasin | telefonil | vestlus* | robot*"),
        ),
    },
    "he": {
        "delivery": (
            phrase_list("""
                חביל* | משלוח* | הגיע* | שליח* | מעקב | דואר | נמסרה | לכתובת | שולחים
            """),
            phrase_list("הזמנה* | הזמנת* | הזמנתי | ההזמנה"),
        ),
        "billing": (
            phrase_list("""
                החזר* | חיוב* | חייבו | חשבונית* | תשלום* | שילמתי | זיכוי* | מנוי* | הכסף | את הכסף | לשלם
                ביט | בחזרה
            """),
            phrase_list("כסף | ש״ח | שקל* | ביטלתי | החזרתי"),
        ),
        "account": (
            phrase_list("""
                התחבר* | להתחבר | סיסמ* | חשבון | החשבון | לחשבון | נעול* | ננעל | נפרץ | פרצו | פרץ
                קוד האימות | אימות
            """),
            phrase_list("כניסה | המייל"),
        ),
        "outage": (
            phrase_list("""
                נפל* | קרס* | קורס* | תקלה | תקלת* | שגיאה* | אפליקציה* | האפליקציה | אתר | האתר | למטה
                העדכון | עדכון | דף התשלום
            """),
            phrase_list("לא עובד* | להיכנס"),
        ),
        "product": (
            phrase_list("""
                שבור* | פגום* | איכות* | מקולקל* | התקלקל* | נשבר* | דולף | מרעיש | נמס | האחריות | אחריות
                הפסיקה לעבוד | במדיח
            """),
            phrase_list("""
                מוצר* | המוצר | קומקום | מטען | המטען | אוזני* | כוסות | הכוסות | מאוורר | מכונת קפה | קנקן
            """),
        ),
        "service": (
            phrase_list("""
                שירות* | תמיכה | נציג* | גס רוח | חצוף* | ממתין* | המתנה | אין מענה | לא עונים | לא ענה
                השיחה התנתקה | שעות הפעילות | הודעה פרטית
            """),
            phrase_list("מחכה | חיכיתי | תשובה | התקשרתי | על הקו | צ'אט | בוט"),
        ),
    },
    "ko": {
        "delivery": (
            phrase_list("""
                택배 | 배송 | 배달 | 도착 | 소포 | 운송장 | 발송 | 물건이 안 와 | 주소 | 배송지
            """),
            phrase_list("주문"),
        ),
        "billing": (
            phrase_list("""
                환불 | 결제 | 청구 | 요금 | 이중 | 영수증 | 구독 | 돌려 | 카카오페이
            """),
            phrase_list("돈 | 원 | 카드 | 반품"),
        ),
        "account": (
            phrase_list("""
                로그인 | 비밀번호 | 계정 | 잠겼 | 잠김 | 해킹 | 아이디 | 인증번호 | 2단계 인증 | 인증
            """),
            phrase_list("이메일"),
        ),
        "outage": (
            phrase_list("""
                먹통 | 오류 | 에러 | 장애 | 접속 | 앱 | 다운 | 튕겨 | 튕기 | 서버 | 사이트 | 업데이트 | 결제 페이지
            """),
            phrase_list("안 돼 | 안돼 | 작동"),
        ),
        "product": (
            phrase_list("""
                고장 | 불량 | 품질 | 파손 | 깨졌 | 망가 | 하자 | 새요 | 녹았 | 보증 | 식기세척기 | 금이 간
            """),
            phrase_list("제품 | 상품 | 전기포트 | 충전기 | 이어폰 | 컵 | 선풍기 | 커피머신 | 주전자"),
        ),
        "service": (
            phrase_list("""
                상담 | 불친절 | 답변 | 응답 | 연락이 없 | 답장 | 전화가 끊 | 운영
            """),
            phrase_list("고객센터 | 기다 | 대기 | 전화 | 채팅 | 봇"),
        ),
    },
}

# Strong keywords added for what customers name without the usual words: signing up and verification mail
# (account), a blank or white screen (outage), a smell of burning and spare parts (product).
_MORE_STRONG: dict[str, dict[str, str]] = {
    "en": {"account": "verification | verify | sign up | signing up | signup | register*",
           "outage": "white screen | blank screen | black screen | 502 | 503 | 500 error",
           "product": "smell* | burning | carafe* | jug | lid | spare part* | replacement part* | sold separately"},
    "da": {"account": "bekræftelse* | verificer* | oprette mig | oprette en konto | tilmeld* | registrer*",
           "outage": "hvid skærm | sort skærm | blank skærm",
           "product": "lugter | lugt | brændt | kande | låg | reservedel*"},
    "fi": {"account": "vahvistus* | rekisteröi* | tunnuksen luonti | luoda tili",
           "outage": "valkoinen näyttö | valkoinen ruutu | musta ruutu",
           "product": "haisee | haju | palanee* | palaneelta | kannu* | kansi | varaos*"},
    "et": {"account": "kinnitus* | registreeru* | konto loomine",
           "outage": "valge ekraan | must ekraan",
           "product": "lõhna* | kõrbe* | kannu | kann | kaas | varuosa*"},
    "he": {"account": "אימות | הרשמה | להירשם | נרשמ*",
           "outage": "מסך לבן | מסך שחור",
           "product": "מריח | ריח | שרוף | קנקן | מכסה | חלקי חילוף"},
    "ko": {"account": "인증 | 가입 | 회원가입",
           "outage": "흰 화면 | 하얀 화면 | 검은 화면",
           "product": "냄새 | 타는 | 주전자 | 뚜껑 | 부품 | 따로 파"},
}
for _language, _extra in _MORE_STRONG.items():
    for _category, _phrases in _extra.items():
        _strong, _weak = KEYWORDS[_language][_category]
        KEYWORDS[_language][_category] = (_strong + phrase_list(_phrases), _weak)


def category_scores(text: str, language: str) -> dict[str, int]:
    """Each category's keyword weight in ``text``.

    The keywords of ``language`` count alongside English ones (posts mix in English words like "app"); an
    unsupported language is matched against every language's keywords.
    """
    languages = [language, "en"] if language in KEYWORDS else list(KEYWORDS)
    scores = dict.fromkeys(CATEGORIES, 0)
    for lang in dict.fromkeys(languages):
        for category, (strong, weak) in KEYWORDS[lang].items():
            scores[category] += STRONG * count_phrases(text, strong, lang) + WEAK * count_phrases(text, weak, lang)
    return scores


def classify(text: str, language: str) -> str:
    """The category (one of CATEGORIES) whose keywords weigh most in ``text``; "general" when none match."""
    scores = category_scores(text, language)
    best = max(CATEGORIES, key=lambda c: (scores[c], -CATEGORIES.index(c)))
    return best if scores[best] > 0 else "general"


__all__ = ["CATEGORIES", "KEYWORDS", "category_scores", "classify"]
