"""`closeloop alerts`: the crisis radar's spikes, open ones (or every one), newest first."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def cmd_alerts(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    from models.alerts import list_spikes, spike_posts
    from models.db import make_engine, prepare
    from monitor.config import load_settings
    from monitor.radar.present import TOP_POSTS, spike_json, spike_lines
    from monitor.render import clean

    settings = load_settings(args.config)
    engine = make_engine(settings.database_url(), echo=settings.database.echo)
    prepare(engine)
    spikes = list_spikes(engine, include_closed=args.all, limit=args.limit)
    shown = [(spike, spike_posts(engine, spike_id=spike.id, limit=TOP_POSTS)) for spike in spikes]
    if args.json:
        json.dump([spike_json(spike, posts) for spike, posts in shown], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    console = Console()
    if not shown:
        console.print("No spikes." if args.all else "No open spikes (`closeloop alerts --all` lists past ones).")
        return 0
    for spike, posts in shown:
        for n, line in enumerate(spike_lines(spike, posts, timezone=settings.app.timezone)):
            console.print(Text(clean(line), style="bold" if n == 0 else ""), soft_wrap=True)
    return 0


def register(commands: Any) -> None:
    """Add `alerts` to the main parser's subcommands."""
    alerts = commands.add_parser("alerts", help="crisis radar spikes: open ones, newest first")
    alerts.add_argument("--json", action="store_true", help="print a JSON array")
    alerts.add_argument("--all", action="store_true", help="past (closed) spikes too")
    alerts.add_argument("--limit", type=int, default=100, help="show at most this many (default 100)")
    alerts.set_defaults(func=cmd_alerts)
    from monitor.radar.group_commands import register as register_spikes

    register_spikes(commands)
