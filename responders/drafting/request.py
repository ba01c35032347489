"""What the drafter is given and what it returns: plain data, so storage can fill it and tests can table it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from responders.style import StyleIssue
from responders.understanding import EarlierContact, Reading


@dataclass(frozen=True, slots=True)
class BrandFacts:
    """What the brand says about itself in public (config: ``brands.facts``); "" / None / empty = not said.

    Only these may be stated as facts or promises in a reply: ``refund_days`` is the one refund timing a draft
    may name, and no reply promises money, dates or amounts beyond them (see ``promises``).
    """

    name: str = "Acme"
    status_page: str = ""
    help_center: str = ""
    help_links: Mapping[str, str] = field(default_factory=dict)
    support_hours: str = ""
    refund_days: int | None = None
    refund_policy: str = ""
    products: tuple[str, ...] = ()

    def help_link(self, category: str) -> str:
        """The public page for ``category``, else the help centre, else ""."""
        return self.help_links.get(category) or self.help_center


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """What the drafter needs to know about a post, the case it belongs to, and who answers it.

    The first nine fields are what a post alone gives. The rest come from the case: the sentiment the scorer
    gave the post (``label``/``score``), the customer's ``history`` (earlier posts and cases on any platform,
    as plain data), the brand's public ``facts`` (None: only the brand's name is known), and ``seed`` (the
    case id), which picks the phrasing so one case always reads the same and neighbouring cases differ.
    ``lane`` is the case's lane: a "praise" case is always answered as praise (a thank-you, never an apology),
    whatever a second reading of the post would say.
    """

    platform: str
    post_text: str
    language: str | None
    author_handle: str
    author_name: str | None
    brand_name: str
    agent_name: str
    agent_signature: str
    default_language: str = "en"
    label: str | None = None
    score: float = 0.0
    history: tuple[EarlierContact, ...] = ()
    facts: BrandFacts | None = None
    seed: int | str | None = None
    lane: str | None = None

    def brand_facts(self) -> BrandFacts:
        if self.facts is None:
            return BrandFacts(name=self.brand_name)
        return self.facts if self.facts.name == self.brand_name else replace(self.facts, name=self.brand_name)


@dataclass(frozen=True, slots=True)
class DraftResult:
    """A drafted reply and what it is made of.

    ``quote`` is the customer's words exactly as the reply restates them ("" if none). ``asks_private``: the
    reply asks the customer to continue in a private message (only when personal data is needed, and it says
    why). ``priority`` is "high" for a repeat contact, a hacked account or a safety problem. ``backend`` says
    what wrote the text ("template" or "openai"); ``fallback`` why a generated draft was not used ("" when it
    was, or none was asked for); the reason is also the first of ``style_issues`` (code ``generated_rejected``)
    so it is stored and shown with the draft.
    """

    text: str
    language: str
    category: str
    quote: str
    style_issues: list[StyleIssue] = field(default_factory=list)
    intent: str = "complaint"
    reading: Reading | None = None
    asks_private: bool = False
    priority: str = "normal"
    needs_apology: bool = True
    backend: str = "template"
    fallback: str = ""
    signature: str = ""


__all__ = ["BrandFacts", "DraftRequest", "DraftResult"]
