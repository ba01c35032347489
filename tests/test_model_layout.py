"""The default model's real layout loads: a SentencePiece model and pickled weights, no tokenizer.json.

The folder is built file for file like cardiffnlp/twitter-xlm-roberta-base-sentiment at the pinned revision
(tests.fixtures_models.build_real_layout) and read through what a deployment runs: the scorer built from
ScoringSettings, and the installed `closeloop` with a config.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import DEFAULT_MODEL, DEFAULT_MODEL_REVISION, ScoringSettings
from monitor.scoring import Scorer, build_scorer, describe
from tests.fixtures_models import REAL_LAYOUT, as_safetensors_with_tokenizer_json, build_real_layout

CLOSELOOP = Path(sys.executable).parent / "closeloop"
TEXTS = ["my order never arrived and nobody answers @acme", "tilaus ei ole vieläkään saapunut", "tak for hjælpen"]
# Makes sentencepiece and protobuf unimportable, as on a machine where they were never installed: with
# sys.modules[name] = None, importlib.util.find_spec answers None and `import` raises ImportError.
WITHOUT_SENTENCEPIECE = "import sys\nsys.modules['sentencepiece'] = None\nsys.modules['google.protobuf'] = None\n"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_real_layout(tmp_path_factory.mktemp("real-layout") / "model")


@pytest.fixture
def hub_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf" / "hub"


def cached(folder: Path, hub: Path) -> Path:
    """``folder`` where huggingface_hub keeps the pinned revision of the default model."""
    snapshot = hub / f"models--{DEFAULT_MODEL.replace('/', '--')}" / "snapshots" / DEFAULT_MODEL_REVISION
    shutil.copytree(folder, snapshot)
    return snapshot


def test_the_stand_in_is_file_for_file_the_pinned_revision(real_layout: Path) -> None:
    assert sorted(p.name for p in real_layout.iterdir()) == sorted(REAL_LAYOUT)


@pytest.mark.parametrize("backend", ["transformers", "auto"])
def test_the_default_model_loads_from_the_cache_in_its_real_layout(
    real_layout: Path, hub_cache: Path, backend: str
) -> None:
    cached(real_layout, hub_cache)

    scorer = build_scorer(ScoringSettings(backend=backend, quantize=False))  # the default model and revision

    info = describe(scorer)
    assert (info.backend, info.model, info.revision, info.fallback_reason) == (
        "transformers", DEFAULT_MODEL, DEFAULT_MODEL_REVISION, None)
    assert info.line == f"transformers {DEFAULT_MODEL}@{DEFAULT_MODEL_REVISION[:7]} on cpu"
    scores = scorer.score(TEXTS, [None] * len(TEXTS))
    assert [s.label for s in scores] == ["negative"] * 3
    assert {s.model for s in scores} == {f"{DEFAULT_MODEL}@{DEFAULT_MODEL_REVISION[:7]}"}


def test_the_other_layouts_a_revision_may_ship_score_the_same(real_layout: Path, tmp_path: Path) -> None:
    other = as_safetensors_with_tokenizer_json(real_layout, tmp_path / "other")
    assert {"tokenizer.json", "model.safetensors"} <= {p.name for p in other.iterdir()}
    assert not (other / "sentencepiece.bpe.model").exists() and not (other / "pytorch_model.bin").exists()

    def scores(folder: Path) -> list[float]:
        scorer = build_scorer(ScoringSettings(backend="transformers", model=str(folder), quantize=False))
        assert isinstance(scorer, Scorer)
        return [s.score for s in scorer.score(TEXTS, [None] * len(TEXTS))]

    first = scores(real_layout)
    assert scores(other) == pytest.approx(first, abs=1e-5)
    assert len({round(s, 4) for s in first}) == 3, "the texts score differently, so a mix-up would show"


def closeloop(tmp_path: Path, backend: str, model: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command with a config.toml naming ``model``, where sentencepiece is not installed."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(WITHOUT_SENTENCEPIECE, "utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[scoring]\nbackend = "{backend}"\nmodel = "{model}"\nquantize = false\n', "utf-8")
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'closeloop.db'}"}
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLOSELOOP), "--config", str(config), *argv], capture_output=True, text=True,
                              timeout=300, env=env, cwd=tmp_path)

    assert run("db", "upgrade").returncode == 0
    return run(*args)


def test_a_model_that_cannot_load_under_backend_transformers_is_one_line_and_exit_2(
    real_layout: Path, tmp_path: Path
) -> None:
    result = closeloop(tmp_path, "transformers", real_layout, "check")

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"closeloop: cannot load sentiment model '{real_layout}'")
    assert "the tokenizer is a SentencePiece model (sentencepiece.bpe.model, no tokenizer.json)" in lines[0]
    assert "needs the sentencepiece and protobuf package(s)" in lines[0]
    assert "pip install sentencepiece protobuf" in lines[0]
    daemon = closeloop(tmp_path, "transformers", real_layout, "run", "--once", "--roles", "score")
    assert (daemon.returncode, daemon.stderr.strip().splitlines()) == (2, lines), "the daemon says the same"


def test_under_backend_auto_it_falls_back_with_one_warning_line(real_layout: Path, tmp_path: Path) -> None:
    result = closeloop(tmp_path, "auto", real_layout, "check")

    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 1 and "WARNING closeloop.scoring scorer_fallback" in warnings[0]
    assert "sentencepiece" in warnings[0]
    assert "scorer: offline closeloop-sentiment-1 on cpu" in result.stdout.splitlines()
    fallback = [line for line in result.stdout.splitlines() if line.startswith("fallback: offline model, reason: ")]
    assert len(fallback) == 1 and "pip install sentencepiece protobuf" in fallback[0]


def test_model_commands_on_a_local_folder_load_it_and_fetch_nothing(
    real_layout: Path, hub_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli.main import main

    config = tmp_path / "config.toml"
    config.write_text(f'[scoring]\nmodel = "{real_layout}"\nquantize = false\n', "utf-8")

    assert main(["--config", str(config), "model", "download"]) == 0
    out = capsys.readouterr().out
    assert f"scoring.model is the local directory {real_layout}: nothing to download" in out
    assert f"loaded: transformers {real_layout} on cpu (a test text scored negative" in out
    assert main(["--config", str(config), "model", "status"]) == 0
    out = capsys.readouterr().out
    assert f"model: {real_layout} (a local directory)" in out and f"files: {real_layout} (4 files," in out
    assert not hub_cache.exists(), "nothing was written to the hub cache"
