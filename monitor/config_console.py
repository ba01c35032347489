"""The console's shift settings: canned snippets (`[[console.snippets]]`) agents insert into a reply."""

from __future__ import annotations

from pydantic import Field

from monitor.config_section import Section


class Snippet(Section):
    name: str = Field(min_length=1, max_length=80, description="What the snippet is called in the editor's list.")
    text: str = Field(min_length=1, max_length=2000, description="The words inserted at the cursor.")
    language: str = Field("en", min_length=2, max_length=20, description="The reply language it is written in.")
    brand: str | None = Field(None, description="The brand it belongs to; none: every brand.")


__all__ = ["Snippet"]
