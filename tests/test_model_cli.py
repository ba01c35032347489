"""`closeloop model download` and `model status` against a fake of the hub's HTTP API (tests/fakes/hub.py).

The fake serves a stand-in built file for file like the pinned revision, plus the files a scorer never needs
(tf_model.h5, README.md). The installed command runs as an operator runs it, with a config.toml and
HF_ENDPOINT pointing huggingface_hub at the fake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import DEFAULT_MODEL, DEFAULT_MODEL_REVISION, ScoringSettings
from monitor.scoring import hub
from tests.fakes.hub import FakeHub
from tests.fixtures_models import REAL_LAYOUT, build_real_layout

CLOSELOOP = Path(sys.executable).parent / "closeloop"
LIVE = f"transformers {DEFAULT_MODEL}@{DEFAULT_MODEL_REVISION[:7]} on cpu"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_real_layout(tmp_path_factory.mktemp("hub-repo") / "repo")
    (folder / "tf_model.h5").write_bytes(b"\x89HDF" + bytes(4096))  # another framework's weights
    (folder / "README.md").write_text("# model card\n", "utf-8")
    return folder


@pytest.fixture
def fake_hub(stand_in: Path) -> FakeHub:
    with FakeHub(DEFAULT_MODEL, stand_in, commit=DEFAULT_MODEL_REVISION) as fake:
        yield fake  # type: ignore[misc]


def closeloop(tmp_path: Path, *args: str, endpoint: str | None = None, offline: bool = False,
              config: str = '[scoring]\nbackend = "auto"\nquantize = false\n') -> subprocess.CompletedProcess[str]:
    (tmp_path / "config.toml").write_text(config, "utf-8")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"),
           "CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'closeloop.db'}"}
    for name in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HUB_CACHE", "PYTHONPATH"):
        env.pop(name, None)
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([str(CLOSELOOP), "--config", str(tmp_path / "config.toml"), *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)


def test_download_fetches_the_pinned_revision_and_the_transformer_goes_live(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    # As docs/DEPLOY.md sets it up: scoring.cache_dir names the cache (HF_HOME points elsewhere).
    config = f'[scoring]\nbackend = "auto"\nquantize = false\ncache_dir = "{tmp_path / "models"}"\n'
    downloaded = closeloop(tmp_path, "model", "download", endpoint=fake_hub.url, config=config)

    assert downloaded.returncode == 0, downloaded.stderr
    snapshot = (tmp_path / "models" / f"models--{DEFAULT_MODEL.replace('/', '--')}" / "snapshots"
                / DEFAULT_MODEL_REVISION)
    assert sorted(p.name for p in snapshot.iterdir() if p.name != "onnx-int8") == sorted(REAL_LAYOUT)
    [export] = (snapshot / "onnx-int8").iterdir()
    assert f"fast path: {export}" in downloaded.stdout, "the download prepares the int8 fast path once"
    assert sorted(fake_hub.fetched()) == sorted(REAL_LAYOUT), "never tf_model.h5 or the model card"
    assert f"files: {snapshot} (4 files," in downloaded.stdout
    assert f"loaded: {LIVE} (a test text scored negative" in downloaded.stdout
    assert "Fetching 4 files" in downloaded.stderr, "the progress bar"

    # From now on nothing reaches the network: the daemon's settings, HF_HUB_OFFLINE as in the unit.
    status = closeloop(tmp_path, "model", "status", offline=True, config=config)
    assert status.returncode == 0, status.stderr
    assert f"files: {snapshot} (4 files," in status.stdout and f"loaded: {LIVE}" in status.stdout
    assert f"fast path: {export}" in status.stdout
    assert closeloop(tmp_path, "db", "upgrade", offline=True, config=config).returncode == 0
    check = closeloop(tmp_path, "check", offline=True, config=config)
    assert check.returncode == 0, check.stderr
    assert f"scorer: {LIVE} via onnx-int8" in check.stdout.splitlines(), "the prepared fast path is live"
    assert "fallback" not in check.stdout and check.stderr == ""
    assert not (tmp_path / "hf" / "hub").exists(), "nothing went to HF_HOME"

    again = closeloop(tmp_path, "model", "download", endpoint=fake_hub.url, config=config)
    assert again.returncode == 0 and sorted(fake_hub.fetched()) == sorted(REAL_LAYOUT), "cached files stay"


def test_status_offline_with_nothing_cached_says_so_and_exits_1(tmp_path: Path) -> None:
    result = closeloop(tmp_path, "model", "status", offline=True)

    assert result.returncode == 1, result.stderr
    assert f"cache: {tmp_path / 'hf' / 'hub'}" in result.stdout
    assert "files: not downloaded: run `closeloop model download` (HF_HUB_OFFLINE is set" in result.stdout


def test_an_unknown_revision_is_one_line_and_exit_2(fake_hub: FakeHub, tmp_path: Path) -> None:
    result = closeloop(tmp_path, "model", "download", endpoint=fake_hub.url,
                       config='[scoring]\nrevision = "no-such-tag"\n')

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"closeloop: scoring.revision: the hub has no revision 'no-such-tag' of '{DEFAULT_MODEL}'")
    assert "Traceback" not in result.stderr


def test_download_refuses_when_hf_hub_offline_is_set(tmp_path: Path) -> None:
    result = closeloop(tmp_path, "model", "download", offline=True)

    assert result.returncode == 2
    assert result.stderr.startswith("closeloop: HF_HUB_OFFLINE is set: unset it to download")


def test_an_unreachable_hub_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with FakeHub(DEFAULT_MODEL, tmp_path, commit=DEFAULT_MODEL_REVISION) as gone:
        url = gone.url
    result = closeloop(tmp_path, "model", "download", endpoint=url)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"closeloop: cannot download '{DEFAULT_MODEL}': ") and "Traceback" not in result.stderr


def test_a_tag_is_resolved_to_its_commit_and_cached_under_it(
    fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ScoringSettings(revision="v1", cache_dir=str(tmp_path / "models"))
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", fake_hub.url)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.HUGGINGFACE_CO_URL_TEMPLATE",
                        fake_hub.url + "/{repo_id}/resolve/{revision}/{filename}")

    folder = hub.download(settings)

    assert folder.name == DEFAULT_MODEL_REVISION and folder.parent.parent.parent == tmp_path / "models"
    assert hub.cached_snapshot(settings) == folder, "status finds it again through the cache's refs/v1"
    assert ("GET", f"/api/models/{DEFAULT_MODEL}/revision/v1") in fake_hub.requests
