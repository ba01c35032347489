"""Resolution tracking over the database: the daemon's steps around the case state machine.

Each step reads pending work, turns it into a move (``responders.resolution`` reads the customer's words),
applies it through the door (``models.cases.apply_move``, which lets the pure machine decide from the case's
facts as they are in the transaction) and returns how much it did, so a restart or a second daemon neither
skips nor repeats anything. A customer's later post is applied once: applying it writes a CaseEvent naming
the post (a transition, or a ``customer_post`` note when nothing changes), and a post with such an event is
never picked up again. A post whose application fails is quarantined (``track``), so it stops only itself.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from models.case_queries import (
    CsatTarget,
    TrackItem,
    case_state,
    cases_needing_csat,
    cases_with_deleted_roots,
    mentions_to_track,
    resolved_cases_with_new_complaints,
    responded_cases_since,
    thread_posts_of_closed_cases,
)
from models.case_states import (
    AgentReopened,
    AgentResolved,
    CsatAnswer,
    Move,
    NewComplaint,
    RootDeleted,
    StaleCheck,
    Unhappy,
)
from models.cases import CaseState, apply_move
from models.notifications import cases_to_escalate, claim_notification, mark_notification
from models.outbox import record_csat_draft
from models.quarantine import quarantine_mention
from monitor.config import Settings
from responders.csat import CsatRequest, draft_csat_followup, parse_csat
from responders.mailer import Mailer, MailError, Outgoing, build_message
from responders.resolution import CustomerPost, read_post

log = logging.getLogger("closeloop.tracker")
BATCH = 500


def _move_for(item: TrackItem, settings: Settings) -> Move:
    case = item.case
    if case.csat_requested_at is not None and case.csat is None and item.created_at >= case.csat_requested_at:
        score = parse_csat(item.text, item.language)
        if score is not None:
            return CsatAnswer(score)
    return read_post(CustomerPost(label=item.label, score=item.score, text=item.text, language=item.language,
                                  in_thread=True, at=item.created_at, is_complaint=item.is_complaint),
                     settings.resolution)


def _apply_post(engine: Engine, settings: Settings, item: TrackItem, *, now: datetime) -> bool:
    # The customer's words date the change (a "thanks, it arrived" resolves when it was written), never
    # before the case's current state began and never after now.
    when = min(max(item.created_at, item.case.state_since), now)
    applied = apply_move(engine, case_id=item.case.case_id, move=_move_for(item, settings), now=when,
                         expect_state=item.case.state, mention_id=item.mention_id, attach_mention=item.attach,
                         note_unchanged=f"customer_post_{item.label}")
    if applied.transition is not None:
        move = applied.transition
        log.info("case_tracked case=%d mention=%d from=%s to=%s cause=%s", item.case.case_id, item.mention_id,
                 move.from_state, move.to_state, move.cause)
    return applied.recorded


def _apply_isolated(engine: Engine, settings: Settings, item: TrackItem, *, now: datetime) -> bool:
    """Apply one post; a post that fails is quarantined and the others go on. Database outages still raise."""
    from monitor.pipeline import INFRASTRUCTURE_ERRORS, describe

    try:
        return _apply_post(engine, settings, item, now=now)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:
        quarantine_mention(engine, mention_id=item.mention_id, stage="track", error=describe(exc), now=now)
        log.warning("mention_quarantined mention=%d stage=track error=%r", item.mention_id, describe(exc))
        return False


def track_pending(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Apply customers' later posts to their cases, withdraw cases whose complaint was deleted, then draft CSAT
    follow-ups for resolved cases.

    Returns how many posts were applied, cases withdrawn and follow-ups drafted (0 when there was nothing to do).
    """
    done = 0
    for item in mentions_to_track(engine, limit=limit) + thread_posts_of_closed_cases(engine, limit=limit):
        done += _apply_isolated(engine, settings, item, now=now)
    done += withdraw_deleted(engine, now=now, limit=limit)
    return done + draft_csat_followups(engine, settings, now=now, limit=limit)


def withdraw_deleted(engine: Engine, *, now: datetime, limit: int = BATCH) -> int:
    """Open cases whose complaint the customer deleted before we answered leave the queue (``withdrawn``).
    Returns how many did."""
    withdrawn = 0
    for case in cases_with_deleted_roots(engine, limit=limit):
        applied = apply_move(engine, case_id=case.case_id, move=RootDeleted(), now=now, expect_state=case.state)
        if applied.recorded:
            log.info("case_withdrawn case=%d", case.case_id)
            withdrawn += 1
    return withdrawn


