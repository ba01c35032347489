"""Config: every key documented, bad values named, overrides from the environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from monitor.config import (
    ConfigError,
    ConfigNotFound,
    Settings,
    documented_keys,
    load_settings,
    parse_settings,
)

REPO = Path(__file__).resolve().parent.parent


def test_it_documents_every_key_in_config_toml() -> None:
    text = (REPO / "config.toml").read_text("utf-8")
    missing = [key for key in documented_keys() if not re.search(rf"\b{re.escape(key.rsplit('.', 1)[-1])}\b", text)]
    assert missing == []
    assert all(help_text for help_text in documented_keys().values()), "every key needs a line of help"


def test_it_loads_the_shipped_config_and_the_demo_config() -> None:
    shipped = load_settings(REPO / "config.toml", env={})
    demo = load_settings(REPO / "monitor" / "demo" / "demo.toml", env={})
    assert shipped.app.response_target_minutes == 60
    assert {a.name for a in shipped.agents} == {a.name for a in demo.agents}
    assert set(shipped.ranking.severity_words) >= {"en", "da", "fi", "et", "he", "ko"}


def test_the_settings_are_frozen() -> None:
    settings = parse_settings({}, env={})
    with pytest.raises(Exception, match="frozen"):
        settings.app.response_target_minutes = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"app": {"response_target_minutes": 0}}, "app.response_target_minutes"),
        ({"app": {"timezone": "Mars/Olympus"}}, "app.timezone"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"scoring": {"backend": "gpt"}}, "scoring.backend"),
        ({"scoring": {"batch_size": -1}}, "scoring.batch_size"),
        ({"sources": [{"name": "r", "platform": "replay"}]}, "sources.0"),
        ({"sources": [{"name": "a", "platform": "myspace"}]}, "sources.0.platform"),
        ({"agents": [{"name": "Maria", "signature": "  "}]}, "agents.0.signature"),
        ({"app": {"no_such_key": 1}}, "app.no_such_key"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_key(data: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, origin="config.toml", env={})
    assert f"config.toml: {named}" in str(caught.value)


def test_duplicate_source_names_are_refused() -> None:
    source = {"name": "same", "platform": "replay", "path": "a.jsonl"}
    with pytest.raises(ConfigError, match="unique: same"):
        parse_settings({"sources": [source, source]}, env={})


def test_the_environment_overrides_the_database_and_picks_the_file(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[app]\nresponse_target_minutes = 20\n', "utf-8")
    settings = load_settings(env={"CLOSELOOP_CONFIG": str(config), "CLOSELOOP_DATABASE_URL": "sqlite:///x.db"})
    assert settings.app.response_target_minutes == 20
    assert settings.database_url() == f"sqlite:///{tmp_path / 'x.db'}"


def test_a_file_that_is_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[app\n", "utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_settings(config, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml", env={})


def test_no_secret_is_a_config_value() -> None:
    data = tomllib.loads((REPO / "config.toml").read_text("utf-8"))
    flat = repr(data).lower()
    for word in ("password", "secret", "token", "api_key"):
        assert f"'{word}':" not in flat and f"'smtp_{word}':" not in flat
    secretive = [k for k in documented_keys() if ("secret" in k or "password" in k or "token" in k)
                 and k != "console.password_min_length"]  # a number about passwords, not one
    assert all(k.endswith("_env") for k in secretive), "a secret is named by its environment variable"


def test_without_a_file_it_refuses_saying_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigNotFound) as caught:
        load_settings(env={})
    assert str(tmp_path / "config.toml") in str(caught.value) and "CLOSELOOP_CONFIG" in str(caught.value)
    assert "--defaults" in str(caught.value) and "\n" not in str(caught.value)


def test_the_defaults_are_usable_when_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={"CLOSELOOP_CONSOLE__PORT": "9090"}, defaults=True)
    assert isinstance(settings, Settings)
    assert settings.brands[0].name == "Acme" and settings.console.port == 9090


def test_every_key_can_come_from_the_environment_over_the_file_over_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[console]\nhost = "10.0.0.1"\nport = 8081\n[daemon]\nroles = ["poll"]\n', "utf-8")
    env = {"CLOSELOOP_CONSOLE__HOST": "0.0.0.0", "closeloop_console__secure_cookies": "true",
           "CLOSELOOP_DAEMON__ROLES": '["poll", "score"]', "CLOSELOOP_CONSOLE__TRUSTED_PROXIES": '["10.1.0.0/16"]',
           "CLOSELOOP_BRANDS": '[{"name": "Beta", "keywords": ["beta"]}]',
           # Not settings: the variables closeloop always read, and secrets named by a config.
           "CLOSELOOP_SMTP_PASSWORD": "hunter2hunter2", "CLOSELOOP_LOG_LEVEL": "INFO"}
    settings = load_settings(config, env=env)
    assert (settings.console.host, settings.console.port, settings.console.secure_cookies) == ("0.0.0.0", 8081, True)
    assert settings.daemon.roles == ("poll", "score") and settings.console.trusted_proxies == ("10.1.0.0/16",)
    assert [b.name for b in settings.brands] == ["Beta"]
    assert settings.console.session_hours == 12, "what neither sets keeps its default"
    assert len(documented_keys()) > 60 and all(key.count(".") >= 1 for key in documented_keys())


@pytest.mark.parametrize(
    ("env", "blamed", "named"),
    [
        ({"CLOSELOOP_DATABASE_URL": "mysql://x"}, "environment variable CLOSELOOP_DATABASE_URL", "database.url"),
        ({"CLOSELOOP_DATABASE__URL": "mysql://x"}, "environment variable CLOSELOOP_DATABASE__URL", "database.url"),
        ({"CLOSELOOP_CONSOLE__SECURE_COOKIES": "yes"}, "environment variable CLOSELOOP_CONSOLE__SECURE_COOKIES",
         "console.secure_cookies"),
        ({"CLOSELOOP_CONSOLE__PORT": "eighty"}, "environment variable CLOSELOOP_CONSOLE__PORT", "console.port"),
        ({"CLOSELOOP_CONSOLE__NO_SUCH_KEY": "1"}, "environment variable CLOSELOOP_CONSOLE__NO_SUCH_KEY",
         "console.no_such_key"),
        ({"CLOSELOOP_SOURCES": "[not json"}, "environment variable CLOSELOOP_SOURCES", "sources"),
        ({"CLOSELOOP_CONSOLE__TRUSTED_PROXIES": '["everyone"]'},
         "environment variable CLOSELOOP_CONSOLE__TRUSTED_PROXIES", "console.trusted_proxies"),
    ],
)
def test_a_bad_variable_is_blamed_not_the_file(env: dict[str, str], blamed: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"database": {"url": "sqlite:///fine.db"}}, origin="config.toml", env=env)
    assert str(caught.value).startswith(f"{blamed}: {named}"), str(caught.value)
    assert "config.toml" not in str(caught.value)


@pytest.mark.parametrize("value", ["yes", "on", 1, 0, "1", "", "True "])
def test_booleans_are_true_or_false_and_nothing_else(value: object) -> None:
    for key in ("console.secure_cookies", "database.echo", "scoring.quantize", "resolution.csat_followup"):
        section, name = key.split(".")
        if value == "True ":
            assert getattr(getattr(parse_settings({section: {name: value}}, env={}), section), name) is True
            continue
        with pytest.raises(ConfigError, match=rf"config: {key}: must be true or false"):
            parse_settings({section: {name: value}}, env={})
    with pytest.raises(ConfigError, match=r"sources.0.enabled: must be true or false"):
        parse_settings({"sources": [{"name": "r", "platform": "replay", "path": "a", "enabled": "no"}]}, env={})


def test_the_readme_lists_every_key() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    assert [key for key in documented_keys() if f"| `{key}` |" not in readme] == []
