"""The crisis radar's bundled scenario: an ordinary week of mentions for Acme, then a login outage.

``python -m monitor.demo.radar_week`` rewrites ``radar_week.jsonl`` beside this file, byte for byte the same
each time (seeded). The week has a daily and weekly rhythm (quiet nights, a slow Sunday), six languages and
four platforms, ordinary complaints about varied things, and the near-misses a radar must sit through: one
angry customer posting fourteen times in twenty minutes, a product launch talked about all morning, a Reddit
thread that runs for half an hour. Then, on Monday at 09:40 UTC, the app's login fails: about 150 people
post about it in 25 minutes, in every language, on every platform.

The benchmark (benchmarks/bench_radar.py) uses ``ordinary_mentions`` to make a million mentions of the same
kind.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 9, tzinfo=UTC)  # a Monday
OUTAGE_AT = datetime(2026, 11, 16, 9, 40, tzinfo=UTC)  # the next Monday, mid-morning in Europe
OUTAGE_MINUTES = 25
PATH = Path(__file__).with_name("radar_week.jsonl")
PEAK_PER_HOUR = 14.0
# Share of the daily peak per hour of day (UTC; the customers are mostly in Europe, some in Korea and Israel).
SHAPE = (0.10, 0.08, 0.10, 0.12, 0.18, 0.30, 0.50, 0.70, 0.85, 0.95, 1.00, 0.95, 0.90, 0.95, 1.00, 0.95,
         0.90, 0.85, 0.90, 0.95, 0.80, 0.55, 0.35, 0.18)
DAY_FACTOR = (1.10, 1.00, 1.00, 1.00, 0.95, 0.70, 0.40)  # Monday busiest; Sunday a slow news day
LANGUAGES = (("en", 0.58), ("da", 0.12), ("fi", 0.08), ("et", 0.06), ("he", 0.08), ("ko", 0.08))
PLATFORMS = (("x", 0.45), ("bluesky", 0.25), ("mastodon", 0.15), ("reddit", 0.15))
PRODUCTS = ("Brew 2", "Grind Pro", "Acme kettle", "Brew 2 Mini", "the travel mug", "Acme app")

ORDINARY: dict[str, list[str]] = {
    "en": [
        "@acme my order {order} still hasn't arrived, tracking hasn't moved since {day}",
        "@acme I was charged twice for order {order}, please refund the second charge",
        "@acme the {product} I got last week is already leaking from the base",
        "@acme waited 40 minutes in your support chat and nobody answered",
        "@acme love my {product}, best coffee I've had at home",
        "@acme does the {product} work with oat milk foam?",
        "@acme when is the {product} back in stock?",
        "@acme the parcel arrived damaged, box crushed and the lid cracked",
        "@acme thanks for the quick replacement, the new {product} works perfectly",
        "@acme my subscription renewed even though I cancelled it in {month}",
        "@acme is there a discount code for students?",
        "@acme the courier left my package in the rain, everything soaked",
        "just descaled my {product} and it tastes like new, cheers @acme",
        "@acme the {product} makes a weird grinding noise since yesterday",
        "@acme great customer service today, Maria sorted my return in five minutes",
        "@acme your app crashed once while I was paying, worked on the second try",
        "@acme can I change the delivery address for order {order}?",
        "@acme the invoice for {order} shows the wrong VAT number",
    ],
    "da": [
        "@acme min pakke {order} er stadig ikke kommet, hvad sker der?",
        "@acme jeg er blevet trukket to gange for samme ordre",
        "@acme min {product} er gået i stykker efter en uge",
        "@acme tak for hurtig hjælp i kundeservice i dag",
        "@acme hvornår kommer {product} tilbage på lager?",
        "@acme ventetiden i telefonkøen er over en time",
    ],
    "fi": [
        "@acme tilaukseni {order} ei ole vieläkään tullut perille",
        "@acme minulta veloitettiin kahdesti samasta tilauksesta",
        "@acme {product} on rikki jo viikon jälkeen",
        "@acme kiitos nopeasta asiakaspalvelusta",
        "@acme milloin {product} tulee takaisin varastoon?",
    ],
    "et": [
        "@acme minu tellimus {order} pole ikka kohale jõudnud",
        "@acme raha võeti kaks korda sama tellimuse eest",
        "@acme {product} läks nädalaga katki",
        "@acme aitäh kiire abi eest klienditeeninduses",
    ],
    "he": [
        "@acme ההזמנה {order} עדיין לא הגיעה, כבר שבועיים",
        "@acme חויבתי פעמיים על אותה הזמנה",
        "@acme ה{product} נשבר אחרי שבוע",
        "@acme תודה על השירות המהיר היום",
        "@acme מתי ה{product} יחזור למלאי?",
    ],
    "ko": [
        "@acme 주문한 {order} 아직도 배송이 안 왔어요",
        "@acme 같은 주문에 이중 결제가 됐어요 환불해주세요",
        "@acme {product} 일주일 만에 고장났어요",
        "@acme 오늘 고객센터 빠른 답변 감사합니다",
        "@acme {product} 재입고 언제 되나요?",
    ],
}

OUTAGE: dict[str, list[str]] = {
    "en": [
        "@acme can't log in to the app, it just spins and says login failed",
        "@acme is the app down? login keeps failing with an error",
        "@acme login broken?? I can't get into my account to reorder",
        "is @acme down for everyone? app won't let me log in",
        "@acme your login page returns error 503, can't sign in at all",
        "@acme app says 'unable to log in, try again later' for the last ten minutes",
        "@acme outage? the app logged me out and now I can't log back in",
        "@acme can't login on the website or the app, what is going on",
        "anyone else unable to log in to the acme app right now? #acmefail",
        "@acme app down, login error every time. fix it please",
    ],
    "da": [
        "@acme appen virker ikke, jeg kan ikke logge ind",
        "@acme er jeres app nede? login fejler hele tiden",
        "@acme kan ikke logge ind på min konto, login siger fejl",
    ],
    "fi": [
        "@acme sovellus ei toimi, en pääse kirjautumaan sisään",
        "@acme kirjautuminen ei onnistu, onko teillä katko?",
        "@acme sovellukseen ei voi kirjautua, virhe joka kerta",
    ],
    "et": [
        "@acme äpp ei tööta, ei saa sisse logida",
        "@acme sisselogimine ei tööta, kas teil on rike?",
    ],
    "he": [
        "@acme האפליקציה לא עובדת, אי אפשר להתחבר",
        "@acme יש תקלה בהתחברות לאפליקציה?",
        "@acme לא מצליח להתחבר לחשבון, שגיאה כל פעם",
    ],
    "ko": [
        "@acme 앱 로그인이 안 돼요 계속 오류가 나요",
        "@acme 앱 먹통인가요? 로그인 안됨",
        "@acme 로그인 장애 있나요? 접속이 안 돼요",
    ],
}


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if roll < total:
            return value
    return weighted[-1][0]


class _People:
    """Authors per platform, drawn from a fixed pool so regulars come back."""

    def __init__(self, rng: random.Random, prefix: str, size: int, offset: int) -> None:
        self.rng, self.prefix, self.size, self.offset = rng, prefix, size, offset

    def author(self, platform: str, number: int | None = None) -> dict[str, Any]:
        n = self.offset + (self.rng.randrange(self.size) if number is None else number)
        followers = int(self.rng.lognormvariate(5.0, 1.6))
        handle = {"x": f"{self.prefix}{n}", "reddit": f"{self.prefix}_{n}",
                  "mastodon": f"{self.prefix}{n}@mastodon.social", "bluesky": f"{self.prefix}{n}.bsky.social"}[platform]
        user_id = {"x": str(1_400_000_000_000_000_000 + n * 7919), "reddit": f"t2_{n:x}",
                   "mastodon": str(109_000_000_000_000_000 + n * 104_729), "bluesky": f"did:plc:{self.prefix}{n:012x}"}
        return {"id": user_id[platform], "handle": handle, "name": f"{self.prefix.title()} {n}",
                "followers": followers, "verified": False}


def _record(rng: random.Random, serial: int, platform: str, at: datetime, text: str, author: dict[str, Any],
            *, lang: str, reply_to: str | None = None) -> dict[str, Any]:
    handle = author["handle"]
    if platform == "x":
        pid = str(2_123_000_000_000_000_000 + serial * 4_194_304)
        url = f"https://x.com/{handle}/status/{pid}"
    elif platform == "reddit":
        pid = f"t1_r{serial:06x}"
        url = f"https://www.reddit.com/r/acme/comments/1q{serial:05x}/-/{pid[3:]}/"
    elif platform == "mastodon":
        user = handle.split("@")[0]
        pid = f"https://mastodon.social/users/{user}/statuses/{117_600_000_000_000_000 + serial}"
        url = f"https://mastodon.social/@{user}/{117_600_000_000_000_000 + serial}"
    else:
        pid = f"at://{author['id']}/app.bsky.feed.post/3n{serial:011x}"
        url = f"https://bsky.app/profile/{handle}/post/3n{serial:011x}"
    return {
        "platform": platform, "id": pid, "text": text, "created_at": at.isoformat(), "author": author, "url": url,
        "in_reply_to_id": reply_to, "conversation_id": reply_to or pid,
        "lang": lang if platform in ("x", "bluesky") else None,
        "metrics": {"likes": int(rng.expovariate(0.4)), "reposts": int(rng.expovariate(1.5)),
                    "replies": int(rng.expovariate(1.0))},
    }


def _fill(rng: random.Random, template: str) -> str:
    return template.format(order=f"#A-{rng.randrange(10_000, 99_999)}", product=rng.choice(PRODUCTS),
                           day=rng.choice(("Monday", "Tuesday", "Friday", "the weekend")),
                           month=rng.choice(("August", "September", "October")))


def ordinary_mentions(rng: random.Random, start: datetime, end: datetime, *, peak_per_hour: float = PEAK_PER_HOUR,
                      people: int = 900, serial: int = 0) -> Iterator[dict[str, Any]]:
    """Ordinary mentions between ``start`` and ``end`` (Poisson arrivals following the daily and weekly rhythm)."""
    crowd = _People(rng, "cust", people, 0)
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        rate = peak_per_hour * SHAPE[hour.hour] * DAY_FACTOR[hour.weekday()]
        at = hour + timedelta(hours=rng.expovariate(rate))
        while at < hour + timedelta(hours=1):
            if start <= at < end:
                serial += 1
                platform = _pick(rng, PLATFORMS)
                lang = _pick(rng, LANGUAGES)
                yield _record(rng, serial, platform, at.replace(microsecond=0),
                              _fill(rng, rng.choice(ORDINARY[lang])), crowd.author(platform), lang=lang)
            at += timedelta(hours=rng.expovariate(rate))
        hour += timedelta(hours=1)


def _near_misses(rng: random.Random, serial: int) -> Iterator[dict[str, Any]]:
    """What an ordinary week also holds, and a radar must not call a crisis."""
    crowd = _People(rng, "near", 300, 1_000_000)
    angry = crowd.author("x", 7)
    at = datetime(2026, 11, 12, 14, 0, tzinfo=UTC)  # Thursday: one customer, fourteen posts in twenty minutes
    for n in range(14):
        serial += 1
        yield _record(rng, serial, "x", at + timedelta(minutes=n * 1.4 + rng.random()),
                      f"@acme I want my refund for order #A-40411 NOW. Day {n + 9} of waiting. Refund refund refund",
                      angry, lang="en")
    at = datetime(2026, 11, 13, 8, 0, tzinfo=UTC)  # Friday: the Brew 3 launch, talked about all morning
    for n in range(16):
        serial += 1
        platform = _pick(rng, PLATFORMS)
        yield _record(rng, serial, platform, at + timedelta(minutes=rng.uniform(0, 240)),
                      rng.choice(("@acme the Brew 3 looks amazing, preordered!", "@acme is the Brew 3 worth the "
                                  "upgrade from the Brew 2?", "@acme Brew 3 launch price is steep but I'm tempted")),
                      crowd.author(platform, 100 + n), lang="en")
    at = datetime(2026, 11, 14, 19, 0, tzinfo=UTC)  # Saturday: a Reddit thread about descaling
    root = None
    for n in range(8):
        serial += 1
        record = _record(rng, serial, "reddit", at + timedelta(minutes=n * 4 + rng.random()),
                         rng.choice(("descaling the Acme Grind Pro: vinegar or citric acid?",
                                     "citric acid, vinegar leaves a taste", "I just run the acme descaler twice")),
                         crowd.author("reddit", 200 + n % 6), lang="en", reply_to=root)
        root = root or record["id"]
        yield record


def outage_mentions(rng: random.Random, serial: int) -> Iterator[dict[str, Any]]:
    """The login outage: ~150 posts by distinct people in 25 minutes, every language, every platform."""
    crowd = _People(rng, "user", 5_000, 2_000_000)
    numbers = rng.sample(range(5_000), 200)
    at = OUTAGE_AT
    end = OUTAGE_AT + timedelta(minutes=OUTAGE_MINUTES)
    n = 0
    while at < end:
        minute = (at - OUTAGE_AT) / timedelta(minutes=1)
        per_minute = 3.0 if minute < 3 else 8.0 if minute < 15 else 4.0
        at += timedelta(minutes=rng.expovariate(per_minute))
        if at >= end:
            break
        serial += 1
        platform = _pick(rng, PLATFORMS)
        lang = _pick(rng, LANGUAGES)
        yield _record(rng, serial, platform, at.replace(microsecond=0), rng.choice(OUTAGE[lang]),
                      crowd.author(platform, numbers[n % len(numbers)]), lang=lang)
        n += 1
    serial += 1  # a news account, widest reach of all
    news = {"id": "1400000000000000001", "handle": "technewsdaily", "name": "Tech News Daily", "followers": 254_000,
            "verified": True}
    yield _record(rng, serial, "x", OUTAGE_AT + timedelta(minutes=12), "Reports of a login outage at @acme: "
                  "customers across Europe and Korea say the app will not let them sign in", news, lang="en")


def scenario(seed: int = 20261116) -> list[dict[str, Any]]:
    """The whole file's records, oldest first."""
    rng = random.Random(seed)
    records = list(ordinary_mentions(rng, START, OUTAGE_AT))
    records += list(_near_misses(rng, 50_000))
    records += list(outage_mentions(rng, 60_000))
    records.sort(key=lambda r: (r["created_at"], r["id"]))
    return records


def main(argv: list[str] | None = None) -> int:
    path = Path((argv or sys.argv[1:] or [str(PATH)])[0])
    with path.open("w", encoding="utf-8") as handle:
        for record in scenario():
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
