"""A spike in the console: its cases as one group, one reply approved for all of them, a status update; and
the banner every page shows while a spike is open (``open_spikes()`` in the templates)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from models.alerts import SpikeRecord, list_spikes, spike
from models.spike_groups import group_members, group_progress, status_updates
from models.types import utcnow
from monitor.radar.present import topic_title
from responders.spike_reply import (
    PLACEHOLDERS,
    GroupReplyError,
    approve_spike_group,
    post_status_updates,
    variants_from,
)
from responders.web.auth import Approver, Viewer, client_address, has_role
from responders.web.render import page

router = APIRouter(prefix="/spikes")
MAX_ID = 2**63 - 1
BANNER_LIMIT = 3
MAX_FIELD = 5_000


def _spike(request: Request, spike_id: int) -> SpikeRecord:
    found = spike(request.app.state.engine, spike_id=spike_id) if 1 <= spike_id <= MAX_ID else None
    if found is None:
        raise HTTPException(404, f"no spike {spike_id}")
    return found


def _scripted(request: Request) -> bool:
    return "x-requested-with" in request.headers or "hx-request" in request.headers


@router.get("/{spike_id}", response_class=HTMLResponse)
def spike_page(request: Request, spike_id: int, user: Viewer) -> Response:
    engine = request.app.state.engine
    found = _spike(request, spike_id)
    members = group_members(engine, spike_id=spike_id)
    languages = sorted({m.language for m in members if m.language})
    return page(request, "spike.html", {
        "s": found, "title": topic_title(found), "members": members, "languages": languages,
        "progress": group_progress(engine, spike_id=spike_id), "updates": status_updates(engine, spike_id=spike_id),
        "can_approve": has_role(user, "approver"), "placeholders": PLACEHOLDERS,
        "done": request.query_params.get("done", "")[:200]})


async def _fields(request: Request) -> tuple[str, dict[str, str]]:
    form = await request.form()
    default = str(form.get("text") or "")[:MAX_FIELD]
    by_language = {key.removeprefix("text_"): str(value)[:MAX_FIELD] for key, value in form.items()
                   if key.startswith("text_") and isinstance(value, str)}
    return default, by_language


@router.post("/{spike_id}/approve")
async def approve(request: Request, spike_id: int, user: Approver) -> Response:
    """Approve one reply for every case of the spike, adapted per customer; the outbox posts each once."""
    found = _spike(request, spike_id)
    default, by_language = await _fields(request)
    try:
        variants = variants_from(default, by_language)
    except GroupReplyError as exc:
        raise HTTPException(422, str(exc)) from None
    from starlette.concurrency import run_in_threadpool

    planned = await run_in_threadpool(
        approve_spike_group, request.app.state.engine, spike=found, variants=variants, approver=user.name,
        now=utcnow(), signatures=[a.signature for a in request.app.state.settings.agents],
        address=client_address(request))
    if _scripted(request):
        return JSONResponse({"ok": True, "approved": [r.case_id for r in planned.replies],
                             "skipped": {str(k): v for k, v in planned.skipped.items()},
                             "style": planned.style_summary()})
    done = f"{len(planned.replies)} replies approved, {len(planned.skipped)} cases left as they were"
    style = planned.style_summary()
    if style:
        done += "; style guide: " + ", ".join(f"{code} in {n}" for code, n in sorted(style.items()))
    return RedirectResponse(f"/spikes/{spike_id}?" + urlencode({"done": done}), status_code=303)


@router.post("/{spike_id}/status")
async def status(request: Request, spike_id: int, user: Approver) -> Response:
    """Post the spike's status update once from the brand's account on each of its platforms."""
    from starlette.concurrency import run_in_threadpool

    from responders.posters.registry import build_posters

    found = _spike(request, spike_id)
    text = str((await request.form()).get("status_text") or "")[:MAX_FIELD]
    settings = request.app.state.settings

    def post() -> dict[str, str]:
        return post_status_updates(request.app.state.engine, spike=found, text=text, actor=user.name,
                                   posters=build_posters(settings, os.environ), now=utcnow(),
                                   address=client_address(request))

    try:
        outcomes = await run_in_threadpool(post)
    except GroupReplyError as exc:
        raise HTTPException(422, str(exc)) from None
    if _scripted(request):
        return JSONResponse({"ok": True, "outcomes": outcomes})
    done = "status update: " + "; ".join(f"{k} {v}" for k, v in outcomes.items())
    return RedirectResponse(f"/spikes/{spike_id}?" + urlencode({"done": done}), status_code=303)


def install(app: FastAPI) -> None:
    """The spike pages, and ``open_spikes()`` for the banner partial (open spikes, newest first)."""
    app.include_router(router)

    def open_spikes() -> list[dict[str, Any]]:
        return [{"id": s.id, "brand": s.brand, "title": topic_title(s), "mentions": s.mentions, "authors": s.authors,
                 "started_at": s.started_at}
                for s in list_spikes(app.state.engine, limit=BANNER_LIMIT)]

    app.state.templates.globals["open_spikes"] = open_spikes
