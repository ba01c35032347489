"""Building sources from config: each platform's ``build_source`` (``monitor.sources.<platform>.source``),
imported only when a source needs it, so no client library loads for a platform nobody polls."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import UTC, datetime, time
from pathlib import Path

from models.sources import ConfiguredSource
from monitor.config import Settings, SourceSettings
from monitor.sources.base import Source
from monitor.sources.common import Clock, utcnow
from monitor.sources.intake import IntakeRules
from monitor.sources.platforms import REPLAY, spec_for
from monitor.sources.replay import ReplaySource


def configured_sources(settings: Settings) -> list[ConfiguredSource]:
    """The sources the config names, as the sources table keeps them (their brand resolved)."""
    return [ConfiguredSource(s.name, s.platform, settings.brand(s.brand).name, s.enabled) for s in settings.sources]


def intake_rules(settings: Settings) -> IntakeRules:
    """The window a post's date must fall in, from config ``[intake]``."""
    intake = settings.intake
    return IntakeRules(earliest=datetime.combine(intake.earliest_post_date, time(), UTC),
                       future_tolerance=intake.future_tolerance)


def build_source(source: SourceSettings, settings: Settings, env: Mapping[str, str], *,
                 clock: Clock = utcnow) -> Source:
    """The source for ``source``, reading time from ``clock`` (given here, at construction, never set later).

    Raises MissingCredentials naming the variables a platform needs, SourceError(permanent) for options
    that config cannot check alone (e.g. a Mastodon source with no instance to talk to)."""
    rules = intake_rules(settings)
    if source.platform == REPLAY:
        assert source.path is not None
        path = Path(source.path)
        if not path.is_absolute():
            path = Path(settings.app.data_dir) / path
        return ReplaySource(name=source.name, path=path, clock=clock, intake=rules)
    module = importlib.import_module(spec_for(source.platform).source_module)
    built: Source = module.build_source(source, settings.brand(source.brand), env, clock=clock, intake=rules)
    return built


def credential_key(source: SourceSettings) -> str:
    """Sources sharing this key share one rate limit: the platform plus the variable holding the read token."""
    if source.platform == REPLAY:
        return f"replay:{source.name}"
    roles = spec_for(source.platform).read_credentials
    names = sorted(source.credentials_env.get(role, default) for role, default in roles.items())
    base = source.options.get("api_base_url") or source.options.get("instance") or ""
    return f"{source.platform}:{base}:{','.join(names)}"
