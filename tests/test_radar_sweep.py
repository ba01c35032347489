"""The radar's sweep over synthetic posts: what opens a spike, what does not, how spikes group and close."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import RadarSettings
from monitor.radar.sweep import Memory, Post, SpikeState, Sweep, SweepResult
from monitor.radar.terms import ALL

START = datetime(2026, 11, 9, tzinfo=UTC)
BURST = START + timedelta(days=3, hours=10)
RADAR = RadarSettings()
WORDS = [f"t:w{n}" for n in range(60)]
PLATFORMS = ("x", "x", "bluesky", "mastodon", "reddit")


class Feed:
    """Synthetic posts: unique ids, authors from a pool, ordinary topics drawn with a long tail."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.serial = 0

    def post(self, at: datetime, topics: set[str], *, author: int | None = None, platform: str | None = None,
             complaint: bool = False) -> Post:
        self.serial += 1
        who = self.rng.randrange(2_000) if author is None else author
        return Post(self.serial, "Acme", platform or self.rng.choice(PLATFORMS), at, who, complaint,
                    frozenset(topics))

    def ordinary(self, start: datetime, hours: float, per_hour: float, *, platform: str | None = None,
                 complaint_share: float = 0.3, extra: set[str] | None = None) -> list[Post]:
        posts, at = [], start
        while True:
            at += timedelta(hours=self.rng.expovariate(per_hour))
            if at >= start + timedelta(hours=hours):
                return posts
            picked = {WORDS[min(int(self.rng.paretovariate(1.2)) - 1, len(WORDS) - 1)] for _ in range(4)}
            posts.append(self.post(at, picked | (extra or set()), platform=platform,
                                   complaint=self.rng.random() < complaint_share))

    def burst(self, start: datetime, minutes: int, count: int, topics: list[set[str]], *, authors: int | None = None,
              platform: str | None = None, complaint: bool = True) -> list[Post]:
        return [self.post(start + timedelta(minutes=minutes * n / count), topics[n % len(topics)],
                          author=(10_000 + n % authors) if authors else 10_000 + self.serial, platform=platform,
                          complaint=complaint)
                for n in range(count)]


def sweep(posts: list[Post], *, end: datetime, radar: RadarSettings = RADAR,
          evaluated_until: datetime | None = None) -> tuple[list[SpikeState], SweepResult]:
    runner = Sweep(radar, evaluated_until=evaluated_until, memory=Memory(), spikes=[])
    result = runner.run([p for p in posts if p.at <= end], end=end)  # the radar never sees the future
    return runner.spikes, result


def topics_of(spike: SpikeState) -> set[str]:
    return {topic for _platform, topic in spike.members}


def test_an_ordinary_stretch_of_days_raises_no_spike() -> None:
    feed = Feed()
    spikes, _ = sweep(feed.ordinary(START, 24 * 5, 30), end=START + timedelta(days=5))
    assert spikes == []


def test_a_slow_news_day_does_not_make_the_next_ordinary_day_a_spike() -> None:
    feed = Feed()
    day = timedelta(days=1)
    posts = (feed.ordinary(START, 24 * 3, 20) + feed.ordinary(START + 3 * day, 24, 4)
             + feed.ordinary(START + 4 * day, 24, 20))
    assert sweep(posts, end=START + 5 * day)[0] == []


def test_a_busier_hour_that_is_no_spike_does_not_make_its_usual_topics_spikes() -> None:
    feed = Feed()
    usual = feed.ordinary(START, (BURST - START) / timedelta(hours=1), 20)
    busy = feed.ordinary(BURST, 1, 60)  # then three times the usual volume for an hour, the usual topics
    spikes, _ = sweep(usual + busy, end=BURST + timedelta(hours=1))
    assert spikes == []


def test_one_loud_account_among_the_usual_traffic_is_not_a_spike() -> None:
    feed = Feed()
    loud = [feed.post(BURST + timedelta(seconds=40 * n), {"t:refund", "t:w0"}, author=77, complaint=True)
            for n in range(25)]
    assert sweep(feed.ordinary(START, 24 * 4, 20) + loud, end=BURST + timedelta(minutes=20))[0] == []


def test_a_crowd_posting_about_something_new_opens_one_spike_within_minutes() -> None:
    feed = Feed()
    burst = feed.burst(BURST, 10, 30, [{"t:recall", "t:kettle"}, {"t:recall"}])
    spikes, _ = sweep(feed.ordinary(START, 24 * 4, 20) + burst, end=BURST + timedelta(minutes=12))
    assert len(spikes) == 1
    spike = spikes[0]
    assert "t:recall" in topics_of(spike) and spike.ranking[0] == "t:recall"
    assert spike.started_at == burst[0].at
    assert spike.opened_at - BURST <= timedelta(minutes=5)
    assert {p.mention_id for p in burst} <= set(spike.links)
    assert spike.closed_at is None


@pytest.mark.parametrize(
    ("count", "authors", "hours_of_history"),
    [
        (30, 2, 24 * 4),  # two loud accounts
        (8, None, 24 * 4),  # a handful of people
        (30, None, 12),  # still learning the brand's usual day
    ],
)
def test_no_spike_without_a_crowd_a_rise_and_a_known_baseline(count: int, authors: int | None,
                                                               hours_of_history: int) -> None:
    feed = Feed()
    start = BURST - timedelta(hours=hours_of_history)
    posts = feed.ordinary(start, hours_of_history, 20) + feed.burst(BURST, 10, count, [{"t:recall"}], authors=authors)
    spikes, _ = sweep(posts, end=BURST + timedelta(minutes=12))
    assert spikes == []


