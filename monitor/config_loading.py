"""How settings are read: the file a command names (or ./config.toml), the CLOSELOOP_* environment over it,
the defaults under both; and the list of every key with its help line.

The environment is read by pydantic-settings (``CLOSELOOP_<SECTION>__<KEY>``, case-insensitive, lists and
tables as JSON). Each problem is reported on its own line naming the key and where the bad value came from:
the file, or the variable by name. What is read is the ``schema`` a caller passes (monitor.config passes its
``Settings`` and re-exports these functions bound to it); this module imports no settings of its own.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsError
from pydantic_settings.sources.utils import parse_env_vars

Schema = TypeVar("Schema", bound=BaseSettings)

ENV_PREFIX = "CLOSELOOP_"
ENV_NESTING = "__"
# Kept from before nested variables existed; CLOSELOOP_DATABASE__URL means the same and wins over it.
DATABASE_URL_ENV = "CLOSELOOP_DATABASE_URL"
CONFIG_ENV = "CLOSELOOP_CONFIG"
DEFAULT_CONFIG = Path("config.toml")


class ConfigError(Exception):
    """Configuration that cannot be used; each line of the message names the key and where it came from."""


class ConfigNotFound(ConfigError):
    """No config file where one was looked for; the message says where that was."""


class _Environment(EnvSettingsSource):
    """pydantic-settings' reading of CLOSELOOP_* variables, from a given mapping rather than os.environ."""

    def __init__(self, schema: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(schema)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _variables(schema: type[BaseSettings], env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The key path each CLOSELOOP_* variable that names a setting sets, by path: ("console", "host")."""
    found: dict[tuple[str, ...], str] = {}
    for name in env:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = tuple(name[len(ENV_PREFIX):].lower().split(ENV_NESTING))
        if path[0] in schema.model_fields:
            found[path] = name
    if env.get(DATABASE_URL_ENV) and ("database", "url") not in found:
        found[("database", "url")] = DATABASE_URL_ENV
    return found


def _from_environment(schema: type[BaseSettings], env: Mapping[str, str]) -> dict[str, Any]:
    try:
        values = dict(_Environment(schema, env)())
    except SettingsError as exc:
        field = str(exc).split('"')[1] if '"' in str(exc) else ""
        name = next((n for p, n in _variables(schema, env).items() if p[0] == field), f"{ENV_PREFIX}{field.upper()}")
        raise ConfigError(f"environment variable {name}: {field}: not valid JSON (lists and tables are JSON)") from None
    url = env.get(DATABASE_URL_ENV)
    if url and "url" not in values.get("database", {}):
        values["database"] = {**values.get("database", {}), "url": url}
    return values


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` layered on ``base``: tables merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _format_error(error: ValidationError, origin: str, variables: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"])
        key = ".".join(loc) or "(top level)"
        blamed = next((f"environment variable {name}" for path, name in variables.items()
                       if loc and (loc[:len(path)] == path or path[:len(loc)] == loc)), origin)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{blamed}: {key}: {message}")
    return "\n".join(lines)


def parse_settings(schema: type[Schema], data: Mapping[str, Any], *, origin: str = "config",
                   env: Mapping[str, str] | None = None, base_dir: str | os.PathLike[str] | None = None) -> Schema:
    """Validate a config mapping with the environment's CLOSELOOP_* variables layered over it; raises
    ConfigError naming each bad key and whether the file (``origin``) or which variable set it.

    ``base_dir``: where relative paths point when neither the file nor the environment sets app.data_dir.
    """
    env = os.environ if env is None else env
    merged = _merge(data, _from_environment(schema, env))
    if base_dir is not None and "data_dir" not in merged.get("app", {}):
        merged["app"] = {**merged.get("app", {}), "data_dir": str(Path(base_dir).resolve())}
    try:
        return schema.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, origin, _variables(schema, env))) from None


def find_config(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """The config file to read: ``path``, else $CLOSELOOP_CONFIG, else ./config.toml when it exists.

    Raises ConfigError saying where it looked: running on built-in defaults is a choice (``--defaults``),
    never what happens because a file was missed.
    """
    env = os.environ if env is None else env
    chosen = path or env.get(CONFIG_ENV)
    if chosen:
        return Path(chosen)
    if DEFAULT_CONFIG.is_file():
        return DEFAULT_CONFIG
    raise ConfigNotFound(f"no config file: looked for {DEFAULT_CONFIG.resolve()} and ${CONFIG_ENV} (not set); "
                      "pass --config PATH, or --defaults to run on the built-in defaults")


def load_settings(schema: type[Schema], path: str | os.PathLike[str] | None = None, *,
                  env: Mapping[str, str] | None = None, defaults: bool = False) -> Schema:
    """Load settings from the file ``find_config`` picks, with the environment over it; with ``defaults``,
    from the built-in defaults and the environment alone (no file is read)."""
    env = os.environ if env is None else env
    if defaults:
        return parse_settings(schema, {}, origin="defaults", env=env)
    file = find_config(path, env=env)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    # Relative paths in a config file are relative to the file, not to where the command runs.
    return parse_settings(schema, data, origin=str(file), env=env, base_dir=file.parent)


def documented_keys(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Every settable key of ``model``, dotted, with its help line (the docs test and `closeloop config`)."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = field.annotation
        nested = _nested_model(annotation)
        if nested is not None:
            keys.update(documented_keys(nested, dotted + "."))
        else:
            keys[dotted] = field.description or ""
    return keys


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None
