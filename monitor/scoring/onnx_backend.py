"""The fast path: the transformer as an int8 ONNX model run by ONNX Runtime, with length-sorted batches.

Chosen by ``scoring.runtime`` ("onnx", or "auto" once the export is prepared; see ``chosen``). The export
(monitor.scoring.onnx_export) happens once per model and is cached beside the model files; loading a
prepared one imports onnxruntime, tokenizers and numpy, never torch or transformers.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.config import ScoringSettings
from monitor.scoring.base import UNSCORED, ScorerInfo, ScorerUnavailable, Sentiment, check_lengths
from monitor.scoring.device import CUDA_PROVIDER, nvidia_gpu_present, onnx_providers
from monitor.scoring.onnx_export import (
    MODEL_FILE,
    TOKENIZER_FILE,
    prepare_fast_path,
    prepared_path,
    read_manifest,
)
from monitor.scoring.preprocessing import TOKEN_BUDGET, length_sorted_batches, preprocess

__all__ = ["OnnxScorer", "chosen", "load", "model_directory", "prepare_fast_path"]

log = logging.getLogger("closeloop.scoring")


class OnnxScorer:
    """Scores texts with an exported classifier; the same contract as the torch scorer.

    Texts are tokenized once, sorted by token length and run in batches of at most ``batch_size``
    texts and ``token_budget`` padded tokens, each padded only to its own longest text; results come
    back in the caller's order. Empty or whitespace-only texts are UNSCORED.
    """

    runtime = "onnx-int8"

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        *,
        labels: Sequence[str],
        pad_token_id: int,
        model_name: str,
        batch_size: int,
        token_budget: int = TOKEN_BUDGET,
    ) -> None:
        self.model_name = model_name
        self.info = ScorerInfo(backend="transformers", model=model_name, runtime=self.runtime)
        self.device = "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"
        self._session = session
        self._tokenizer = tokenizer
        self._labels = list(labels)
        self._pad_id = pad_token_id
        self._batch_size = batch_size
        self._token_budget = token_budget

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        check_lengths(texts, languages)
        results = [UNSCORED] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        if not todo:
            return results
        encoded = [e.ids for e in self._tokenizer.encode_batch([preprocess(texts[i]) for i in todo])]
        lengths = [len(ids) for ids in encoded]
        for batch in length_sorted_batches(
            lengths, batch_size=self._batch_size, token_budget=self._token_budget
        ):
            probabilities = self._forward([encoded[k] for k in batch])
            best = probabilities.argmax(axis=1)
            for row, k in enumerate(batch):
                label = int(best[row])
                results[todo[k]] = Sentiment(
                    self._labels[label], float(probabilities[row, label]), self.model_name
                )
        return results

    def _forward(self, rows: list[list[int]]) -> npt.NDArray[np.float64]:
        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
            attention_mask[r, : len(row)] = 1
        (logits,) = self._session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})
        shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probabilities: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return probabilities


def chosen(settings: ScoringSettings) -> bool:
    """Whether ``settings`` pick the fast path: runtime "onnx"; or "auto" with the export already
    prepared for the model (never an export at start-up), onnxruntime installed, and no GPU that only
    torch could use (``device = "cuda"``, or "auto" beside an NVIDIA GPU without onnxruntime-gpu)."""
    if settings.runtime != "auto":
        return settings.runtime == "onnx"
    if settings.device == "cuda" or importlib.util.find_spec("onnxruntime") is None:
        return False  # on a GPU the torch runtime runs fp16; the int8 export is a CPU format
    if settings.device == "auto" and nvidia_gpu_present():
        import onnxruntime

        if CUDA_PROVIDER not in onnxruntime.get_available_providers():
            return False  # a GPU this onnxruntime cannot use: torch fp16 on it beats int8 on the CPU
    try:
        directory = model_directory(settings, required=False)
        return directory is not None and prepared_path(directory) is not None
    except OSError:
        return False


def load(settings: ScoringSettings) -> OnnxScorer:
    """The fast path for ``settings.model``, exporting it first when it is not yet prepared.

    Raises ScorerUnavailable (one line) when the model is not on disk or a demanded GPU is missing, and
    whatever the export or ONNX Runtime raise otherwise.
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    directory = model_directory(settings, required=True)
    assert directory is not None
    providers = onnx_providers(settings.device, ort.get_available_providers())
    target = prepared_path(directory)
    if target is None:
        log.info(
            "fast_path_exporting model=%s dir=%s (once per model; minutes for a base-size model)",
            settings.model,
            directory,
        )
        target = prepare_fast_path(directory)
    manifest = read_manifest(target)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if settings.threads > 0:
        options.intra_op_num_threads = settings.threads
    session = ort.InferenceSession(str(target / MODEL_FILE), sess_options=options, providers=providers)
    tokenizer = Tokenizer.from_file(str(target / TOKENIZER_FILE))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=settings.max_length)
    model_name = (
        settings.model
        if Path(settings.model).expanduser().is_dir()
        else f"{settings.model}@{settings.revision[:7]}"
    )
    scorer = OnnxScorer(
        session,
        tokenizer,
        labels=manifest["labels"],
        pad_token_id=int(manifest["pad_token_id"]),
        model_name=model_name,
        batch_size=settings.batch_size,
    )
    local = Path(settings.model).expanduser().is_dir()
    scorer.info = ScorerInfo(backend="transformers", model=settings.model, revision="" if local else settings.revision,
                             device=scorer.device, runtime=OnnxScorer.runtime)
    log.info(
        "scorer_loaded model=%s runtime=onnx-int8 device=%s providers=%s batch_size=%d max_length=%d export=%s",
        model_name,
        scorer.device,
        ",".join(session.get_providers()),
        settings.batch_size,
        settings.max_length,
        target,
    )
    return scorer


def model_directory(settings: ScoringSettings, *, required: bool) -> Path | None:
    """The folder holding ``settings.model``'s files: the directory itself, or the pinned revision's
    snapshot in the model cache (scoring.cache_dir, as `closeloop model download` fills it). None (or
    ScorerUnavailable when ``required``) when not on disk."""
    from monitor.scoring import hub

    directory = hub.local_directory(settings) or hub.cached_snapshot(settings)
    if directory is None and required:
        raise ScorerUnavailable(
            f"{settings.model}@{settings.revision[:7]} is not in the local model cache; "
            "download it first (closeloop model download)"
        )
    return directory
