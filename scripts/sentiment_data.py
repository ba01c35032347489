"""The labelled sentiment data set, read and split the one way training and evaluation agree on.

Pure standard library: the benchmark imports it without scikit-learn. The held-out split is chosen per
language and label (stratified) by each text's sha256 under a seed, so it does not depend on the order
of rows in the files, and no held-out text is ever trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
ROOT = Path(__file__).resolve().parents[1]


def default_data() -> Path | None:
    """``shared/datasets/sentiment`` beside the repository (``../shared``), or beside the nearest
    folder above it that has one (a worktree nested deeper); None when there is none."""
    for folder in ROOT.parents:
        candidate = folder / "shared" / "datasets" / "sentiment"
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True, slots=True, order=True)
class Row:
    language: str
    text: str
    label: str


def dataset_files(directory: Path) -> list[Path]:
    """The data set's ``<lang>.train.jsonl`` files, sorted by name."""
    files = sorted(directory.glob("*.train.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.train.jsonl files in {directory}")
    return files


def digests(directory: Path) -> dict[str, str]:
    """sha256 of every data file (and the README that describes them), by file name."""
    paths = [*dataset_files(directory), directory / "README.md"]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def read_rows(directory: Path) -> list[Row]:
    """Every row of every language, sorted by (language, text, label); the language is the file's."""
    rows = []
    for path in dataset_files(directory):
        language = path.name.split(".")[0]
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if record["label"] not in LABELS:
                raise ValueError(f"{path.name}:{number}: unknown label {record['label']!r}")
            rows.append(Row(language, record["text"], record["label"]))
    return sorted(rows)


def split(rows: list[Row], *, seed: int, held_out: float) -> tuple[list[Row], list[Row]]:
    """(train, test): within each (language, label) group, the ``held_out`` fraction of texts whose
    seeded sha256 sorts first is the test part. Both parts come back sorted."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.language, row.label), []).append(row)
    train: list[Row] = []
    test: list[Row] = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda r: hashlib.sha256(f"{seed}\0{r.text}".encode()).digest())
        cut = round(len(ordered) * held_out)
        test += ordered[:cut]
        train += ordered[cut:]
    return sorted(train), sorted(test)
