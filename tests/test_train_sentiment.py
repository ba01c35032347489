"""The offline model's training script: a seeded stratified split, and the same bytes every run."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.scoring.offline import OfflineScorer, model_files, read_model
from monitor.scoring.offline_features import FeatureSpec
from scripts.sentiment_data import Row, default_data, digests, read_rows, split
from scripts.train_sentiment import TrainParams, train

WORDS = {
    "negative": ["awful", "terrible", "hate", "broken", "worst"],
    "neutral": ["tuesday", "package", "address", "order", "table"],
    "positive": ["great", "love", "wonderful", "thanks", "perfect"],
}


def small_dataset(folder: Path) -> Path:
    """Three languages, every label, 40 rows each: a data set in the shipped layout, built here."""
    folder.mkdir()
    for language, labels in (("en", WORDS), ("fi", WORDS), ("ko", {k: WORDS[k] for k in ("negative", "positive")})):
        lines = []
        for label, words in labels.items():
            for n in range(40):
                text = f"{language} {words[n % 5]} {words[(n * 3) % 5]} item {n}"
                lines.append(json.dumps({"text": text, "label": label, "source": "test"}))
        (folder / f"{language}.train.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    (folder / "README.md").write_text("built by the test\n", "utf-8")
    return folder


SMALL = TrainParams(spec=FeatureSpec(buckets_log2=12), max_iter=60)


def test_the_held_out_split_is_stratified_seeded_and_disjoint() -> None:
    rows = [Row(lang, f"{lang} {label} {n}", label) for lang in ("en", "ko") for label in ("negative", "positive")
            for n in range(20)]
    train_a, test_a = split(rows, seed=13, held_out=0.25)
    train_b, test_b = split(list(reversed(rows)), seed=13, held_out=0.25)
    _, test_c = split(rows, seed=14, held_out=0.25)

    assert (train_a, test_a) == (train_b, test_b), "row order does not matter"
    assert test_c != test_a, "the seed does"
    assert not set(train_a) & set(test_a) and sorted(train_a + test_a) == sorted(rows)
    assert Counter((r.language, r.label) for r in test_a) == {
        ("en", "negative"): 5, ("en", "positive"): 5, ("ko", "negative"): 5, ("ko", "positive"): 5}


def test_training_twice_on_a_small_sample_writes_identical_bytes(tmp_path: Path) -> None:
    data = small_dataset(tmp_path / "data")
    first = train(data, tmp_path / "a", SMALL)
    second = train(data, tmp_path / "b", SMALL)

    for name in ("weights.npy", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first == second
    assert first["dataset"]["sha256"] == digests(data)
    assert first["languages"] == ["en", "fi", "ko"]
    assert sum(first["training"]["held_out_rows"].values()) == round(0.15 * 40) * 8
    scorer = OfflineScorer(read_model(tmp_path / "a"))
    assert scorer.score(["en awful hate", "en love wonderful"], ["en", "en"])[0].label == "negative"


def test_other_training_parameters_write_other_bytes(tmp_path: Path) -> None:
    data = small_dataset(tmp_path / "data")
    train(data, tmp_path / "a", SMALL)
    train(data, tmp_path / "b", replace(SMALL, c=0.5))
    assert (tmp_path / "a" / "weights.npy").read_bytes() != (tmp_path / "b" / "weights.npy").read_bytes()


def test_it_reads_every_row_of_the_real_data_set() -> None:
    data = default_data()
    if data is None:
        pytest.skip("../shared/datasets/sentiment is not here")
    counts = Counter(r.language for r in read_rows(data))
    assert counts == {"en": 20_000, "da": 1_867, "et": 1_111, "fi": 18_699, "he": 9_143, "ko": 15_000}


@pytest.mark.slow
def test_a_full_retrain_reproduces_the_shipped_model_byte_for_byte(tmp_path: Path) -> None:
    import numpy
    import scipy
    import sklearn

    data = default_data()
    if data is None:
        pytest.skip("../shared/datasets/sentiment is not here: the shipped model cannot be retrained")
    shipped = json.loads((model_files() / "manifest.json").read_text("utf-8"))
    here = {"numpy": numpy.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}
    if here != shipped["software"]:
        pytest.skip(f"byte-for-byte only with the versions it was trained with: {shipped['software']}, here {here}")

    train(data, tmp_path, TrainParams())

    for name in ("weights.npy", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (model_files() / name).read_bytes(), name
