"""The operator's commands about storage and settings: `db`, `backup`, `check` and `config`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from monitor.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_APPLIED,
    EXIT_OK,
    CliError,
    open_database,
    output_file,
    settings_for,
)


def cmd_db(args: argparse.Namespace) -> int:
    from models.db import current_revision, head_revision, upgrade

    engine = open_database(settings_for(args), prepare_schema=False)
    if args.action == "upgrade":
        upgrade(engine)
        print(f"database at revision {current_revision(engine)}")
        return EXIT_OK
    current, head = current_revision(engine), head_revision()
    print(f"database revision: {current or 'none'}; this closeloop needs: {head}")
    return EXIT_OK if current == head else EXIT_NOT_APPLIED


def cmd_backup(args: argparse.Namespace) -> int:
    from models.maintenance import BackupUnsupported, backup

    settings = settings_for(args)
    target = output_file(args.path, "backup PATH")
    engine = open_database(settings, prepare_schema=False)
    try:
        report = backup(engine, target)
    except BackupUnsupported as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    print(f"backup written to {report.path} ({report.size} bytes, integrity_check {report.integrity})")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from models.maintenance import check

    settings = settings_for(args)
    findings = check(open_database(settings, prepare_schema=False), full=args.full)
    for finding in findings:
        line = f"{'ok  ' if finding.ok else 'FAIL'} {finding.what}"
        print(line if finding.ok else f"{line}: {finding.fix}")
    if not args.no_scorer:
        from monitor.cli.model import print_live_scorer

        print_live_scorer(settings)  # backend = "transformers" without its model: one line, exit 2
    failed = [f for f in findings if not f.ok]
    if failed:
        print(f"closeloop: {len(failed)} problem(s) found", file=sys.stderr)
        return EXIT_NOT_APPLIED
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from monitor.config import documented_keys
    from monitor.logs import REDACT

    settings = settings_for(args)
    if args.keys:
        for key, help_text in documented_keys().items():
            print(f"{key}\t{help_text}")
        return EXIT_OK
    # A config holds no secrets by design; a value that equals one anyway is masked like in the logs, and a
    # database URL's password (often set by CLOSELOOP_DATABASE_URL) is never shown.
    shown = settings.model_dump(mode="json")
    shown["database"]["url"] = make_url(settings.database.url).render_as_string(hide_password=True)
    print(REDACT(json.dumps(shown, indent=2, ensure_ascii=False)))
    return EXIT_OK


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="schema migrations")
    db.add_argument("action", choices=["upgrade", "status"])
    db.set_defaults(func=cmd_db)

    backup_cmd = commands.add_parser("backup", help="a consistent online copy of the SQLite database to PATH")
    backup_cmd.add_argument("path", help="the backup file (replaced atomically when it exists)")
    backup_cmd.set_defaults(func=cmd_backup)

    check_cmd = commands.add_parser("check", help="verify the database (integrity, SQLite settings, schema at head) and say which scorer is live")
    check_cmd.add_argument("--full", action="store_true", help="PRAGMA integrity_check instead of quick_check")
    check_cmd.add_argument("--no-scorer", action="store_true",
                           help="skip loading the sentiment scorer (by default its line says which one is live)")
    check_cmd.set_defaults(func=cmd_check)

    config = commands.add_parser("config", help="print the effective configuration")
    config.add_argument("--keys", action="store_true", help="list every key with its help line")
    config.set_defaults(func=cmd_config)