def draft_csat_followups(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Queue a satisfaction follow-up (a draft for approval, never sent by itself) for each resolved case
    not yet asked, replying to the customer's latest post; signed by the agent who answered the case."""
    if not settings.resolution.csat_followup:
        return 0
    from monitor.pipeline import INFRASTRUCTURE_ERRORS, describe

    drafted = 0
    for target in cases_needing_csat(engine, limit=limit):
        try:
            drafted += _draft_csat(engine, settings, target, now=now)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:  # the post stops only itself; the next latest post of the case is tried
            quarantine_mention(engine, mention_id=target.mention_id, stage="draft", error=describe(exc), now=now)
            log.warning("mention_quarantined mention=%d stage=draft error=%r", target.mention_id, describe(exc))
    return drafted


def _draft_csat(engine: Engine, settings: Settings, target: CsatTarget, *, now: datetime) -> bool:
    from monitor.pipeline import choose_agent

    brand = settings.brand(target.brand) if target.brand in {b.name for b in settings.brands} else settings.brand(None)
    agent = next((a for a in settings.agents if a.name == target.agent), None) or choose_agent(
        settings, target.language or brand.default_language, target.case_id)
    result = draft_csat_followup(CsatRequest(
        platform=target.platform, language=target.language, author_handle=target.author_handle,
        author_name=target.author_name, brand_name=brand.name, agent_name=agent.name,
        agent_signature=agent.signature, default_language=brand.default_language,
    ))
    return record_csat_draft(
        engine, case_id=target.case_id, mention_id=target.mention_id, language=result.language, text=result.text,
        agent=agent.name, style_issues=[{"code": i.code, "message": i.message} for i in result.style_issues],
        now=now,
    )


def sweep_stale(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Responded cases without confirmation for ``resolution.unresolved_after_days`` become unresolved;
    resolved cases whose author complained again (within the reopen window, or in the same thread) reopen.
    Returns how many cases moved."""
    rules = settings.resolution
    moved = 0
    for case in responded_cases_since(engine, before=now - timedelta(days=rules.unresolved_after_days), limit=limit):
        moved += apply_move(engine, case_id=case.case_id, move=StaleCheck(now, rules.unresolved_after_days),
                            now=now, expect_state=case.state).recorded
    for found in resolved_cases_with_new_complaints(engine, limit=limit):
        move: Move = (Unhappy() if found.same_thread
                      else NewComplaint(at=found.created_at, window_days=rules.reopen_window_days))
        moved += apply_move(engine, case_id=found.case.case_id, move=move, now=now, expect_state=found.case.state,
                            mention_id=found.mention_id).recorded
    return moved


def _agent_move(engine: Engine, case_id: int, move: AgentResolved | AgentReopened, now: datetime) -> bool:
    case: CaseState | None = case_state(engine, case_id=case_id)
    if case is None:
        return False
    return apply_move(engine, case_id=case_id, move=move, now=now, expect_state=case.state).recorded


def agent_resolve(engine: Engine, settings: Settings, *, case_id: int, agent: str, note: str, now: datetime) -> bool:
    """An agent marks a case resolved, saying what fixed it (TransitionRefused without a note). The console's
    resolve goes through the same door with the same move, so both leave the same case behind."""
    return _agent_move(engine, case_id, AgentResolved(agent=agent, note=note), now)


def agent_reopen(engine: Engine, settings: Settings, *, case_id: int, agent: str, reason: str, now: datetime) -> bool:
    """An agent puts a resolved, unresolved or withdrawn case back in the queue."""
    return _agent_move(engine, case_id, AgentReopened(agent=agent, reason=reason), now)


REASON_TEXT = {
    "response_deadline": "is close to its response deadline with no reply sent",
    "resolution_target": "is not resolved within the resolution target",
}


def send_escalations(engine: Engine, settings: Settings, mailer: Mailer, *, now: datetime, limit: int = 100) -> int:
    """Email the supervisor once per case and reason: an open case nearing its response deadline unanswered,
    or a case unresolved past the resolution target. The notification row is claimed before sending; a send
    the server refused is marked failed and may be retried, one that may have gone out is never resent."""
    rules = settings.resolution
    if not rules.supervisor_email:
        return 0
    sent = 0
    items = cases_to_escalate(engine, now=now, warn_before=timedelta(minutes=rules.escalate_minutes_before_deadline),
                              resolution_target=timedelta(hours=rules.resolution_target_hours), limit=limit)
    for item in items:
        if not claim_notification(engine, case_id=item.case_id, reason=item.reason, recipient=rules.supervisor_email,
                                  now=now):
            continue
        minutes = round((item.deadline_at - now).total_seconds() / 60)
        due = f"{minutes} min left" if minutes >= 0 else f"{-minutes} min overdue"
        text = (
            f"Case {item.case_id} ({item.brand}, {item.platform}) {REASON_TEXT[item.reason]}.\n\n"
            f"State: {item.state}\nCustomer: {item.author_handle}\nPosted: {item.posted_at:%Y-%m-%d %H:%M} UTC\n"
            f"Response deadline: {item.deadline_at:%Y-%m-%d %H:%M} UTC ({due})\n"
            f"Link: {item.url or '(none)'}\n\nTheir words:\n{item.text}\n"
        )
        message = build_message(Outgoing(
            sender=settings.smtp.sender, recipient=rules.supervisor_email,
            subject=f"[closeloop] Escalation: case {item.case_id} {REASON_TEXT[item.reason]}", text=text,
        ))
        try:
            mailer.send(message)
        except MailError as exc:
            mark_notification(engine, case_id=item.case_id, reason=item.reason, sent=False, now=now)
            log.warning("escalation_failed case=%d reason=%s error=%r", item.case_id, item.reason, str(exc))
            continue
        mark_notification(engine, case_id=item.case_id, reason=item.reason, sent=True, now=now)
        log.info("escalation_sent case=%d reason=%s", item.case_id, item.reason)
        sent += 1
    return sent


__all__ = ["agent_reopen", "agent_resolve", "draft_csat_followups", "send_escalations", "sweep_stale",
           "track_pending", "withdraw_deleted"]
