"""What a reply should say, decided from the case: a pure plan the templates (or a model) put into words.

The plan answers in public whatever can be answered in public: an outage points to the status page, a
question to the brand's own facts and help pages, a known order number is used (never asked for again), a
service complaint is taken on in the open. It moves to a private message only when personal data is needed (an
order number not yet given, card or account details, an address) and then says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from responders.drafting.request import BrandFacts
from responders.understanding import Reading

CONTACT_ATTEMPTS = ("called", "emailed", "messaged", "chat", "ticket")
SELF_HELP = ("reinstalled", "restarted")

# Steps that ask the customer to continue in a private message.
PRIVATE_STEPS = frozenset({
    "delivery_ask", "refund_ask", "charge_ask", "account_ask", "account_hacked", "product_ask", "question_address",
})


@dataclass(frozen=True, slots=True)
class Plan:
    """The parts of a reply, by template key, in order; ``optional`` parts may be dropped to fit the limit,
    in the order listed there."""

    intent: str
    problem: str
    opener: str
    tried: str = ""
    steps: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    use_quote: bool = False
    asks_private: bool = False
    needs_apology: bool = False
    priority: str = "normal"
    variables: dict[str, Any] = field(default_factory=dict)


def _problem_key(reading: Reading) -> str:
    keyed = f"{reading.category}_{reading.detail}"
    known = {"delivery_delivered", "billing_refund", "billing_charge", "account_hacked", "product_safety"}
    if keyed in known:
        return keyed
    if reading.category == "billing":
        return "billing_charge"
    return reading.category


def _complaint_steps(reading: Reading, order: str, facts: BrandFacts, earlier_case: bool) -> tuple[list[str], list[str]]:
    steps: list[str] = []
    extras: list[str] = []
    category, detail = reading.category, reading.detail
    if category == "delivery":
        steps.append("delivery_chase" if order else "delivery_ask")
    elif category == "billing" and detail == "refund":
        steps.append("refund_check" if order else "refund_ask")
        if facts.refund_days:
            extras.append("refund_days")
    elif category == "billing":
        steps.append("charge_check" if order else "charge_ask")
    elif category == "account":
        steps.append("account_hacked" if detail == "hacked" else "account_ask")
        if detail != "hacked" and facts.help_link("account"):
            extras.append("help_link")
    elif category == "outage":
        steps.append("outage")
        if facts.status_page:
            extras.append("status_page")
    elif category == "product":
        if detail == "safety":
            steps.append("product_safety")
        steps.append("product_known" if order else "product_ask")
    elif category == "service":
        steps.append("service_known" if earlier_case else "service_ask")
    else:
        steps.append("service_known" if earlier_case else "general")
    return steps, extras


def _question_steps(reading: Reading, facts: BrandFacts) -> list[str]:
    if reading.detail == "address":
        return ["question_address"]
    if reading.category == "billing" and facts.refund_days and reading.detail == "refund":
        return ["question_refund_days"]
    if reading.category == "service" and facts.support_hours:
        return ["question_support_hours"]
    if facts.help_link(reading.category):
        return ["question_check", "question_link"]
    return ["question_check"]


def plan_reply(reading: Reading, facts: BrandFacts, *, quote: str = "", earlier_case: bool = False) -> Plan:
    """The plan for answering ``reading`` for the brand ``facts`` describe.

    ``quote`` is a clean quote of the customer, if one was found; ``earlier_case``: the customer has an
    earlier case with us (their earlier messages are on file). Complaints apologise; praise and questions do
    not. A repeat contact is acknowledged, escalated in tone and marked high priority, as are hacked accounts
    and safety problems.
    """
    known = reading.known
    order = f"#{known.order_numbers[0]}" if known.order_numbers else ""
    variables: dict[str, Any] = {
        "order": order,
        "product": known.products[0] if known.products else "",
        "amount": reading.facts.amounts[0].written if reading.facts.amounts else "",
        "brand": facts.name,
        "contacts": reading.contacts,
        "times": 0,
        "status_page": facts.status_page,
        "help_link": facts.help_link(reading.category),
        "help_center": facts.help_center,
        "refund_days": str(facts.refund_days or ""),
        "refund_policy": facts.refund_policy,
        "support_hours": facts.support_hours,
    }
    intent = reading.intent
    if intent == "praise":
        key = f"praise_{reading.category}"
        return Plan(intent, _problem_key(reading), "praise", steps=(key,), variables=variables)
    if intent == "question":
        steps = _question_steps(reading, facts)
        return Plan(intent, _problem_key(reading), "question", steps=tuple(steps),
                    asks_private=any(s in PRIVATE_STEPS for s in steps), variables=variables)
    if intent == "other":
        return Plan(intent, _problem_key(reading), "other", steps=("other",), variables=variables)

    steps, extras = _complaint_steps(reading, order, facts, earlier_case)
    tried = ""
    for kind in CONTACT_ATTEMPTS:
        attempt = known.attempt(kind)
        if attempt is not None:
            tried, variables["times"] = kind, attempt.times or 0
            break
    if not tried and reading.category in ("outage", "account") and any(known.attempt(k) for k in SELF_HELP):
        tried = "selfhelp"
    high = reading.repeat or reading.detail in ("hacked", "safety")
    if reading.repeat:
        extras.insert(0, "escalate")
    opener = "repeat" if reading.repeat else "complaint"
    use_quote = bool(quote) and not reading.repeat and reading.category in ("general", "service")
    # Read as a complaint from the sentiment model's mood alone (no problem in words, no earlier case): we
    # thank and look into it rather than apologise for a problem nobody named (it may be praise misread).
    mood_only = not reading.repeat and bool(reading.reasons) and all(r.startswith("label:") for r in reading.reasons)
    if mood_only:
        opener, use_quote = "noted", False
    return Plan(
        intent, _problem_key(reading), "complaint_quoted" if use_quote else opener, tried=tried,
        steps=tuple(steps), extras=tuple(extras), use_quote=use_quote,
        asks_private=any(s in PRIVATE_STEPS for s in steps), needs_apology=not mood_only,
        priority="high" if high else "normal", variables=variables,
    )


__all__ = ["PRIVATE_STEPS", "Plan", "plan_reply"]
