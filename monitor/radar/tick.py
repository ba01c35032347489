"""One radar tick: count the mentions triaged since the last one, judge them, store what changed, mail alerts.

Cheap by construction: a tick reads only mentions after its cursor, the short window's posts, and the counts
of the topics and hours it touches — never the whole history (see benchmarks/bench_radar.py). The daemon's
process step calls it with the wall clock; `closeloop ingest` calls it with ``now=None``, so a replayed file
is judged on its own clock (the newest post counted) and what it ends with is still open afterwards.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from models.locks import singleton
from models.radar import (
    NewMention,
    Progress,
    RadarRound,
    RoundLost,
    SpikeWrite,
    StoredPost,
    StoredSpike,
    radar_pending,
    radar_reading,
    radar_writing,
)
from models.types import utcnow
from monitor.config import Settings
from monitor.radar.baseline import DAY, HOUR, Weight, floor_hour, reference_hours
from monitor.radar.mail import send_spike_alerts
from monitor.radar.sweep import Memory, Post, SpikeState, Sweep, key_text, parse_key
from monitor.radar.terms import ALL, Vocabulary, display_words, surface_forms, topics, vocabulary
from monitor.radar.window import Window
from responders.mailer import Mailer, SmtpMailer

log = logging.getLogger("closeloop.radar")
BATCH = 1_000
"""Most mentions one round counts; a backlog takes several rounds of one tick."""
GIVE_UP_AFTER = timedelta(minutes=10)
"""A mention still untriaged this long after it was fetched is counted as it is (no complaint, no category)."""
NEWEST_LINKS = 1_000
NAMING_TEXTS = 60
RANGE_AFTER_HOURS = 48
EVERY = timedelta(seconds=5)
"""Least time, on the caller's clock, between two looks of a daemon's radar (a replay's are not spaced)."""
_MEMORIES: weakref.WeakKeyDictionary[Engine, Memory] = weakref.WeakKeyDictionary()
"""Per engine, what this process's radar holds between rounds (see sweep.Memory)."""
_LAST_LOOK: weakref.WeakKeyDictionary[Engine, datetime] = weakref.WeakKeyDictionary()


@dataclass
class RadarReport:
    counted: int = 0
    opened: int = 0
    closed: int = 0
    mailed: int = 0


def radar_tick(engine: Engine, settings: Settings, *, now: datetime | None, mailer: Mailer | None = None) -> RadarReport:
    """Count what is new and judge it up to ``now`` (None: the newest post counted), then mail the alerts
    that are due (through ``mailer``, else SMTP as configured). Never raises: a failure is logged and the
    next tick tries again from the same cursor."""
    report = RadarReport()
    if not settings.radar.enabled:
        return report
    if now is not None:  # a daemon may tick many times a second (tests do): the radar looks every few seconds
        last = _LAST_LOOK.get(engine)
        if last is not None and timedelta(0) <= now - last < EVERY:
            return report
        _LAST_LOOK[engine] = now
    try:
        news, spikes_open = radar_pending(engine)
        if news or (spikes_open and now is not None):
            with singleton(engine, "closeloop:radar") as mine:
                if not mine:
                    return report
                while _round(engine, settings, now=now, report=report):
                    pass
        if settings.radar.recipients:
            report.mailed = send_spike_alerts(engine, settings, mailer or SmtpMailer(settings.smtp), now=utcnow())
    except Exception:  # the pipeline goes on; the cursor did not move, so nothing is lost
        log.exception("radar_failed")
    return report


def _vocabularies(settings: Settings) -> dict[str, Vocabulary]:
    return {b.name: vocabulary(keywords=b.keywords,
                               handles=(b.handles.x, b.handles.reddit, b.handles.mastodon, b.handles.bluesky),
                               watch_terms=b.watch_terms)
            for b in settings.brands}


def _own_handles(settings: Settings) -> dict[str, set[str]]:
    return {b.name: {h.lower().lstrip("@") for h in (b.handles.x, b.handles.reddit, b.handles.mastodon,
                                                      b.handles.bluesky) if h} for b in settings.brands}


def _post(mention: NewMention, vocabularies: dict[str, Vocabulary], *, latest: datetime | None) -> Post:
    at = mention.created_at if latest is None else min(mention.created_at, latest)
    found = topics(mention.text, mention.language, vocabulary=vocabularies.get(mention.brand, Vocabulary()),
                   category=mention.category)
    return Post(mention.mention_id, mention.brand, mention.platform, at, mention.author_id, mention.complaint,
                frozenset(found))


def _hours(settings: Settings, start: datetime, end: datetime) -> tuple[list[datetime], bool]:
    """The hours the baseline may read during this round, or (when the round spans days) a range."""
    radar = settings.radar
    first = start
    looks = int((floor_hour(end) - floor_hour(first)) / HOUR) + 1
    if looks > RANGE_AFTER_HOURS:
        return [floor_hour(first) - max(radar.recent_days * DAY, radar.baseline_weeks * 7 * DAY) - 2 * HOUR,
                end], True
    wanted: set[datetime] = set()
    for n in range(looks):
        wanted.update(reference_hours(floor_hour(first) + n * HOUR, recent_days=radar.recent_days,
                                      weeks=radar.baseline_weeks))
    return sorted(wanted), False


def _memory(engine: Engine) -> Memory:
    memory = _MEMORIES.get(engine)
    if memory is None:
        memory = _MEMORIES[engine] = Memory()
    return memory


def _recall(store: RadarRound, memory: Memory, settings: Settings, *, posts: list[Post], spikes: list[StoredSpike],
            start: datetime, end: datetime, fresh: bool) -> None:
    """Load into ``memory`` what this round needs and it does not hold yet."""
    window = timedelta(minutes=settings.radar.window_minutes)
    brands = {p.brand for p in posts} | {s.brand for s in spikes}
    if fresh:  # every brand's window is read once, then kept
        for stored in store.window_posts(brands=None, since=start - window):
            memory.windows.setdefault(stored.brand, Window(window)).add(
                Post(stored.mention_id, stored.brand, stored.platform, stored.at, stored.author_id, stored.complaint,
                     frozenset(stored.topics)))
    unknown = [b for b in brands if b not in memory.history_from]
    memory.history_from.update(store.history_from(brands=unknown, everything=ALL))
    hours, is_range = _hours(settings, start, end)
    for brand in sorted(brands):
        wanted = {ALL} | {t for p in posts if p.brand == brand for t in p.topics}
        wanted |= {parse_key(k)[1] for s in spikes if s.brand == brand for k in s.members}
        missing = {t for t in wanted if (brand, ALL, t) not in memory.weights}
        for (platform, topic), (m, c, as_of) in store.weights(brand=brand, topics=missing).items():
            memory.weights.setdefault((brand, platform, topic), Weight(m, c, as_of))
        if is_range:
            found = store.volumes(brand=brand, between=(hours[0], hours[1]))
            first, last = floor_hour(hours[0]), floor_hour(hours[1])
            span = {first + n * HOUR for n in range(int((last - first) / HOUR) + 1)}
        else:
            span = {h for h in hours if (brand, h) not in memory.loaded_hours}
            found = store.volumes(brand=brand, hours=sorted(span)) if span else {}
        for (owner, _platform), hourly in memory.volumes.items():  # storage's count replaces this process's
            if owner == brand:
                for hour in span & hourly.keys():
                    del hourly[hour]
        for (platform, hour), counts in found.items():
            memory.volumes.setdefault((brand, platform), {})[hour] = counts
        memory.loaded_hours.update((brand, h) for h in span)


def _round(engine: Engine, settings: Settings, *, now: datetime | None, report: RadarReport) -> bool:
    """Read a batch and what it needs, judge it, then write it all in one short transaction; True when
    more mentions wait. The arithmetic runs outside any transaction, so no writer waits on it."""
    radar = settings.radar
    window = timedelta(minutes=radar.window_minutes)
    memory = _memory(engine)
    with radar_reading(engine) as reader:
        progress = reader.progress()
        fresh = memory.token != (progress.last_mention_id, progress.evaluated_until)
        if fresh:  # first round here, or another process counted since: start from storage
            memory = _MEMORIES[engine] = Memory()
        memory.token = None  # until this round commits
        mentions, cursor, more = reader.new_mentions(after=progress.last_mention_id, limit=BATCH,
                                                     given_up_before=utcnow() - GIVE_UP_AFTER)
        latest = None if now is None else max(now, progress.evaluated_until or now)
        owned, vocabularies = _own_handles(settings), _vocabularies(settings)
        posts = [_post(m, vocabularies, latest=latest) for m in mentions
                 if m.author_handle.lower().lstrip("@") not in owned.get(m.brand, set())]
        known = [t for t in (progress.evaluated_until, latest, *(p.at for p in posts)) if t is not None]
        end = (latest if latest is not None else max(known)) if known else None
        stored: list[StoredSpike] = []
        if end is not None:
            # The first look of this round: never before the last round's, never before the first new post.
            start = max([t for t in (progress.evaluated_until, min((p.at for p in posts), default=None)) if t]
                        or [end])
            stored = reader.open_spikes(links_since=start - window, newest_links=NEWEST_LINKS)
            _recall(reader, memory, settings, posts=posts, spikes=stored, start=start, end=end, fresh=fresh)
    result = None
    if end is not None:
        sweep = Sweep(radar, evaluated_until=progress.evaluated_until, memory=memory, spikes=[
            SpikeState(s.id, s.brand, parse_key(s.seed), [parse_key(k) for k in s.members], s.opened_at,
                       s.started_at, s.last_seen_at, s.baseline_per_hour, s.rate_per_hour, s.peak_rate_per_hour,
                       dict(s.links)) for s in stored])
        result = sweep.run(posts, end=end)
    reached = Progress(cursor, result.evaluated_until if result else progress.evaluated_until)
    written: list[tuple[int, SpikeState]] = []
    try:
        with radar_writing(engine, read=progress, reached=reached, now=utcnow()) as store:
            if result is not None:
                store.record_counts(
                    posts=[_stored(p) for p in result.posts], volume=result.volume,
                    weights={k: (w.mentions, w.complaints, w.as_of) for k, w in result.weights.items()})
                written = [(_record(store, spike, settings), spike) for spike in result.spikes]
                _prune(store, memory, settings, before=progress.evaluated_until, after=result.evaluated_until)
    except RoundLost:
        log.info("radar_round_lost cursor=%d", progress.last_mention_id)  # another process counted these
        return False
    memory.token = (reached.last_mention_id, reached.evaluated_until)  # the next round may trust memory
    report.counted += len(posts)
    for spike_id, spike in written:
        _announce(spike_id, spike, report)
    return more


def _stored(post: Post) -> StoredPost:
    return StoredPost(post.mention_id, post.brand, post.platform, post.at, post.author_id, post.complaint,
                      tuple(sorted(post.topics)))


def _record(store: RadarRound, spike: SpikeState, settings: Settings) -> int:
    """Write one spike's change (and its name, when ranked again); returns its id."""
    spike_id = store.record_spike(change=SpikeWrite(
        id=spike.id, brand=spike.brand, seed=key_text(spike.seed), members=[key_text(k) for k in spike.members],
        opened_at=spike.opened_at, started_at=spike.started_at, last_seen_at=spike.last_seen_at,
        baseline_per_hour=round(spike.baseline_per_hour, 3), rate_per_hour=round(spike.rate_per_hour, 3),
        peak_rate_per_hour=round(spike.peak_rate_per_hour, 3), closed_at=spike.closed_at, ended_at=spike.ended_at,
        link=[_stored(p) for p in spike.new_links.values()], unlink=sorted(spike.unlinked)), now=utcnow())
    if spike.ranking and spike.reranked:  # ranked again in this round: named again
        texts = store.spike_texts(spike_id=spike_id, limit=NAMING_TEXTS)
        words = display_words(spike.ranking, surface_forms(texts), limit=settings.radar.topic_words)
        store.name_spike(spike_id=spike_id, topic=words)
    return spike_id


def _announce(spike_id: int, spike: SpikeState, report: RadarReport) -> None:
    """Log what a committed round did to a spike (never inside the transaction: a log can block)."""
    if spike.id is None:
        report.opened += 1
        log.warning("spike_opened spike=%d brand=%r seed=%r at=%s", spike_id, spike.brand, key_text(spike.seed),
                    spike.opened_at.isoformat())
    if spike.closed_at is not None:
        report.closed += 1
        log.info("spike_closed spike=%d brand=%r at=%s", spike_id, spike.brand, spike.closed_at.isoformat())


def _prune(store: RadarRound, memory: Memory, settings: Settings, *, before: datetime | None,
           after: datetime) -> None:
    radar = settings.radar
    store.prune(posts_before=after - timedelta(minutes=radar.window_minutes) - HOUR, hours_before=None,
                topics_before=None)
    if before is None or floor_hour(before) != floor_hour(after):  # the rest once an hour
        hours = after - (max(radar.recent_days, radar.baseline_weeks * 7) + 2) * DAY
        weights = after - 10 * timedelta(days=radar.share_half_life_days)
        store.prune(posts_before=after - timedelta(minutes=radar.window_minutes) - HOUR, hours_before=hours,
                    topics_before=weights)
        memory.forget_before(hours=hours, weights=weights)


__all__ = ["RadarReport", "radar_tick"]
