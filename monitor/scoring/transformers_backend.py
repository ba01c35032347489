"""The transformers backend: a sequence classifier from the local hub cache or a model directory, on CPU.

Importing this module imports torch and transformers; only ``build_scorer`` does so, when it loads.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from monitor.config import ScoringSettings
from monitor.scoring import hub
from monitor.scoring.base import UNSCORED, ScorerInfo, Sentiment, check_lengths
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
        info: ScorerInfo | None = None,
    ) -> None:
        self.model_name = model_name
        self.info = info or ScorerInfo(backend="transformers", model=model_name)
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

    A hub id is read from the cache (monitor.scoring.hub.cache_dir) only, unless ``allow_download`` is set
    and HF_HUB_OFFLINE is not. Whatever layout the folder has loads: a SentencePiece model alone or a
    tokenizer.json; pytorch_model.bin or model.safetensors. Raises whatever transformers raises when the
    model cannot be loaded, and MissingTokenizerSupport when the SentencePiece packages are absent.
    """
    hf_logging.disable_progress_bar()
    directory = hub.local_directory(settings)
    if directory is not None:
        source, model_name, revision = str(directory), settings.model, ""
        kwargs: dict[str, Any] = {"local_files_only": True}
    else:
        source, model_name, revision = settings.model, f"{settings.model}@{settings.revision[:7]}", settings.revision
        kwargs = {"revision": settings.revision, "local_files_only": not _downloads_allowed(settings),
                  "cache_dir": str(hub.cache_dir(settings))}
    _check_tokenizer_support(directory or hub.cached_snapshot(settings))
    device = resolve_torch_device(settings.device)
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    tokenizer = _tokenizer(source, kwargs)
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
        info=ScorerInfo(backend="transformers", model=settings.model, revision=revision, device=device),
    )
    scorer.runtime = (
        "torch-fp16" if device == "cuda" else "torch-int8" if runnable is not model else "torch-fp32"
    )
    return scorer


class MissingTokenizerSupport(RuntimeError):
    """A SentencePiece-only tokenizer, and the packages that read it are not installed."""


def _missing_sentencepiece() -> list[str]:
    return [name for name, module in (("sentencepiece", "sentencepiece"), ("protobuf", "google.protobuf"))
            if not _importable(module)]


def _check_tokenizer_support(folder: Path | None) -> None:
    """Refuse, before transformers tries (and logs a detour through tiktoken), a folder whose tokenizer is a
    SentencePiece model alone when the packages that read one are missing."""
    if folder is None or (folder / "tokenizer.json").is_file():
        return
    models = sorted(p.name for p in folder.glob("*.model"))
    missing = _missing_sentencepiece() if models else []
    if missing:
        raise MissingTokenizerSupport(
            f"the tokenizer is a SentencePiece model ({models[0]}, no tokenizer.json) and needs the "
            f"{' and '.join(missing)} package(s), which are not installed (pip install {' '.join(missing)})"
        )


def _tokenizer(source: str, kwargs: dict[str, Any]) -> Any:
    """The model's tokenizer. A folder with only ``sentencepiece.bpe.model`` (no tokenizer.json) is converted
    by transformers with the sentencepiece and protobuf packages; without them transformers' error is
    misleading (it asks for tiktoken), so this one names what is missing instead."""
    try:
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception as exc:
        missing = _missing_sentencepiece()
        if missing:
            raise MissingTokenizerSupport(
                f"the tokenizer needs the {' and '.join(missing)} package(s), which are not installed "
                f"(pip install {' '.join(missing)}); transformers said: {type(exc).__name__}: {exc}"
            ) from exc
        raise


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _downloads_allowed(settings: ScoringSettings) -> bool:
    return settings.allow_download and not hub.offline_env()


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
