"""`closeloop spikes show|approve|status ID`: a spike's cases as one group, from the command line.

``approve`` answers every case of the spike with one text adapted per customer (``--text`` for every
language, ``--text-for LANG=TEXT`` for one); the daemon's outbox (or `closeloop post`) sends each reply once.
``status`` posts the spike's status update once from the brand's account on each of its platforms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from monitor.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_APPLIED,
    EXIT_OK,
    CliError,
    open_database,
    settings_for,
)


def _positive(value: str) -> int:
    from monitor.cli.desk import _positive as positive  # one rule for an id on the command line

    return positive(value)


def _spike(engine: Any, spike_id: int) -> Any:
    from models.alerts import spike

    found = spike(engine, spike_id=spike_id)
    if found is None:
        raise CliError(f"no spike {spike_id} (`closeloop alerts --all` lists them)", EXIT_NOT_APPLIED)
    return found


def _language_texts(pairs: list[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for pair in pairs:
        language, separator, text = pair.partition("=")
        if not separator or not language.strip():
            raise CliError(f"--text-for {pair[:40]!r}: expected LANG=TEXT, e.g. da='Hej {{name}}, ...'", EXIT_BAD_INPUT)
        texts[language.strip()] = text
    return texts


def cmd_spikes(args: argparse.Namespace) -> int:
    from models.spike_groups import group_members, group_progress
    from models.types import utcnow
    from monitor.render import clean
    from responders.spike_reply import (
        GroupReplyError,
        approve_spike_group,
        post_status_updates,
        variants_from,
    )

    settings = settings_for(args)
    engine = open_database(settings)
    found = _spike(engine, args.spike_id)
    actor = args.as_name or os.environ.get("USER") or "cli"
    if args.action == "show":
        members = group_members(engine, spike_id=found.id)
        rows = [{"case_id": m.case_id, "platform": m.platform, "author": m.author_handle, "language": m.language,
                 "state": m.state, "reply": m.draft_status or ("sent" if m.replied else None),
                 "group_reply": m.answered_by_group} for m in members]
        if args.json:
            json.dump({"spike": found.id, "cases": rows, "progress": group_progress(engine, spike_id=found.id)},
                      sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        print(f"spike #{found.id} ({clean(found.brand)}: {clean(', '.join(found.topic))}): {len(rows)} cases")
        for row in rows:
            print(f"  case {row['case_id']} {row['platform']} @{clean(str(row['author']))} {row['language'] or '?'} "
                  f"{row['state']} reply={row['reply'] or '-'}{' (group)' if row['group_reply'] else ''}")
        return EXIT_OK
    try:
        if args.action == "approve":
            variants = variants_from(args.text, _language_texts(args.text_for))
            planned = approve_spike_group(engine, spike=found, variants=variants, approver=actor, now=utcnow(),
                                          signatures=[a.signature for a in settings.agents], address="cli")
            print(f"spike {found.id}: {len(planned.replies)} replies approved by {clean(actor)}; "
                  "`closeloop post` or the daemon sends them")
            for code, count in sorted(planned.style_summary().items()):
                print(f"  style guide: {code} in {count} of them")
            for case_id, reason in sorted(planned.skipped.items()):
                print(f"  case {case_id} left as it was: {reason}")
            return EXIT_OK if planned.replies or not planned.skipped else EXIT_NOT_APPLIED
        from responders.posters.registry import build_posters

        outcomes = post_status_updates(engine, spike=found, text=args.text or "", actor=actor,
                                       posters=build_posters(settings, os.environ), now=utcnow(), address="cli")
    except GroupReplyError as exc:
        raise CliError(f"--text: {exc}", EXIT_BAD_INPUT) from None
    for platform, outcome in outcomes.items():
        print(f"{platform}: {outcome}")
    return EXIT_OK if any(o.startswith("sent") for o in outcomes.values()) else EXIT_NOT_APPLIED


def register(commands: Any) -> None:
    spikes = commands.add_parser("spikes", help="a spike's cases as one group: show, approve one reply, status update")
    spikes.add_argument("action", choices=("show", "approve", "status"))
    spikes.add_argument("spike_id", type=_positive, metavar="ID")
    spikes.add_argument("--text", help="approve: the reply for every language ({name}, {handle} are filled per "
                                       "customer); status: the status update")
    spikes.add_argument("--text-for", action="append", default=[], metavar="LANG=TEXT",
                        help="approve: the reply for one language (repeatable)")
    spikes.add_argument("--as", dest="as_name", help="who approves (default: $USER)")
    spikes.add_argument("--json", action="store_true", help="show: print JSON")
    spikes.set_defaults(func=cmd_spikes)
