"""The fast path's one-time preparation: the model exported to ONNX and quantized to int8, cached beside it.

``prepare_fast_path(model_dir)`` writes ``<model_dir>/onnx-int8/<key>/`` holding ``model.int8.onnx``, the
tokenizer as one ``tokenizer.json``, and ``manifest.json``. The key is a digest of the files the export is
made from (config, weights, tokenizer) and of this module's export format, so a changed model or a new
format gets a new folder while a restart finds the old one and exports nothing. Exporting imports torch,
transformers and onnxruntime.quantization; finding a prepared export imports none of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.scoring.labels import normalise_labels

log = logging.getLogger("closeloop.scoring")

FORMAT = 1  # bump when the export below changes: prepared folders of other formats are ignored
CACHE_DIR = "onnx-int8"
MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"
OPSET = 18
# The files an export is made from; anything else in the model folder (READMEs, other frameworks'
# weights such as tf_model.h5, our own cache) does not change the key.
_SOURCE_FILES = re.compile(
    r"config\.json|.+\.safetensors|.+\.safetensors\.index\.json|pytorch_model.*\.bin(\.index\.json)?"
    r"|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|sentencepiece\.bpe\.model"
)
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def source_key(model_dir: Path) -> str:
    """A digest of the export format and of every source file's name and content.

    A file that is a link into a Hugging Face hub cache is named by its blob's sha256 there, so its
    digest is read from the link instead of the gigabyte behind it; other files are hashed.
    """
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and _SOURCE_FILES.fullmatch(p.name))
    if not any(p.name == "config.json" for p in files):
        raise FileNotFoundError(f"{model_dir} has no config.json")
    outer = hashlib.sha256(f"closeloop-onnx-int8/{FORMAT}".encode())
    for path in files:
        outer.update(f"\n{path.name}\0{_file_digest(path)}".encode())
    return outer.hexdigest()


def _file_digest(path: Path) -> str:
    if path.is_symlink():
        blob = Path(os.readlink(path)).name
        if _HEX_DIGEST.fullmatch(blob):
            return blob
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prepared_path(model_dir: Path) -> Path | None:
    """The prepared fast path for ``model_dir`` as it is now, or None when there is none."""
    if not (model_dir / CACHE_DIR).is_dir():
        return None  # nothing was ever prepared here: skip hashing the weights
    target = model_dir / CACHE_DIR / source_key(model_dir)[:16]
    return target if _complete(target) else None


def _complete(target: Path) -> bool:
    return all((target / name).is_file() for name in (MODEL_FILE, TOKENIZER_FILE, MANIFEST_FILE))


def read_manifest(target: Path) -> dict[str, Any]:
    """The manifest of a prepared fast path."""
    manifest: dict[str, Any] = json.loads((target / MANIFEST_FILE).read_text("utf-8"))
    return manifest


def prepare_fast_path(model_dir: Path) -> Path:
    """The folder holding ``model_dir``'s int8 ONNX export, exporting it first unless already cached.

    Safe to run from several processes at once: each exports into a private folder and renames it into
    place; the first rename wins and the others discard their copy. Raises OSError when the model folder
    is not writable, and whatever torch or transformers raise for a model that cannot be exported.
    """
    model_dir = Path(model_dir)
    found = prepared_path(model_dir)
    if found is not None:
        return found
    key = source_key(model_dir)
    root = model_dir / CACHE_DIR
    root.mkdir(exist_ok=True)
    target = root / key[:16]
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    work.chmod(0o755)  # readable by the service user when an operator prepares it, like the model files
    try:
        _export(model_dir, work, key)
        try:
            os.rename(work, target)
        except OSError:
            if not _complete(target):
                raise
            shutil.rmtree(work, ignore_errors=True)  # another process got there first
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _remove_stale(root, keep=target)
    return target


def _remove_stale(root: Path, *, keep: Path) -> None:
    """Drop exports of earlier weights or formats; their keys can never match again."""
    for entry in root.iterdir():
        if entry != keep and entry.is_dir() and not entry.name.startswith(".export-"):
            shutil.rmtree(entry, ignore_errors=True)


def _export(model_dir: Path, work: Path, key: str) -> None:
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = (
        AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True).float().eval()
    )
    labels = normalise_labels(model.config.id2label)  # a model whose labels we cannot read is refused now
    tokenizer.save_pretrained(work / "tokenizer-files")
    if not (work / "tokenizer-files" / TOKENIZER_FILE).is_file():
        raise ValueError(f"the tokenizer of {model_dir} cannot be saved as a single {TOKENIZER_FILE}")
    os.replace(work / "tokenizer-files" / TOKENIZER_FILE, work / TOKENIZER_FILE)
    shutil.rmtree(work / "tokenizer-files")

    fp32 = work / "fp32" / "model.onnx"
    fp32.parent.mkdir()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    example = torch.tensor([[0, 5, 6, 7, 8, 9, 10, 2], [0, 5, 6, 2, pad, pad, pad, pad]], dtype=torch.long)
    mask = (torch.arange(8) < torch.tensor([[8], [4]])).long()
    batch, width = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_loggers():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _logits_module(model),
            (example, mask),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_shapes={"input_ids": {0: batch, 1: width}, "attention_mask": {0: batch, 1: width}},
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
        quantize_dynamic(fp32, work / MODEL_FILE, weight_type=QuantType.QInt8)
    shutil.rmtree(fp32.parent)
    manifest = {
        "format": FORMAT,
        "key": key,
        "labels": labels,
        "pad_token_id": int(pad),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
    }
    (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    log.info("fast_path_exported model_dir=%s key=%s", model_dir, key[:16])


@contextlib.contextmanager
def _quiet_loggers() -> Iterator[None]:
    """Silence the exporter's and the quantizer's advice (torchvision missing, pre-processing) meanwhile.

    The quantizer logs on the root logger itself; a filter there drops only records made there by
    onnxruntime, since a logger's filters never see records propagated from other loggers.
    """
    exporter = logging.getLogger("torch.onnx")
    level = exporter.level
    root = logging.getLogger()

    def not_onnxruntime(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname or record.levelno >= logging.ERROR

    exporter.setLevel(logging.ERROR)
    root.addFilter(not_onnxruntime)
    try:
        yield
    finally:
        exporter.setLevel(level)
        root.removeFilter(not_onnxruntime)


def _logits_module(model: Any) -> Any:
    import torch

    class Logits(torch.nn.Module):
        """The classifier with plain tensor inputs and its logits as the one output."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    return Logits(model)
