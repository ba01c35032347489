"""The bundled reply templates, compiled, and the small helpers every reply shares (language, greeting name,
the mention a reply opens with).

Templates live in ``responders/templates/<language>.toml`` and are compiled in a sandboxed Jinja2
environment; the post's text, names, handles and facts are only ever passed in as variables, never as template
source, so ``{{ 7*7 }}`` in a post comes out as written. Pure apart from reading the bundled files once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import regex
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from monitor.languages import CUSTOMER_LANGUAGES, normalise_language
from responders.lengths import grapheme_count

SUPPORTED_LANGUAGES = CUSTOMER_LANGUAGES

PROBLEMS = (
    "delivery", "delivery_delivered", "billing_refund", "billing_charge", "account", "account_hacked", "outage",
    "product", "product_safety", "service", "general",
)
OPENERS = ("complaint", "complaint_quoted", "repeat", "brief", "question", "praise", "other", "noted")
TRIED = ("called", "emailed", "messaged", "chat", "ticket", "selfhelp")
STEPS = (
    "delivery_chase", "delivery_ask", "refund_check", "refund_ask", "charge_check", "charge_ask", "account_ask",
    "account_hacked", "outage", "product_known", "product_ask", "product_safety", "service_known", "service_ask",
    "general", "question_refund_days", "question_support_hours", "question_link", "question_check",
    "question_address", "praise_delivery", "praise_billing", "praise_account", "praise_outage", "praise_product",
    "praise_service", "praise_general", "other",
)
EXTRAS = ("status_page", "refund_days", "help_link", "escalate")

_ENVIRONMENT = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)
_NAME_WORD = regex.compile(r"\p{L}\p{M}*(?:\p{L}\p{M}*|['’\-](?=\p{L}))*")
_HANDLE = regex.compile(r"[\w.\-]+(?:@[\w.\-]+)?")
_MASTODON_ACCT = regex.compile(r"[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]{1,253})?")


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """One language's compiled templates: quotation marks, and each part's variants (see en.toml)."""

    quote_open: str
    quote_close: str
    greeting_named: tuple[Template, ...]
    greeting_anonymous: tuple[Template, ...]
    problem: dict[str, Template]
    opener: dict[str, tuple[Template, ...]]
    tried: dict[str, Template]
    step: dict[str, tuple[Template, ...]]
    extra: dict[str, tuple[Template, ...]]


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES))
def load_templates(language: str) -> TemplateSet:
    """The bundled templates for ``language``, compiled; ValueError naming the key that is missing."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"no reply templates for language {language!r}")
    name = f"templates/{language}.toml"
    data = tomllib.loads(resources.files("responders").joinpath(name).read_text(encoding="utf-8"))

    def variants(section: str, key: str) -> tuple[Template, ...]:
        value = data.get(section, {}).get(key)
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ValueError(f"responders/{name}: missing [{section}] {key}")
        return tuple(_ENVIRONMENT.from_string(v) for v in values)

    def single(section: str, key: str) -> Template:
        return variants(section, key)[0]

    quote = data.get("quote", {})
    if not isinstance(quote.get("open"), str) or not isinstance(quote.get("close"), str):
        raise ValueError(f"responders/{name}: missing [quote] open/close")
    return TemplateSet(
        quote_open=quote["open"],
        quote_close=quote["close"],
        greeting_named=variants("greeting", "named"),
        greeting_anonymous=variants("greeting", "anonymous"),
        problem={key: single("problem", key) for key in PROBLEMS},
        opener={key: variants("opener", key) for key in OPENERS},
        tried={key: single("tried", key) for key in TRIED},
        step={key: variants("step", key) for key in STEPS},
        extra={key: variants("extra", key) for key in EXTRAS},
    )


def reply_language(detected: str | None, default: str) -> str:
    """The language to reply in: the post's if supported, else the brand default if supported, else "en"."""
    for code in (detected, default):
        base = normalise_language(code)
        if base in SUPPORTED_LANGUAGES:
            return base
    return "en"


def greeting_name(author_name: str | None, handle: str, platform: str) -> str:
    """How to greet the author: the first word of their name if it is letters only, else their handle
    (``u/name`` on Reddit, ``@name`` elsewhere), else "" (greet without a name)."""
    words = (author_name or "").split()
    if words and _NAME_WORD.fullmatch(words[0]) and 2 <= grapheme_count(words[0]) <= 30:
        return words[0]
    bare = handle.strip().removeprefix("u/").removeprefix("/u/").lstrip("@")
    if bare and len(bare) <= 64 and _HANDLE.fullmatch(bare):
        return ("u/" if platform == "reddit" else "@") + bare
    return ""


def reply_mention(platform: str, handle: str) -> str:
    """The mention a reply opens with where the platform notifies only mentioned accounts (Mastodon), so
    the approved text is exactly the text published; "" elsewhere."""
    bare = handle.strip().lstrip("@")
    if platform == "mastodon" and bare and _MASTODON_ACCT.fullmatch(bare):
        return f"@{bare} "
    return ""


__all__ = [
    "EXTRAS", "OPENERS", "PROBLEMS", "STEPS", "SUPPORTED_LANGUAGES", "TRIED", "TemplateSet", "greeting_name",
    "load_templates", "reply_language", "reply_mention",
]
