"""The pages: the queue (and its self-refreshing list), a case, sources, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from models.audit import audit_page, text_hash
from models.case_states import ACTIVE as ACTIVE_STATES
from models.case_states import REOPENABLE, RESOLVABLE
from models.case_states import STATES as CASE_STATES
from models.case_states import WAITING as QUEUE_STATES
from models.lanes import LANE_LABELS, LANES, LaneExtras, lane_counts, lane_page
from models.outbox import EDITABLE
from models.quarantine import quarantine_counts, quarantined_mentions
from models.queue import Claim, QueueFilter, case_detail
from models.sources import list_sources
from models.types import utcnow
from models.users import SessionUser
from monitor.config import LANGUAGES
from monitor.sources.registry import configured_sources
from responders.lengths import PLATFORM_LIMITS, platform_length
from responders.queue import QueueItem, score_rows
from responders.web.auth import Viewer, has_role
from responders.web.render import page
from responders.web.shift import signed_findings, snippets_for

router = APIRouter()
PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100
# Far past any real queue: a bigger page number is a 404 before it reaches the database's OFFSET.
MAX_PAGE = 1_000_000
MAX_ID = 2**63 - 1
FILTER_KEYS = ("brand", "platform", "language", "assignee", "state", "breached")


@dataclass(frozen=True, slots=True)
class QueueEntry:
    item: QueueItem
    claim: Claim
    draft_hash: str | None
    extras: LaneExtras | None = None

    @property
    def row(self) -> Any:
        return self.item.row


def lane_of(request: Request) -> str:
    """The lane a page was asked for (``lane`` in the query or the form); the needs-action lane by default."""
    lane = request.query_params.get("lane", "")
    return lane if lane in LANES else "needs"


def _query_filters(request: Request, user: SessionUser) -> tuple[QueueFilter, dict[str, str], int]:
    params = {key: request.query_params.get(key, "").strip() for key in FILTER_KEYS}
    state = params["state"]
    states = (QUEUE_STATES if state == "" else ACTIVE_STATES if state == "active"
              else (state,) if state in CASE_STATES else QUEUE_STATES)
    assignee = {"": None, "me": user.name, "none": ""}.get(params["assignee"], params["assignee"])
    breached = {"yes": True, "no": False}.get(params["breached"])
    number = _whole_number(request.query_params.get("page", "1") or "1", "page")
    if number > MAX_PAGE:
        raise HTTPException(404, f"there is no page {number} of the queue")
    filters = QueueFilter(brand=params["brand"] or None, platform=params["platform"] or None,
                          language=params["language"] or None, assignee=assignee, states=states, breached=breached)
    return filters, params, number


def _whole_number(value: str, what: str) -> int:
    """A positive whole number from a query parameter, or a 400 that says what was wrong."""
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{what} must be a whole number, not {value[:40]!r}") from None
    if number < 1:
        raise HTTPException(400, f"{what} must be 1 or more")
    return number


def _queue_context(request: Request, user: SessionUser) -> dict[str, Any]:
    settings, engine = request.app.state.settings, request.app.state.engine
    filters, params, number = _query_filters(request, user)
    # An explicit state filter looks past the lanes (every case in that state); otherwise a lane is shown.
    lane = None if params["state"] else lane_of(request)
    now = utcnow()
    result = lane_page(engine, lane=lane, filters=filters, now=now, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    entries = [QueueEntry(item, result.claims[item.row.case_id],
                          text_hash(item.row.draft_text) if item.row.draft_text is not None else None,
                          result.extras[item.row.case_id])
               for item in score_rows(result.rows, settings, now=now)]
    pages = max(1, -(-result.total // PAGE_SIZE))
    kept = {k: v for k, v in params.items() if v}
    if lane and lane != "needs":
        kept["lane"] = lane
    query = urlencode(kept)

    def page_link(n: int) -> str:
        return "/?" + urlencode({**kept, "page": n})

    def lane_link(name: str) -> str:
        return "/?" + urlencode({**{k: v for k, v in kept.items() if k not in ("lane", "state")}, "lane": name})

    return {"entries": entries, "total": result.total, "page": number, "pages": pages, "params": params,
            "lane": lane, "lanes": LANES, "lane_labels": LANE_LABELS, "lane_link": lane_link,
            "counts": lane_counts(engine, filters=filters, now=now),
            "list_url": "/queue/list?" + urlencode({**kept, "page": number}),
            "query": query, "prev_link": page_link(number - 1) if number > 1 else None,
            "next_link": page_link(number + 1) if number < pages else None,
            "brands": [b.name for b in settings.brands], "platforms": sorted(PLATFORM_LIMITS),
            "languages": LANGUAGES, "states": ("active", *CASE_STATES), "now": now,
            "can_approve": has_role(user, "approver"), "is_admin": has_role(user, "admin"),
            "undo": undo_notice(request, now)}


def undo_notice(request: Request, now: Any) -> dict[str, Any] | None:
    """The approval the page may still undo (``undo=<case id>`` in the query): the case and until when."""
    raw = request.query_params.get("undo", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        return None
    detail = case_detail(request.app.state.engine, case_id=int(raw), history_limit=0, thread_limit=0)
    draft = detail.draft if detail else None
    if draft is None or draft.status not in ("approved", "held") or draft.send_after is None or draft.send_after <= now:
        return None
    return {"case_id": int(raw), "until": draft.send_after}


@router.get("/", response_class=HTMLResponse)
def queue(request: Request, user: Viewer) -> Response:
    return page(request, "queue.html", _queue_context(request, user))


@router.get("/queue/list", response_class=HTMLResponse)
def queue_list(request: Request, user: Viewer) -> Response:
    """The list alone, for htmx polling: the filters and any editor stay as they are."""
    return page(request, "_queue_list.html", _queue_context(request, user))


@router.get("/api/queue")
def queue_json(request: Request, user: Viewer) -> Response:
    context = _queue_context(request, user)
    return JSONResponse({"total": context["total"], "page": context["page"], "lane": context["lane"],
                         "counts": context["counts"],
                         "items": [entry.item.to_json() | {"assignee": entry.claim.assignee,
                                                           "editing_by": entry.claim.editing_by}
                                   for entry in context["entries"]]})


def case_context(request: Request, case_id: int, user: SessionUser) -> dict[str, Any]:
    """What the case page shows (the approve action renders it again to ask for a confirmation)."""
    settings, engine = request.app.state.settings, request.app.state.engine
    detail = case_detail(engine, case_id=case_id) if 1 <= case_id <= MAX_ID else None
    if detail is None:
        raise HTTPException(404, f"no case {case_id}")
    now = utcnow()
    item = score_rows([detail.row], settings, now=now)[0]
    draft = detail.draft
    findings = signed_findings(settings, engine, user.name, text=draft.text, language=draft.language,
                               platform=detail.row.platform, quote=draft.quote)[1] if draft else None
    held_by_other = (detail.claim.editing_by is not None and detail.claim.editing_by != user.name
                     and detail.claim.editing_until is not None and detail.claim.editing_until > now)
    return {
        "d": detail, "item": item, "draft": draft, "findings": findings, "now": now,
        "draft_hash": text_hash(draft.text) if draft else None, "held_by_other": held_by_other,
        "editor_text": draft.text if draft else "", "confirm": None,
        "can_edit": has_role(user, "agent"), "can_approve": has_role(user, "approver"),
        "can_assign_others": has_role(user, "approver"), "is_admin": has_role(user, "admin"),
        "editable": draft is not None and draft.status in EDITABLE,
        "reopenable": detail.row.state in REOPENABLE, "resolvable": detail.row.state in RESOLVABLE,
        "done": request.query_params.get("done", "")[:40], "lane": lane_of(request),
        "lane_labels": LANE_LABELS, "undo": undo_notice(request, now),
        "snippets": snippets_for(settings, brand=detail.row.brand, language=draft.language if draft else None),
        "length": platform_length(draft.text, detail.row.platform) if draft else 0,
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case(request: Request, case_id: int, user: Viewer) -> Response:
    return page(request, "case.html", case_context(request, case_id, user))


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, user: Viewer) -> Response:
    configured = configured_sources(request.app.state.settings)
    return page(request, "sources.html", {"sources": list_sources(request.app.state.engine, configured=configured),
                                          "can_admin": has_role(user, "admin")})


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine(request: Request, user: Viewer) -> Response:
    """Mentions a pipeline stage set aside, newest first, with the stage and the error."""
    engine = request.app.state.engine
    return page(request, "quarantine.html", {"counts": quarantine_counts(engine),
                                             "rows": quarantined_mentions(engine, limit=AUDIT_PAGE_SIZE)})


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, user: Viewer) -> Response:
    before = _whole_number(request.query_params["before"], "before") if "before" in request.query_params else None
    if before is not None and before > MAX_ID:
        before = None  # before an id no row can reach: every row, newest first
    rows = audit_page(request.app.state.engine, limit=AUDIT_PAGE_SIZE, before_id=before)
    older = f"/audit?before={rows[-1].id}" if len(rows) == AUDIT_PAGE_SIZE else None
    return page(request, "audit.html", {"rows": rows, "older": older})


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)
