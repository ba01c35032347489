"""Where the transformer runs: ``scoring.device`` read against what this machine has.

"cpu" always works. "auto" takes a GPU when one is visible and the CPU otherwise. "cuda" is a demand:
without a visible CUDA device the model is unavailable (ScorerUnavailable, one line), so
``backend = "transformers"`` stops at start-up rather than running on the CPU unnoticed, and
``backend = "auto"`` falls back loudly as for any other unloadable model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.scoring.base import ScorerUnavailable

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def resolve_torch_device(requested: str) -> str:
    """ "cpu" or "cuda" for torch; imports torch unless ``requested`` is "cpu"."""
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise ScorerUnavailable(_no_cuda("torch sees no CUDA device (torch.cuda.is_available() is false)"))
    return "cpu"


def onnx_providers(requested: str, available: Sequence[str]) -> list[str]:
    """ONNX Runtime execution providers for ``requested``, given the ``available`` ones."""
    if requested != "cpu" and CUDA_PROVIDER in available:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    if requested == "cuda":
        raise ScorerUnavailable(
            _no_cuda(f"this onnxruntime has no {CUDA_PROVIDER} (it offers {', '.join(available) or 'none'})")
        )
    return [CPU_PROVIDER]


def nvidia_gpu_present(driver: Path = Path("/proc/driver/nvidia/gpus")) -> bool:
    """Whether the NVIDIA driver lists a GPU; read without importing torch."""
    try:
        return any(driver.iterdir())
    except OSError:
        return False


def _no_cuda(reason: str) -> str:
    return f'scoring.device = "cuda" but {reason}; set scoring.device = "auto" or "cpu" to run on the CPU'
