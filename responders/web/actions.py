"""The desk's actions on a case. Every one is a POST carrying the CSRF token, checked for the role first.

A plain form post is answered with a redirect back to the case; a script's call (``X-Requested-With``) or an
htmx call gets JSON or a fragment. An action that no longer applies (someone else got there first) is 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from models.case_states import TransitionRefused
from models.cases import (
    CaseError,
    CaseHeld,
    assign_case,
    claim_case,
    escalate_case,
    release_case,
    reopen_case,
    resolve_case,
)
from models.outbox import OutboxError, approve_draft, edit_draft, reject_draft, text_hash
from models.queue import CaseDetail, DraftView, case_detail
from models.types import utcnow
from models.users import SessionUser
from responders.web.auth import Agent, Approver, client_address, has_role
from responders.web.render import page
from responders.web.shift import go_next, lane_name, signed_findings
from responders.web.style import Findings, findings_for
from responders.web.views import case_context

router = APIRouter(prefix="/cases/{case_id}")
MAX_TEXT = 20_000


def _scripted(request: Request) -> bool:
    return "x-requested-with" in request.headers or "hx-request" in request.headers


def _done(request: Request, case_id: int, what: str, **extra: object) -> Response:
    if _scripted(request):
        return JSONResponse({"ok": True, "case_id": case_id, "done": what, **extra})
    return RedirectResponse(f"/cases/{case_id}?done={what}", status_code=303)


def _hold(request: Request) -> timedelta:
    return timedelta(minutes=request.app.state.settings.console.edit_lock_minutes)


def _draft(request: Request, case_id: int) -> tuple[CaseDetail, DraftView]:
    detail = case_detail(request.app.state.engine, case_id=case_id, history_limit=0, thread_limit=0)
    if detail is None:
        raise HTTPException(404, f"no case {case_id}")
    if detail.draft is None:
        raise HTTPException(409, f"case {case_id} has no draft")
    return detail, detail.draft


def _claim(request: Request, case_id: int, user: SessionUser) -> None:
    try:
        claim_case(request.app.state.engine, case_id=case_id, user=user.name, now=utcnow(), hold=_hold(request))
    except CaseHeld as exc:
        raise HTTPException(409, f"{exc.holder} is editing this case; wait until they are done") from None
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/check", response_class=HTMLResponse)
def check(request: Request, case_id: int, *, text: str = Form(""),
          user: Agent) -> Response:
    """The style checker's findings and the length against the platform's limit, as the agent types."""
    detail, draft = _draft(request, case_id)
    findings = signed_findings(request.app.state.settings, request.app.state.engine, user.name,
                               text=text[:MAX_TEXT], language=draft.language, platform=detail.row.platform,
                               quote=draft.quote)[1]
    return page(request, "_findings.html", {"findings": findings})


@router.post("/claim")
def claim(request: Request, case_id: int, user: Agent) -> Response:
    _claim(request, case_id, user)
    return _done(request, case_id, "claimed")


@router.post("/release")
def release(request: Request, case_id: int, user: Agent) -> Response:
    release_case(request.app.state.engine, case_id=case_id, user=user.name)
    return _done(request, case_id, "released")


@router.post("/edit")
def edit(request: Request, case_id: int, *, text: str = Form(...), seen_hash: str = Form(""),
         user: Agent) -> Response:
    """Save the draft's text. An approved draft goes back to ``draft``: what is approved is what is sent."""
    if len(text) > MAX_TEXT:
        raise HTTPException(422, "the reply is too long to store")
    detail, draft = _draft(request, case_id)
    _claim(request, case_id, user)
    if seen_hash and seen_hash != text_hash(draft.text):
        raise HTTPException(409, "the draft changed since you opened it; reload to see the new text")
    findings = findings_for(request.app.state.settings, text=text, language=draft.language,
                            platform=detail.row.platform, quote=draft.quote)
    try:
        edit_draft(request.app.state.engine, draft_id=draft.id, editor=user.name, text=text,
                   style_issues=findings.as_dicts(), now=utcnow(), address=client_address(request))
    except OutboxError as exc:
        raise HTTPException(409, str(exc)) from None
    return _done(request, case_id, "saved")


