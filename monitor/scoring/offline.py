"""The offline backend: a small multilingual linear classifier that ships inside the package.

It reads the customer languages it was trained on (the manifest's ``languages``: en, da, fi, et, he, ko)
with numpy alone: no torch, no network, no download. The weights were trained by
scripts/train_sentiment.py from ../shared/datasets/sentiment/; the manifest beside them records the
dataset's sha256 digests and the training parameters. A text whose language hint names another
language, and an empty text, is UNSCORED; a text without a hint is scored.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.languages import normalise_language
from monitor.scoring.base import UNSCORED, ScorerUnavailable, Sentiment, check_lengths
from monitor.scoring.offline_features import FeatureSpec, featurise

MANIFEST = "manifest.json"
MODEL_PREFIX = "offline:"


@dataclass(frozen=True)
class OfflineModel:
    """A loaded model: int8 weights per hashed feature and class, their scales, and the biases."""

    name: str  # "closeloop-sentiment-<version>"
    spec: FeatureSpec
    labels: tuple[str, ...]
    languages: frozenset[str]
    weights: npt.NDArray[np.int8]  # (buckets, classes)
    scale: npt.NDArray[np.float64]  # (classes,): a weight is weights * scale
    bias: npt.NDArray[np.float64]  # (classes,)
    language_bias: dict[str, npt.NDArray[np.float64]]  # added to bias when the text's language is known


def model_files() -> Traversable:
    """The package data folder the shipped model lives in (monitor/scoring/offline_model/)."""
    return resources.files("monitor.scoring") / "offline_model"


def read_model(directory: Traversable | Path | None = None) -> OfflineModel:
    """The model in ``directory`` (default: the shipped one).

    Raises ScorerUnavailable, naming the file and the reason, when the manifest is missing or malformed,
    the weights file does not match the manifest's sha256 or shape, or the feature settings are not ones
    this code computes.
    """
    folder = directory if directory is not None else model_files()
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
        return _from_manifest(folder, manifest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        raise ScorerUnavailable(f"cannot load the offline sentiment model from {folder}: {reason}") from exc


def _from_manifest(folder: Traversable | Path, manifest: dict[str, Any]) -> OfflineModel:
    spec = FeatureSpec(**manifest["features"])
    labels = tuple(manifest["labels"])
    stored = manifest["weights"]
    data = (folder / stored["file"]).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != stored["sha256"]:
        raise ValueError(f"{stored['file']} has sha256 {digest}, the manifest says {stored['sha256']}")
    weights = _read_npy(data)
    if weights.dtype != np.int8 or weights.shape != (spec.buckets, len(labels)):
        raise ValueError(f"weights are {weights.dtype}{weights.shape}, expected int8({spec.buckets}, {len(labels)})")
    return OfflineModel(
        name=f"{manifest['name']}-{manifest['version']}",
        spec=spec,
        labels=labels,
        languages=frozenset(manifest["languages"]),
        weights=weights,
        scale=np.array(stored["scale"], np.float64),
        bias=np.array(manifest["bias"], np.float64),
        language_bias={lang: np.array(b, np.float64) for lang, b in manifest["language_bias"].items()},
    )


def _read_npy(data: bytes) -> npt.NDArray[Any]:
    return np.load(io.BytesIO(data), allow_pickle=False)


class OfflineScorer:
    """Scores texts in the model's languages, and texts of unknown language, with the shipped model."""

    def __init__(self, model: OfflineModel) -> None:
        self.model = model
        self.model_name = MODEL_PREFIX + model.name

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        check_lengths(texts, languages)
        return [self._score_one(text, language) for text, language in zip(texts, languages, strict=True)]

    def probabilities(self, text: str, language: str | None) -> npt.NDArray[np.float64] | None:
        """The model's probability per label (in ``model.labels`` order), or None when it cannot read
        the text: empty, or in a language it was not trained on."""
        lang = normalise_language(language)
        if not text.strip() or (lang is not None and lang not in self.model.languages):
            return None
        model = self.model
        index, values = featurise(text, model.spec)
        if not len(index):
            return None
        logits = (values @ model.weights[index].astype(np.float64)) * model.scale + model.bias
        if lang is not None:
            logits = logits + model.language_bias[lang]
        exp = np.exp(logits - logits.max())
        probs: npt.NDArray[np.float64] = exp / exp.sum()
        return probs

    def _score_one(self, text: str, language: str | None) -> Sentiment:
        probs = self.probabilities(text, language)
        if probs is None:
            return UNSCORED
        best = int(np.argmax(probs))
        return Sentiment(self.model.labels[best], float(probs[best]), self.model_name)


@cache
def shipped_scorer() -> OfflineScorer:
    """The scorer over the shipped model, read once per process. Raises ScorerUnavailable."""
    return OfflineScorer(read_model())
