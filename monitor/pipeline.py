"""The ingest pipeline: fetch → dedupe+store → score → triage into cases → draft.

Each stage works off what is pending in the database, in batches, and says how much it did, so the same
functions serve `closeloop ingest` (run every stage until nothing is left) and the daemon's jobs.

One poisoned post stops only itself: when a batch fails, ``isolate`` splits it until the failing mentions
stand alone, and those are quarantined with their stage and error (``models.quarantine``) and never handed
out again, while the rest of the batch goes on. A database that cannot be reached is no poisoned post: such
errors (``INFRASTRUCTURE_ERRORS``) stop the step as before, and the next tick tries again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models.case_queries import ToDraft, cases_to_draft
from models.history import EarlierPost, customer_history
from models.outbox import record_draft
from models.quarantine import quarantine_mention
from models.sentiments import ScoreRecord, ToScore, mentions_to_score, record_sentiments
from models.triage import ToTriage, mentions_to_triage, record_triage
from models.types import utcnow
from monitor.config import Agent, Settings
from monitor.poller import log_bad, store_fetched
from monitor.scoring import Scorer
from monitor.scoring.language import detect_languages
from monitor.sources.base import BadRecord, Source
from monitor.triage import triage
from monitor.urgency import severity_hits
from responders.drafting import DraftRequest, facts_for, make_drafter
from responders.drafting.backends import Drafter
from responders.understanding import EarlierContact, Post, understand

log = logging.getLogger("closeloop.pipeline")

SCORE_BATCH = 256
TRIAGE_BATCH = 500
DRAFT_BATCH = 200


@dataclass
class IngestReport:
    read: int = 0
    new: int = 0
    edited: int = 0
    duplicates: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    sanitised: int = 0
    deleted: int = 0
    scored_by: Counter[str] = field(default_factory=Counter)
    complaints: int = 0
    cases_opened: int = 0
    praise: int = 0
    drafts: int = 0
    quarantined: int = 0


INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError, InterfaceError, DisconnectionError, PoolTimeout, MemoryError)
"""Failures of the machine or the database (unreachable, locked, out of memory), not of a post: they are
raised, never quarantined."""
ERROR_TEXT = 500
T = TypeVar("T")


def describe(exc: BaseException) -> str:
    """An error as one line for the quarantine: its type and the first line of its message (a database error's
    later lines repeat the statement and its parameters, which may hold the post's text)."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0][:ERROR_TEXT] if lines else ''}".rstrip(": ")


def isolate(items: Sequence[T], attempt: Callable[[Sequence[T]], None]) -> list[tuple[T, Exception]]:
    """Run ``attempt`` on ``items``; when it fails, on each half, until the failing items stand alone.

    Returns the items that failed alone, with their errors (an attempt that succeeded is done and not repeated).
    INFRASTRUCTURE_ERRORS are raised at once. When every item of a batch of several fails alone, the fault is
    the stage's (a scorer whose model cannot run), not the posts': the first error is raised and nothing is
    returned for quarantine.
    """
    failed: list[tuple[T, Exception]] = []

    def run(group: Sequence[T]) -> None:
        try:
            attempt(group)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            if len(group) == 1:
                failed.append((group[0], exc))
                return
            middle = len(group) // 2
            run(group[:middle])
            run(group[middle:])

    run(items)
    if len(items) > 1 and len(failed) == len(items):
        raise failed[0][1]
    return failed


def isolate_each(items: Sequence[T], attempt: Callable[[T], None]) -> list[tuple[T, Exception]]:
    """``attempt`` each item on its own (for steps that commit item by item: triage, drafting); the items that
    failed, with their errors. INFRASTRUCTURE_ERRORS are raised at once."""
    failed: list[tuple[T, Exception]] = []
    for item in items:
        try:
            attempt(item)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            failed.append((item, exc))
    return failed


def _quarantine(engine: Engine, stage: str, failures: Sequence[tuple[int, Exception]]) -> int:
    for mention_id, exc in failures:
        quarantine_mention(engine, mention_id=mention_id, stage=stage, error=describe(exc))
        log.warning("mention_quarantined mention=%d stage=%s error=%r", mention_id, stage, describe(exc))
    return len(failures)


def fetch_and_store(
    engine: Engine,
    source: Source,
    *,
    brand: str,
    source_id: int | None,
    cursor: str | None = None,
    save_cursor: bool = False,
    report: IngestReport | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Read ``source`` from ``cursor`` until it is exhausted, storing each batch with its cursor and marking
    the posts it shows deleted (see monitor.poller.store_fetched: a poisoned post is refused alone)."""
    report = report or IngestReport()
    while True:
        batch = source.fetch(cursor)
        result = store_fetched(engine, batch, platform=source.platform, brand=brand, source_id=source_id,
                               save_cursor=save_cursor)
        report.read += len(batch.mentions) + len(batch.bad)
        report.new += result.new
        report.edited += result.edited
        report.duplicates += result.duplicates
        report.bad.extend([*batch.bad, *result.refused])
        report.sanitised += batch.sanitised
        report.deleted += result.deleted
        log_bad(source.name, [*batch.bad, *result.refused])
        if batch.sanitised or result.deleted:
            log.info("batch_stored source=%s mentions=%d sanitised=%d deleted=%d", source.name,
                     len(batch.mentions), batch.sanitised, result.deleted)
        if on_progress:
            on_progress(len(batch.mentions) + len(batch.bad))
        cursor = batch.next_cursor
        if batch.exhausted:
            return report


def score_pending(engine: Engine, scorer: Scorer, *, limit: int = SCORE_BATCH,
                  report: IngestReport | None = None) -> Counter[str]:
    """Score one batch of unscored mentions; returns how many each model scored (empty when none waited).

    A mention that cannot be scored or stored is quarantined (``score``) and the batch goes on; a batch that
    was all quarantined is followed by the next, so an empty result always means nothing is left.
    """
    scored: Counter[str] = Counter()

    def attempt(group: Sequence[ToScore]) -> None:
        texts = [p.text for p in group]
        languages = detect_languages(texts, [p.lang_hint for p in group])
        sentiments = scorer.score(texts, languages)
        record_sentiments(engine, scores=[ScoreRecord(p.mention_id, lang, s.label, s.score, s.model)
                                          for p, lang, s in zip(group, languages, sentiments, strict=True)])
        scored.update(s.model for s in sentiments)

    while pending := mentions_to_score(engine, limit=limit):
        failures = isolate(pending, attempt)
        quarantined = _quarantine(engine, "score", [(p.mention_id, exc) for p, exc in failures])
        if report is not None:
            report.quarantined += quarantined
        if scored:
            break
    return scored


def _brand_handles(settings: Settings, brand: str) -> set[str]:
    handles = settings.brand(brand).handles
    return {h.lower().lstrip("@") for h in handles.present().values()}


def _triage_one(engine: Engine, settings: Settings, item: ToTriage, *, now: datetime | None) -> tuple[bool, bool, bool]:
    """(complaint, case opened, praise) for one mention, recorded.

    Praise never opens a complaint case: with ``drafting.praise = "thank"`` it opens a case in the praise lane
    (drafted as a thank-you, never an apology); with ``"record"`` it is only recorded (triaged, no case).
    """
    hits = severity_hits(item.text, item.language, settings.ranking.severity_words)
    brand = settings.brand(item.brand)
    reading = understand(Post(item.text, item.language or brand.default_language, item.label, item.score),
                         catalogue=brand.facts.products)
    category = reading.category
    decision = triage(
        intent=reading.intent,
        label=item.label,
        score=item.score,
        cues=hits,
        negative_threshold=settings.scoring.negative_threshold,
        from_brand=item.author_handle.lower() in _brand_handles(settings, item.brand),
        category=category,
    )
    praise = decision.lane == "praise"
    _case_id, opened = record_triage(
        engine, item=item, complaint=decision.opens_case, category=category,
        deadline=item.created_at + timedelta(minutes=settings.app.response_target_minutes),
        repeat_window=timedelta(days=settings.ranking.repeat_window_days), now=now,
        lane="praise" if praise and settings.drafting.praise == "thank" else "complaint",
    )
    return decision.opens_case, opened and not praise, praise


def triage_pending(engine: Engine, settings: Settings, *, now: datetime | None = None, limit: int = TRIAGE_BATCH,
                   report: IngestReport | None = None) -> tuple[int, int, int]:
    """Triage one batch: returns (mentions triaged or quarantined, complaints, cases opened).

    Each mention is triaged in a transaction of its own; one that fails (a date no deadline can be computed
    from, a brand gone from the config) is quarantined (``triage``) and the others go on.
    """
    pending = mentions_to_triage(engine, limit=limit)
    complaints = opened = praised = 0

    def attempt(item: ToTriage) -> None:
        nonlocal complaints, opened, praised
        complaint, was_opened, praise = _triage_one(engine, settings, item, now=now)
        complaints += complaint
        opened += was_opened
        praised += praise

    failures = isolate_each(pending, attempt)
    quarantined = _quarantine(engine, "triage", [(item.mention_id, exc) for item, exc in failures])
    if report is not None:
        report.quarantined += quarantined
        report.praise += praised
    return len(pending), complaints, opened


def choose_agent(settings: Settings, language: str | None, case_id: int) -> Agent:
    """An agent who writes the customer's language, spread evenly over cases; else the first agent."""
    speakers = [a for a in settings.agents if language in a.languages] or list(settings.agents)
    return speakers[case_id % len(speakers)]


def earlier_contacts(posts: Sequence[EarlierPost], *, now: datetime | None) -> tuple[EarlierContact, ...]:
    """The drafter's view of a customer's earlier posts: each case counts once (its earliest post carries the
    case's state and category; later posts in it are plain posts), ``days_ago`` measured from ``now``."""
    seen: set[int] = set()
    contacts: list[EarlierContact] = []
    for post in sorted(posts, key=lambda p: (p.created_at, p.mention_id)):
        first_of_case = post.case_id is not None and post.case_state is not None and post.case_id not in seen
        if post.case_id is not None:
            seen.add(post.case_id)
        days = (now - post.created_at).total_seconds() / 86400 if now is not None else None
        contacts.append(EarlierContact(
            text=post.text, platform=post.platform, days_ago=max(days, 0.0) if days is not None else None,
            case_state=post.case_state if first_of_case else None,
            category=post.case_category if first_of_case else None, language=post.language,
        ))
    return tuple(contacts)


def _draft_one(engine: Engine, settings: Settings, item: ToDraft, drafter: Drafter) -> bool:
    brand = settings.brand(item.brand)
    history: tuple[EarlierContact, ...] = ()
    if item.created_at is not None:
        history = earlier_contacts(
            customer_history(engine, author_id=item.author_id, handle=item.author_handle, before=item.created_at,
                             mention_id=item.mention_id, case_id=item.case_id),
            now=item.created_at,
        )
    agent = choose_agent(settings, item.language or brand.default_language, item.case_id)
    result = drafter(
        DraftRequest(
            platform=item.platform,
            post_text=item.text,
            language=item.language,
            author_handle=item.author_handle,
            author_name=item.author_name,
            brand_name=brand.name,
            agent_name=agent.name,
            agent_signature=agent.signature,
            default_language=brand.default_language,
            label=item.label,
            score=item.score,
            history=history,
            facts=facts_for(brand),
            seed=item.case_id,
            lane=item.lane,
        )
    )
    return record_draft(
        engine, case_id=item.case_id, mention_id=item.mention_id, language=result.language,
        category=result.category, text=result.text, quote=result.quote, agent=agent.name,
        style_issues=[{"code": i.code, "message": i.message} for i in result.style_issues], intent=result.intent,
    )


def draft_pending(engine: Engine, settings: Settings, *, limit: int = DRAFT_BATCH,
                  report: IngestReport | None = None) -> int:
    """Draft replies for one batch of cases without one; returns how many were drafted (0: nothing is left).

    A case whose drafting fails has its root mention quarantined (``draft``): the case stays in the queue
    without a draft, for a person to answer, and the other cases are drafted.
    """
    drafted = 0
    drafter = make_drafter(settings.drafting)

    def attempt(item: ToDraft) -> None:
        nonlocal drafted
        drafted += _draft_one(engine, settings, item, drafter)

    while pending := cases_to_draft(engine, limit=limit):
        failures = isolate_each(pending, attempt)
        quarantined = _quarantine(engine, "draft", [(item.mention_id, exc) for item, exc in failures])
        if report is not None:
            report.quarantined += quarantined
        if drafted or not quarantined:
            break
    return drafted


def process_pending(engine: Engine, settings: Settings, scorer: Scorer, *, report: IngestReport | None = None,
                    now: datetime | None = None, on_stage: Callable[[str, int], None] | None = None) -> IngestReport:
    """Run score, triage and draft until nothing is pending. ``on_stage(stage, n)`` hears each batch done
    (``scored``, ``triaged``, ``drafted``), and a stage's start as ``n`` = 0."""
    report = report or IngestReport()
    stage = on_stage or (lambda _stage, _n: None)
    stage("scored", 0)
    while scored := score_pending(engine, scorer, report=report):
        report.scored_by.update(scored)
        stage("scored", sum(scored.values()))
    stage("triaged", 0)
    while True:
        triaged, complaints, opened = triage_pending(engine, settings, now=now or utcnow(), report=report)
        report.complaints += complaints
        report.cases_opened += opened
        stage("triaged", triaged)
        if not triaged:
            break
    stage("drafted", 0)
    while drafted := draft_pending(engine, settings, report=report):
        report.drafts += drafted
        stage("drafted", drafted)
    log.info(
        "pipeline_done scored=%d complaints=%d cases_opened=%d drafts=%d quarantined=%d",
        sum(report.scored_by.values()), report.complaints, report.cases_opened, report.drafts, report.quarantined,
    )
    return report
