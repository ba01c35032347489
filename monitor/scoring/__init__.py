"""Sentiment scoring: one Scorer per process, chosen from ScoringSettings.

Importing this package never imports torch or transformers; the transformers backend imports them
when ``build_scorer`` loads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace

from monitor.config import ScoringSettings
from monitor.scoring.base import UNSCORED, Scorer, ScorerInfo, ScorerUnavailable, Sentiment, describe
from monitor.scoring.lexicon import LexiconScorer

__all__ = ["UNSCORED", "Scorer", "ScorerInfo", "ScorerUnavailable", "Sentiment", "build_scorer", "describe", "load_transformer"]

log = logging.getLogger("closeloop.scoring")

_fallback_warned = False  # the auto backend's fallback warning is logged once per process


def build_scorer(settings: ScoringSettings) -> Scorer:
    """The scorer ``settings.backend`` asks for.

    "lexicon": VADER/AFINN. "offline": the bundled offline model (monitor.scoring.offline).
    "transformers": the model, or ScorerUnavailable naming the model and the reason. "auto": the model,
    or the offline model after one loud warning per process. Never reaches the network unless
    ``allow_download`` is set and HF_HUB_OFFLINE is not; without ``allow_download`` it sets
    HF_HUB_OFFLINE=1 for the process when the variable is unset. ``describe(scorer)`` says which one is
    live; after a fallback its ``fallback_reason`` says why.
    """
    if settings.backend == "lexicon":
        return LexiconScorer()
    if settings.backend == "offline":
        return _load_offline()
    try:
        return _load_transformers(settings)
    except ScorerUnavailable as exc:
        if settings.backend == "transformers":
            raise
        fallback = _load_offline()
        _warn_fallback(settings, exc, fallback)
        return FallbackScorer(fallback, str(exc))


class FallbackScorer:
    """The offline model standing in for the transformer that ``backend = "auto"`` asked for: it scores
    exactly as the offline model does, and its ``info`` carries the reason the transformer is not live."""

    def __init__(self, scorer: Scorer, reason: str) -> None:
        self.scorer = scorer
        self.model_name = scorer.model_name
        self.info = replace(describe(scorer), fallback_reason=reason)

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        return self.scorer.score(texts, languages)


def _load_offline() -> Scorer:
    from monitor.scoring.offline import shipped_scorer  # numpy only; imported when chosen

    return shipped_scorer()


def load_transformer(settings: ScoringSettings) -> Scorer:
    """The transformer ``settings`` names, whatever the backend, or ScorerUnavailable with the reason
    (`closeloop model download` and `model status` verify the files with it)."""
    return _load_transformers(settings)


def _load_transformers(settings: ScoringSettings) -> Scorer:
    if not settings.allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub when first imported
    _check_cached(settings)
    try:
        from monitor.scoring import onnx_backend

        if onnx_backend.chosen(settings):
            return onnx_backend.load(settings)
        from monitor.scoring import transformers_backend

        return transformers_backend.load(settings)
    except Exception as exc:  # a model that cannot be loaded, for whatever reason, is unavailable
        reason = str(exc) if isinstance(exc, ScorerUnavailable) else f"{type(exc).__name__}: {exc}"
        reason = reason.replace("\n", " ")
        raise ScorerUnavailable(f"cannot load sentiment model {settings.model!r}: {reason}") from exc


def _check_cached(settings: ScoringSettings) -> None:
    """A hub model that is not in the cache, where nothing may be downloaded, is unavailable: said before
    torch is imported, with the command that fetches it."""
    from monitor.scoring import hub

    if hub.local_directory(settings) is not None or (settings.allow_download and not hub.offline_env()):
        return
    if hub.cached_snapshot(settings) is None:
        raise ScorerUnavailable(
            f"sentiment model {settings.model!r} at revision {settings.revision[:7]} is not in the cache "
            f"{hub.cache_dir(settings)} (nothing is downloaded unless scoring.allow_download is set): "
            "run `closeloop model download`, or set scoring.model to a local model directory"
        )


def _warn_fallback(settings: ScoringSettings, exc: ScorerUnavailable, fallback: Scorer) -> None:
    global _fallback_warned
    if _fallback_warned:
        log.info("scorer_fallback model=%s backend=offline fallback=%s", settings.model, fallback.model_name)
        return
    _fallback_warned = True
    log.warning(
        "scorer_fallback model=%s revision=%s backend=offline fallback=%s reason=%r: the transformer model is "
        "unavailable, so posts are scored by the bundled offline model (en, da, fi, et, he, ko) and marked "
        "model=%s; other languages are unscored",
        settings.model,
        settings.revision[:7],
        fallback.model_name,
        str(exc),
        fallback.model_name,
    )
