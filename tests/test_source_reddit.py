"""The Reddit source: Listing parsers against recorded and documented shapes, and fetch/fetch_thread through
real praw against the fake Reddit (paging, crashes, deleted anchors, rate limits and failures)."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import Brand, BrandHandles, ConfigError, SourceSettings, parse_settings
from monitor.sources.base import Batch, MissingCredentials, ParseError, RateLimited, SourceError, ThreadRef
from monitor.sources.reddit.parse import ListingPage, is_gone, parse_listing, parse_thread, read_listing
from monitor.sources.reddit.source import RedditSource, advance_pass, build_source
from tests.fakes.reddit import FakeReddit
from tests.fakes.server import Fault
from tests.reference import REFERENCE_PAYLOADS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T = NOW.timestamp()
REFERENCE = REFERENCE_PAYLOADS / "reddit"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reddit"
ENV = {"REDDIT_CLIENT_ID": "test-client", "REDDIT_CLIENT_SECRET": "test-secret"}
USER_ENV = {**ENV, "REDDIT_USERNAME": "acme_care", "REDDIT_PASSWORD": "test-password"}
BRAND = Brand(name="Acme", handles=BrandHandles(reddit="acme_care"), keywords=("acme",))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def reference(name: str) -> Any:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference payloads not found at {REFERENCE} (the shared folder beside the repository)")
    return json.loads(path.read_text())


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    server = FakeReddit(clock=lambda: T)
    server.start()
    yield server
    server.stop()


def make_source(fake: FakeReddit, *, env: dict[str, str] = ENV, clock: Clock | None = None,
                **options: Any) -> RedditSource:
    settings = SourceSettings(name="reddit-acme", platform="reddit",
                              options={"api_base_url": fake.url, "timeout": 0.5, **options})
    return build_source(settings, BRAND, env, clock=clock or Clock())


def seed(fake: FakeReddit, count: int, *, start: float = T, step: float = 60, word: str = "acme") -> list[str]:
    return [fake.add_submission(title=f"{word} order {i} never arrived", created=start - step * i)
            for i in range(count)]


def drain(source: RedditSource, cursor: str | None = None, *, calls: int = 100) -> tuple[list[str], str | None]:
    """Fetch until the round is exhausted; every id returned, in order, and the last cursor."""
    ids: list[str] = []
    for _ in range(calls):
        batch = source.fetch(cursor)
        ids += [m.canonical_id for m in batch.mentions]
        cursor = batch.next_cursor
        if batch.exhausted:
            return ids, cursor
    raise AssertionError("the source never finished its round")


# -- parsers --------------------------------------------------------------------------------------------


def test_it_parses_the_recorded_search_listing() -> None:
    mentions = parse_listing(reference("TestSubreddit.test_search.1.json"))
    assert [m.canonical_id for m in mentions][:2] == ["t3_3gpbiu", "t3_3x4kt2"]
    first = mentions[0]
    assert first.platform == "reddit" and first.platform_id == "t3_3gpbiu"
    assert first.created_at == datetime.fromtimestamp(1439370514.0, UTC)
    assert first.text.startswith("PRAWOAuth2Util problem") or first.text.split("\n\n")[0] == first.raw["title"]
    assert first.author.handle == "dClauzel" and first.conversation_id == "t3_3gpbiu"
    assert first.url == "https://www.reddit.com" + first.raw["permalink"]
    assert first.reply_eligible is False and first.eligibility_reason == "archived: too old for replies"
    assert mentions[-1].reply_eligible is True and mentions[-1].metrics == {"likes": 15, "replies": 0}


def test_it_parses_the_recorded_reply_as_a_comment() -> None:
    things = reference("TestComment.test_reply.1.json")["json"]["data"]["things"]
    mentions = parse_listing({"kind": "Listing", "data": {"children": things, "after": None, "before": None}})
    assert mentions[0].canonical_id == "t1_d1680wu"
    assert mentions[0].in_reply_to_id == "t1_d1616q2" and mentions[0].conversation_id == "t3_4b1tfm"
    assert mentions[0].text == "Comment reply"


def test_it_parses_a_search_listing_in_the_full_shape() -> None:
    payload = fixture("search_listing.json")
    mentions = parse_listing(payload, brand_handle="acme_care")
    assert [m.canonical_id for m in mentions] == ["t3_1gx7k2p", "t3_1gx6zq1", "t3_1gx5m3a"]
    first = mentions[0]
    assert first.text == ("Acme charged me twice for one order\n\nOrdered a kettle on Monday, two charges on my "
                          "card. Support chat keeps timing out. Anyone else?")
    assert first.created_at == NOW - timedelta(minutes=10)
    assert first.author.handle == "jane_doe" and first.author.id == "t2_1x2y3z"
    assert first.url == "https://www.reddit.com/r/CustomerService/comments/1gx7k2p/acme_charged_me_twice_for_one_order/"
    assert first.metrics == {"likes": 14, "replies": 3}
    assert first.raw is payload["data"]["children"][0]["data"]
    assert mentions[1].text == "My acme parcel has been 'out for delivery' for 9 days"  # no selftext: the title
    assert mentions[1].author.handle == "[deleted]" and mentions[1].author.id is None


def test_comments_take_their_thread_from_link_id_and_more_is_skipped() -> None:
    page = read_listing(fixture("comments_listing.json"))
    assert [m.canonical_id for m in page.mentions] == ["t1_m1q2w3e", "t1_m1q2a0b"]
    assert page.bad == [] and page.size == 3 and page.after == "t1_m1q2a0b"
    comment = page.mentions[1]
    assert comment.conversation_id == "t3_1gx2b7c" and comment.in_reply_to_id == "t1_m1p9z8y"
    assert comment.text == "Check whether the second ACME charge is just a pre-authorisation."


def test_inbox_mentions_take_their_url_and_thread_from_context() -> None:
    [mention] = parse_listing(fixture("mentions_listing.json"))
    assert mention.canonical_id == "t1_m1q3r4t" and mention.conversation_id == "t3_1gx7k2p"
    assert mention.in_reply_to_id == "t3_1gx7k2p"
    assert mention.url == ("https://www.reddit.com/r/CustomerService/comments/1gx7k2p/"
                           "acme_charged_me_twice_for_one_order/m1q3r4t/?context=3")
    assert mention.created_at == NOW - timedelta(minutes=2)


def test_a_comment_tree_is_flattened() -> None:
    posts = parse_thread(fixture("thread.json"))
    assert [p.canonical_id for p in posts] == ["t3_1gx7k2p", "t1_m1q6j7k", "t1_m1q3r4t", "t1_m1q4e5f",
                                               "t1_m1q5g6h", "t1_m1q2w3e"]
    assert posts[4].in_reply_to_id == "t1_m1q4e5f" and posts[4].conversation_id == "t3_1gx7k2p"


def thing(kind: str = "t3", **data: Any) -> dict[str, Any]:
    base = {"id": "abc", "name": f"{kind}_abc", "author": "jane_doe", "created_utc": T,
            "title": "acme broke", "body": "acme broke", "permalink": "/r/x/comments/abc/acme/"}
    base.update(data)
    return {"kind": "Listing", "data": {"children": [{"kind": kind, "data": base}], "after": None, "before": None}}


@pytest.mark.parametrize(
    ("payload", "eligible", "reason"),
    [
        (thing(), True, "open for replies"),
        (thing(locked=True), False, "thread locked"),
        (thing("t1", locked=True), False, "comment locked"),
        (thing(archived=True), False, "archived: too old for replies"),
        (thing("t1", body="[removed]"), False, "removed: nothing left to answer"),
        (thing("t1", author="[deleted]"), False, "the author's account is deleted"),
        (thing("t1", author=None), False, "the author's account is deleted"),
        (thing("t1", author="Acme_Care"), False, "posted by the brand's own account"),
    ],
)
def test_reply_eligibility_names_the_reason(payload: Any, eligible: bool, reason: str) -> None:
    [mention] = parse_listing(payload, brand_handle="acme_care")
    assert (mention.reply_eligible, mention.eligibility_reason) == (eligible, reason)


def test_the_fullname_falls_back_to_kind_and_id_and_optional_fields_may_be_absent() -> None:
    payload = {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": {"id": "xyz", "body": "hi"}}]}}
    [mention] = parse_listing(payload)
    assert mention.canonical_id == "t1_xyz" and mention.created_at is None and mention.url is None
    assert mention.author.handle == "[deleted]" and mention.metrics == {}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "expected a Listing object"),
        ([], "expected a Listing object"),
        ({"kind": "t3", "data": {}}, "expected a Listing object"),
        ({"kind": "Listing"}, "no 'data' object"),
        ({"kind": "Listing", "data": {"children": {}}}, "no 'children' list"),
        ({"kind": "Listing", "data": {"children": [], "after": 5}}, "field 'after' must be a string"),
        (thing(title=None), "missing required field 'title'"),
        (thing("t1", body=["x"]), "field 'body' must be a string"),
        (thing(id=None, name=None), "has neither 'name' nor 'id'"),
        (thing(created_utc="yesterday"), "'created_utc' must be seconds since the epoch"),
        (thing(created_utc=1e300), "'created_utc' is not a usable time"),
        (thing(locked="no"), "'locked' must be true or false"),
        (thing(score="many"), "'score' must be a number"),
        ({"kind": "Listing", "data": {"children": [{"kind": "t5", "data": {}}]}}, "unsupported kind 't5'"),
        ({"kind": "Listing", "data": {"children": [{"kind": "t1", "data": []}]}}, "t1 has no 'data' object"),
        ({"kind": "Listing", "data": {"children": [7]}}, "a listing child must be an object"),
    ],
)
def test_malformed_listings_are_refused_with_a_reason(payload: Any, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_listing(payload)


def test_malformed_threads_are_refused_with_a_reason() -> None:
    for payload, message in [({}, "expected an array of Listings"), ([], "expected an array of Listings"),
                             ([{"kind": "Listing", "data": {"children": [7]}}], r"thread\[0\].children\[0\]")]:
        with pytest.raises(ParseError, match=message):
            parse_thread(payload)
    broken = fixture("thread.json")
    broken[1]["data"]["children"][1]["data"]["replies"] = {"kind": "Listing"}
    with pytest.raises(ParseError, match="no 'data' object"):
        parse_thread(broken)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)


def _outcome(parse: Any, payload: Any) -> None:
    try:
        result = parse(payload)
    except ParseError:
        return
    assert isinstance(result, list)


@given(JSON)
def test_any_json_value_parses_or_raises_parse_error(payload: Any) -> None:
    _outcome(parse_listing, payload)
    _outcome(parse_thread, payload)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


VALID = [fixture("search_listing.json"), fixture("comments_listing.json"), fixture("mentions_listing.json"),
         fixture("thread.json")]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.sampled_from(range(len(VALID))), st.data(), JSON)
def test_mutated_payloads_parse_or_raise_parse_error(which: int, data: st.DataObject, value: Any) -> None:
    payload = copy.deepcopy(VALID[which])
    path = data.draw(st.sampled_from(_paths(payload)[1:]))
    target = payload
    for step in path[:-1]:
        target = target[step]
    if data.draw(st.booleans()) and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value
    _outcome(parse_thread if which == 3 else parse_listing, payload)


# -- the cursor step, against a simulated listing that changes between pages -----------------------------


def _listing_page(items: list[tuple[str, float]], after: str | None, limit: int) -> ListingPage:
    names = [name for name, _ in items]
    if after is not None and after not in names:
        window: list[tuple[str, float]] = []
        start = 0
    else:
        start = names.index(after) + 1 if after is not None else 0
        window = items[start : start + limit]
    children = [{"kind": "t3", "data": {"name": n, "title": "acme", "created_utc": c}} for n, c in window]
    more = bool(window) and start + len(window) < len(items)
    return read_listing({"kind": "Listing", "data": {"children": children, "after": window[-1][0] if more else None}})


@settings(max_examples=200)
@given(st.integers(0, 40), st.integers(1, 7), st.lists(st.tuples(st.sampled_from(["add", "delete", "none"]),
                                                                 st.integers(0, 1000)), max_size=30))
def test_no_page_sequence_loses_a_surviving_post(count: int, limit: int, events: list[tuple[str, int]]) -> None:
    """Posts arrive and are deleted between pages; every post never deleted is returned by the next round."""
    base = T - 2000  # posts of today: times outside the intake window would be refused as bad records
    items = [(f"t3_{i}", base + 1000.0 - i * 10) for i in range(count)]  # newest first
    serial, latest = count, base + 1000.0  # new posts are newer than any before them, deleted or not
    deleted: set[str] = set()
    seen: set[str] = set()
    state: dict[str, Any] = {"hwm": base, "pass": None}
    queue = list(events)
    for round_ in range(2):  # the first round changes under the walk; the second sees what it left behind
        while True:
            run = state["pass"] or {"anchors": [], "top": None, "pages": 0}
            page = _listing_page(items, run["anchors"][0] if run["anchors"] else None, limit)
            step = advance_pass(state, run, page, overlap=timedelta(0), max_pages=10_000)
            seen |= {m.canonical_id for m in step.kept}
            state = step.state
            if queue and round_ == 0:
                kind, pick = queue.pop(0)
                if kind == "add":
                    serial, latest = serial + 1, latest + 1
                    items.insert(0, (f"t3_{serial}", latest))
                elif kind == "delete" and items:
                    deleted.add(items.pop(pick % len(items))[0])
            if step.done:
                break
    assert {name for name, _ in items} - deleted <= seen


# -- fetch: paging, crashes and cursors -----------------------------------------------------------------


def test_fetch_pages_through_everything_one_request_per_call(fake: FakeReddit) -> None:
    seeded = seed(fake, 35)
    source = make_source(fake, page_size=10)
    cursor = None
    seen: list[str] = []
    for expected_exhausted in (False, False, False, True):
        before = len(fake.calls("GET", "/r/"))
        batch = source.fetch(cursor)
        assert len(fake.calls("GET", "/r/")) == before + 1
        assert batch.exhausted is expected_exhausted and batch.bad == []
        seen += [m.canonical_id for m in batch.mentions]
        cursor = batch.next_cursor
    assert seen == seeded


def test_a_crash_mid_pass_resumes_from_the_saved_cursor_and_loses_nothing(fake: FakeReddit) -> None:
    seeded = seed(fake, 45)
    first = make_source(fake, page_size=10)
    saved = first.fetch(None).next_cursor
    stale = saved
    seen = []
    for _ in range(2):
        batch = first.fetch(saved)
        seen += [m.canonical_id for m in batch.mentions]
        saved = batch.next_cursor
    # The process dies; a new one (new client, new token) starts from what was saved, and one that died
    # before saving starts from an older cursor: duplicates only.
    restarted, _ = drain(make_source(fake, page_size=10), saved)
    replayed, _ = drain(make_source(fake, page_size=10), stale)
    assert set(seeded[:10] + seen + restarted) == set(seeded)
    assert set(seeded[:10] + replayed) == set(seeded)


def test_posts_arriving_mid_pass_are_picked_up_by_the_next_round(fake: FakeReddit) -> None:
    seeded = seed(fake, 25)
    source = make_source(fake, page_size=10)
    first = source.fetch(None)
    arrived = seed(fake, 12, start=T + 600, word="Acme")  # shifts every page of the listing
    rest, cursor = drain(source, first.next_cursor)
    later, _ = drain(source, cursor)
    collected = [m.canonical_id for m in first.mentions] + rest + later
    assert set(collected) == set(seeded + arrived)
    assert set(arrived) <= set(later)
    assert set(later) - set(arrived) == set(seeded[:3])  # only the 120 s overlap below the mark repeats


def test_a_second_round_returns_only_new_posts_and_the_overlap(fake: FakeReddit) -> None:
    old = seed(fake, 5, start=T - 3600)
    source = make_source(fake, overlap_seconds=120)
    first, cursor = drain(source)
    assert first == old
    newer = seed(fake, 3, start=T + 100, step=10)
    fresh, _ = drain(source, cursor)
    assert fresh == newer + old[:3]  # the overlap: 120 s below the mark (T-3600 .. T-3720)


def test_a_new_source_starts_at_the_backfill_window(fake: FakeReddit) -> None:
    recent = seed(fake, 3, start=T - 3600)
    seed(fake, 3, start=T - 3 * 86400)
    ids, _ = drain(make_source(fake, backfill_hours=24, page_size=2))
    assert ids == recent


def test_a_deleted_anchor_falls_back_to_the_previous_items(fake: FakeReddit) -> None:
    seeded = seed(fake, 30)
    source = make_source(fake, page_size=10)
    first = source.fetch(None)
    anchor = first.mentions[-1].canonical_id
    fake.remove(anchor)  # ?after=<anchor> now answers an empty page
    rest, _ = drain(source, first.next_cursor)
    assert set([m.canonical_id for m in first.mentions] + rest) == set(seeded)


def test_when_every_anchor_is_gone_the_pass_restarts_from_the_top(fake: FakeReddit) -> None:
    seeded = seed(fake, 30)
    source = make_source(fake, page_size=10)
    first = source.fetch(None)
    for mention in first.mentions[-3:]:
        fake.remove(mention.canonical_id)
    rest, cursor = drain(source, first.next_cursor)
    assert set(seeded) - set([m.canonical_id for m in first.mentions] + rest) == set()
    assert json.loads(cursor or "{}")["endpoints"]["search"]["pass"] is None


def test_a_pass_ends_at_max_pages_and_says_so(fake: FakeReddit, caplog: pytest.LogCaptureFixture) -> None:
    seed(fake, 50)
    source = make_source(fake, page_size=10, max_pages=2)
    with caplog.at_level(logging.WARNING):
        ids, cursor = drain(source)
    assert len(ids) == 20 and "source_pass_truncated" in caplog.text
    assert json.loads(cursor or "{}")["endpoints"]["search"]["hwm"] == T


def test_an_unreadable_cursor_is_a_permanent_error(fake: FakeReddit) -> None:
    bad_pass = {"hwm": T, "pass": {"anchors": [7], "top": None, "pages": 1}}
    for cursor in ("not json", '{"v": 2}', '{"v": 1, "pending": [], "endpoints": {"search": {}}}',
                   json.dumps({"v": 1, "pending": [], "endpoints": {"search": bad_pass}})):
        with pytest.raises(SourceError, match="unreadable reddit cursor") as caught:
            make_source(fake).fetch(cursor)
        assert caught.value.permanent


def test_search_asks_reddit_for_the_newest_keyword_posts_in_the_subreddits(fake: FakeReddit) -> None:
    fake.add_submission(title="acme kettle", subreddit="BuyItForLife", created=T)
    fake.add_submission(title="acme kettle", subreddit="elsewhere", created=T)
    source = make_source(fake, subreddits=["BuyItForLife", "r/CustomerService"])
    ids, _ = drain(source)
    [request] = fake.calls("GET", "/r/")
    assert request.path == "/r/BuyItForLife+CustomerService/search/"
    assert {k: v[0] for k, v in request.query.items()} == {
        "q": "acme", "sort": "new", "restrict_sr": "true", "limit": "100", "t": "all", "type": "link", "raw_json": "1"}
    assert request.headers["user-agent"].startswith("closeloop/0.1 by acme_care")
    assert len(ids) == 1


def test_comments_and_inbox_mentions_are_polled_too_and_our_own_posts_dropped(fake: FakeReddit) -> None:
    post = fake.add_submission(title="kettle thread", created=T - 60)
    keyword = fake.add_comment(parent=post, body="my ACME kettle leaks", created=T - 50)
    fake.add_comment(parent=post, body="unrelated chatter", created=T - 40)
    mention = fake.add_comment(parent=post, body="u/acme_care please help", author="sam_k", created=T - 30)
    fake.add_comment(parent=post, body="Sorry about the acme kettle – Maria", author="acme_care", created=T - 20)
    source = make_source(fake, env=USER_ENV, comments=True)
    assert source.endpoints == ("search", "comments", "mentions")
    batches: list[Batch] = []
    cursor = None
    while not batches or not batches[-1].exhausted:
        batches.append(source.fetch(cursor))
        cursor = batches[-1].next_cursor
    by_call = [[m.canonical_id for m in b.mentions] for b in batches]
    assert by_call == [[], [mention, keyword], [mention]]
    [inbox] = batches[2].mentions
    assert inbox.conversation_id == post and inbox.url and inbox.url.endswith("?context=3")


def test_the_inbox_is_off_without_the_account_and_cannot_be_forced_on() -> None:
    settings = SourceSettings(name="r", platform="reddit", options={})
    assert build_source(settings, BRAND, ENV).endpoints == ("search",)
    forced = SourceSettings(name="r", platform="reddit", options={"inbox": True})
    with pytest.raises(MissingCredentials) as caught:
        build_source(forced, BRAND, ENV)
    assert caught.value.variables == ["REDDIT_USERNAME", "REDDIT_PASSWORD"]


def test_by_default_it_talks_to_reddit_itself() -> None:
    source = build_source(SourceSettings(name="r", platform="reddit"), BRAND, ENV)
    assert source.reddit.config.oauth_url == "https://oauth.reddit.com"
    assert source.reddit.config.reddit_url == "https://www.reddit.com"
    assert source.reddit.config.user_agent == "closeloop/0.1 by acme_care"
    assert source.subreddits == ("all",) and source.query == "acme" and source.page_size == 100


def test_missing_credentials_name_the_variables() -> None:
    settings = SourceSettings(name="r", platform="reddit")
    with pytest.raises(MissingCredentials) as caught:
        build_source(settings, BRAND, {})
    assert caught.value.variables == ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"]
    renamed = SourceSettings(name="r", platform="reddit", credentials_env={"client_secret": "ACME_REDDIT_SECRET"})
    with pytest.raises(MissingCredentials, match="ACME_REDDIT_SECRET"):
        build_source(renamed, BRAND, ENV)


def test_bad_options_stop_the_source_with_the_key_named() -> None:
    cases: list[tuple[dict[str, Any], str]] = [({"subreddits": "bad name!"}, "subreddits"),
                                               ({"page_size": 500}, "page_size")]
    for options, key in cases:  # a bad option is a one-line config error naming the source and the key
        with pytest.raises(ConfigError, match=f"source 'r': options.{key}") as refused:
            parse_settings({"sources": [{"name": "r", "platform": "reddit", "options": options}]}, env={})
        assert "\n" not in str(refused.value)
    with pytest.raises(SourceError, match="all off") as caught:  # what only the environment decides
        build_source(SourceSettings(name="r", platform="reddit", options={"search": False}), BRAND, ENV)
    assert caught.value.permanent


def test_a_bad_child_is_reported_and_the_rest_goes_in(fake: FakeReddit) -> None:
    good = seed(fake, 2)
    broken = fake.add_submission(title="acme broken record", created=T - 30)
    fake.things[broken]["data"]["locked"] = "no"
    batch = make_source(fake).fetch(None)
    assert [m.canonical_id for m in batch.mentions] == [good[0], good[1]]
    assert [(b.position, b.reason) for b in batch.bad] == [("children[1]", "field 'locked' must be true or false, got 'no'")]


# -- fetch: rate limits and failures --------------------------------------------------------------------


def test_a_429_raises_rate_limited_from_the_reset_header_and_the_cursor_resumes(fake: FakeReddit) -> None:
    seeded = seed(fake, 25)
    source = make_source(fake, page_size=10)
    first = source.fetch(None)
    fake.inject("search", Fault.status_code(429, headers={"x-ratelimit-remaining": "0", "x-ratelimit-used": "600",
                                                           "x-ratelimit-reset": "37"}))
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        source.fetch(first.next_cursor)
    assert caught.value.retry_after == 37 and not caught.value.permanent
    with pytest.raises(RateLimited) as again:  # the quota is spent: no request until the reset
        source.fetch(first.next_cursor)
    assert again.value.retry_after == 37 and len(fake.calls("GET", "/r/")) == 2
    assert time.monotonic() - started < 5  # neither praw nor prawcore slept
    source.clock.now = NOW + timedelta(seconds=37)  # type: ignore[attr-defined]
    rest, _ = drain(source, first.next_cursor)
    assert set([m.canonical_id for m in first.mentions] + rest) == set(seeded)


def test_retry_after_as_an_http_date_counts_from_the_clock(fake: FakeReddit) -> None:
    fake.inject("search", Fault.status_code(429, headers={"Retry-After": format_datetime(NOW + timedelta(seconds=90),
                                                                                       usegmt=True)}))
    with pytest.raises(RateLimited) as caught:
        make_source(fake).fetch(None)
    assert caught.value.retry_after == 90


def test_a_spent_quota_is_not_slept_on(fake: FakeReddit) -> None:
    seed(fake, 3)
    fake.quota, fake.reset_seconds = 1, 300
    source = make_source(fake, page_size=1)
    source.fetch(None)  # answered with x-ratelimit-remaining: 0, reset 300
    with pytest.raises(RateLimited) as caught:
        source.fetch(None)
    assert caught.value.retry_after == 300
    source.rate_limit.remaining = None  # forget it: prawcore alone would now sleep 300 s before asking
    started = time.monotonic()
    with pytest.raises(RateLimited):
        source.fetch(None)  # the fake answers 429
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient_and_not_retried(fake: FakeReddit, status: int) -> None:
    fake.inject("search", Fault.status_code(status), Fault.status_code(status))
    with pytest.raises(SourceError, match=f"reddit search: HTTP {status}") as caught:
        make_source(fake).fetch(None)
    assert not caught.value.permanent and len(fake.calls("GET", "/r/")) == 1


def test_a_timeout_is_transient_and_not_retried(fake: FakeReddit) -> None:
    fake.inject("search", Fault.timeout(2))
    with pytest.raises(SourceError, match="reddit search: no answer") as caught:
        make_source(fake, timeout=0.5).fetch(None)
    assert not caught.value.permanent and len(fake.calls("GET", "/r/")) == 1


def test_an_unreachable_server_is_transient(fake: FakeReddit) -> None:
    source = make_source(fake)
    fake.stop()
    with pytest.raises(SourceError, match="no answer") as caught:
        source.fetch(None)
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault.status_code(401, headers={"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}),
         "HTTP 401"),
        (Fault.status_code(401), "HTTP 401"),
        (Fault.status_code(403), "HTTP 403"),
        (Fault.status_code(404), "HTTP 404"),
    ],
)
def test_auth_and_missing_subreddit_errors_are_permanent(fake: FakeReddit, fault: Fault, message: str) -> None:
    fake.inject("search", fault)
    with pytest.raises(SourceError, match=message) as caught:
        make_source(fake).fetch(None)
    assert caught.value.permanent and len(fake.calls("GET", "/r/")) == 1


def test_a_refused_token_is_not_sent_again(fake: FakeReddit) -> None:
    seed(fake, 1)
    source = make_source(fake)
    fake.inject("search", Fault.status_code(401))
    with pytest.raises(SourceError):
        source.fetch(None)
    source.fetch(None)
    first, second = fake.calls("GET", "/r/")
    assert first.headers["authorization"] != second.headers["authorization"]


def test_wrong_app_credentials_or_password_are_permanent(fake: FakeReddit) -> None:
    with pytest.raises(SourceError, match="HTTP 401") as caught:
        make_source(fake, env={**ENV, "REDDIT_CLIENT_SECRET": "wrong"}).fetch(None)
    assert caught.value.permanent
    with pytest.raises(SourceError, match="authentication failed: invalid_grant") as caught:
        make_source(fake, env={**USER_ENV, "REDDIT_PASSWORD": "wrong"}).fetch(None)
    assert caught.value.permanent


def test_a_malformed_body_is_transient_and_names_the_endpoint(fake: FakeReddit) -> None:
    fake.inject("search", Fault.malformed(), Fault.status_code(200, body={"kind": "Listing", "data": []}))
    source = make_source(fake)
    with pytest.raises(SourceError, match="reddit search: malformed body") as caught:
        source.fetch(None)
    assert not caught.value.permanent
    with pytest.raises(SourceError, match="reddit search: malformed response: listing: the Listing has no 'data'") as caught:
        source.fetch(None)
    assert not caught.value.permanent


# -- fetch_thread ---------------------------------------------------------------------------------------


def test_fetch_thread_returns_only_the_customers_later_posts(fake: FakeReddit) -> None:
    post = fake.add_submission(title="acme double charge", author="jane_doe", created=T - 3600)
    root = fake.add_comment(parent=post, body="u/acme_care charged twice", author="jane_doe", created=T - 3000)
    ours = fake.add_comment(parent=root, body="Sorry Jane – Maria", author="acme_care", created=T - 2000)
    early = fake.add_comment(parent=post, body="still waiting", author="jane_doe", created=T - 2500)
    later = fake.add_comment(parent=ours, body="Thanks, refund arrived!", author="jane_doe", created=T - 600)
    fake.add_comment(parent=ours, body="me too", author="sam_k", created=T - 500)
    newest = fake.add_comment(parent=post, body="All sorted now.", author="Jane_Doe", created=T - 100)
    source = make_source(fake)
    ref = ThreadRef(platform="reddit", conversation_id=post, root_platform_id=root, root_canonical_id=root,
                    author_handle="jane_doe", author_id=None, since=datetime.fromtimestamp(T - 2000, UTC))
    found = source.fetch_thread(ref).mentions
    assert [m.canonical_id for m in found] == [later, newest]
    assert early not in [m.canonical_id for m in found]
    [request] = fake.calls("GET", "/comments/")
    assert request.path == f"/comments/{post[3:]}/" and request.arg("sort") == "new"


def test_fetch_thread_reports_deleted_and_removed_posts_and_never_returns_them(fake: FakeReddit) -> None:
    post = fake.add_submission(title="acme double charge", author="jane_doe", created=T - 3600)
    root = fake.add_comment(parent=post, body="u/acme_care charged twice", author="jane_doe", created=T - 3000)
    regret = fake.add_comment(parent=root, body="you are all useless", author="jane_doe", created=T - 600)
    fake.remove(regret)
    ref = ThreadRef(platform="reddit", conversation_id=post, root_platform_id=root, root_canonical_id=root,
                    author_handle="jane_doe", author_id=None, since=datetime.fromtimestamp(T - 2000, UTC))
    thread = make_source(fake).fetch_thread(ref)
    assert thread.deleted == [regret] and regret not in [m.canonical_id for m in thread.mentions]


@pytest.mark.parametrize(("data", "gone"), [
    ({"body": "[deleted]"}, True), ({"body": " [removed] "}, True), ({"body": "deleted my order"}, False),
])
def test_a_comment_reddit_shows_deleted_or_removed_is_gone(data: dict[str, Any], gone: bool) -> None:
    [mention] = parse_listing({"kind": "Listing", "data": {"children": [
        {"kind": "t1", "data": {"name": "t1_a", "author": "[deleted]", "created_utc": T, **data}}]}})
    assert is_gone(mention) is gone


def test_a_submission_a_moderator_removed_is_gone() -> None:
    [mention] = parse_listing({"kind": "Listing", "data": {"children": [
        {"kind": "t3", "data": {"name": "t3_a", "title": "acme", "created_utc": T, "removed_by_category": "moderator"}}]}})
    assert is_gone(mention)


def test_fetch_thread_of_a_deleted_thread_is_empty_and_errors_are_kinded(fake: FakeReddit) -> None:
    source = make_source(fake)
    ref = ThreadRef(platform="reddit", conversation_id="t3_zzzzzz", root_platform_id="t1_a", root_canonical_id="t1_a",
                    author_handle="jane_doe", author_id=None, since=NOW)
    assert source.fetch_thread(ref).mentions == []
    fake.inject("thread", Fault.status_code(503))
    with pytest.raises(SourceError) as caught:
        source.fetch_thread(ref)
    assert not caught.value.permanent
    unknown = ThreadRef(platform="reddit", conversation_id=None, root_platform_id="x", root_canonical_id="x",
                        author_handle="jane_doe", author_id=None, since=NOW)
    assert source.fetch_thread(unknown).mentions == []
