"""Drafting replies from the case, never sending them: a draft always waits for a person's approval.

``draft_reply`` (templates, the default) and the optional generative backend (``generative``: any
OpenAI-compatible chat endpoint, guarded and falling back to the templates) both return a ``DraftResult``;
``make_drafter`` picks one from ``[drafting]`` config. ``sign`` puts the approver's signature on the last
line at approval time.
"""

from __future__ import annotations

from responders.drafting.backends import Drafter, facts_for, make_drafter
from responders.drafting.compose import pick
from responders.drafting.draft import draft_reply
from responders.drafting.plan import Plan, plan_reply
from responders.drafting.promises import promise_issues
from responders.drafting.quoting import clean_quote
from responders.drafting.request import BrandFacts, DraftRequest, DraftResult
from responders.drafting.signature import sign
from responders.drafting.templates import (
    _ENVIRONMENT,
    SUPPORTED_LANGUAGES,
    greeting_name,
    load_templates,
    reply_language,
    reply_mention,
)
from responders.understanding import CATEGORIES, EarlierContact, classify

__all__ = [
    "CATEGORIES",
    "SUPPORTED_LANGUAGES",
    "_ENVIRONMENT",
    "BrandFacts",
    "DraftRequest",
    "DraftResult",
    "Drafter",
    "EarlierContact",
    "Plan",
    "classify",
    "clean_quote",
    "draft_reply",
    "facts_for",
    "greeting_name",
    "load_templates",
    "make_drafter",
    "pick",
    "plan_reply",
    "promise_issues",
    "reply_language",
    "reply_mention",
    "sign",
]
