"""Spike alert mails: once per spike and recipient when it opens, once more each time it grows by
``radar.growth_factor``; never twice, across restarts and daemons.

Each mail is claimed (its unique row inserted as ``sending``) before it is sent; a send the server refused
is marked failed and retried by a later tick, one that may have gone out is never resent. Post texts and
handles are attacker-controlled: plain in the text part, escaped in the HTML part, kept out of headers
except the subject, which the mailer strips of control characters.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from models.alerts import (
    AlertSent,
    SpikePost,
    SpikeRecord,
    claim_spike_alert,
    list_spikes,
    mark_spike_alert,
    spike_alerts,
    spike_posts,
)
from monitor.config import Settings
from monitor.radar.detect import alert_level_due
from monitor.radar.present import TOP_POSTS, local_time, one_line, spike_lines, topic_title
from responders.mailer import Mailer, MailError, Outgoing, build_message

log = logging.getLogger("closeloop.radar")


@dataclass(frozen=True, slots=True)
class AlertDue:
    spike_id: int
    level: int
    recipient: str


def alerts_due(spike: SpikeRecord, sent: Sequence[AlertSent], *, recipients: Sequence[str],
               growth_factor: float) -> list[AlertDue]:
    """The mails an open spike needs now. Level 0 when nothing was claimed; the next level when it has grown
    by ``growth_factor`` since the last level; else the last level again for recipients it has not reached
    (their send failed, or they were added since) — never a level that is already superseded."""
    mine = [row for row in sent if row.spike_id == spike.id]
    last = max((row.level for row in mine), default=None)
    last_mentions = max((row.mentions for row in mine if row.level == last), default=None)
    level = alert_level_due(mentions=spike.mentions, last_level=last, last_mentions=last_mentions,
                            growth_factor=growth_factor)
    if level is not None:
        return [AlertDue(spike.id, level, r) for r in recipients]
    reached = {row.recipient for row in mine if row.level == last and row.status != "failed"}
    return [AlertDue(spike.id, last, r) for r in recipients if last is not None and r not in reached]


def _href(url: str | None) -> str | None:
    if not url or not url.lower().startswith(("https://", "http://")):
        return None
    return html.escape(url, quote=True)


def alert_html(spike: SpikeRecord, posts: Sequence[SpikePost], *, timezone: str, level: int) -> str:
    """The HTML part: every value from a post or a config escaped; links only to http(s) addresses."""
    e = html.escape
    rows = [
        ("Brand", e(spike.brand)),
        ("Topic", e(", ".join(spike.topic) or "(no single topic: a rise in volume)")),
        ("Began", e(local_time(spike.started_at, timezone))),
        ("Detected", e(local_time(spike.opened_at, timezone))),
        ("Mentions so far", f"{spike.mentions} by {spike.authors} distinct authors ({spike.complaints} complaints)"),
        ("Rate", f"{spike.rate_per_hour:.0f} per hour (peak {spike.peak_rate_per_hour:.0f})"),
        ("Usual rate", f"{spike.baseline_per_hour:.1f} per hour for these topics at this hour"),
        ("Platforms", e(", ".join(spike.platforms) or "—")),
    ]
    table = "".join(f"<tr><th align=\"left\">{name}</th><td>{value}</td></tr>" for name, value in rows)
    items = []
    for post in posts[:TOP_POSTS]:
        href = _href(post.url)
        who = f"@{e(post.author_handle)} ({e(post.platform)}, reach {post.reach:,})"
        link = f" <a href=\"{href}\">open</a>" if href else ""
        items.append(f"<li><b>{who}</b>{link}<br>{e(one_line(post.text, limit=500))}</li>")
    heading = "A spike of mentions" if level == 0 else f"The spike has grown (update {level})"
    return (f"<html><body><h2>{e(heading)}: {e(spike.brand)}</h2><table>{table}</table>"
            f"<h3>Top posts by reach</h3><ol>{''.join(items)}</ol>"
            "<p>Every alert: <code>closeloop alerts --all</code></p></body></html>")


def alert_message(spike: SpikeRecord, posts: Sequence[SpikePost], *, settings: Settings, recipient: str,
                  level: int) -> Outgoing:
    timezone = settings.app.timezone
    what = "Spike" if level == 0 else f"Spike growing (update {level})"
    subject = f"[closeloop] {what}: {spike.brand} – {topic_title(spike)} ({spike.mentions} mentions, " \
              f"{spike.authors} authors)"
    text = "\n".join([*spike_lines(spike, posts, timezone=timezone), "",
                      "Every alert: closeloop alerts --all", ""])
    return Outgoing(sender=settings.smtp.sender, recipient=recipient, subject=subject, text=text,
                    html=alert_html(spike, posts, timezone=timezone, level=level),
                    headers={"X-Closeloop-Spike": str(spike.id)})


def send_spike_alerts(engine: Engine, settings: Settings, mailer: Mailer, *, now: datetime) -> int:
    """Mail every alert that is due for the open spikes; returns how many were sent."""
    radar = settings.radar
    if not radar.recipients:
        return 0
    spikes = list_spikes(engine)
    sent_before = spike_alerts(engine, spike_ids=[s.id for s in spikes])
    sent = 0
    for spike in spikes:
        due = alerts_due(spike, sent_before, recipients=radar.recipients, growth_factor=radar.growth_factor)
        posts = spike_posts(engine, spike_id=spike.id, limit=TOP_POSTS) if due else []
        for alert in due:
            if not claim_spike_alert(engine, spike_id=spike.id, level=alert.level, recipient=alert.recipient,
                                     mentions=spike.mentions, now=now):
                continue
            try:
                mailer.send(build_message(alert_message(spike, posts, settings=settings, recipient=alert.recipient,
                                                        level=alert.level)))
            except (MailError, ValueError) as exc:
                mark_spike_alert(engine, spike_id=spike.id, level=alert.level, recipient=alert.recipient, sent=False,
                                 now=now, error=str(exc))
                log.warning("spike_alert_failed spike=%d level=%d error=%r", spike.id, alert.level, str(exc))
                continue
            mark_spike_alert(engine, spike_id=spike.id, level=alert.level, recipient=alert.recipient, sent=True,
                             now=now)
            log.info("spike_alert_sent spike=%d level=%d mentions=%d", spike.id, alert.level, spike.mentions)
            sent += 1
    return sent


__all__ = ["AlertDue", "alert_html", "alert_message", "alerts_due", "send_spike_alerts"]
