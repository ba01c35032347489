"""History into drafts, as tables: what the customer told us earlier is used (never asked for again), an
earlier case makes a repeat contact (acknowledged, high priority), and a praise-lane case is always thanked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.history import EarlierPost
from monitor.pipeline import earlier_contacts
from responders.drafting import EarlierContact, draft_reply
from responders.understanding import Post, understand
from tests.test_drafting import SIGNATURE, apologises, request

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# (language, post: no order number, no "third time"; earlier post; the earlier post's case state; number)
HISTORY = [
    ("en", "@acme the package still hasn't shown up", "@acme order A-77120 hasn't arrived", "open", "#A-77120"),
    ("en", "@acme the package still hasn't shown up", "@acme ordered a Brew 2 today, order A-77120!", None, "#A-77120"),
    ("da", "@acme pakken er der stadig ikke", "@acme ordre 66120 er ikke kommet", "responded", "#66120"),
    ("fi", "@acme paketti ei ole vieläkään tullut", "@acme tilaus 80441 ei ole tullut", "open", "#80441"),
    ("et", "@acme pakk pole ikka kohale jõudnud", "@acme tellimus 40977 pole kohale jõudnud", "resolved", "#40977"),
    ("he", "@acme החבילה עדיין לא הגיעה", "@acme הזמנה 71203 לא הגיעה", "open", "#71203"),
    ("ko", "@acme 택배가 아직도 안 왔어요", "@acme 주문번호 K-55102 택배가 안 왔어요", "open", "#K-55102"),
]


@pytest.mark.parametrize(("language", "post", "earlier", "state", "number"), HISTORY)
def test_a_known_order_number_is_used_and_an_earlier_case_escalates(language: str, post: str, earlier: str,
                                                                    state: str | None, number: str) -> None:
    history = (EarlierContact(text=earlier, platform="mastodon", days_ago=4, case_state=state,
                              category="delivery" if state else None),)
    draft = draft_reply(request(post, language, history=history))
    assert number in draft.text, draft.text
    assert not draft.asks_private, "a number we already have is never asked for again"
    assert apologises(draft.text, language)
    assert draft.priority == ("high" if state else "normal"), "only an earlier case makes a repeat contact"
    assert draft.style_issues == [], draft.text
    without = draft_reply(request(post, language))
    assert number not in without.text and without.priority == "normal"


@pytest.mark.parametrize(
    ("language", "post"),
    [
        ("en", "@acme well, you broke my heart with how good this is"),
        ("da", "@acme jeg har ikke ord"),
        ("fi", "@acme en kestä miten hyvä tämä on"),
        ("et", "@acme ma ei suuda uskuda"),
        ("he", "@acme אין לי מילים"),
        ("ko", "@acme 말도 안 돼"),
    ],
)
def test_a_praise_lane_case_is_thanked_whatever_a_second_reading_says(language: str, post: str) -> None:
    draft = draft_reply(request(post, language, lane="praise", label="negative", score=0.9))
    assert draft.intent == "praise" and not draft.needs_apology
    assert not apologises(draft.text, language), draft.text
    assert SIGNATURE in draft.text


def _post(mention: int, days_ago: float, case: int | None, state: str | None = "open") -> EarlierPost:
    return EarlierPost(mention, "x", f"post {mention}", "en", NOW - timedelta(days=days_ago), case,
                       state if case else None, "delivery" if case else None, "complaint" if case else None)


def test_each_earlier_case_counts_once_and_days_are_measured_from_the_post() -> None:
    posts = [_post(3, 1, 10), _post(1, 5, 10), _post(2, 3, None), _post(4, 2, 11, "resolved")]
    contacts = earlier_contacts(posts, now=NOW)
    assert [c.text for c in contacts] == ["post 1", "post 2", "post 4", "post 3"]
    assert [c.case_state for c in contacts] == ["open", None, "resolved", None]
    assert [round(c.days_ago or 0) for c in contacts] == [5, 3, 2, 1]
    reading = understand(Post("@acme where is my parcel", "en"), contacts)
    assert reading.contacts == 3, "two earlier cases: this is the third contact"


@pytest.mark.parametrize(
    ("language", "mood_only", "worded"),
    [
        ("en", "@acme well that was something", "@acme well that was something, my order never arrived"),
        ("da", "@acme nå, det var noget", "@acme nå, det var noget, min pakke er ikke kommet"),
        ("fi", "@acme no olipa jotain", "@acme no olipa jotain, paketti ei ole tullut"),
        ("et", "@acme noh, see oli midagi", "@acme noh, see oli midagi, pakk pole kohale jõudnud"),
        ("he", "@acme נו, זה היה משהו", "@acme נו, זה היה משהו, החבילה לא הגיעה"),
        ("ko", "@acme 음 그건 좀 그랬어요", "@acme 음 그건 좀 그랬어요, 택배가 안 왔어요"),
    ],
)
def test_no_apology_for_a_problem_only_the_sentiment_model_heard(language: str, mood_only: str, worded: str) -> None:
    guessed = draft_reply(request(mood_only, language, label="negative", score=0.9))
    assert guessed.intent == "complaint" and not guessed.needs_apology, guessed.reading
    assert not apologises(guessed.text, language) and guessed.style_issues == [], guessed.text
    named = draft_reply(request(worded, language, label="negative", score=0.9))
    assert named.needs_apology and apologises(named.text, language), named.text
