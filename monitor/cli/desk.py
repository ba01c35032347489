"""The care desk from the command line: `queue`, `approve`, `post` and `sources`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from monitor.cli.common import EXIT_NOT_APPLIED, EXIT_OK, CliError, open_database, settings_for


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"must be from 1 to {2**63 - 1}: {value}")
    return number


def cmd_queue(args: argparse.Namespace) -> int:
    from rich.console import Console

    from monitor.render import render_queue
    from responders.queue import load_queue

    settings = settings_for(args)
    items = load_queue(open_database(settings), settings, limit=args.limit)
    if args.json:
        json.dump([item.to_json() for item in items], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    render_queue(Console(), items)
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    from models.outbox import OutboxError, approve_draft, draft_for_case
    from models.types import utcnow

    engine = open_database(settings_for(args))
    draft_id = draft_for_case(engine, case_id=args.case_id)
    if draft_id is None:
        raise CliError(f"case {args.case_id} has no draft waiting for approval", EXIT_NOT_APPLIED)
    approver = args.as_name or os.environ.get("USER") or "cli"
    try:
        digest = approve_draft(engine, draft_id=draft_id, approver=approver, now=utcnow(), address="cli")
    except OutboxError as exc:
        raise CliError(str(exc), EXIT_NOT_APPLIED) from None
    print(f"draft {draft_id} of case {args.case_id} approved by {approver} (text sha256 {digest[:12]}…); "
          "`closeloop post` or the daemon sends it")
    return EXIT_OK


def cmd_post(args: argparse.Namespace) -> int:
    """Send what can be sent; exit 1 with one line per held reply (and its reason) when any cannot be."""
    from monitor.cli.run import run_once
    from monitor.daemon import Daemon
    from responders.outbox import report_held

    settings = settings_for(args)
    daemon = Daemon(settings, open_database(settings), roles=("post",))
    status = run_once(daemon)
    return status or (1 if report_held(daemon.engine, sys.stderr) else 0)


def cmd_sources(args: argparse.Namespace) -> int:
    from rich.console import Console

    from models.sources import enable_source, list_sources
    from monitor.render import render_sources
    from monitor.sources.registry import configured_sources

    settings = settings_for(args)
    engine = open_database(settings)
    if args.enable:
        if not enable_source(engine, name=args.enable):
            raise CliError(f"no source called {args.enable!r}", EXIT_NOT_APPLIED)
        print(f"source {args.enable} enabled; it polls on the next tick")
        return EXIT_OK
    render_sources(Console(), list_sources(engine, configured=configured_sources(settings)))
    return EXIT_OK


def register(commands: Any) -> None:
    queue = commands.add_parser("queue", help="the open queue, most urgent first")
    queue.add_argument("--json", action="store_true", help="print a JSON array")
    queue.add_argument("--limit", type=_positive, help="show at most this many cases")
    queue.set_defaults(func=cmd_queue)

    sources = commands.add_parser("sources", help="each source's state, last poll, last error, next poll")
    sources.add_argument("--enable", metavar="NAME", help="clear a source's permanent error")
    sources.set_defaults(func=cmd_sources)

    approve = commands.add_parser("approve", help="approve a case's draft for posting")
    approve.add_argument("case_id", type=_positive)
    approve.add_argument("--as", dest="as_name", help="the approver's name (default: $USER)")
    approve.set_defaults(func=cmd_approve)

    post = commands.add_parser("post", help="send approved replies now (reconciling unknown ones first)")
    post.set_defaults(func=cmd_post)
