"""Resolution tracking over the database: the daemon's steps around the pure state machine.

Each step reads pending work, lets ``responders.resolution.transition`` decide, records the result with a
conditional UPDATE (``models.resolution.record_transition``) and returns how much it did, so a restart or a
second daemon neither skips nor repeats anything. A customer's later post is applied once: applying it
writes a CaseEvent naming the post (a transition, or a ``customer_post`` note when nothing changes), and a
post with such an event is never picked up again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from models.resolution import (
    CaseState,
    TrackItem,
    case_state,
    cases_needing_csat,
    cases_to_escalate,
    claim_notification,
    mark_notification,
    mentions_to_track,
    record_csat_draft,
    record_transition,
    resolved_cases_with_new_complaints,
    responded_cases_since,
    thread_posts_of_closed_cases,
)
from monitor.config import Settings
from responders.csat import CsatRequest, draft_csat_followup, parse_csat
from responders.mailer import Mailer, MailError, Outgoing, build_message
from responders.resolution import (
    AgentReopened,
    AgentResolved,
    CaseFacts,
    CsatAnswer,
    CustomerPost,
    Signal,
    StaleCheck,
    Transition,
    transition,
)

log = logging.getLogger("closeloop.tracker")
BATCH = 500


def _facts(case: CaseState) -> CaseFacts:
    return CaseFacts(state=case.state, state_since=case.state_since, resolved_at=case.resolved_at,
                     first_response_at=case.first_response_at, csat_requested_at=case.csat_requested_at,
                     csat=case.csat)


def _record(engine: Engine, case: CaseState, move: Transition, *, now: datetime, mention_id: int | None = None,
            attach: bool = False) -> bool:
    return record_transition(
        engine, case_id=case.case_id, from_state=move.from_state, to_state=move.to_state, cause=move.cause,
        actor=move.actor, now=now, mention_id=mention_id, resolution=move.resolution, note=move.note,
        csat=move.csat, clears_resolution=move.clears_resolution, attach_mention=attach,
    )


def _signal_for(item: TrackItem) -> Signal:
    case = item.case
    if case.csat_requested_at is not None and case.csat is None and item.created_at >= case.csat_requested_at:
        score = parse_csat(item.text, item.language)
        if score is not None:
            return CsatAnswer(score)
    return CustomerPost(label=item.label, score=item.score, text=item.text, language=item.language, in_thread=True,
                        at=item.created_at, is_complaint=item.is_complaint)


def _apply_post(engine: Engine, settings: Settings, item: TrackItem, *, now: datetime) -> bool:
    # The customer's words date the change (a "thanks, it arrived" resolves when it was written), never
    # before the case's current state began and never after now.
    when = min(max(item.created_at, item.case.state_since), now)
    move = transition(_facts(item.case), _signal_for(item), now=when, settings=settings.resolution)
    if move is None:
        state = item.case.state
        move = Transition(state, state, f"customer_post_{item.label}", "customer")
    done = _record(engine, item.case, move, now=when, mention_id=item.mention_id, attach=item.attach)
    if done:
        log.info("case_tracked case=%d mention=%d from=%s to=%s cause=%s", item.case.case_id, item.mention_id,
                 move.from_state, move.to_state, move.cause)
    return done


def track_pending(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Apply customers' later posts to their cases, then draft CSAT follow-ups for resolved cases.

    Returns how many posts were applied plus follow-ups drafted (0 when there was nothing to do).
    """
    done = 0
    for item in mentions_to_track(engine, limit=limit) + thread_posts_of_closed_cases(engine, limit=limit):
        done += _apply_post(engine, settings, item, now=now)
    return done + draft_csat_followups(engine, settings, now=now, limit=limit)


def draft_csat_followups(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Queue a satisfaction follow-up (a draft for approval, never sent by itself) for each resolved case
    not yet asked, replying to the customer's latest post; signed by the agent who answered the case."""
    if not settings.resolution.csat_followup:
        return 0
    from monitor.pipeline import choose_agent

    drafted = 0
    for target in cases_needing_csat(engine, limit=limit):
        brand = settings.brand(target.brand) if target.brand in {b.name for b in settings.brands} else settings.brand(None)
        agent = next((a for a in settings.agents if a.name == target.agent), None) or choose_agent(
            settings, target.language or brand.default_language, target.case_id)
        result = draft_csat_followup(CsatRequest(
            platform=target.platform, language=target.language, author_handle=target.author_handle,
            author_name=target.author_name, brand_name=brand.name, agent_name=agent.name,
            agent_signature=agent.signature, default_language=brand.default_language,
        ))
        drafted += record_csat_draft(
            engine, case_id=target.case_id, mention_id=target.mention_id, language=result.language, text=result.text,
            agent=agent.name, style_issues=[{"code": i.code, "message": i.message} for i in result.style_issues],
            now=now,
        )
    return drafted


def sweep_stale(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Responded cases without confirmation for ``resolution.unresolved_after_days`` become unresolved;
    resolved cases whose author complained again (within the reopen window, or in the same thread) reopen.
    Returns how many cases moved."""
    rules = settings.resolution
    moved = 0
    for case in responded_cases_since(engine, before=now - timedelta(days=rules.unresolved_after_days), limit=limit):
        move = transition(_facts(case), StaleCheck(now), now=now, settings=rules)
        if move is not None:
            moved += _record(engine, case, move, now=now)
    for found in resolved_cases_with_new_complaints(engine, limit=limit):
        post = CustomerPost(label="negative", score=1.0, text="", language=None, in_thread=found.same_thread,
                            at=found.created_at, is_complaint=True)
        move = transition(_facts(found.case), post, now=now, settings=rules)
        if move is not None:
            moved += _record(engine, found.case, move, now=now, mention_id=found.mention_id)
    return moved


def agent_resolve(engine: Engine, settings: Settings, *, case_id: int, agent: str, note: str, now: datetime) -> bool:
    """An agent marks a case resolved, saying what fixed it (TransitionRefused without a note)."""
    case = case_state(engine, case_id=case_id)
    if case is None:
        return False
    move = transition(_facts(case), AgentResolved(agent=agent, note=note), now=now, settings=settings.resolution)
    return move is not None and _record(engine, case, move, now=now)


def agent_reopen(engine: Engine, settings: Settings, *, case_id: int, agent: str, reason: str, now: datetime) -> bool:
    case = case_state(engine, case_id=case_id)
    if case is None:
        return False
    move = transition(_facts(case), AgentReopened(agent=agent, reason=reason), now=now, settings=settings.resolution)
    return move is not None and _record(engine, case, move, now=now)


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
           "track_pending"]
