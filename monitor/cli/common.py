"""What every command shares: the exit codes, the settings and the database as a command opens them.

Only the standard library is imported here at module level: `closeloop --help`, `--version` and the first
moments of `closeloop run` (before its stop signals are handled) stay short.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from monitor.config import Settings

# The README's exit-code line lists these; tests/test_cli_errors.py checks each command keeps to them.
EXIT_OK = 0
EXIT_NOT_APPLIED = 1  # the action did not apply (no such case, a failed check, an unexpected error)
EXIT_BAD_INPUT = 2  # bad configuration, arguments, paths, or a database that cannot be opened
EXIT_SCHEMA = 3  # the schema is behind (or SQLite lacks the settings that make writes durable)
EXIT_SKIPPED = 4  # ingest stored what it could, but skipped lines (its summary lists them)
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A command that cannot go on: one line for the operator and the exit code it means."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings a command runs on: --config, $CLOSELOOP_CONFIG or ./config.toml (or --defaults), with
    the environment over them. The variables it names as credentials are masked in every log line."""
    from monitor.config import load_settings
    from monitor.logs import REDACT, credential_names

    if getattr(args, "defaults", False) and args.config:
        raise CliError("--defaults and --config exclude each other: the defaults read no file")
    settings = load_settings(args.config, defaults=getattr(args, "defaults", False))
    REDACT.watch(credential_names(settings))  # the variables this config names are secrets too
    return settings


def _url_origin() -> str:
    for name in ("CLOSELOOP_DATABASE__URL", "CLOSELOOP_DATABASE_URL"):
        if os.environ.get(name):
            return f"from {name}"
    return "database.url"


def open_database(settings: Settings, *, prepare_schema: bool = True) -> Engine:
    """An engine on the configured database, connected once (and its schema made or checked, unless
    ``prepare_schema`` is False, as for `db` and `check`, which work on a schema that is behind).

    A database that cannot be opened is a CliError (exit 2) naming the URL (password hidden), where the URL
    came from, and the driver's one-line reason; SchemaBehind and DatabaseUnsafe pass through (exit 3).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from models.db import DatabaseUnsafe, SchemaBehind, make_engine, prepare
    from monitor.logs import redact

    url = settings.database_url()
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "(an unreadable URL)"
    try:
        engine = make_engine(url, echo=settings.database.echo)
        if prepare_schema:
            prepare(engine)
        else:
            with engine.connect():
                pass
        return engine
    except (SchemaBehind, DatabaseUnsafe):
        raise
    except (SQLAlchemyError, OSError, ValueError, ImportError) as exc:
        cause: BaseException = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise CliError(f"cannot open the database {shown} ({_url_origin()}): {redact(reason)}") from None


def output_file(path: str, option: str) -> Path:
    """``path`` as a file a command may write: its folder must exist, and it must not be a folder."""
    target = Path(path)
    if target.is_dir():
        raise CliError(f"{option}: {path} is a folder; name a file")
    if not target.parent.is_dir():
        raise CliError(f"{option}: the folder {target.parent} does not exist")
    return target
