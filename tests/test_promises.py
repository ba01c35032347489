"""The promise guard: a reply commits the brand only to what the brand's config allows."""

from __future__ import annotations

import pytest

from responders.drafting import BrandFacts, promise_issues

STRICT = BrandFacts(name="Acme")
REFUNDS = BrandFacts(name="Acme", refund_days=5, support_hours="Mon–Fri 8–20 CET")


@pytest.mark.parametrize(
    ("language", "text", "facts", "flagged"),
    [
        ("en", "Of course! I’ll refund you $500 right away.", REFUNDS, ["money", "date"]),
        ("en", "I’ll refund your order in full.", STRICT, ["refund"]),
        ("en", "I’ll refund your order in full.", REFUNDS, []),
        ("en", "You’ll get a 20% discount on your next order.", REFUNDS, ["compensation"]),
        ("en", "I’ll have it sorted by Friday.", REFUNDS, ["date"]),
        ("en", "We will send a replacement tomorrow.", REFUNDS, ["date"]),
        ("en", "Refunds reach your account within 5 business days once approved.", REFUNDS, []),
        ("en", "Refunds reach your account within 10 business days once approved.", REFUNDS, ["date"]),
        ("en", "I’m so sorry about the wrong charge of €89.90 on your card.", STRICT, []),
        ("en", "I’m sorry your order from on the 9th is still missing.", STRICT, []),
        ("en", "I’m checking where the refund for order #A-1 is and I’ll come back to you here.", STRICT, []),
        ("en", "Our support team is there Mon–Fri 8–20 CET.", REFUNDS, []),
        ("da", "Du får pengene tilbage i morgen.", STRICT, ["refund", "date"]),
        ("da", "Jeg sørger for et gavekort til dig.", REFUNDS, ["compensation"]),
        ("fi", "Saat 50 € hyvityksen huomenna.", STRICT, ["money", "refund", "date"]),
        ("et", "Saate tasuta asenduse.", REFUNDS, ["compensation"]),
        ("he", "נחזיר לך 500 ₪ מחר.", STRICT, ["money", "refund", "date"]),
        ("ko", "내일까지 전액 환불해 드리겠습니다.", STRICT, ["refund", "date"]),
        ("ko", "환불은 승인 후 영업일 기준 5일 이내에 들어가요.", REFUNDS, []),
    ],
)
def test_promises_beyond_the_brands_facts_are_flagged(language: str, text: str, facts: BrandFacts,
                                                      flagged: list[str]) -> None:
    issues = promise_issues(text, language=language, facts=facts)
    assert all(i.code == "promise" for i in issues)
    kinds = [next(k for k in ("money", "compensation", "refund", "date") if k in i.message.split(" the brand")[0])
             for i in issues]
    assert sorted(set(kinds)) == sorted(flagged), [i.message for i in issues]
