"""Drafting a reply to a complaint: personal, in the customer's language, within the platform's limit.

A draft greets the customer by first name (or handle), restates their problem in their own words, apologises,
offers a next step specific to the complaint's category and ends with the agent's signature on its own
line. Templates live in ``responders/templates/<language>.toml`` and are rendered in a sandboxed Jinja2
environment; the post's text, names and handles are only ever passed in as variables, never as template
source, so ``{{ 7*7 }}`` in a post comes out as written. Pure apart from reading the bundled templates once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import regex
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from responders.lengths import fits, grapheme_count, limit_for
from responders.problem import CATEGORIES, classify_complaint, extract_problem
from responders.style import StyleIssue, check_style

SUPPORTED_LANGUAGES = ("en", "da", "fi", "et", "he", "ko")
VARIANTS = ("long", "short")
MAX_QUOTE_GRAPHEMES = 120
"""The longest restatement of the customer's words, on any platform: a reply restates, it does not repost."""
MIN_QUOTE_GRAPHEMES = 24
"""A shortened quote shorter than this makes the drafter try the short template first."""

_ALIASES = {"iw": "he", "dk": "da", "kr": "ko", "ee": "et"}
_NAME_WORD = regex.compile(r"\p{L}\p{M}*(?:\p{L}\p{M}*|['’\-](?=\p{L}))*")
_HANDLE = regex.compile(r"[\w.\-]+(?:@[\w.\-]+)?")
_MASTODON_ACCT = regex.compile(r"[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]{1,253})?")
_WORD = regex.compile(r"\S+")
_GRAPHEME = regex.compile(r"\X")
_TRAILING_PUNCTUATION = " \t,;:-–—"


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """What the drafter needs to know about a post and who answers it."""

    platform: str
    post_text: str
    language: str | None
    author_handle: str
    author_name: str | None
    brand_name: str
    agent_name: str
    agent_signature: str
    default_language: str = "en"


@dataclass(frozen=True, slots=True)
class DraftResult:
    """A drafted reply; ``quote`` is the customer's words exactly as the reply restates them ("" if none)."""

    text: str
    language: str
    category: str
    quote: str
    style_issues: list[StyleIssue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """One language's compiled templates: its quotation marks, greetings, and a body per (category, variant)."""

    quote_open: str
    quote_close: str
    greeting_named: Template
    greeting_anonymous: Template
    bodies: dict[tuple[str, str], Template]


_ENVIRONMENT = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES))
def load_templates(language: str) -> TemplateSet:
    """The bundled templates for ``language``, compiled; ValueError naming the key that is missing."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"no reply templates for language {language!r}")
    name = f"templates/{language}.toml"
    data = tomllib.loads(resources.files("responders").joinpath(name).read_text(encoding="utf-8"))

    def source(section: str, key: str) -> str:
        value = data.get(section, {}).get(key)
        if not isinstance(value, str):
            raise ValueError(f"responders/{name}: missing [{section}] {key}")
        return value

    return TemplateSet(
        quote_open=source("quote", "open"),
        quote_close=source("quote", "close"),
        greeting_named=_ENVIRONMENT.from_string(source("greeting", "named")),
        greeting_anonymous=_ENVIRONMENT.from_string(source("greeting", "anonymous")),
        bodies={
            (category, variant): _ENVIRONMENT.from_string(source(category, variant))
            for category in CATEGORIES
            for variant in VARIANTS
        },
    )


def reply_language(detected: str | None, default: str) -> str:
    """The language to reply in: the post's if supported, else the brand default if supported, else "en"."""
    for code in (detected, default):
        if code:
            base = regex.split(r"[-_]", code.strip().lower())[0]
            base = _ALIASES.get(base, base)
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


def _shortened(quote: str, end: int) -> str:
    """``quote`` cut at ``end`` with an ellipsis; "" when nothing worth keeping is left."""
    kept = quote[:end].rstrip(_TRAILING_PUNCTUATION)
    return kept + "…" if kept else ""


def _cut_points(quote: str) -> list[int]:
    """Where ``quote`` may be cut, ascending: after each word but the last, and (for a first word too long
    to keep whole) between the graphemes of the first word."""
    words = list(_WORD.finditer(quote))
    if not words:
        return []
    first = words[0]
    inside: list[int] = []
    position = first.start()
    for grapheme in _GRAPHEME.findall(first.group())[:-1]:
        position += len(grapheme)
        inside.append(position)
    return inside + [word.end() for word in words[:-1]]