def test_a_quiet_brand_is_judged_against_the_floor_not_against_nothing() -> None:
    feed = Feed()
    posts = feed.ordinary(START, 24 * 4, 0.5) + feed.burst(BURST, 14, 5, [{"t:recall"}])
    few = RADAR.model_copy(update={"min_mentions": 4, "min_authors": 4})
    assert sweep(posts, end=BURST + timedelta(minutes=15), radar=few)[0] == [], "5 posts are no crisis"
    no_floor = few.model_copy(update={"floor_per_hour": 0.01, "max_chance": 0.5})
    assert sweep(posts, end=BURST + timedelta(minutes=15), radar=no_floor)[0] != [], "without the floor they are"


def test_topics_that_rise_together_in_different_languages_are_one_spike() -> None:
    feed = Feed()
    burst = feed.burst(BURST, 12, 48, [{"t:login", "t:app"}, {"t:kirjau", "t:sovell"}, {"t:로그인", "t:앱이"},
                                       {"t:אפליקציה"}])
    spikes, _ = sweep(feed.ordinary(START, 24 * 4, 20) + burst, end=BURST + timedelta(minutes=12))
    assert len(spikes) == 1
    assert {"t:login", "t:kirjau", "t:로그인", "t:אפליקציה"} <= set(spikes[0].ranking)
    assert {p.mention_id for p in burst} <= set(spikes[0].links)


def test_an_unrelated_burst_while_one_is_open_is_a_spike_of_its_own() -> None:
    feed = Feed()
    first = feed.burst(BURST, 40, 120, [{"t:login"}])
    second = feed.burst(BURST + timedelta(minutes=25), 8, 20, [{"t:recall", "t:kettle"}])
    spikes, _ = sweep(feed.ordinary(START, 24 * 4, 20) + first + second, end=BURST + timedelta(minutes=40))
    assert len(spikes) == 2
    assert spikes[0].ranking[0] == "t:login" and set(spikes[1].ranking[:2]) == {"t:recall", "t:kettle"}
    assert not set(spikes[0].links) & {p.mention_id for p in second}
    assert not set(spikes[1].links) & {p.mention_id for p in first}


def test_a_spike_closes_once_it_has_subsided_for_the_quiet_period() -> None:
    feed = Feed()
    burst = feed.burst(BURST, 10, 40, [{"t:recall"}])
    after = feed.ordinary(BURST + timedelta(minutes=10), 3, 20)
    posts = feed.ordinary(START, 24 * 4, 20) + burst + after
    still, _ = sweep(posts, end=BURST + timedelta(minutes=30))
    assert still[0].closed_at is None, "within the quiet period it stays open"
    spikes, _ = sweep(posts, end=BURST + timedelta(hours=3))
    (spike,) = spikes
    held = sorted((at for at in spike.links.values()), reverse=True)
    needed = max(5, -(-2 * max(spike.baseline_per_hour, RADAR.floor_per_hour) // 4))
    assert spike.ended_at == held[int(needed) - 1] + timedelta(minutes=RADAR.window_minutes)
    assert spike.closed_at == spike.ended_at + timedelta(minutes=RADAR.quiet_minutes)
    assert BURST + timedelta(minutes=10) < spike.ended_at < BURST + timedelta(minutes=30)


def test_a_rise_in_the_brands_whole_volume_without_a_topic_holds_every_post() -> None:
    feed = Feed()
    rise = feed.ordinary(BURST, 0.25, 400)  # twenty times the usual volume, about nothing in particular
    spikes, _ = sweep(feed.ordinary(START, 24 * 4, 20) + rise, end=BURST + timedelta(minutes=15))
    assert len(spikes) >= 1
    spike = spikes[0]
    assert (ALL, ALL) in spike.members
    assert {p.mention_id for p in rise if p.at > BURST + timedelta(minutes=5)} <= set(spike.links)


def test_complaints_rising_inside_the_usual_volume_open_a_spike() -> None:
    feed = Feed()
    usual = feed.ordinary(START, 24 * 4, 40, complaint_share=0.02, extra={"t:order"})
    angry = [feed.post(BURST + timedelta(minutes=n), {"t:order", "t:w1"}, complaint=True) for n in range(12)]
    calm = feed.ordinary(BURST, 0.25, 10, complaint_share=0.0, extra={"t:order"})
    spikes, _ = sweep(usual + angry + calm, end=BURST + timedelta(minutes=15))
    assert len(spikes) == 1
    assert "t:order" in topics_of(spikes[0])


def test_a_platform_can_spike_on_its_own() -> None:
    feed = Feed()
    usual = feed.ordinary(START, 24 * 4, 60, platform="x") + feed.ordinary(START, 24 * 4, 2, platform="reddit")
    thread = feed.ordinary(BURST, 0.25, 60, platform="reddit")
    spikes, _ = sweep(usual + thread, end=BURST + timedelta(minutes=15))
    assert len(spikes) == 1
    assert ("reddit", ALL) in spikes[0].members
    assert {platform for platform, _topic in spikes[0].members} == {"reddit"}


def test_posts_too_late_for_any_window_only_teach_the_baseline() -> None:
    feed = Feed()
    posts = feed.ordinary(START, 24 * 4, 20) + feed.burst(BURST, 10, 40, [{"t:recall"}])
    spikes, result = sweep(posts, end=BURST + timedelta(days=1), evaluated_until=BURST + timedelta(hours=2))
    assert spikes == []
    assert result.weights[("Acme", ALL, "t:recall")].mentions > 30
    assert result.posts == [], "nothing a later window needs"
