"""A shift's moves between cases: hand a draft to the approvers, undo an approval, snooze a case, go on to the
next case in the lane. Every one is a POST with the CSRF token (a skip is a GET: it changes nothing).

After an act the desk lands on the next case of the lane it came from (``lane`` in the form), or on the lane
itself when it is empty; a script's call gets JSON naming that case instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from models.audit import text_hash
from models.cases import CaseError, snooze_case
from models.lanes import LANES, next_in_lane
from models.outbox import HandoffError, OutboxError, edit_draft, mark_ready, undo_approval
from models.queue import case_detail
from models.types import utcnow
from models.users import SessionUser, user_signature
from monitor.config import Settings
from monitor.config_console import Snippet
from responders.drafting.signature import sign
from responders.web.auth import Agent, Approver, Viewer, client_address
from responders.web.style import Findings, findings_for

router = APIRouter(prefix="/cases/{case_id}")
SNOOZE_FOR = {"30m": timedelta(minutes=30), "1h": timedelta(hours=1), "4h": timedelta(hours=4),
              "1d": timedelta(days=1)}
MAX_TEXT = 20_000


def signature_of(engine: Engine, name: str) -> str:
    """How ``name`` signs what they approve: their own signature, else their name after a dash."""
    return user_signature(engine, name=name) or f"– {name}"


def signed(settings: Settings, engine: Engine, name: str, text: str) -> tuple[str, str]:
    """``text`` as ``name`` approving it would send it (signed with their signature, any configured agent's
    sign-off replaced), and that signature."""
    signature = signature_of(engine, name)
    return sign(text, signature, replacing=[agent.signature for agent in settings.agents]), signature


def signed_findings(settings: Settings, engine: Engine, name: str, *, text: str, language: str, platform: str,
                    quote: str) -> tuple[str, Findings]:
    """The style findings and length of ``text`` as it would go out, signed at approval by ``name``."""
    final, signature = signed(settings, engine, name, text)
    return final, findings_for(settings, text=final, language=language, platform=platform, quote=quote,
                               signatures=[signature])


def snippets_for(settings: Settings, *, brand: str, language: str | None) -> list[Snippet]:
    """The canned snippets for a reply of ``brand`` in ``language`` (brand-less ones fit every brand)."""
    return [s for s in settings.console.snippets
            if (s.brand is None or s.brand == brand) and (language is None or s.language == language)]


def lane_name(value: str) -> str:
    return value if value in LANES else "needs"


def _scripted(request: Request) -> bool:
    return "x-requested-with" in request.headers or "hx-request" in request.headers


def go_next(request: Request, case_id: int, user: SessionUser, done: str, *, lane: str,
            undo: int | None = None, **extra: object) -> Response:
    """Answer an act done on ``case_id``: the next case in ``lane`` for a person, JSON for a script."""
    lane = lane_name(lane)
    following = next_in_lane(request.app.state.engine, lane=lane, now=utcnow(), after=case_id, user=user.name)
    if _scripted(request):
        return JSONResponse({"ok": True, "case_id": case_id, "done": done, "next_case": following, **extra})
    query = {"lane": lane, "done": done, **({"undo": str(undo)} if undo else {})}
    where = f"/cases/{following}" if following is not None else "/"
    return RedirectResponse(f"{where}?{urlencode(query)}", status_code=303)


@router.get("/next")
def skip(request: Request, case_id: int, user: Viewer) -> Response:
    """The case after this one in the lane (``n`` on a case page), without doing anything to this one."""
    lane = lane_name(request.query_params.get("lane", ""))
    following = next_in_lane(request.app.state.engine, lane=lane, now=utcnow(), after=case_id, user=user.name)
    where = f"/cases/{following}" if following is not None else "/"
    return RedirectResponse(f"{where}?{urlencode({'lane': lane})}", status_code=303)


@router.post("/ready")
def ready(request: Request, case_id: int, *, text: str | None = Form(None), seen_hash: str = Form(""),
          lane: str = Form(""), user: Agent) -> Response:
    """Hand the draft to the approvers (saving the agent's edit first, when the text changed)."""
    engine, settings = request.app.state.engine, request.app.state.settings
    detail = case_detail(engine, case_id=case_id, history_limit=0, thread_limit=0)
    if detail is None:
        raise HTTPException(404, f"no case {case_id}")
    draft = detail.draft
    if draft is None:
        raise HTTPException(409, f"case {case_id} has no draft")
    try:
        if text is not None and text != draft.text:
            if len(text) > MAX_TEXT:
                raise HTTPException(422, "the reply is too long to store")
            if seen_hash and seen_hash != text_hash(draft.text):
                raise HTTPException(409, "the draft changed since you opened it; reload to see the new text")
            findings = findings_for(settings, text=text, language=draft.language, platform=detail.row.platform,
                                    quote=draft.quote)
            edit_draft(engine, draft_id=draft.id, editor=user.name, text=text, style_issues=findings.as_dicts(),
                       now=utcnow(), address=client_address(request))
        mark_ready(engine, draft_id=draft.id, actor=user.name, now=utcnow(), address=client_address(request))
    except (OutboxError, HandoffError) as exc:
        raise HTTPException(409, str(exc)) from None
    return go_next(request, case_id, user, "marked ready for approval", lane=lane)


@router.post("/undo")
def undo(request: Request, case_id: int, *, lane: str = Form(""), user: Approver) -> Response:
    """Take back an approval while its undo window is open: the draft is a draft again, nothing is sent."""
    engine = request.app.state.engine
    detail = case_detail(engine, case_id=case_id, history_limit=0, thread_limit=0)
    if detail is None or detail.draft is None:
        raise HTTPException(404, f"no draft for case {case_id}")
    try:
        undo_approval(engine, draft_id=detail.draft.id, actor=user.name, now=utcnow(),
                      address=client_address(request))
    except HandoffError as exc:
        raise HTTPException(409, str(exc)) from None
    if _scripted(request):
        return JSONResponse({"ok": True, "case_id": case_id, "done": "undone"})
    return RedirectResponse(f"/cases/{case_id}?{urlencode({'lane': lane_name(lane), 'done': 'approval undone'})}",
                            status_code=303)


def _until(value: str) -> datetime:
    """A UTC time from the form's ``until`` (``YYYY-MM-DDTHH:MM``), or a 422 that says what is wrong."""
    try:
        when = datetime.fromisoformat(value.strip()[:40])
    except ValueError:
        raise HTTPException(422, f"snooze until: not a date and time: {value[:40]!r}") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when <= utcnow():
        raise HTTPException(422, "snooze until: that time has passed")
    if when > utcnow() + timedelta(days=30):
        raise HTTPException(422, "snooze until: at most 30 days ahead")
    return when


@router.post("/snooze")
def snooze(request: Request, case_id: int, *, duration: str = Form("", alias="for"), until: str = Form(""),
           lane: str = Form(""), user: Agent) -> Response:
    """Snooze until a time (``for`` one of 30m/1h/4h/1d, or ``until`` a UTC time) or the customer's next post
    (``for=post``); the customer posting in the thread wakes it either way."""
    now = utcnow()
    if until.strip():
        when: datetime | None = _until(until)
    elif duration in SNOOZE_FOR:
        when = now + SNOOZE_FOR[duration]
    elif duration == "post":
        when = None
    else:
        raise HTTPException(422, "snooze for: choose 30m, 1h, 4h, 1d, post, or a time")
    try:
        snooze_case(request.app.state.engine, case_id=case_id, until=when, until_post=when is None, actor=user.name,
                    now=now, address=client_address(request))
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    return go_next(request, case_id, user, "snoozed", lane=lane)


@router.post("/wake")
def wake(request: Request, case_id: int, *, lane: str = Form(""), user: Agent) -> Response:
    try:
        snooze_case(request.app.state.engine, case_id=case_id, until=None, until_post=False, actor=user.name,
                    now=utcnow(), address=client_address(request))
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    if _scripted(request):
        return JSONResponse({"ok": True, "case_id": case_id, "done": "woken"})
    return RedirectResponse(f"/cases/{case_id}?{urlencode({'lane': lane_name(lane), 'done': 'woken'})}", status_code=303)
