"""Train the offline sentiment model shipped in monitor/scoring/offline_model/, reproducibly.

    python scripts/train_sentiment.py [--data DIR] [--out DIR]

Reads the labelled data set (default ``../shared/datasets/sentiment``; see its README for sources,
licences and label mapping), holds out a stratified, seeded part of every language that is never
trained on (benchmarks/offline_model.py evaluates on it), fits a multinomial logistic regression
(scikit-learn, L-BFGS, one thread) over the hashed n-grams of ``monitor.scoring.offline_features``
plus one bias feature per language, quantises the weights to int8 and writes ``weights.npy`` and
``manifest.json``. Rows are sorted and the split is seeded, so the same data and the same versions of
numpy, scipy and scikit-learn give the same bytes; the manifest records both.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.scoring.offline_features import FeatureSpec, featurise
from scripts.sentiment_data import LABELS, ROOT, Row, default_data, digests, read_rows, split

MODEL_NAME = "closeloop-sentiment"
MODEL_VERSION = "1"
SHIPPED = ROOT / "monitor" / "scoring" / "offline_model"
WEIGHTS = "weights.npy"


@dataclass(frozen=True)
class TrainParams:
    """Everything that decides the shipped bytes besides the data and the library versions."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    c: float = 10.0  # inverse L2 strength (scikit-learn's C); tuned on a split of the training part
    max_iter: int = 200  # a fixed budget of L-BFGS iterations (early stopping regularises too)
    tol: float = 1e-6
    split_seed: int = 13
    held_out: float = 0.15  # of each language and label, never trained on

    def as_dict(self) -> dict[str, Any]:
        return {"C": self.c, "max_iter": self.max_iter, "tol": self.tol, "split_seed": self.split_seed,
                "held_out": self.held_out, "solver": "lbfgs", "threads": 1,
                "sample_weight": "classes balanced within each language, languages weighted by sqrt(mean size / size)"}


def design(rows: list[Row], spec: FeatureSpec, languages: list[str]) -> Any:
    """The sparse design matrix: hashed features, then one column per language (value 1)."""
    from scipy import sparse

    indices, values, pointers = [], [], [0]
    for row in rows:
        index, value = featurise(row.text, spec)
        indices.append(np.append(index, spec.buckets + languages.index(row.language)))
        values.append(np.append(value, 1.0))
        pointers.append(pointers[-1] + len(indices[-1]))
    shape = (len(rows), spec.buckets + len(languages))
    return sparse.csr_matrix((np.concatenate(values), np.concatenate(indices), np.array(pointers)), shape=shape)


def sample_weights(rows: list[Row]) -> npt.NDArray[np.float64]:
    """Per row: its classes balanced within its language (et, he and ko have no neutral rows, so two
    classes there), and small languages lifted by sqrt(mean language size / size). Mean 1."""
    per_language = Counter(r.language for r in rows)
    per_class = Counter((r.language, r.label) for r in rows)
    classes = Counter(language for language, _ in per_class)
    mean_size = len(rows) / len(per_language)
    weights = np.array([
        per_language[r.language] / (classes[r.language] * per_class[(r.language, r.label)])
        * np.sqrt(mean_size / per_language[r.language])
        for r in rows
    ])
    return weights / weights.mean()


def fit(rows: list[Row], params: TrainParams) -> dict[str, Any]:
    """Float weights (buckets, classes), bias (classes) and per-language bias, in LABELS order."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    languages = sorted({r.language for r in rows})
    missing = set(LABELS) - {r.label for r in rows}
    if missing:
        raise ValueError(f"no training rows labelled {sorted(missing)}")
    matrix = design(rows, params.spec, languages)
    # No free intercept: the per-language bias columns carry the priors, penalised like every weight, so a
    # text without a language hint is read with no prior at all rather than with an arbitrary one.
    model = LogisticRegression(C=params.c, max_iter=params.max_iter, tol=params.tol, solver="lbfgs",
                               fit_intercept=False)
    with threadpool_limits(1), warnings.catch_warnings():  # one thread: float sums in one order
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is a fixed budget, not a failure
        model.fit(matrix, [r.label for r in rows], sample_weight=sample_weights(rows))
    order = [list(model.classes_).index(label) for label in LABELS]
    coef = model.coef_[order]
    buckets = params.spec.buckets
    return {
        "weights": np.ascontiguousarray(coef[:, :buckets].T),
        "bias": np.zeros(len(LABELS)),
        "language_bias": {lang: coef[:, buckets + i] for i, lang in enumerate(languages)},
        "iterations": int(np.max(model.n_iter_)),
    }


def quantise(weights: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """int8 weights and a scale per class, so that weights ~= int8 * scale."""
    scale = np.abs(weights).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.rint(weights / scale), -127, 127).astype(np.int8), scale


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def train(data: Path, out: Path, params: TrainParams) -> dict[str, Any]:
    """Train on ``data`` minus its held-out part and write weights.npy and manifest.json to ``out``."""
    import scipy
    import sklearn

    rows = read_rows(data)
    train_rows, test_rows = split(rows, seed=params.split_seed, held_out=params.held_out)
    fitted = fit(train_rows, params)
    weights, scale = quantise(fitted["weights"])
    buffer = io.BytesIO()
    np.save(buffer, weights, allow_pickle=False)
    out.mkdir(parents=True, exist_ok=True)
    (out / WEIGHTS).write_bytes(buffer.getvalue())
    manifest = {
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "labels": list(LABELS),
        "languages": sorted(fitted["language_bias"]),
        "features": params.spec.as_dict(),
        "weights": {"file": WEIGHTS, "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                    "dtype": "int8", "shape": list(weights.shape), "scale": _floats(scale)},
        "bias": _floats(fitted["bias"]),
        "language_bias": {lang: _floats(b) for lang, b in sorted(fitted["language_bias"].items())},
        "training": {**params.as_dict(), "iterations": fitted["iterations"],
                     "rows": dict(sorted(Counter(r.language for r in train_rows).items())),
                     "held_out_rows": dict(sorted(Counter(r.language for r in test_rows).items()))},
        "dataset": {"path": "../shared/datasets/sentiment", "sha256": digests(data)},
        "software": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "licences": "LICENSES.md",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="the data set folder")
    parser.add_argument("--out", type=Path, default=SHIPPED, help="where to write the model")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.is_dir():
        print("train_sentiment: no data set folder (../shared/datasets/sentiment); pass --data", file=sys.stderr)
        return 2
    manifest = train(args.data, args.out, TrainParams())
    print(f"wrote {args.out / WEIGHTS} sha256={manifest['weights']['sha256']} "
          f"iterations={manifest['training']['iterations']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
