"""Terminal rendering of the queue and the ingest summary.

Post texts and names are attacker-controlled: they are printed as plain ``Text`` (never parsed as rich
markup) with control characters removed, so a post cannot restyle or rewrite the operator's terminal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from models.sources import SourceState
from monitor.pipeline import IngestReport
from responders.queue import QueueItem

_KEEP = {"\n", "\t", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069"}


def clean(value: str | None) -> str:
    """``value`` without terminal control characters (bidi marks kept: Hebrew must read right)."""
    if not value:
        return ""
    return "".join(ch for ch in value if ch in _KEEP or unicodedata.category(ch) not in ("Cc", "Cf"))


def _countdown(minutes_left: float) -> Text:
    if minutes_left < 0:
        return Text(f"breached {int(-minutes_left)} min ago", style="bold red")
    style = "yellow" if minutes_left < 15 else "green"
    return Text(f"{int(minutes_left)} min left", style=style)


def render_queue(console: Console, items: Sequence[QueueItem]) -> None:
    if not items:
        console.print("The queue is empty: no open complaints.")
        return
    console.print(Text(f"Response queue: {len(items)} open case(s), most urgent first", style="bold"))
    for position, item in enumerate(items, 1):
        row = item.row
        title = Text(f"#{position}  case {row.case_id}  ", style="bold")
        title.append(f"urgency {item.urgency.score:.0f}  ", style="bold magenta")
        title.append_text(_countdown(item.urgency.minutes_left))
        who = Text(f"{row.platform} · @{clean(row.author_handle)}")
        if row.author_name:
            who.append(f" ({clean(row.author_name)})")
        who.append(f" · {row.language or '??'} · {row.label} {row.score:.2f} [{row.model}]", style="dim")
        reasons = Text("why: " + "; ".join(clean(r) for r in item.urgency.reasons), style="cyan")
        post = Text("post:  ", style="bold")
        post.append(clean(row.text))
        parts: list[Text] = [who, reasons, post]
        if row.draft_text is not None:
            draft = Text(f"draft ({row.draft_language}):\n", style="bold green")
            draft.append(clean(row.draft_text))
            parts.append(draft)
            for issue in row.draft_issues or []:
                parts.append(Text(f"style: {clean(issue.get('message'))}", style="yellow"))
        else:
            parts.append(Text("no draft yet", style="yellow"))
        console.print(Panel(Group(*parts), title=title, title_align="left"))


def render_report(console: Console, report: IngestReport, *, source: str) -> None:
    models = ", ".join(f"{count} by {model}" for model, count in report.scored_by.most_common()) or "none"
    console.print(
        Text(
            f"{source}: read {report.read}, new {report.new}, edited {report.edited}, duplicates {report.duplicates}, "
            f"bad lines {len(report.bad)}; scored {sum(report.scored_by.values())} ({models}); "
            f"complaints {report.complaints}, cases opened {report.cases_opened}, praise {report.praise}, "
            f"drafts {report.drafts}"
        ),
        soft_wrap=True,
    )
    for bad in report.bad[:20]:
        console.print(Text(f"  skipped {bad.position}: {clean(bad.reason)}", style="yellow"), soft_wrap=True)
    if len(report.bad) > 20:
        console.print(Text(f"  … and {len(report.bad) - 20} more bad lines", style="yellow"))


def render_sources(console: Console, sources: Sequence[SourceState]) -> None:
    """One line per source, and its error on the next line: long reasons stay readable and greppable."""
    if not sources:
        console.print("No sources configured.")
        return
    for s in sources:
        if s.disabled_reason:
            state, style = "disabled", "red"
        elif not s.enabled:
            state, style = "off", "dim"
        elif s.lease_owner:
            state, style = f"polling ({s.lease_owner})", "cyan"
        elif s.error_count:
            state, style = f"backing off ({s.error_count} errors)", "yellow"
        elif s.last_polled_at is None:
            state, style = "never polled", "yellow"
        else:
            state, style = "ok", "green"
        line = Text(f"{s.name}  ", style="bold")
        line.append(f"{s.platform} · {s.brand} · ")
        line.append(state, style=style)
        line.append(f" · last poll {_when(s.last_polled_at)} · next poll {_when(s.next_poll_at)}", style="dim")
        console.print(line, soft_wrap=True)
        reason = s.disabled_reason or s.last_error
        if reason:
            console.print(Text(f"    {'why' if s.disabled_reason else 'last error'}: {clean(reason)}", style=style),
                          soft_wrap=True)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"
