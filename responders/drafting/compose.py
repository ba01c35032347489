"""Putting a plan into words: each part's variant picked by the case's seed, the whole fitted to the
platform's limit.

Pure. Variants are picked so that one case always gets the same sentence and neighbouring cases (consecutive
ids) get different ones in every part that has more than one variant. When the reply is over the limit,
optional parts go first (the extras, then the acknowledgement, then the quote), then the shortest variant of
each part is used, then the name, then a complaint's opener becomes the brief apology; the signature is never
cut.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jinja2 import Template

from responders.drafting.plan import Plan
from responders.drafting.templates import TemplateSet
from responders.lengths import fits, platform_length


def _salt(slot: str) -> int:
    return int.from_bytes(hashlib.sha256(slot.encode()).digest()[:4], "big")


def pick(count: int, seed: int | str, slot: str) -> int:
    """Which of ``count`` variants ``slot`` uses for ``seed``; consecutive integer seeds never pick the same
    variant of a slot that has two or more."""
    if count <= 1:
        return 0
    if isinstance(seed, int):
        return (seed + _salt(slot)) % count
    return int.from_bytes(hashlib.sha256(f"{seed}|{slot}".encode()).digest()[:8], "big") % count


@dataclass(frozen=True, slots=True)
class Parts:
    prefix: str
    greeting: str
    body: tuple[str, ...]
    signature: str

    def text(self) -> str:
        head = self.prefix + self.greeting
        body = " ".join(part.strip() for part in self.body if part.strip())
        lines = f"{head} {body}".strip() if head else body
        return f"{lines}\n{self.signature}" if self.signature.strip() else lines


def _choose(variants: Sequence[Template], seed: int | str, slot: str, shortest: bool,
            render: Callable[[Template], str]) -> str:
    rendered = [render(t) for t in variants]
    if shortest:
        return min(rendered, key=len)
    return rendered[pick(len(rendered), seed, slot)]


def compose(
    templates: TemplateSet, plan: Plan, *, name: str, prefix: str, signature: str, platform: str, quote: str,
    seed: int | str,
) -> tuple[str, str]:
    """The reply text for ``plan`` and the quote it uses ("" if none), within ``platform``'s limit whenever
    the signature leaves room for a greeting and the plan's opener and next step."""

    def build(*, drop: int, shortest: bool, named: bool, brief: bool = False) -> tuple[str, str]:
        keep_extras = max(0, len(plan.extras) - drop)
        keep_tried = drop <= len(plan.extras)
        keep_quote = plan.use_quote and drop <= len(plan.extras) + 1
        values: dict[str, Any] = {**plan.variables, "name": name if named else ""}
        values["quoted"] = f"{templates.quote_open}{quote}{templates.quote_close}" if keep_quote else ""
        values["problem"] = templates.problem[plan.problem].render(**values)

        def render(template: Template) -> str:
            return template.render(**values)

        greetings = templates.greeting_named if named and name else templates.greeting_anonymous
        greeting = _choose(greetings, seed, "greeting", shortest, render)
        opener_key = plan.opener if keep_quote or plan.opener != "complaint_quoted" else "complaint"
        if brief and opener_key in ("complaint", "complaint_quoted", "repeat"):
            opener_key = "brief"
        body = [_choose(templates.opener[opener_key], seed, "opener", shortest, render)]
        if plan.tried and keep_tried:
            body.append(render(templates.tried[plan.tried]))
        body += [_choose(templates.step[key], seed, f"step:{key}", shortest, render) for key in plan.steps]
        body += [_choose(templates.extra[key], seed, f"extra:{key}", shortest, render)
                 for key in plan.extras[:keep_extras]]
        parts = Parts(prefix=prefix, greeting=greeting, body=tuple(body), signature=signature)
        return parts.text(), quote if keep_quote else ""

    optional = len(plan.extras) + 2
    attempts = [dict(drop=d, shortest=False, named=True) for d in range(optional + 1)]
    attempts += [dict(drop=optional, shortest=True, named=True), dict(drop=optional, shortest=True, named=False),
                 dict(drop=optional, shortest=True, named=False, brief=True)]
    best: tuple[str, str] | None = None
    for attempt in attempts:
        text, used = build(**attempt)  # type: ignore[arg-type]
        if fits(text, platform):
            return text, used
        if best is None or platform_length(text, platform) < platform_length(best[0], platform):
            best = (text, used)
    assert best is not None
    return best


def without_quote(plan: Plan) -> Plan:
    return replace(plan, use_quote=False, opener="complaint" if plan.opener == "complaint_quoted" else plan.opener)


__all__ = ["compose", "pick", "without_quote"]
