"""Building sources from config: one builder per platform module, imported only when a source needs it."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

from monitor.config import Settings, SourceSettings
from monitor.sources.base import Source
from monitor.sources.replay import ReplaySource

PLATFORM_MODULES = {
    "x": "monitor.sources.x",
    "reddit": "monitor.sources.reddit",
    "mastodon": "monitor.sources.mastodon",
    "bluesky": "monitor.sources.bluesky",
}


def build_source(source: SourceSettings, settings: Settings, env: Mapping[str, str]) -> Source:
    """The source for ``source``; raises MissingCredentials naming the variables a platform needs."""
    brand = settings.brand(source.brand)
    if source.platform == "replay":
        assert source.path is not None
        path = Path(source.path)
        if not path.is_absolute():
            path = Path(settings.app.data_dir) / path
        return ReplaySource(name=source.name, path=path)
    module = importlib.import_module(PLATFORM_MODULES[source.platform])
    built: Source = module.build_source(source, brand, env)
    return built


def credential_key(source: SourceSettings) -> str:
    """Sources sharing this key share one rate limit: the platform plus the variable holding the read token."""
    if source.platform == "replay":
        return f"replay:{source.name}"
    module = importlib.import_module(PLATFORM_MODULES[source.platform])
    roles: Mapping[str, str] = module.READ_CREDENTIALS
    names = sorted(source.credentials_env.get(role, default) for role, default in roles.items())
    base = source.options.get("api_base_url") or source.options.get("instance") or ""
    return f"{source.platform}:{base}:{','.join(names)}"