@router.post("/approve")
def approve(request: Request, case_id: int, *, seen_hash: str = Form(...), text: str | None = Form(None),
            confirm: str = Form(""), lane: str = Form(""), go_on: str = Form("", alias="next"),
            user: Approver) -> Response:
    """Approve the draft for sending, as the approver saw it (``seen_hash``), optionally with their edit, signed
    with the approver's signature. Style findings need ``confirm=1`` (the answer names them first). The outbox
    waits ``console.undo_seconds`` before sending; with ``next=1`` the desk moves on to the lane's next case."""
    engine, settings = request.app.state.engine, request.app.state.settings
    detail, draft = _draft(request, case_id)
    _claim(request, case_id, user)
    try:
        if seen_hash != text_hash(draft.text):
            raise HTTPException(409, "the draft changed since you opened it; reload and check it again")
        typed = draft.text if text is None else text[:MAX_TEXT]
        final, findings = signed_findings(settings, engine, user.name, text=typed, language=draft.language,
                                          platform=detail.row.platform, quote=draft.quote)
        if findings.over:
            raise HTTPException(422, f"the reply is {findings.length} long; {detail.row.platform} takes {findings.limit}")
        if findings.issues and confirm != "1":
            return _confirm(request, case_id, user, typed, findings, lane=lane, go_on=go_on)
        now = utcnow()
        undo = settings.console.undo_seconds
        noted = ("approved with style findings: " + "; ".join(i.message for i in findings.issues)
                 if findings.issues else None)
        try:
            if draft.status == "approved" and final != draft.text:
                edit_draft(engine, draft_id=draft.id, editor=user.name, text=final,
                           style_issues=findings.as_dicts(), now=now, address=client_address(request))
            digest = approve_draft(engine, draft_id=draft.id, approver=user.name, now=now, text=final,
                                   style_issues=findings.as_dicts(), address=client_address(request),
                                   send_after=now + timedelta(seconds=undo) if undo else None, detail=noted)
        except OutboxError as exc:
            raise HTTPException(409, str(exc)) from None
    finally:
        release_case(engine, case_id=case_id, user=user.name)
    if go_on == "1":
        return go_next(request, case_id, user, "approved", lane=lane, undo=case_id if undo else None,
                       text_hash=digest)
    return _done(request, case_id, "approved", text_hash=digest)


def _confirm(request: Request, case_id: int, user: SessionUser, typed: str, findings: Findings, *, lane: str,
             go_on: str) -> Response:
    """Not approved yet: the style findings, named, and a second button that approves with ``confirm=1``."""
    names = "; ".join(issue.message for issue in findings.issues)
    if _scripted(request):
        return JSONResponse({"error": f"not approved: the reply has style findings ({names}); confirm to approve "
                                      "it anyway", "confirm": True, "findings": findings.as_dicts()}, status_code=409)
    context = case_context(request, case_id, user)
    context.update(editor_text=typed, confirm={"findings": findings, "next": go_on}, lane=lane_name(lane))
    return page(request, "case.html", context, status=409)


@router.post("/reject")
def reject(request: Request, case_id: int, *, reason: str = Form(""), lane: str = Form(""),
           go_on: str = Form("", alias="next"), user: Approver) -> Response:
    if not reason.strip():
        raise HTTPException(422, "a rejection needs a reason")
    _, draft = _draft(request, case_id)
    try:
        reject_draft(request.app.state.engine, draft_id=draft.id, actor=user.name, reason=reason.strip()[:500],
                     now=utcnow(), address=client_address(request))
    except OutboxError as exc:
        raise HTTPException(409, str(exc)) from None
    if go_on == "1":
        return go_next(request, case_id, user, "rejected", lane=lane)
    return _done(request, case_id, "rejected")


@router.post("/assign")
def assign(request: Request, case_id: int, *, assignee: str = Form(""),
           user: Agent) -> Response:
    """Agents take a case for themselves (or let it go); approvers and admins assign anyone."""
    who = assignee.strip() or None
    if who not in (None, user.name) and not has_role(user, "approver"):
        raise HTTPException(403, "agents can assign a case only to themselves")
    try:
        assign_case(request.app.state.engine, case_id=case_id, assignee=who, actor=user.name, now=utcnow(),
                    address=client_address(request))
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    return _done(request, case_id, "assigned")


STATUS_OF = {"missing": 404, "invalid": 422, "conflict": 409}


def _act(request: Request, case_id: int, action: Callable[..., object], what: str, **kwargs: object) -> Response:
    """Run a case act through the door (models.cases); a refusal answers with its kind's status."""
    try:
        action(request.app.state.engine, case_id=case_id, now=utcnow(), address=client_address(request),
               **kwargs)
    except TransitionRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except CaseError as exc:
        raise HTTPException(STATUS_OF[exc.kind], str(exc)) from None
    return _done(request, case_id, what)


@router.post("/escalate")
def escalate(request: Request, case_id: int, *, note: str = Form(""),
             user: Agent) -> Response:
    return _act(request, case_id, escalate_case, "escalated", note=note.strip(), actor=user.name)


@router.post("/resolve")
def resolve(request: Request, case_id: int, *, note: str = Form(""), lane: str = Form(""),
            go_on: str = Form("", alias="next"), user: Agent) -> Response:
    done = _act(request, case_id, resolve_case, "resolved", note=note.strip(), actor=user.name)
    return go_next(request, case_id, user, "resolved", lane=lane) if go_on == "1" else done


@router.post("/reopen")
def reopen(request: Request, case_id: int, user: Agent) -> Response:
    return _act(request, case_id, reopen_case, "reopened", actor=user.name)
