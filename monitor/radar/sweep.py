"""The radar's sweep: new posts in time order through the short window, spikes opened, grown and closed.

Pure: it works on what the caller loaded (the posts already in the window, the topics' decayed weights, the
hourly volumes, the open spikes) and returns what changed. Posts are looked at in steps of their own time,
so a backlog (an ingested week, a daemon catching up) is judged as if the radar had watched it live, and a
late post that no window still looked at only teaches the baseline.

Keys are ``(platform, topic)``, each possibly ``ALL``. At each look, the touched keys of a brand that run
hot either join an open spike (one still forming, within a window of opening; or one whose posts they
largely share) or, together, open a new one: topics that rise together are one event. A spike holds the
window's posts that carry any of its topics; a spike raised by volume alone holds every post.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.config import RadarSettings
from monitor.radar.baseline import (
    Weight,
    expected_per_hour,
    floor_hour,
    topic_baseline,
)
from monitor.radar.detect import Rules, close_count, excess, is_hot, per_hour, quiet_from
from monitor.radar.terms import ALL
from monitor.radar.window import Key, Post, Window

JOIN_OVERLAP = 0.3
"""A hot topic joins an open spike when at least this share of its posts in the window are the spike's."""
RANKED_TOPICS = 30
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def key_text(key: Key) -> str:
    return f"{key[0]}|{key[1]}"


def parse_key(text: str) -> Key:
    platform, _, topic = text.partition("|")
    return platform, topic


@dataclass
class SpikeState:
    """An open spike as the sweep sees and changes it; ``id`` is None for one opened in this sweep."""

    id: int | None
    brand: str
    seed: Key
    members: list[Key]
    opened_at: datetime
    started_at: datetime
    last_seen_at: datetime
    baseline_per_hour: float = 0.0
    rate_per_hour: float = 0.0
    peak_rate_per_hour: float = 0.0
    links: dict[int, datetime] = field(default_factory=dict)
    ranking: list[str] = field(default_factory=list)
    """Its topics, most telling first; set (and to be named again) when it opens, gains a topic, or has
    doubled since it was last ranked."""
    ranked_links: int = 0
    reranked: bool = False
    new_links: dict[int, Post] = field(default_factory=dict)
    unlinked: set[int] = field(default_factory=set)
    closed_at: datetime | None = None
    ended_at: datetime | None = None
    changed: bool = False

    def link_keys(self) -> list[Key]:
        topical = [k for k in self.members if k[1] != ALL]
        return topical or list(self.members)

    def holds(self, post: Post, keys: Sequence[Key]) -> bool:
        return any(post.carries(k) for k in keys)


@dataclass
class SweepResult:
    posts: list[Post]
    """New posts a later window may still need (the caller keeps them until the window has passed)."""
    volume: dict[tuple[str, str, datetime], list[int]]
    """(brand, platform, hour) -> [mentions, complaints] to add to the hourly counts."""
    weights: dict[tuple[str, str, str], Weight]
    """(brand, platform, topic) -> the topic's new decayed counts."""
    spikes: list[SpikeState]
    """Spikes opened, changed or closed in this sweep."""
    evaluated_until: datetime


@dataclass
class Memory:
    """What the radar knows between rounds: the windows, the topics' weights, the hourly volumes, each brand's
    first counted hour. A process keeps it from one round to the next while no other process has counted
    in between (``token`` is the storage's progress it matches); otherwise it starts empty and the round
    loads what it needs. ``loaded_hours`` are the (brand, hour)s read from storage: others hold only what
    this process added."""

    windows: dict[str, Window] = field(default_factory=dict)
    weights: dict[tuple[str, str, str], Weight] = field(default_factory=dict)
    volumes: dict[tuple[str, str], dict[datetime, tuple[int, int]]] = field(default_factory=dict)
    loaded_hours: set[tuple[str, datetime]] = field(default_factory=set)
    history_from: dict[str, datetime] = field(default_factory=dict)
    token: tuple[int, datetime | None] | None = None

    def forget_before(self, *, hours: datetime, weights: datetime) -> None:
        """Drop what storage prunes: hours no baseline reads, topics decayed to nothing."""
        for counts in self.volumes.values():
            for hour in [h for h in counts if h < hours]:
                del counts[hour]
        self.loaded_hours = {(b, h) for b, h in self.loaded_hours if h >= hours}
        self.weights = {k: w for k, w in self.weights.items() if w.as_of >= weights}


