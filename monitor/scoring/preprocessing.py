"""Text preparation shared by every transformer runtime (torch and ONNX); no heavy imports."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

# The preprocessing the cardiffnlp Twitter models were trained with: handles and links are placeholders.
_HANDLE = re.compile(r"(?<![\w@])@[\w.-]+(?:@[\w.-]+)?")
_URL = re.compile(r"\b(?:https?://|www\.)\S+")
# Most padded tokens in one forward pass. On CPU about a thousand rows already keep the matrix kernels
# busy; the cap keeps a few long texts from padding a whole batch of short ones, and bounds memory.
TOKEN_BUDGET = 1024


def preprocess(text: str) -> str:
    """The text as the model should see it: handles become "@user", links "http"."""
    return _URL.sub("http", _HANDLE.sub("@user", text))


def length_sorted_batches(
    lengths: Sequence[int], *, batch_size: int, token_budget: int = TOKEN_BUDGET
) -> Iterator[list[int]]:
    """Indexes into ``lengths``, longest first, cut into runs of at most ``batch_size`` indexes whose
    padded size (rows x longest row) stays within ``token_budget`` (a single row may exceed it).

    Every index appears exactly once; callers put results back by index, so the input order is kept.
    """
    order = sorted(range(len(lengths)), key=lambda k: lengths[k], reverse=True)
    batch: list[int] = []
    width = 0
    for k in order:
        length = lengths[k]
        if batch and (len(batch) >= batch_size or max(width, length) * (len(batch) + 1) > token_budget):
            yield batch
            batch, width = [], 0
        batch.append(k)
        width = max(width, length)
    if batch:
        yield batch
