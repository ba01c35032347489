"""Building posters: one per (brand, platform) that has a configured source and posting credentials.

Every platform in monitor.sources.platforms has its poster in ``responders/posters/<platform>.py``, imported
only when a source needs it."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping

from monitor.config import Settings
from monitor.sources.base import MissingCredentials
from monitor.sources.platforms import PLATFORMS
from responders.posters.base import Poster, PostError

log = logging.getLogger("closeloop.posters")

POSTER_MODULES = {name: spec.poster_module for name, spec in PLATFORMS.items()}


def build_posters(settings: Settings, env: Mapping[str, str]) -> dict[tuple[str, str], Poster]:
    """Posters keyed by (brand, platform). A platform's options come from the brand's first source on it;
    one whose credentials are missing is skipped with a message naming the variables."""
    posters: dict[tuple[str, str], Poster] = {}
    for source in settings.sources:
        if source.platform not in POSTER_MODULES or not source.enabled:
            continue
        brand = settings.brand(source.brand)
        key = (brand.name, source.platform)
        if key in posters:
            continue
        module = importlib.import_module(POSTER_MODULES[source.platform])
        options = {**source.options, "credentials_env": dict(source.credentials_env)}
        try:
            posters[key] = module.build_poster(brand, options, env)
        except (MissingCredentials, PostError) as exc:  # the source still polls; replies wait, saying why
            log.warning("poster_skipped brand=%s platform=%s reason=%r", brand.name, source.platform, str(exc))
    return posters