class Sweep:
    """One radar round over ``memory`` (which it changes). ``run`` may be called once."""

    def __init__(self, settings: RadarSettings, *, evaluated_until: datetime | None, memory: Memory,
                 spikes: Iterable[SpikeState]) -> None:
        self.settings = settings
        self.rules = Rules.from_settings(settings)
        self.half_life = timedelta(days=settings.share_half_life_days)
        self.step = timedelta(seconds=settings.step_seconds)
        self.evaluated_until = evaluated_until
        self.memory = memory
        self.weights = memory.weights
        self.volumes = memory.volumes
        self.history_from = memory.history_from
        self.spikes = list(spikes)
        self._windows = memory.windows
        self._volume_delta: dict[tuple[str, str, datetime], list[int]] = {}
        self._touched_weights: set[tuple[str, str, str]] = set()
        self._expected: dict[tuple[str, str, datetime], tuple[float, float] | None] = {}
        self._volume_hot_at: dict[tuple[str, str, datetime], bool] = {}

    def _window(self, brand: str) -> Window:
        return self._windows.setdefault(brand, Window(self.rules.window))

    def run(self, posts: Sequence[Post], *, end: datetime) -> SweepResult:
        """Judge ``posts`` (each at most ``end``: the caller clamps a post from the future) and every open
        spike up to ``end``."""
        if any(p.at > end for p in posts):
            raise ValueError("a post after the end of the sweep")
        window = self.rules.window
        groups: dict[datetime, list[Post]] = {}
        for post in sorted(posts, key=lambda p: (p.at, p.mention_id)):
            if self.evaluated_until is not None and post.at <= self.evaluated_until - window:
                self._fold(post)  # too late for any window still to be looked at: it only teaches the baseline
                continue
            groups.setdefault(self._look_time(post.at, end), []).append(post)
        for when in sorted(groups):
            touched: dict[str, set[Key]] = {}
            for post in groups[when]:
                self._fold(post)
                self._window(post.brand).add(post)
                touched.setdefault(post.brand, set()).update(post.counts_towards())
            for brand, keys in touched.items():
                self._look(brand, when, keys)
        for brand in sorted({s.brand for s in self.spikes if s.closed_at is None}):
            self._look(brand, end, set())
        until = max(end, self.evaluated_until) if self.evaluated_until else end
        return SweepResult(
            posts=[p for p in posts if p.at > until - window],
            volume=self._volume_delta,
            weights={k: self.weights[k] for k in self._touched_weights},
            spikes=[s for s in self.spikes if s.changed],
            evaluated_until=until,
        )

    def _look_time(self, at: datetime, end: datetime) -> datetime:
        steps = -((_EPOCH - at) // self.step)  # ceiling division: the end of the step holding ``at``
        when = _EPOCH + steps * self.step
        if self.evaluated_until is not None:
            when = max(when, self.evaluated_until)
        return min(when, end)

    def _fold(self, post: Post) -> None:
        hour = floor_hour(post.at)
        for platform in (ALL, post.platform):
            counts = self._volume_delta.setdefault((post.brand, platform, hour), [0, 0])
            counts[0] += 1
            counts[1] += post.complaint
            base = self.volumes.setdefault((post.brand, platform), {})
            before = base.get(hour, (0, 0))
            base[hour] = (before[0] + 1, before[1] + post.complaint)
        if post.brand not in self.history_from or hour < self.history_from[post.brand]:
            self.history_from[post.brand] = hour
        for platform, topic in post.counts_towards():
            weight_key = (post.brand, platform, topic)
            weight = self.weights.get(weight_key)
            if weight is None:
                weight = self.weights[weight_key] = Weight(0.0, 0.0, post.at)
            weight.add(post.at, complaint=post.complaint, half_life=self.half_life)
            self._touched_weights.add(weight_key)

    def _expected_at(self, brand: str, platform: str, when: datetime) -> tuple[float, float] | None:
        cache_key = (brand, platform, floor_hour(when))
        if cache_key not in self._expected:
            self._expected[cache_key] = expected_per_hour(
                self.volumes.get((brand, platform), {}), when, history_from=self.history_from[brand],
                recent_days=self.settings.recent_days, weeks=self.settings.baseline_weeks)
        return self._expected[cache_key]

    def baseline(self, brand: str, key: Key, when: datetime) -> tuple[float, float] | None:
        """The usual (mentions, complaints) per hour of ``key`` at ``when``, the window's own posts left out;
        None when no hour of the brand's history can tell (nothing is judged against an unknown)."""
        platform, topic = key
        expected = self._expected_at(brand, platform, when)
        if expected is None:
            return None
        if topic == ALL:
            return expected
        window = self._window(brand)
        own = self.weights.get((brand, platform, topic))
        everything = self.weights.get((brand, platform, ALL))
        in_window, in_brand = window.count(key), window.count((platform, ALL))[0]
        # A busier hour that is no spike itself (a busy day) makes every topic busier, so the brand's other
        # posts now may raise a topic's bar; when the whole volume is the spike, its posts must not.
        others = (None if self._volume_hot(brand, platform, when, expected)
                  else per_hour(in_brand - in_window[0], self.rules.window))
        return topic_baseline(
            expected=expected,
            topic=own.at(when, self.half_life) if own else (0.0, 0.0),
            brand=everything.at(when, self.half_life)[0] if everything else 0.0,
            window_topic=in_window, window_brand=in_brand, others_per_hour=others,
        )

    def _volume_hot(self, brand: str, platform: str, when: datetime, expected: tuple[float, float]) -> bool:
        cache_key = (brand, platform, when)
        if cache_key not in self._volume_hot_at:
            tallies = self._window(brand).tallies.get((platform, ALL))
            self._volume_hot_at[cache_key] = tallies is not None and is_hot(tallies.tally(), baseline=expected,
                                                                            rules=self.rules)
        return self._volume_hot_at[cache_key]

    def _warm(self, brand: str, when: datetime) -> bool:
        started = self.history_from.get(brand)
        return started is not None and when - started >= timedelta(hours=self.settings.warmup_hours)

    def _look(self, brand: str, when: datetime, touched: set[Key]) -> None:
        window = self._window(brand)
        window.expire(when)
        live = [s for s in self.spikes if s.brand == brand and s.closed_at is None]
        for spike in live:
            self._maybe_close(spike, when)
        live = [s for s in live if s.closed_at is None]
        if self._warm(brand, when):
            remaining: list[tuple[Key, float]] = []
            for key, score in self._hot(brand, when, touched):
                if any(key in s.members for s in live):
                    continue
                home = self._home(key, live, window, when)
                if home is None:
                    remaining.append((key, score))
                else:
                    home.members.append(key)
                    home.changed = True
                    home.ranked_links = 0
            if remaining:
                spike = self._open(brand, when, remaining)
                self.spikes.append(spike)
                live.append(spike)
        for spike in live:
            self._link(spike, window)
            self._measure(spike, brand, when)

    def _hot(self, brand: str, when: datetime, keys: Iterable[Key], *, relaxed: bool = False) -> list[tuple[Key, float]]:
        window = self._window(brand)
        least = -(-self.rules.min_mentions // 2) if relaxed else self.rules.min_mentions
        found = []
        for key in keys:
            tallies = window.tallies.get(key)
            if tallies is None or (len(tallies.ids) < least and tallies.complaints < least):
                continue
            tally = tallies.tally()
            baseline = self.baseline(brand, key, when)
            if baseline is not None and is_hot(tally, baseline=baseline, rules=self.rules, relaxed=relaxed):
                found.append((key, excess(tally, baseline=baseline, window=self.rules.window)))
        found.sort(key=lambda item: (-item[1], -len(item[0][1]), item[0]))
        return found

    def _home(self, key: Key, live: Sequence[SpikeState], window: Window, when: datetime) -> SpikeState | None:
        ids = window.tallies[key].ids
        best, best_share = None, 0.0
        for spike in live:
            share = len(ids & spike.links.keys()) / len(ids)
            if when - spike.opened_at <= self.rules.window:
                share = max(share, JOIN_OVERLAP)  # still forming: what rises with it is part of it
            if share >= JOIN_OVERLAP and share > best_share:
                best, best_share = spike, share
        return best

    def _open(self, brand: str, when: datetime, hot: list[tuple[Key, float]]) -> SpikeState:
        members = list(hot)
        if all(topic == ALL for _platform, topic in (k for k, _ in hot)) and (ALL, ALL) in (k for k, _ in hot):
            # The brand's whole volume rose: name it by what rose with it, if anything did. (A rise on one
            # platform alone holds that platform's posts; its commonest words name it.)
            candidates = [k for k in self._window(brand).tallies if k[1] != ALL]
            members.extend(self._hot(brand, when, candidates, relaxed=True))
        members.sort(key=lambda item: (-item[1], -len(item[0][1]), item[0]))
        keys = [k for k, _ in members]
        seed = next((k for k in keys if k[1] != ALL), keys[0])
        return SpikeState(id=None, brand=brand, seed=seed, members=keys, opened_at=when, started_at=when,
                          last_seen_at=when, changed=True)

    def _link(self, spike: SpikeState, window: Window) -> None:
        keys = spike.link_keys()
        if any(k[1] != ALL for k in keys):  # a topic now names it: posts it held for volume alone go
            for mention_id in [m for m in spike.links if m in window.posts]:
                if not spike.holds(window.posts[mention_id], keys):
                    del spike.links[mention_id]
                    spike.new_links.pop(mention_id, None)
                    spike.unlinked.add(mention_id)
                    spike.changed = True
        for post in window.posts.values():
            if post.mention_id not in spike.links and spike.holds(post, keys):
                spike.links[post.mention_id] = post.at
                spike.new_links[post.mention_id] = post
                spike.unlinked.discard(post.mention_id)
                spike.changed = True

    def _measure(self, spike: SpikeState, brand: str, when: datetime) -> None:
        window = self.rules.window
        in_window = sum(1 for at in spike.links.values() if at > when - window)
        spike.rate_per_hour = per_hour(in_window, window)
        spike.peak_rate_per_hour = max(spike.peak_rate_per_hour, spike.rate_per_hour)
        if spike.links:  # a stored spike's earlier posts are not all loaded: storage recounts both ends
            spike.last_seen_at = max(spike.last_seen_at, max(spike.links.values()))
            spike.started_at = min(spike.links.values()) if spike.id is None else min(
                [spike.started_at, *(p.at for p in spike.new_links.values())])
        spike.baseline_per_hour = self._spike_baseline(brand, spike, when)
        if spike.changed and (not spike.ranked_links or len(spike.links) >= 2 * spike.ranked_links):
            spike.ranking = self._ranking(brand, spike, when)
            spike.ranked_links = len(spike.links)
            spike.reranked = True

    def _spike_baseline(self, brand: str, spike: SpikeState, when: datetime) -> float:
        """The usual rate of what the spike holds: per topic, the all-platform baseline where that topic is
        watched on all platforms, else the sum over its platforms; summed over topics (an upper bound)."""
        by_topic: dict[str, set[str]] = {}
        for platform, topic in spike.link_keys():
            by_topic.setdefault(topic, set()).add(platform)
        total = 0.0
        for topic, platforms in by_topic.items():
            chosen = [ALL] if ALL in platforms else sorted(platforms)
            total += sum((self.baseline(brand, (p, topic), when) or (0.0, 0.0))[0] for p in chosen)
        return total

    def _ranking(self, brand: str, spike: SpikeState, when: datetime) -> list[str]:
        """The spike's topics, most telling first: its hot topics by excess, then its posts' commonest."""
        window = self._window(brand)
        ranked = list(dict.fromkeys(t for _p, t in spike.members if t != ALL))
        common: Counter[str] = Counter()
        for post in window.posts.values():
            if post.mention_id in spike.links:
                common.update(post.topics)
        scored = []
        for topic, count in common.most_common(2 * RANKED_TOPICS):
            if topic in ranked or count < 2:
                continue
            tally = window.tallies.get((ALL, topic))
            if tally is not None:
                baseline = self.baseline(brand, (ALL, topic), when) or (0.0, 0.0)
                scored.append((excess(tally.tally(), baseline=baseline, window=self.rules.window), len(topic), topic))
        scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
        return (ranked + [t for _e, _n, t in scored])[:RANKED_TOPICS]

    def _maybe_close(self, spike: SpikeState, when: datetime) -> None:
        needed = max(-(-self.rules.min_mentions // 2), close_count(spike.baseline_per_hour, self.rules))
        times = sorted(spike.links.values(), reverse=True)
        calm = quiet_from(times, count=needed, window=self.rules.window, opened_at=spike.opened_at)
        if calm + self.rules.quiet <= when:
            spike.closed_at = calm + self.rules.quiet
            spike.ended_at = calm
            spike.changed = True


__all__ = ["JOIN_OVERLAP", "Key", "Memory", "Post", "SpikeState", "Sweep", "SweepResult", "key_text", "parse_key"]
