"""The transformers backend: a sequence classifier from the local hub cache or a model directory, on CPU.

Importing this module imports torch and transformers; only ``build_scorer`` does so, when it loads.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from monitor.config import ScoringSettings
from monitor.scoring.base import UNSCORED, Sentiment, check_lengths
from monitor.scoring.device import resolve_torch_device
from monitor.scoring.labels import normalise_labels
from monitor.scoring.preprocessing import TOKEN_BUDGET, length_sorted_batches, preprocess

__all__ = ["TOKEN_BUDGET", "TransformersScorer", "load", "preprocess"]

log = logging.getLogger("closeloop.scoring")


class TransformersScorer:
    """Scores texts with a sequence classifier whose labels read as negative/neutral/positive.

    Texts are tokenized once, sorted by token length and run in batches of at most ``batch_size``
    texts and ``token_budget`` padded tokens, each padded only to its own longest text. Empty or
    whitespace-only texts are UNSCORED; every other text gets a label whatever its language.
    ``runtime`` and ``device`` say how it runs ("torch-fp32", "torch-int8", "torch-fp16"; "cpu", "cuda").
    """

    runtime = "torch-fp32"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_name: str,
        batch_size: int,
        max_length: int,
        token_budget: int | None = None,
    ) -> None:
        self.model_name = model_name
        self._model = model
        self.device = str(getattr(getattr(model, "device", None), "type", "cpu"))
        self._tokenizer = tokenizer
        self._labels = normalise_labels(model.config.id2label)
        self._batch_size = batch_size
        self._max_length = max_length
        self._token_budget = token_budget or TOKEN_BUDGET
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0

    def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Sentiment]:
        check_lengths(texts, languages)
        results = [UNSCORED] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        if not todo:
            return results
        encoded: list[list[int]] = self._tokenizer(
            [preprocess(texts[i]) for i in todo],
            truncation=True,
            max_length=self._max_length,
            padding=False,
            return_attention_mask=False,
        )["input_ids"]
        lengths = [len(ids) for ids in encoded]
        for batch in length_sorted_batches(
            lengths, batch_size=self._batch_size, token_budget=self._token_budget
        ):
            probabilities = self._forward([encoded[k] for k in batch]).tolist()
            for k, row in zip(batch, probabilities, strict=True):
                best = max(range(len(row)), key=row.__getitem__)
                results[todo[k]] = Sentiment(self._labels[best], float(row[best]), self.model_name)
        return results

    def _forward(self, rows: list[list[int]]) -> torch.Tensor:
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[r, : len(row)] = 1
        device = getattr(self._model, "device", None)
        if device is not None and device.type != "cpu":
            input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
        with torch.inference_mode():
            logits = self._model(input_ids=input_ids, attention_mask=attention_mask).logits
        return torch.softmax(logits.float(), dim=-1).cpu()


def load(settings: ScoringSettings) -> TransformersScorer:
    """Load ``settings.model`` (a local directory, or a hub id at ``settings.revision``).

    A hub id is read from the local cache only, unless ``allow_download`` is set and HF_HUB_OFFLINE is
    not. Raises whatever transformers raises when the model cannot be loaded.
    """
    hf_logging.disable_progress_bar()
    directory = Path(settings.model).expanduser()
    if directory.is_dir():
        source, model_name = str(directory), settings.model
        kwargs: dict[str, Any] = {"local_files_only": True}
    else:
        source, model_name = settings.model, f"{settings.model}@{settings.revision[:7]}"
        kwargs = {"revision": settings.revision, "local_files_only": not _downloads_allowed(settings)}
        cache_dir = _hub_cache_dir()
        if cache_dir is not None:
            kwargs["cache_dir"] = cache_dir
    device = resolve_torch_device(settings.device)
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs).float().eval()
    if device == "cuda":  # fp16 on the GPU; int8 dynamic quantization is a CPU technique
        runnable = model.half().to(device)
    else:
        runnable = _quantized(model, model_name) if settings.quantize else model
    log.info(
        "scorer_loaded model=%s runtime=torch device=%s quantized=%s threads=%d batch_size=%d max_length=%d",
        model_name,
        device,
        runnable is not model and device == "cpu",
        torch.get_num_threads(),
        settings.batch_size,
        settings.max_length,
    )
    scorer = TransformersScorer(
        runnable,
        tokenizer,
        model_name=model_name,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
    )
    scorer.runtime = (
        "torch-fp16" if device == "cuda" else "torch-int8" if runnable is not model else "torch-fp32"
    )
    return scorer


def _downloads_allowed(settings: ScoringSettings) -> bool:
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    return settings.allow_download and not offline


def _hub_cache_dir() -> str | None:
    """The hub cache named by the environment now (HF_HUB_CACHE, else HF_HOME/hub), if any."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def _quantized(model: torch.nn.Module, model_name: str) -> torch.nn.Module:
    """``model`` with int8 dynamic quantization of its Linear layers, or ``model`` itself if that fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated but still works
            from torch.ao.quantization import quantize_dynamic

            quantized = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            with torch.inference_mode():
                quantized(
                    input_ids=torch.tensor([[0, 1, 2]]), attention_mask=torch.ones((1, 3), dtype=torch.long)
                )
    except Exception as exc:  # any failure leaves the fp32 model in use
        log.warning("scorer_quantize_skipped model=%s reason=%s", model_name, f"{type(exc).__name__}: {exc}")
        return model
    return quantized
