"""The weekly digest's charts: PNGs drawn with matplotlib's Agg backend, sent as inline CID images.

matplotlib is imported only when a chart is drawn; a chart with nothing to draw is a small "no data" image.
"""

from __future__ import annotations

import io
import itertools
from typing import TYPE_CHECKING, Any

from responders.mailer import InlineImage

if TYPE_CHECKING:
    from responders.digest import Digest

COLORS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9c63", "unscored": "#e0a030"}


def duration_minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 90:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} days"


def target_label(minutes: int) -> str:
    return "within the hour" if minutes == 60 else f"within {duration_minutes(minutes)}"


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _no_data(title: str) -> bytes:
    """A chart with nothing to draw: its title and "no data", a small image rather than empty axes."""
    figure = _pyplot().figure(figsize=(6.4, 0.7))
    figure.text(0.01, 0.7, title, fontsize=11, va="center")
    figure.text(0.01, 0.2, "No data this week.", fontsize=9, color="#555", va="center")
    return _png(figure)


def volume_chart(digest: Digest) -> bytes:
    if not any(any(counts.values()) for counts in digest.daily.values()):
        return _no_data("Mentions per day by sentiment")
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.4, 2.6))
    days = list(digest.daily)
    bottom = [0] * len(days)
    for label in ("negative", "neutral", "positive", "unscored"):
        values = [digest.daily[d][label] for d in days]
        if any(values):
            axis.bar([d.strftime("%a %d") for d in days], values, bottom=bottom, label=label, color=COLORS[label])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axis.yaxis.get_major_locator().set_params(integer=True)
    axis.set_title("Mentions per day by sentiment", loc="left", fontsize=11)
    axis.spines[["top", "right"]].set_visible(False)
    if any(bottom):
        axis.legend(frameon=False, fontsize=8, ncols=4, loc="upper left", bbox_to_anchor=(0, -0.12))
    return _png(figure)


def response_chart(digest: Digest) -> bytes:
    if not digest.response_minutes:
        return _no_data("First response time (from the post)")
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.4, 2.6))
    target = digest.target_minutes
    edges = [0, target / 4, target / 2, 3 * target / 4, target, 2 * target, 4 * target, 24 * 60, float("inf")]
    labels = [f"≤{e:.0f}m" for e in edges[1:5]] + [f"≤{edges[5] / 60:.0f}h", f"≤{edges[6] / 60:.0f}h", "≤1d", ">1d"]
    counts = [sum(1 for m in digest.response_minutes if lo < m <= hi or (lo == 0 and m == 0))
              for lo, hi in itertools.pairwise(edges)]
    colors = ["#3f9c63" if hi <= target else "#d64545" for hi in edges[1:]]
    axis.bar(labels, counts, color=colors)
    axis.axvline(3.5, color="#333", linestyle="--", linewidth=1)
    axis.text(3.55, max(counts or [0]) or 1, f" target {target} min", va="top", fontsize=8)
    axis.yaxis.get_major_locator().set_params(integer=True)
    axis.set_title("First response time (from the post)", loc="left", fontsize=11)
    axis.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def funnel_chart(digest: Digest) -> bytes:
    f = digest.funnel
    if not f.complaints:
        return _no_data("Resolution funnel")
    plt = _pyplot()
    stages = [("Complaints", f.complaints), ("Answered", f.answered), (f"Answered {target_label(digest.target_minutes)}",
              f.within_target), ("Resolved", f.resolved), ("Confirmed by customer", f.confirmed_by_customer)]
    figure, axis = plt.subplots(figsize=(6.4, 2.4))
    names = [s[0] for s in stages][::-1]
    values = [s[1] for s in stages][::-1]
    axis.barh(names, values, color=["#2f6f9f", "#3f9c63", "#5b8fc7", "#7aa7d6", "#9bbfe3"])
    for y, value in enumerate(values):
        axis.text(value, y, f" {value}", va="center", fontsize=9)
    axis.set_title("Resolution funnel", loc="left", fontsize=11)
    axis.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def charts(digest: Digest) -> list[InlineImage]:
    stamp = digest.week.lower()
    return [
        InlineImage(f"volume-{stamp}@closeloop", volume_chart(digest), filename="volume.png"),
        InlineImage(f"response-{stamp}@closeloop", response_chart(digest), filename="response-time.png"),
        InlineImage(f"funnel-{stamp}@closeloop", funnel_chart(digest), filename="funnel.png"),
    ]
