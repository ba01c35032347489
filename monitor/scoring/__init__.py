"""Sentiment scoring: one Scorer per process, chosen from ScoringSettings.

Importing this package never imports torch or transformers; the transformers backend imports them
when ``build_scorer`` loads it.
"""

from __future__ import annotations

import logging
import os

from monitor.config import ScoringSettings
from monitor.scoring.base import UNSCORED, Scorer, ScorerUnavailable, Sentiment
from monitor.scoring.lexicon import LexiconScorer

__all__ = ["UNSCORED", "Scorer", "ScorerUnavailable", "Sentiment", "build_scorer"]

log = logging.getLogger("closeloop.scoring")

_fallback_warned = False  # the auto backend's fallback warning is logged once per process


def build_scorer(settings: ScoringSettings) -> Scorer:
    """The scorer ``settings.backend`` asks for.

    "lexicon": VADER/AFINN. "offline": the bundled offline model (monitor.scoring.offline).
    "transformers": the model, or ScorerUnavailable naming the model and the reason. "auto": the model,
    or the offline model after one loud warning per process. Never reaches the network unless
    ``allow_download`` is set and HF_HUB_OFFLINE is not; without ``allow_download`` it sets
    HF_HUB_OFFLINE=1 for the process when the variable is unset.
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
        return fallback


def _load_offline() -> Scorer:
    from monitor.scoring.offline import shipped_scorer  # numpy only; imported when chosen

    return shipped_scorer()


def _load_transformers(settings: ScoringSettings) -> Scorer:
    if not settings.allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub when first imported
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
