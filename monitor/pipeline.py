"""The ingest pipeline: fetch → dedupe+store → score → triage into cases → draft.

Each stage works off what is pending in the database, in batches, and says how much it did, so the same
functions serve `closeloop ingest` (run every stage until nothing is left) and the daemon's jobs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from models.cases import (
    ScoreRecord,
    cases_to_draft,
    mentions_to_score,
    mentions_to_triage,
    record_draft,
    record_sentiments,
    record_triage,
)
from models.mentions import store_batch
from models.types import utcnow
from monitor.config import Agent, Settings
from monitor.scoring import Scorer
from monitor.scoring.language import detect_languages
from monitor.sources.base import BadRecord, Source
from monitor.triage import is_complaint
from monitor.urgency import severity_hits
from responders.drafting import DraftRequest, facts_for, make_drafter
from responders.understanding import Post, understand

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
    scored_by: Counter[str] = field(default_factory=Counter)
    complaints: int = 0
    cases_opened: int = 0
    drafts: int = 0


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
    """Read ``source`` from ``cursor`` until it is exhausted, storing each batch with its cursor."""
    report = report or IngestReport()
    while True:
        batch = source.fetch(cursor)
        result = store_batch(
            engine, mentions=batch.mentions, brand=brand, source_id=source_id,
            next_cursor=batch.next_cursor, save_cursor=save_cursor,
        )
        report.read += len(batch.mentions) + len(batch.bad)
        report.new += result.new
        report.edited += result.edited
        report.duplicates += result.duplicates
        report.bad.extend(batch.bad)
        for bad in batch.bad:
            log.warning("bad_record source=%s position=%r reason=%r", source.name, bad.position, bad.reason)
        if on_progress:
            on_progress(len(batch.mentions) + len(batch.bad))
        cursor = batch.next_cursor
        if batch.exhausted:
            return report


def score_pending(engine: Engine, scorer: Scorer, *, limit: int = SCORE_BATCH) -> Counter[str]:
    """Score one batch of unscored mentions; returns how many each model scored (empty when none waited)."""
    pending = mentions_to_score(engine, limit=limit)
    if not pending:
        return Counter()
    texts = [p.text for p in pending]
    languages = detect_languages(texts, [p.lang_hint for p in pending])
    sentiments = scorer.score(texts, languages)
    record_sentiments(
        engine,
        scores=[
            ScoreRecord(p.mention_id, lang, s.label, s.score, s.model)
            for p, lang, s in zip(pending, languages, sentiments, strict=True)
        ],
    )
    return Counter(s.model for s in sentiments)


def _brand_handles(settings: Settings, brand: str) -> set[str]:
    handles = settings.brand(brand).handles
    return {h.lower().lstrip("@") for h in (handles.x, handles.reddit, handles.mastodon, handles.bluesky) if h}


def triage_pending(engine: Engine, settings: Settings, *, now: datetime | None = None, limit: int = TRIAGE_BATCH) -> tuple[int, int, int]:
    """Triage one batch: returns (mentions triaged, complaints, cases opened)."""
    pending = mentions_to_triage(engine, limit=limit)
    target = timedelta(minutes=settings.app.response_target_minutes)
    window = timedelta(days=settings.ranking.repeat_window_days)
    complaints = opened = 0
    for item in pending:
        hits = severity_hits(item.text, item.language, settings.ranking.severity_words)
        brand = settings.brand(item.brand)
        reading = understand(Post(item.text, item.language or brand.default_language, item.label, item.score),
                             catalogue=brand.facts.products)
        category = reading.category
        complaint = is_complaint(
            label=item.label,
            score=item.score,
            cues=hits,
            negative_threshold=settings.scoring.negative_threshold,
            from_brand=item.author_handle.lower() in _brand_handles(settings, item.brand),
            intent=reading.intent,
        )
        _case_id, was_opened = record_triage(
            engine, item=item, complaint=complaint, category=category,
            deadline=item.created_at + target, repeat_window=window, now=now,
        )
        if complaint:
            complaints += 1
        opened += was_opened
    return len(pending), complaints, opened


def choose_agent(settings: Settings, language: str | None, case_id: int) -> Agent:
    """An agent who writes the customer's language, spread evenly over cases; else the first agent."""
    speakers = [a for a in settings.agents if language in a.languages] or list(settings.agents)
    return speakers[case_id % len(speakers)]


def draft_pending(engine: Engine, settings: Settings, *, limit: int = DRAFT_BATCH) -> int:
    """Draft replies for one batch of cases without one; returns how many were drafted."""
    drafted = 0
    drafter = make_drafter(settings.drafting)
    for item in cases_to_draft(engine, limit=limit):
        brand = settings.brand(item.brand)
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
                facts=facts_for(brand),
                seed=item.case_id,
            )
        )
        drafted += record_draft(
            engine, case_id=item.case_id, mention_id=item.mention_id, language=result.language,
            category=result.category, text=result.text, quote=result.quote, agent=agent.name,
            style_issues=[{"code": i.code, "message": i.message} for i in result.style_issues],
        )
    return drafted


def process_pending(engine: Engine, settings: Settings, scorer: Scorer, *, report: IngestReport | None = None,
                    now: datetime | None = None) -> IngestReport:
    """Run score, triage and draft until nothing is pending."""
    report = report or IngestReport()
    while scored := score_pending(engine, scorer):
        report.scored_by.update(scored)
    while True:
        triaged, complaints, opened = triage_pending(engine, settings, now=now or utcnow())
        report.complaints += complaints
        report.cases_opened += opened
        if not triaged:
            break
    while drafted := draft_pending(engine, settings):
        report.drafts += drafted
    log.info(
        "pipeline_done scored=%d complaints=%d cases_opened=%d drafts=%d",
        sum(report.scored_by.values()), report.complaints, report.cases_opened, report.drafts,
    )
    return report
