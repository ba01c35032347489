"""The `closeloop` command: its parser, and one policy for how every command ends.

Every failure an operator can cause (a bad config value or variable, a missing file or folder, a bad
argument, a database that cannot be opened) ends in one line naming what is wrong and the exit code the
README lists (monitor.cli.common), never a traceback. A closed pipe (`closeloop config --keys | head`) is
not an error. Anything else is a bug: one line, exit 1, and the traceback at --log-level DEBUG.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from monitor.cli import database, demo, desk, ingest, model, run
from monitor.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NOT_APPLIED,
    EXIT_OK,
    EXIT_SCHEMA,
    CliError,
)

log = logging.getLogger("closeloop.cli")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


def _version() -> str:
    try:
        return version("closeloop")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="closeloop", description="A social-media care desk that closes the loop.")
    parser.add_argument("--version", action="version", version=f"closeloop {_version()}")
    parser.add_argument("--config", help="config file (default: $CLOSELOOP_CONFIG, else ./config.toml)")
    parser.add_argument("--defaults", action="store_true",
                        help="run on the built-in defaults (and CLOSELOOP_* variables) without a config file")
    parser.add_argument("--log-level", type=str.upper, default=os.environ.get("CLOSELOOP_LOG_LEVEL", "WARNING"),
                        help="DEBUG, INFO, WARNING (default) or ERROR; also $CLOSELOOP_LOG_LEVEL")
    parser.add_argument("--log-format", default=os.environ.get("CLOSELOOP_LOG_FORMAT", "text"),
                        help="one event per line as text (default) or json (for a log shipper); "
                             "also $CLOSELOOP_LOG_FORMAT")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest.register(commands)
    demo.register(commands)
    desk.register(commands)
    run.register(commands)
    database.register(commands)
    model.register(commands)
    # Subcommands contributed by responders/: the console (serve, users) and the digest.
    from monitor.radar.commands import register as register_alerts
    from responders.resolution_commands import register as register_digest
    from responders.web.commands import register as register_web

    register_web(commands)
    register_digest(commands)
    register_alerts(commands)
    return parser


def _logging_options(args: argparse.Namespace) -> None:
    level, fmt = str(args.log_level).upper(), str(args.log_format).lower()
    if level not in LOG_LEVELS:
        raise CliError(f"--log-level (or CLOSELOOP_LOG_LEVEL): unknown level {args.log_level!r} "
                       f"(expected {', '.join(LOG_LEVELS)})")
    if fmt not in LOG_FORMATS:
        raise CliError(f"--log-format (or CLOSELOOP_LOG_FORMAT): unknown format {args.log_format!r} "
                       f"(expected {' or '.join(LOG_FORMATS)})")
    args.log_level, args.log_format = level, fmt


def _say(message: str) -> None:
    from monitor.logs import redact

    for line in message.splitlines() or [""]:
        print(f"closeloop: {redact(line)}", file=sys.stderr)


def _pipe_closed() -> int:
    """The reader went away (`| head`): what it read was what it wanted. Later writes go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def _failed(exc: Exception) -> int:
    """The exit code for an exception a command let out, said in one line per problem."""
    from models.db import DatabaseUnsafe, SchemaBehind
    from monitor.config import ConfigError, ConfigNotFound
    from monitor.scoring.base import ScorerUnavailable

    if isinstance(exc, CliError):
        _say(exc.message)
        return exc.code
    if isinstance(exc, ConfigNotFound):
        _say(str(exc))
        return EXIT_BAD_INPUT
    if isinstance(exc, ConfigError):
        _say("\n".join(f"bad configuration: {line}" for line in str(exc).splitlines()))
        return EXIT_BAD_INPUT
    if isinstance(exc, ScorerUnavailable):  # backend = "transformers" and the model cannot be loaded
        _say(str(exc))
        return EXIT_BAD_INPUT
    if isinstance(exc, SchemaBehind | DatabaseUnsafe):
        _say(str(exc))
        return EXIT_SCHEMA
    if isinstance(exc, OSError) and exc.filename is not None:
        _say(f"{exc.filename}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    log.debug("command_crashed", exc_info=exc)
    reason = (str(exc).strip().splitlines() or [""])[0]
    _say(f"unexpected error: {type(exc).__name__}: {reason} (--log-level DEBUG shows where)")
    return EXIT_NOT_APPLIED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stream_closed = False
    try:
        _logging_options(args)
        from monitor.logs import configure_logging

        configure_logging(args.log_level, args.log_format)
        if args.command == "run" and not args.once:
            from monitor.stopping import stop_on_signals

            args.stop = stop_on_signals()  # before anything slow: a stop while starting is a clean stop
            log.info("daemon_starting pid=%d", os.getpid())
        return int(args.func(args))
    except BrokenPipeError:
        stream_closed = True
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # every command ends through the same policy
        return _failed(exc)
    return _pipe_closed() if stream_closed else EXIT_OK
