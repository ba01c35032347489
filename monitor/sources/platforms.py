"""The platforms closeloop speaks to, listed once. Config, budgets, lengths, drafting, the source registry and
the poster registry all read this list; adding a platform is one folder, one poster and one name in
NAMES (see CONTRIBUTING.md).

Light: importing it imports each platform's description only, never its client library.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from monitor.sources.spec import PlatformSpec, ReplayOptions, SourceOptions

NAMES = ("x", "reddit", "mastodon", "bluesky")

PLATFORMS: Mapping[str, PlatformSpec] = {
    name: importlib.import_module(f"monitor.sources.{name}").SPEC for name in NAMES
}
"""Each platform's description, by name (``monitor.sources.<name>.SPEC``)."""

REPLAY = "replay"
SOURCE_KINDS: tuple[str, ...] = (*PLATFORMS, REPLAY)
"""What a source's ``platform`` may be: every platform, and ``replay`` (a JSONL file of any of them)."""


def spec_for(name: str) -> PlatformSpec:
    """The description of platform ``name``; ValueError naming the known ones otherwise."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(f"unknown platform {name!r} (known: {', '.join(PLATFORMS)})") from None


def options_model(kind: str) -> type[SourceOptions]:
    """The pydantic model of ``options`` for a source of ``kind`` (a platform or replay)."""
    return ReplayOptions if kind == REPLAY else spec_for(kind).options


__all__ = ["NAMES", "PLATFORMS", "REPLAY", "SOURCE_KINDS", "options_model", "spec_for"]
