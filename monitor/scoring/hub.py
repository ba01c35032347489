"""Where the transformer's files live: the hub cache, the pinned revision's snapshot in it, and fetching it.

huggingface_hub (installed with transformers) is imported only inside the functions; torch never is.
"""

from __future__ import annotations

import os
from pathlib import Path

from monitor.config import ScoringSettings

# What a model folder needs, whichever layout its revision ships: the SentencePiece model alone
# (cardiffnlp/twitter-xlm-roberta-base-sentiment at the pinned revision), or a tokenizer.json; weights as
# pytorch_model.bin or model.safetensors. Other frameworks' weights (tf_model.h5, flax) are never fetched.
WANTED = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "*.model",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "model.safetensors",
    "pytorch_model.bin",
)
WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def local_directory(settings: ScoringSettings) -> Path | None:
    """``scoring.model`` as a local model folder, or None when it names a hub model."""
    folder = Path(settings.model).expanduser()
    return folder if folder.is_dir() else None


def cache_dir(settings: ScoringSettings) -> Path:
    """The hub cache the model is read from and downloaded to: ``scoring.cache_dir``, else HF_HUB_CACHE,
    else HF_HOME/hub, else huggingface_hub's default (~/.cache/huggingface/hub)."""
    if settings.cache_dir:
        return Path(settings.cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg) / "huggingface" / "hub"


def cached_snapshot(settings: ScoringSettings) -> Path | None:
    """The pinned revision's folder in the cache when it holds a config.json and weights, else None.

    Reads the disk only (a tag or branch revision through the cache's refs), never the network.
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(
            settings.model, "config.json", cache_dir=str(cache_dir(settings)), revision=settings.revision
        )
    except Exception:  # an id the hub would refuse is simply not cached
        return None
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    return folder if any((folder / name).is_file() for name in WEIGHTS) else None


def download(settings: ScoringSettings) -> Path:
    """Fetch the files of ``settings.model`` at ``settings.revision`` that a scorer needs (WANTED) into
    the cache, with huggingface_hub's progress bar on stderr; returns the snapshot folder. Files already
    cached are not fetched again. Raises what huggingface_hub raises."""
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id=settings.model,
        revision=settings.revision,
        cache_dir=str(cache_dir(settings)),
        allow_patterns=list(WANTED),
    )
    return Path(folder)


def folder_files(folder: Path) -> list[tuple[str, int]]:
    """The files in a model folder with their sizes (symlinks into the cache's blobs followed), by name."""
    return sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())


def offline_env() -> bool:
    """Whether HF_HUB_OFFLINE forbids the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