def _capped(quote: str) -> str:
    if grapheme_count(quote) <= MAX_QUOTE_GRAPHEMES:
        return quote
    fitting = [end for end in _cut_points(quote) if grapheme_count(quote[:end]) < MAX_QUOTE_GRAPHEMES]
    return _shortened(quote, fitting[-1]) if fitting else ""


def _longest_fitting(render: Callable[[str], str], quote: str, platform: str) -> str | None:
    """The longest form of ``quote`` (whole, or cut with "…") whose rendering fits; None when none does."""
    if fits(render(quote), platform):
        return quote
    cuts, best = _cut_points(quote), None
    low, high = 0, len(cuts) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = _shortened(quote, cuts[middle])
        if candidate and fits(render(candidate), platform):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def reply_mention(platform: str, handle: str) -> str:
    """The mention a reply opens with where the platform notifies only mentioned accounts (Mastodon), so
    the approved text is exactly the text published; "" elsewhere."""
    bare = handle.strip().lstrip("@")
    if platform == "mastodon" and bare and _MASTODON_ACCT.fullmatch(bare):
        return f"@{bare} "
    return ""


def _renderer(
    templates: TemplateSet, request: DraftRequest, category: str, variant: str, name: str
) -> Callable[[str], str]:
    body = templates.bodies[(category, variant)]
    greeting = (templates.greeting_named if name else templates.greeting_anonymous).render(name=name)
    signature = request.agent_signature
    prefix = reply_mention(request.platform, request.author_handle)

    def render(quote: str) -> str:
        quoted = f"{templates.quote_open}{quote}{templates.quote_close}" if quote else ""
        text = (
            prefix
            + greeting
            + " "
            + body.render(
                name=name, quote=quote, quoted=quoted, brand=request.brand_name, agent=request.agent_name
            )
        )
        return f"{text}\n{signature}" if signature.strip() else text

    return render


def _fit(
    templates: TemplateSet, request: DraftRequest, category: str, name: str, quote: str
) -> tuple[str, str]:
    """The reply text and the quote it restates, chosen as the most complete draft within the limit."""
    platform = request.platform
    for variant in VARIANTS:
        render = _renderer(templates, request, category, variant, name)
        kept = _longest_fitting(render, quote, platform)
        if kept is not None and (kept == quote or grapheme_count(kept) >= MIN_QUOTE_GRAPHEMES):
            return render(kept), kept
    render = _renderer(templates, request, category, "short", name)
    kept = _longest_fitting(render, quote, platform)
    if kept is not None:
        return render(kept), kept
    # Only an outsized name or signature gets here: drop the name; the signature is never cut.
    return _renderer(templates, request, category, "short", "")(""), ""


def draft_reply(request: DraftRequest) -> DraftResult:
    """A reply to ``request``'s post, checked against the style guide.

    It fits the platform's limit whenever the signature leaves room for a greeting and an apology; a quote
    is shortened at a word boundary first, then the short template is used, then the quote and finally
    the name are dropped. Never raises for any post text, name or handle; ValueError for an unknown platform.
    """
    limit_for(request.platform)
    language = reply_language(request.language, request.default_language)
    category = classify_complaint(request.post_text, language)
    templates = load_templates(language)
    name = greeting_name(request.author_name, request.author_handle, request.platform)
    text, quote = _fit(templates, request, category, name, _capped(extract_problem(request.post_text)))
    issues = check_style(
        text,
        language=language,
        platform=request.platform,
        signatures=[request.agent_signature],
        quoted=[words for words in (quote, name, request.brand_name, reply_mention(request.platform,
                                                                                  request.author_handle).strip())
                if words],
    )
    return DraftResult(text=text, language=language, category=category, quote=quote, style_issues=issues)


__all__ = [
    "CATEGORIES",
    "SUPPORTED_LANGUAGES",
    "DraftRequest",
    "DraftResult",
    "classify_complaint",
    "draft_reply",
    "extract_problem",
    "greeting_name",
    "load_templates",
    "reply_language",
]
