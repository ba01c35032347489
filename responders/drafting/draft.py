"""The template drafter: a reply made from the case, in the customer's language, within the platform's limit.

Pure apart from reading the bundled templates once. The post is understood (intent, category, facts, with
the customer's history), a plan is made from that and the brand's facts, and the plan is put into words from
sandboxed templates: post text, names and facts only ever reach them as variables.
"""

from __future__ import annotations

from dataclasses import replace

from responders.drafting.compose import compose
from responders.drafting.plan import Plan, plan_reply
from responders.drafting.promises import promise_issues
from responders.drafting.quoting import clean_quote
from responders.drafting.request import BrandFacts, DraftRequest, DraftResult
from responders.drafting.templates import greeting_name, load_templates, reply_language, reply_mention
from responders.lengths import limit_for
from responders.style import StyleIssue, check_style
from responders.understanding import Post, Reading, understand


def read_request(request: DraftRequest, language: str) -> Reading:
    """The reading of ``request``'s post with its history (read in the post's own language when known)."""
    facts = request.brand_facts()
    reading = understand(
        Post(request.post_text, request.language or language, request.label, request.score),
        request.history,
        catalogue=facts.products,
    )
    if request.lane == "praise" and reading.intent != "praise":
        reading = replace(reading, intent="praise", reasons=(*reading.reasons, "praise lane"))
    return reading


def seed_of(request: DraftRequest) -> int | str:
    return request.seed if request.seed is not None else f"{request.author_handle}|{request.post_text}"


def review(
    text: str, request: DraftRequest, *, language: str, plan: Plan, reading: Reading, quote: str
) -> list[StyleIssue]:
    """The style guide's and the promise guard's findings on ``text`` as a reply to ``request``."""
    facts = request.brand_facts()
    name = greeting_name(request.author_name, request.author_handle, request.platform)
    theirs = [
        quote, name, facts.name, reply_mention(request.platform, request.author_handle).strip(),
        *reading.known.order_numbers, *reading.known.products, *(a.written for a in reading.known.amounts),
    ]
    issues = check_style(
        text, language=language, platform=request.platform, signatures=[request.agent_signature],
        quoted=[w for w in theirs if w], needs_apology=plan.needs_apology,
    )
    return issues + promise_issues(
        text, language=language, facts=facts,
        allowed_text=[t for t in (quote, facts.support_hours, facts.status_page, facts.help_link(reading.category)) if t],
    )


def draft_reply(request: DraftRequest) -> DraftResult:
    """A reply to ``request``'s post, made from its case and checked by the style guide and the promise guard.

    It fits the platform's limit whenever the signature leaves room for a greeting, an opener and a next step
    (optional parts go first, then the name). Never raises for any post text, name, handle or history;
    ValueError for an unknown platform.
    """
    limit_for(request.platform)
    language = reply_language(request.language, request.default_language)
    facts: BrandFacts = request.brand_facts()
    reading = read_request(request, language)
    quote = clean_quote(request.post_text, reading.language)
    plan = plan_reply(reading, facts, quote=quote, earlier_case=any(h.case_state for h in request.history))
    name = greeting_name(request.author_name, request.author_handle, request.platform)
    text, used = compose(
        load_templates(language), plan, name=name, prefix=reply_mention(request.platform, request.author_handle),
        signature=request.agent_signature, platform=request.platform, quote=quote, seed=seed_of(request),
    )
    return DraftResult(
        text=text, language=language, category=reading.category, quote=used,
        style_issues=review(text, request, language=language, plan=plan, reading=reading, quote=used),
        intent=reading.intent, reading=reading, asks_private=plan.asks_private, priority=plan.priority,
        needs_apology=plan.needs_apology, signature=request.agent_signature,
    )


__all__ = ["draft_reply", "read_request", "review", "seed_of"]
