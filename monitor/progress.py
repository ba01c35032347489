"""Progress of `ingest` and `run --once`, stage by stage: read, scored, triaged, drafted.

On a terminal each stage is a line of a rich Progress with its count and rate, and the log lines the stages
write are printed above the bar (through the same console) instead of through it. When the stages are done a
summary line per stage goes to the command's output, terminal or not: how many, in how long, at what rate.
A stage whose total is not known (all but ``read`` of a file) shows a count, never a bar that claims 100 %.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

STAGES = ("read", "scored", "triaged", "drafted")


class RateColumn(ProgressColumn):
    """Items per second of a stage, or a dash before it has a rate."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("—" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


@dataclass
class _Stage:
    count: int = 0
    began: float | None = None
    ended: float | None = None


class _AboveTheBar(io.TextIOBase):
    """A text stream that prints each line through ``console``, so a live display redraws below it."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text.strip():
            self.console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        return len(text)


@dataclass
class StageProgress:
    """Counts per stage; ``advance(stage, n)`` from the pipeline's callbacks (``n`` may be 0: the stage began)."""

    live: Progress | None = None
    stages: dict[str, _Stage] = field(default_factory=lambda: {name: _Stage() for name in STAGES})
    tasks: dict[str, TaskID] = field(default_factory=dict)

    def advance(self, stage: str, count: int) -> None:
        now = time.monotonic()
        state = self.stages[stage]
        if state.began is None:
            earlier = [s.ended for s in self.stages.values() if s.ended is not None]
            state.began = max(earlier, default=now)
        state.count += count
        state.ended = now
        if self.live is not None:
            self.live.update(self.tasks[stage], advance=count, visible=True)
            self.live.start_task(self.tasks[stage])

    def summary(self) -> list[str]:
        """One line per stage that ran: ``scored      48  in 1.2 s  (40/s)``."""
        lines = []
        for name, state in self.stages.items():
            if state.began is None:
                continue
            seconds = max((state.ended or state.began) - state.began, 0.0)
            rate = f"{state.count / seconds:,.0f}/s" if seconds > 0 else "—"
            lines.append(f"{name:<8} {state.count:>8,}  in {seconds:.1f} s  ({rate})")
        return lines


@contextmanager
def _logs_through(console: Console) -> Iterator[None]:
    """Point the root logger's stream handlers at ``console`` for a while (their format and masking stay)."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    stream = _AboveTheBar(console)
    previous = [h.setStream(stream) for h in handlers]
    try:
        yield
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            if old is not None:
                handler.setStream(old)


@contextmanager
def stage_progress(output: Console, *, read_total: int | None = None,
                   screen: Console | None = None) -> Iterator[StageProgress]:
    """Show the stages live on ``screen`` (stderr) when it is a terminal; print the summary to ``output``."""
    screen = screen or Console(stderr=True)
    if not screen.is_terminal:
        tracker = StageProgress()
        yield tracker
    else:
        columns = (TextColumn("{task.description:<8}"), BarColumn(),
                   TextColumn("{task.completed:>8,.0f}{task.fields[of]}"), RateColumn(), TimeElapsedColumn())
        with Progress(*columns, console=screen, transient=True) as live, _logs_through(screen):
            tracker = StageProgress(live=live)
            for name in STAGES:
                total = read_total if name == "read" else None
                tracker.tasks[name] = live.add_task(name, total=total, start=False, visible=False,
                                                    of=f" of {total:,}" if total is not None else "")
            yield tracker
    for line in tracker.summary():
        output.print(line, markup=False, highlight=False)
