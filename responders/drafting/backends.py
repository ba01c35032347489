"""Choosing the drafter from config: the templates, or a generative model guarded by them.

``make_drafter(settings.drafting)`` is called once per drafting batch; the model's API key is read from the
environment variable the config names, and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from monitor.config import Brand
from monitor.config_drafting import DraftingSettings
from responders.drafting.draft import draft_reply
from responders.drafting.request import BrandFacts, DraftRequest, DraftResult

Drafter = Callable[[DraftRequest], DraftResult]


def facts_for(brand: Brand) -> BrandFacts:
    """The drafter's view of a configured brand's public facts."""
    facts = brand.facts
    return BrandFacts(
        name=brand.name, status_page=facts.status_page or "", help_center=facts.help_center or "",
        help_links=dict(facts.help_links), support_hours=facts.support_hours or "", refund_days=facts.refund_days,
        refund_policy=facts.refund_policy or "", products=tuple(facts.products),
    )


def make_drafter(settings: DraftingSettings, *, environ: Mapping[str, str] | None = None) -> Drafter:
    """The drafter ``settings.backend`` names: ``draft_reply`` for "template"; for "openai", a generative
    drafter on ``settings.base_url`` that falls back to ``draft_reply``."""
    if settings.backend == "template":
        return draft_reply
    from responders.drafting.generative import OpenAIChat, generative_drafter

    env = os.environ if environ is None else environ
    chat = OpenAIChat(
        base_url=settings.base_url, model=settings.model, api_key=env.get(settings.api_key_env) or None,
        timeout=settings.timeout_seconds, temperature=settings.temperature,
    )
    return generative_drafter(chat)


__all__ = ["Drafter", "facts_for", "make_drafter"]
