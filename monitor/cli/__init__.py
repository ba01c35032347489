"""The `closeloop` command line: one module per group of commands (ingest, desk, run, database; the console's
and the digest's live in responders/), one policy for errors and exit codes (main, common)."""

from monitor.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
