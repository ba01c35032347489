"""Configuration of drafting: the ``[drafting]`` section and each brand's public facts (``brands.facts``).

Kept apart from ``monitor.config`` (which composes them) so that section stays small; same rules: every key
has a default and a line of help, and secrets are named by environment variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator

from monitor.config_section import Section

CATEGORIES = ("delivery", "billing", "account", "outage", "product", "service", "general")


class BrandFacts(Section):
    status_page: str | None = Field(None, description="URL of the brand's public status page; outage replies point to it.")
    help_center: str | None = Field(None, description="URL of the brand's public help centre; answers to questions link it.")
    help_links: Mapping[str, str] = Field(
        default_factory=dict,
        description="Public help pages by category (delivery, billing, account, outage, product, service, general).",
    )
    support_hours: str | None = Field(
        None, description="When support answers, as customers should read it, e.g. 'Mon–Fri 8–20 CET'."
    )
    refund_days: int | None = Field(
        None, ge=1, le=90,
        description="Business days a refund takes to arrive: the only refund timing a reply may state (unset: none).",
    )
    refund_policy: str | None = Field(
        None, description="URL of the public refund policy; with refund_days, it lets a reply talk about refunds."
    )
    products: tuple[str, ...] = Field((), description="The brand's product names, recognised in posts as written.")

    @field_validator("help_links")
    @classmethod
    def _known_categories(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        unknown = sorted(set(value) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {', '.join(unknown)} (known: {', '.join(CATEGORIES)})")
        return value


class DraftingSettings(Section):
    backend: Literal["template", "openai"] = Field(
        "template",
        description="template: the bundled templates; openai: an OpenAI-compatible chat model, every draft "
        "guarded, the template draft used when it fails.",
    )
    praise: Literal["thank", "record"] = Field(
        "thank",
        description="Praise never opens a complaint case: thank opens a praise-lane case with a thank-you draft, "
        "record only records it.",
    )
    base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        description="openai: the API's base URL (Ollama, vLLM, llama.cpp server or a hosted one), ending in /v1.",
    )
    model: str = Field("llama3.1:8b", description="openai: the chat model's name as the server knows it.")
    api_key_env: str = Field(
        "CLOSELOOP_OPENAI_API_KEY", description="openai: environment variable holding the API key (a local server needs none)."
    )
    timeout_seconds: float = Field(30, gt=0, le=600, description="openai: longest wait for one reply from the model.")
    temperature: float = Field(0.4, ge=0, le=2, description="openai: sampling temperature (lower is more predictable).")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")



__all__ = ["CATEGORIES", "BrandFacts", "DraftingSettings"]
