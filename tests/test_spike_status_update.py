"""A spike's status update: posted once from the brand's account as a post of its own, on a platform whose
poster can (Mastodon, against its fake over real HTTP), recorded as not supported where it cannot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from models.alerts import SpikeRecord, list_spikes
from models.radar import Progress, SpikeWrite, radar_writing
from models.spike_groups import status_updates
from monitor.config import Brand, BrandHandles
from responders.posters.mastodon import build_poster
from responders.spike_reply import post_status_updates
from tests.fakes.mastodon import DOMAIN, TOKEN, FakeMastodon, ManualClock
from tests.fakes.server import Fault

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BRAND = Brand(name="Acme", handles=BrandHandles(mastodon=f"acme@{DOMAIN}"), keywords=("acme",))
UPDATE = "Logins are failing for many of you right now. We are fixing it and will post here when it works again."


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(clock=ManualClock(NOW)) as server:
        yield server


def _spike(engine: Engine, platforms: list[str]) -> SpikeRecord:
    change = SpikeWrite(None, "Acme", "*|t:login", ["*|t:login"], NOW, NOW - timedelta(minutes=4), NOW, 2.0, 90.0,
                        90.0, None, None)
    with radar_writing(engine, read=Progress(0, None), reached=Progress(0, None), now=NOW) as round_:
        round_.record_spike(change=change, now=NOW)
    (record,) = list_spikes(engine)
    return replace(record, platforms=platforms)  # as if its mentions came from these platforms


def _ours(fake: FakeMastodon) -> list[dict]:
    with fake.lock:
        return [s for s in fake.statuses.values() if s["account"]["id"] == fake.me["id"]]


def test_a_status_update_is_posted_once_as_a_post_of_its_own(engine: Engine, fake: FakeMastodon) -> None:
    spike = _spike(engine, ["mastodon", "x"])
    posters = {("Acme", "mastodon"): build_poster(BRAND, {"api_base_url": fake.url}, {"MASTODON_ACCESS_TOKEN": TOKEN})}
    outcomes = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria", posters=posters, now=NOW)
    (posted,) = _ours(fake)
    assert outcomes == {"mastodon": f"sent: {posted['id']}", "x": "not supported: no poster for x (credentials missing?)"}
    assert posted["in_reply_to_id"] is None and posted["visibility"] == "public" and "Logins are failing" in posted["content"]
    again = post_status_updates(engine, spike=spike, text=UPDATE, actor="lee", posters=posters, now=NOW)
    assert set(again.values()) == {"already posted (a status update is posted once per platform)"}
    assert len(_ours(fake)) == 1
    assert [(u.platform, u.status, u.platform_post_id) for u in status_updates(engine, spike_id=spike.id)] == [
        ("mastodon", "sent", posted["id"]), ("x", "not_supported", None)]


def test_a_status_update_whose_answer_is_lost_is_unknown_never_posted_again(engine: Engine,
                                                                            fake: FakeMastodon) -> None:
    spike = _spike(engine, ["mastodon"])
    posters = {("Acme", "mastodon"): build_poster(BRAND, {"api_base_url": fake.url}, {"MASTODON_ACCESS_TOKEN": TOKEN})}
    fake.inject("post_status", Fault.drop_after_handling())
    outcomes = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria", posters=posters, now=NOW)
    assert outcomes["mastodon"].startswith("unknown: status update")
    post_status_updates(engine, spike=spike, text=UPDATE, actor="maria", posters=posters, now=NOW)
    assert len(_ours(fake)) == 1 and status_updates(engine, spike_id=spike.id)[0].status == "unknown"


def test_a_refused_status_update_may_be_tried_again(engine: Engine, fake: FakeMastodon) -> None:
    spike = _spike(engine, ["mastodon"])
    posters = {("Acme", "mastodon"): build_poster(BRAND, {"api_base_url": fake.url}, {"MASTODON_ACCESS_TOKEN": TOKEN})}
    fake.inject("post_status", Fault.status_code(503))
    refused = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria", posters=posters, now=NOW)
    assert refused["mastodon"].startswith("failed: status update: server error (503)") and _ours(fake) == []
    retried = post_status_updates(engine, spike=spike, text=UPDATE, actor="lee", posters=posters, now=NOW)
    (posted,) = _ours(fake)
    assert retried == {"mastodon": f"sent: {posted['id']}"}
    (update,) = status_updates(engine, spike_id=spike.id)
    assert (update.status, update.created_by) == ("sent", "lee")


def test_on_x_the_status_update_is_a_tweet_of_the_brands_own_and_posted_once(engine: Engine) -> None:
    from responders.posters.x import build_poster as build_x_poster
    from tests.fakes.x import ACCESS_TOKEN, BRAND_ID, seeded
    from tests.fakes.x import BRAND as X_BRAND

    env = {"X_CONSUMER_KEY": "k", "X_CONSUMER_SECRET": "s", "X_ACCESS_TOKEN": ACCESS_TOKEN, "X_ACCESS_TOKEN_SECRET": "t"}
    brand = Brand(name="Acme", handles=BrandHandles(x=X_BRAND), keywords=("acme",))
    with seeded(NOW) as fake:
        poster = build_x_poster(brand, {"api_base_url": fake.url, "user_id": BRAND_ID}, env)
        spike = _spike(engine, ["x"])
        before = set(fake.tweets)
        outcomes = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria",
                                       posters={("Acme", "x"): poster}, now=NOW)
        again = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria",
                                    posters={("Acme", "x"): poster}, now=NOW)
        (new,) = [fake.tweets[t] for t in set(fake.tweets) - before]
    assert outcomes == {"x": f"sent: {new['id']}"} and again["x"].startswith("already posted")
    assert new["author_id"] == BRAND_ID and "referenced_tweets" not in new and new["text"].startswith("Logins are")


def test_on_bluesky_the_status_update_is_a_post_of_the_brands_own_and_posted_once(engine: Engine) -> None:
    from responders.posters.bluesky import build_poster as build_bluesky_poster
    from tests.fakes.bluesky import FakeBluesky

    brand = Brand(name="Acme", handles=BrandHandles(bluesky="acme.bsky.social"), keywords=("acme",))
    with FakeBluesky() as fake:
        poster = build_bluesky_poster(brand, {"api_base_url": fake.url, "timeout_seconds": 2},
                                      {"BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"})
        spike = _spike(engine, ["bluesky", "reddit"])
        posters = {("Acme", "bluesky"): poster, ("Acme", "reddit"): _ReplyOnlyPoster()}
        outcomes = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria", posters=posters, now=NOW)
        again = post_status_updates(engine, spike=spike, text=UPDATE, actor="maria", posters=posters, now=NOW)
        ours = [p for p in fake.posts.values() if p.did == fake.brand.did]
    (post,) = ours
    assert outcomes == {"bluesky": f"sent: {post.uri}",
                        "reddit": "not supported: the reddit poster cannot publish a top-level post"}
    assert "reply" not in post.record and post.record["text"] == UPDATE
    assert set(again.values()) == {"already posted (a status update is posted once per platform)"}


class _ReplyOnlyPoster:
    """A poster with replies only (as Reddit's: a post of our own needs a subreddit to go to)."""

    platform = "reddit"
