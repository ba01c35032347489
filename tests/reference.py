"""Where the recorded reference payloads live: ``shared/reference-payloads`` beside the repository or beside
any folder above it (a git worktree sits deeper than the main checkout)."""

from __future__ import annotations

from pathlib import Path


def reference_payloads() -> Path:
    """The reference payload folder; a path that does not exist when none is found (tests then skip)."""
    here = Path(__file__).resolve().parent.parent
    for folder in [here, *here.parents]:
        candidate = folder / "shared" / "reference-payloads"
        if candidate.is_dir():
            return candidate
    return here.parent / "shared" / "reference-payloads"


REFERENCE_PAYLOADS = reference_payloads()
