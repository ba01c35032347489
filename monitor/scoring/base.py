"""The scorer's public types: what a score is and what every backend promises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class Sentiment:
    """One text's sentiment.

    ``label`` is "negative", "neutral", "positive" or "unscored"; ``score`` is the confidence of that
    label in [0, 1] (0.0 when unscored); ``model`` names what produced it ("none" when unscored).
    """

    label: str
    score: float
    model: str


UNSCORED = Sentiment("unscored", 0.0, "none")


@dataclass(frozen=True, slots=True)
class ScorerInfo:
    """Which scorer is live, as an operator is shown it (`closeloop check`, /readyz, /metrics, the digest).

    ``fallback_reason`` is set when ``backend = "auto"`` asked for the transformer and got the offline model.
    """

    backend: str
    model: str
    revision: str = ""
    device: str = "cpu"
    fallback_reason: str | None = None
    runtime: str = ""
    """How the transformer runs when not on torch's reference path: "onnx-int8" for the fast path."""

    @property
    def line(self) -> str:
        """"transformers cardiffnlp/twitter-xlm-roberta-base-sentiment@f3e34b6 on cpu" (+ " via onnx-int8")."""
        at = f"@{self.revision[:7]}" if self.revision else ""
        via = f" via {self.runtime}" if self.runtime else ""
        return f"{self.backend} {self.model}{at} on {self.device}{via}"


def describe(scorer: object) -> ScorerInfo:
    """The scorer's ``info`` when it carries one, else what its ``model_name`` ("offline:…", "lexicon") says."""
    info = getattr(scorer, "info", None)
    if isinstance(info, ScorerInfo):
        return info
    name = str(getattr(scorer, "model_name", "unknown"))
    backend, _, model = name.partition(":")
    return ScorerInfo(backend=backend, model=model or name)


class ScorerUnavailable(Exception):
    """A scorer backend that cannot be loaded; the message names the model and the reason."""


@runtime_checkable
class Scorer(Protocol):
    """Scores texts in batches; ``model_name`` says which backend is active."""

    model_name: str

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        """One Sentiment per text, in order; a text the backend cannot score is UNSCORED."""
        ...


def check_lengths(texts: Sequence[str], languages: Sequence[str | None]) -> None:
    """Raise ValueError unless there is one language (or None) per text."""
    if len(texts) != len(languages):
        raise ValueError(f"got {len(texts)} texts but {len(languages)} languages")
