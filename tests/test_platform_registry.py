"""Every registered platform supplies every part (CONTRIBUTING.md, "Adding a platform"), and everything that
needs a fact about platforms reads it from the one registry."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from monitor.budgets import DEFAULT_BUDGETS
from monitor.config import BrandHandles, SourceSettings, parse_settings
from monitor.sources.platforms import NAMES, PLATFORMS, SOURCE_KINDS, options_model, spec_for
from monitor.sources.spec import Counting, PlatformSpec, ReplayOptions, SourceOptions
from responders.lengths import PLATFORM_LIMITS, limit_for
from responders.posters.registry import POSTER_MODULES

REPO = Path(__file__).resolve().parent.parent
PARTS = ("__init__.py", "client.py", "parse.py", "source.py")
CLIENT_LIBRARIES = ("tweepy", "praw", "prawcore", "mastodon", "atproto_client", "websockets", "httpx", "requests")


@pytest.fixture(params=NAMES)
def spec(request: pytest.FixtureRequest) -> PlatformSpec:
    return PLATFORMS[request.param]


def test_the_registry_lists_each_platform_once_under_its_own_name() -> None:
    assert list(PLATFORMS) == list(NAMES) and len(set(NAMES)) == len(NAMES)
    assert all(PLATFORMS[name].name == name for name in NAMES)
    assert (*NAMES, "replay") == SOURCE_KINDS
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        spec_for("myspace")


def test_a_platform_is_one_folder_with_its_client_parsers_and_source(spec: PlatformSpec) -> None:
    folder = REPO / "monitor" / "sources" / spec.name
    assert sorted(p.name for p in folder.glob("*.py") if p.name in PARTS) == sorted(PARTS)
    source = importlib.import_module(spec.source_module)
    build = source.build_source
    parameters = inspect.signature(build).parameters
    assert list(parameters)[:3] == ["settings", "brand", "env"]
    assert parameters["clock"].kind is inspect.Parameter.KEYWORD_ONLY, "the clock is given at construction"
    assert parameters["intake"].kind is inspect.Parameter.KEYWORD_ONLY
    built = inspect.signature(build).return_annotation
    cls = getattr(source, built) if isinstance(built, str) else built
    assert callable(getattr(cls, "fetch", None)) and callable(getattr(cls, "fetch_thread", None))
    assert getattr(cls, "platform", spec.name) == spec.name or "platform" in inspect.signature(cls).parameters


def test_a_platform_has_one_poster_built_from_its_description(spec: PlatformSpec) -> None:
    assert (REPO / "responders" / "posters" / f"{spec.name}.py").is_file()
    assert POSTER_MODULES[spec.name] == spec.poster_module
    poster = importlib.import_module(spec.poster_module)
    assert list(inspect.signature(poster.build_poster).parameters) == ["brand", "options", "env"]
    text = (REPO / "responders" / "posters" / f"{spec.name}.py").read_text("utf-8")
    assert f"from monitor.sources.{spec.name} import SPEC" in text, "credentials and options come from the spec"
    assert re.search(rf"from monitor\.sources\.{spec.name}\.source import", text) is None, \
        "a poster uses the platform's client, never its source"


def test_the_description_is_complete_and_consistent(spec: PlatformSpec) -> None:
    assert spec.title and spec.reply_eligibility.strip()
    assert spec.length.limit > 0 and spec.length.counting in typing.get_args(Counting)
    assert spec.budget.limit > 0 and spec.budget.window.total_seconds() > 0
    assert spec.read_credentials and spec.post_credentials
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", name) for name in [*spec.read_credentials.values(),
                                                                     *spec.post_credentials.values()])
    assert spec.handle.description and spec.handle.normalise(spec.handle.example) == spec.handle.example
    assert spec.handle.normalise("@" + spec.handle.example) == spec.handle.example or "@" not in spec.handle.prefixes
    with pytest.raises(ValueError, match="is not a handle"):
        spec.handle.normalise("not a handle!")
    re.compile(spec.canonical_id.pattern)
    assert spec.canonical_id.rule
    assert issubclass(spec.options, SourceOptions) and spec.options.model_validate({})


def test_config_budgets_lengths_and_posters_read_the_registry(spec: PlatformSpec) -> None:
    assert BrandHandles.model_fields[spec.name].description == spec.handle.description
    assert DEFAULT_BUDGETS[spec.name] == spec.budget
    assert PLATFORM_LIMITS[spec.name] == limit_for(spec.name) == spec.length.limit
    assert options_model(spec.name) is spec.options
    settings = parse_settings({"brands": [{"name": "A", "handles": {spec.name: spec.handle.example}}],
                               "sources": [{"name": "s", "platform": spec.name}]}, env={})
    assert settings.sources[0].platform == spec.name
    assert getattr(settings.brands[0].handles, spec.name) == spec.handle.example
    assert settings.brands[0].handles.present() == {spec.name: spec.handle.example}


def test_replay_is_a_source_kind_not_a_platform() -> None:
    assert "replay" not in PLATFORMS and options_model("replay") is ReplayOptions
    assert SourceSettings(name="r", platform="replay", path="a.jsonl", options={"credential": "a"}).platform == "replay"


def test_a_bad_handle_or_option_is_a_one_line_config_error_naming_it() -> None:
    from monitor.config import ConfigError

    with pytest.raises(ConfigError) as bad_handle:
        parse_settings({"brands": [{"name": "A", "handles": {"x": "no spaces allowed"}}]}, origin="c.toml", env={})
    first = str(bad_handle.value).splitlines()[0]
    assert first == "c.toml: brands.0.handles.x: 'no spaces allowed' is not a handle here (expected e.g. 'acme')"
    with pytest.raises(ConfigError) as bad_option:
        parse_settings({"sources": [{"name": "s", "platform": "x", "options": {"max_reslts": 5}}]}, env={})
    assert str(bad_option.value) == ("config: sources.0: source 's': options.max_reslts: Extra inputs are "
                                     "not permitted")


def test_descriptions_load_no_client_library() -> None:
    """config imports the registry: it must stay light (no tweepy, praw, Mastodon.py, atproto, websockets)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, monitor.config, monitor.budgets, responders.lengths; "
                               f"print(sorted(m for m in {list(CLIENT_LIBRARIES)!r} if m in sys.modules))"],
        capture_output=True, text=True, cwd=REPO, check=True)
    assert loaded.stdout.strip() == "[]"


def test_no_module_under_sources_or_posters_is_over_400_lines() -> None:
    files = [*(REPO / "monitor" / "sources").rglob("*.py"), *(REPO / "responders" / "posters").glob("*.py")]
    long = {str(f.relative_to(REPO)): n for f in files if (n := len(f.read_text("utf-8").splitlines())) > 400}
    assert long == {}
