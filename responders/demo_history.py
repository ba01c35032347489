"""The demo's second act: last week's cases, driven through every state by the daemon's own functions.

Replies are approved and recorded as sent with fake platform ids ("demo-…") through the outbox; customers'
follow-ups go in through ``store_batch`` and the pipeline like any polled post; time passes by handing the
same functions a later ``now`` (the demo's clock is simulated, nothing sleeps, and it stops before now).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from models.case_queries import case_state
from models.mentions import ParsedAuthor, ParsedMention, store_batch
from models.outbox import approve_draft, case_drafts, claim_approved, mark_sending, record_reply_sent
from models.reports import CaseThread, case_history, case_threads
from monitor.config import Settings
from monitor.pipeline import process_pending
from monitor.scoring import build_scorer
from responders.tracker import agent_resolve, sweep_stale, track_pending

APPROVER = "demo-approver"


def _send(engine: Engine, *, draft_id: int, now: datetime) -> None:
    """Approve one draft and record it sent, as the outbox would after posting it."""
    approve_draft(engine, draft_id=draft_id, approver=APPROVER, now=now)
    for item in claim_approved(engine, owner="demo", now=now, lease=timedelta(minutes=2), limit=100):
        if mark_sending(engine, draft_id=item.draft_id, owner="demo", now=now, lease=timedelta(minutes=2)):
            record_reply_sent(engine, draft_id=item.draft_id, platform_reply_id=f"demo-{item.draft_id}", now=now)


def _reply(engine: Engine, case: CaseThread, *, now: datetime) -> None:
    drafts = [d for d, status in case_drafts(engine, case_id=case.case_id, kind="reply") if status == "draft"]
    if drafts:
        _send(engine, draft_id=drafts[0], now=now)


def _customer_posts(engine: Engine, settings: Settings, case: CaseThread, text: str, *, at: datetime, now: datetime,
                    in_thread: bool = True, tag: str = "") -> None:
    """The case's customer writes ``text`` at ``at`` (in the case's thread, or as a new post)."""
    pid = f"demo-followup-{case.case_id}-{tag or int(at.timestamp())}"
    author = ParsedAuthor(handle=case.author_handle, id=None if case.author_key.startswith("@") else case.author_key,
                          name=case.author_name)
    mention = ParsedMention(
        platform=case.platform, canonical_id=pid, platform_id=pid, text=text, author=author, created_at=at,
        conversation_id=case.conversation_id if in_thread else pid,
        in_reply_to_id=case.root_platform_id if in_thread else None, lang=case.language,
    )
    store_batch(engine, mentions=[mention], brand=case.brand, source_id=None, now=at)
    process_pending(engine, settings, build_scorer(settings.scoring), now=now)
    track_pending(engine, settings, now=now)


# Last week's customers: their complaints open the cases the history drives, so the simulated week ends
# before now and leaves today's queue to the demo's fresh posts. (platform, handle, name, text)
LAST_WEEK = (
    ("x", "lena_kruse", "Lena Kruse", "@acme my order #5120 never arrived and nobody answers. I want a refund, "
     "this is terrible"),
    ("reddit", "tomas_b", "Tomas B", "Acme charged me twice for the same order and support ignores me. Awful"),
    ("mastodon", "ines@mastodon.social", "Inês", "@acme the app crashes at checkout every time, this is terrible"),
    ("bluesky", "sam-k.bsky.social", "Sam K", "@acme.bsky.social my parcel arrived broken, I want a refund now"),
)


def _last_weeks_cases(engine: Engine, settings: Settings, *, at: datetime) -> list[CaseThread]:
    """Store last week's complaints at ``at`` and run them through the pipeline; their open cases."""
    brand = settings.brands[0].name
    mentions = [
        ParsedMention(platform=platform, canonical_id=f"demo-lastweek-{n}", platform_id=f"demo-lastweek-{n}",
                      text=text, author=ParsedAuthor(handle=handle, name=name), created_at=at + timedelta(minutes=n),
                      conversation_id=f"demo-lastweek-{n}", lang="en")
        for n, (platform, handle, name, text) in enumerate(LAST_WEEK, start=1)
    ]
    store_batch(engine, mentions=mentions, brand=brand, source_id=None, now=at + timedelta(minutes=len(mentions)))
    process_pending(engine, settings, build_scorer(settings.scoring), now=at + timedelta(minutes=10))
    return [c for c in case_threads(engine, states=("open",)) if c.root_canonical_id.startswith("demo-lastweek-")]


def demo_history(engine: Engine, settings: Settings, *, now: datetime) -> list[str]:
    """Drive last week's four cases through every state, in a simulated week that ends a day before ``now``,
    and return their histories, one line per event. Nothing it writes is dated after ``now``."""
    track_pending(engine, settings, now=now)
    start = now - timedelta(days=settings.resolution.unresolved_after_days + 2)
    chosen = _last_weeks_cases(engine, settings, at=start - timedelta(minutes=40))
    slots: list[CaseThread | None] = [*chosen, None, None, None, None][:4]
    confirmed, by_agent, stale, answered = slots
    for case in (confirmed, by_agent, stale):
        if case is not None:
            _reply(engine, case, now=start)
    if confirmed is not None:
        _customer_posts(engine, settings, confirmed, "@acme thank you, it arrived! 🙏", at=start + timedelta(minutes=20),
                        now=start + timedelta(minutes=21), tag="thanks")
        csat = [d for d, status in case_drafts(engine, case_id=confirmed.case_id, kind="csat") if status == "draft"]
        if csat:
            _send(engine, draft_id=csat[0], now=start + timedelta(minutes=30))
        _customer_posts(engine, settings, confirmed, "5", at=start + timedelta(hours=2), now=start + timedelta(hours=2),
                        tag="csat")
    if by_agent is not None:
        agent_resolve(engine, settings, case_id=by_agent.case_id, agent=settings.agents[0].name,
                      note="Refund issued by phone; customer agreed.", now=start + timedelta(hours=1))
        _customer_posts(engine, settings, by_agent, "@acme it's happened AGAIN. Charged twice, this is awful",
                        at=start + timedelta(days=2), now=start + timedelta(days=2, minutes=1), in_thread=False,
                        tag="again")
        sweep_stale(engine, settings, now=start + timedelta(days=2, minutes=2))
    if answered is not None:
        _reply(engine, answered, now=start + timedelta(days=2))
    later = start + timedelta(days=settings.resolution.unresolved_after_days + 1)
    sweep_stale(engine, settings, now=later)
    return history_lines(engine, [c.case_id for c in chosen if c is not None])


def history_lines(engine: Engine, case_ids: Sequence[int]) -> list[str]:
    """A readable history per case: ``case 3 (resolved): open → responded (reply_sent) → …``."""
    lines: list[str] = []
    for case_id in case_ids:
        state = case_state(engine, case_id=case_id)
        events = case_history(engine, case_id=case_id)
        if state is None or not events:
            continue
        start = events[0].at
        steps = []
        for event in events:
            offset = event.at - start
            when = f"+{offset.days}d" if offset.days else f"+{int(offset.total_seconds() // 60)}m"
            who = f" by {event.actor}" if event.actor and event.actor not in ("customer", "tracker", "outbox") else ""
            if event.from_state == event.to_state:
                steps.append(f"[{when} {event.cause}{who}]")
            else:
                steps.append(f"→ {event.to_state} ({event.cause}{who}, {when})")
        lines.append(f"case {case_id} now {state.state}: " + " ".join(steps))
    return lines


__all__ = ["demo_history", "history_lines"]
