"""The Bluesky source: pure parsers against recorded and documented payloads, and the real atproto client
and a real websocket client against the fake PDS and Jetstream in tests/fakes/bluesky.py."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import Brand, BrandHandles, ConfigError, SourceSettings, parse_settings
from monitor.sources.base import (
    Batch,
    MissingCredentials,
    ParsedMention,
    ParseError,
    RateLimited,
    SourceError,
    ThreadRef,
)
from monitor.sources.bluesky.jetstream import keyword_pattern, parse_jetstream_deletion, parse_jetstream_event
from monitor.sources.bluesky.parse import (
    notification_mentions,
    parse_notifications,
    parse_post_record,
    parse_thread,
    parse_timestamp,
    read_thread,
)
from monitor.sources.bluesky.source import BlueskySource, build_source
from monitor.sources.intake import IntakeRules
from tests.fakes.bluesky import FakeBluesky, did_for, seed_customers, time_us_of
from tests.fakes.server import Fault
from tests.reference import REFERENCE_PAYLOADS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ENV = {"BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"}
BRAND = Brand(name="Acme", handles=BrandHandles(bluesky="acme.bsky.social"), keywords=("acme", "아크미"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bluesky"
REFERENCE = REFERENCE_PAYLOADS / "bluesky"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def reference(name: str) -> Any:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference payload {path} is absent (../shared/reference-payloads is not checked out here)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky() as running:
        yield running


def make_source(fake: FakeBluesky, *, brand: Brand = BRAND, env: dict[str, str] | None = None,
                clock: Any = lambda: NOW, **options: Any) -> BlueskySource:
    settings = SourceSettings(name="bluesky-acme", platform="bluesky", options={
        "api_base_url": fake.url, "jetstream_url": fake.jetstream.url, "timeout_seconds": 2,
        "stream_seconds": 0.5, "stream_idle_seconds": 0.1, **options})
    return build_source(settings, brand, ENV if env is None else env, clock=clock)


def drain(source: BlueskySource, cursor: str | None = None, *, limit: int = 60) -> tuple[list[Batch], str | None]:
    """fetch until a batch is exhausted, as the daemon does within one poll."""
    batches = []
    for _ in range(limit):
        batch = source.fetch(cursor)
        batches.append(batch)
        cursor = batch.next_cursor
        if batch.exhausted:
            return batches, cursor
    raise AssertionError("the source never reported exhausted")


def ids(batches: list[Batch]) -> list[str]:
    return [m.canonical_id for b in batches for m in b.mentions]


def create_session_calls(fake: FakeBluesky) -> int:
    return len(fake.calls("POST", "/xrpc/com.atproto.server.createSession"))


# -- parsers: recorded and documented payloads ------------------------------------------------------------


def test_it_parses_the_recorded_thread_view_with_embedded_media() -> None:
    [mention] = parse_thread(reference("thread_view_post_with_embed_media.json"))
    uri = "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kaheyt6vpc22"
    assert mention.platform == "bluesky"
    assert mention.canonical_id == mention.platform_id == mention.conversation_id == uri
    assert mention.text == ""
    assert mention.created_at == datetime(2023, 9, 28, 12, 49, 36, 735000, tzinfo=UTC)
    assert mention.author.handle == "test.marshal.dev"
    assert mention.author.id == "did:plc:kvwvcn5iqfooopmyzvb4qzba"
    assert mention.author.name == "Python SDK"
    assert mention.url == "https://bsky.app/profile/test.marshal.dev/post/3kaheyt6vpc22"
    assert mention.in_reply_to_id is None
    assert mention.lang == "en"
    assert mention.metrics == {"likes": 0, "reposts": 0, "replies": 0}
    assert (mention.reply_eligible, mention.eligibility_reason) == (True, None)
    assert mention.raw["cid"] == "bafyreigb666sdjyyaczcahxmf5tzh7dec6bwr3nhdab7llebn7vhsxzgr4"
    assert mention.raw["record"]["embed"]["$type"] == "app.bsky.embed.recordWithMedia"


def test_it_parses_the_recorded_post_record_with_its_uri_or_as_a_bare_record() -> None:
    payload = reference("post_record.json")
    [from_get_record] = parse_post_record(payload)
    [bare] = parse_post_record(payload["value"], uri=payload["uri"], cid=payload["cid"])
    for mention in (from_get_record, bare):
        assert mention.canonical_id == "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3k2yihcrp6f2c"
        assert mention.text == "new text114"
        assert mention.created_at == datetime(2024, 2, 22, 19, 58, 13, 903293, tzinfo=UTC)
        assert mention.author.handle == mention.author.id == "did:plc:kvwvcn5iqfooopmyzvb4qzba"
        assert mention.url == "https://bsky.app/profile/did:plc:kvwvcn5iqfooopmyzvb4qzba/post/3k2yihcrp6f2c"
        assert mention.raw["cid"] == "bafyreifzi5xyrf3c5jw7cci4zrltyl25ik2dboznop4qo4cotcfbyjtita"
    with pytest.raises(ParseError, match="at-uri"):
        parse_post_record(payload["value"])


def test_it_keeps_mentions_replies_and_quotes_from_notifications_and_drops_likes_and_follows() -> None:
    mentions = parse_notifications(fixture("notifications.json"), brand_handle="acme.bsky.social")
    by_text = {m.text: m for m in mentions}
    assert [m.raw["reason"] for m in mentions] == ["quote", "reply", "mention", "mention"]
    quote = by_text["아크미 배송이 너무 늦어요"]
    assert (quote.author.handle, quote.author.name, quote.author.verified, quote.lang) == (
        "minji.bsky.social", "김민지", True, "ko")
    reply = by_text["Min pakke er aldrig kommet, hvad sker der?"]
    brand_post = "at://did:plc:vbwkaix4ct5sldlvj2ez6iqh/app.bsky.feed.post/3n2l3mwtk2223"
    assert (reply.in_reply_to_id, reply.conversation_id, reply.lang) == (brand_post, brand_post, "da")
    assert reply.raw["record"]["reply"]["root"]["cid"].startswith("bafyrei")
    jane = by_text["@acme.bsky.social my order never arrived and nobody answers"]
    assert jane.created_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert jane.conversation_id == jane.canonical_id and jane.in_reply_to_id is None
    assert jane.author.followers is None  # a notification's author is a basic profile view
    invalid = by_text["@acme.bsky.social refund please"]
    assert invalid.author.handle == invalid.author.id  # handle.invalid: the DID stands in
    assert invalid.created_at == datetime(2026, 11, 20, 8, 41, 7, tzinfo=UTC)  # unreadable createdAt -> indexedAt
    assert invalid.url is not None and invalid.url.startswith("https://bsky.app/profile/did:plc:")
    assert all(m.reply_eligible for m in mentions)


def test_it_leaves_the_brands_own_posts_out() -> None:
    payload = fixture("notifications.json")
    payload["notifications"][0]["author"]["handle"] = "acme.bsky.social"
    assert "아크미 배송이 너무 늦어요" not in [m.text for m in parse_notifications(payload, brand_handle="acme.bsky.social")]


def test_it_flattens_a_thread_and_reads_reply_eligibility_from_the_view() -> None:
    mentions = parse_thread(fixture("thread_with_replies.json"), brand_handle="acme.bsky.social")
    assert [m.text for m in mentions] == [
        "@acme.bsky.social my order never arrived and nobody answers",
        "Sent! Order 55123.",
        "Still nothing an hour later…",
        "Same here!",
    ]  # our reply, the blocked post and the deleted one are left out
    root = mentions[0].canonical_id
    assert all(m.conversation_id == root for m in mentions)
    assert mentions[1].in_reply_to_id == "at://did:plc:vbwkaix4ct5sldlvj2ez6iqh/app.bsky.feed.post/3n2qaztfg2227"
    eligibility = {m.text: (m.reply_eligible, m.eligibility_reason) for m in mentions}
    assert eligibility["Sent! Order 55123."] == (True, None)
    assert eligibility["Still nothing an hour later…"][0] is False
    assert "threadgate" in (eligibility["Still nothing an hour later…"][1] or "")
    assert eligibility["Same here!"] == (False, "the author blocks our account")


def test_a_client_declared_date_outside_the_window_gives_way_to_the_servers() -> None:
    body = fixture("notifications.json")
    first = body["notifications"][0]
    indexed = parse_timestamp(first["indexedAt"])
    first["record"]["createdAt"] = "9999-12-31T23:30:00.000Z"
    intake = IntakeRules().at(NOW)
    found, bad = notification_mentions(body, "acme.bsky.social", intake)
    assert found[0][0] == 0 and found[0][1].created_at == indexed and intake.sanitised == 1 and bad == []
    first["indexedAt"] = "0001-01-01T00:00:00.000Z"
    found, bad = notification_mentions(body, "acme.bsky.social", IntakeRules().at(NOW))
    assert [b.position for b in bad] == ["notifications[0]"] and "is in the future" in bad[0].reason


def test_a_thread_reports_the_posts_it_no_longer_finds_as_deleted() -> None:
    page = read_thread(fixture("thread_with_replies.json"), "acme.bsky.social")
    assert page.deleted == ["at://did:plc:vdqncq4iezioolqs7ezur7ja/app.bsky.feed.post/3n2qbsui6k22e"]


def test_a_threadgate_that_allows_nobody_closes_the_whole_thread() -> None:
    payload = fixture("thread_with_replies.json")
    root = payload["thread"]["post"]
    payload["threadgate"] = {"uri": root["uri"].replace("app.bsky.feed.post", "app.bsky.feed.threadgate"),
                             "cid": root["cid"], "lists": [],
                             "record": {"$type": "app.bsky.feed.threadgate", "post": root["uri"], "allow": [],
                                        "createdAt": "2026-11-20T09:00:01.000Z"}}
    mentions = parse_thread(payload)
    assert mentions and not any(m.reply_eligible for m in mentions)
    assert {m.eligibility_reason for m in mentions} >= {"the thread's author turned replies off (threadgate)"}


def test_it_reads_posts_from_jetstream_commits_and_nothing_else() -> None:
    events = fixture("jetstream_events.json")
    created, reply, updated, like, delete, identity, account = (parse_jetstream_event(e) for e in events)
    assert created is not None and updated is not None and reply is not None
    mads = did_for("mads.bsky.social")
    assert created.canonical_id == f"at://{mads}/app.bsky.feed.post/{events[0]['commit']['rkey']}"
    assert created.author.handle == created.author.id == mads
    assert created.url == f"https://bsky.app/profile/{mads}/post/{events[0]['commit']['rkey']}"
    assert created.raw["cid"] == events[0]["commit"]["cid"] and created.raw["time_us"] == events[0]["time_us"]
    assert (created.lang, created.created_at) == ("da", datetime(2026, 11, 20, 11, 59, 57, 802000, tzinfo=UTC))
    assert updated.canonical_id == created.canonical_id and updated.text.endswith("(rettet)")
    assert reply.in_reply_to_id == events[1]["commit"]["record"]["reply"]["parent"]["uri"]
    assert reply.conversation_id == events[1]["commit"]["record"]["reply"]["root"]["uri"]
    assert reply.raw["record"]["reply"]["root"]["cid"] == events[1]["commit"]["record"]["reply"]["root"]["cid"]
    assert (like, delete, identity, account) == (None, None, None, None)
    assert parse_jetstream_deletion(events[4]) == created.canonical_id
    assert [parse_jetstream_deletion(e) for e in events if e is not events[4]] == [None] * 6


@pytest.mark.parametrize(("payload", "message"), [
    ([], "must be an object"),
    ({"notifications": {}}, "must be a list"),
    ({"notifications": [{"reason": "mention"}]}, "author"),
    ({"notifications": [{"reason": 3}]}, "reason must be a string"),
])
def test_malformed_notifications_are_a_parse_error_with_a_reason(payload: Any, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_notifications(payload)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda item: item.pop("uri"), "uri must be a string"),
    (lambda item: item.update(uri="https://bsky.app/x"), "not a post at-uri"),
    (lambda item: item["record"].update(text=12), "text must be a string"),
    (lambda item: item["record"].pop("text"), "text is missing"),
    (lambda item: item["author"].update(did="jane"), "not a DID"),
    (lambda item: item["record"].update(reply={"root": {"uri": "at://x/app.bsky.feed.post/1"}}), "parent"),
])
def test_a_malformed_notification_item_names_its_field(mutate: Any, message: str) -> None:
    payload = fixture("notifications.json")
    mutate(payload["notifications"][4])
    with pytest.raises(ParseError, match=message):
        parse_notifications(payload)


@pytest.mark.parametrize(("text", "matches"), [
    ("Acme's app is down", True), ("#acme help", True), ("@acme.bsky.social hi", True),
    ("아크미에서 산 물건", True), ("megaacme deals", False), ("nothing here", False),
])
def test_keywords_match_at_the_start_of_a_word_in_any_case(text: str, matches: bool) -> None:
    pattern = keyword_pattern(["ACME", "아크미", " "])
    assert pattern is not None and bool(pattern.search(text)) is matches
    assert keyword_pattern([]) is None


# -- parsers fuzzed ---------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=24,
)
NASTY: st.SearchStrategy[Any] = st.sampled_from([None, "", 0, -1, True, [], {}, "at://x", "did:plc:x", 1e308, "2026-13-45T99:99:99Z",
                         "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "handle.invalid"]) | JSON


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, payload: Any) -> Any:
    value = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(value))))
        if not path:
            value = draw(NASTY)
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(NASTY)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return value


def _check(result: Any) -> None:
    mentions = result if isinstance(result, list) else [] if result is None else [result]
    for mention in mentions:
        assert isinstance(mention, ParsedMention)
        assert mention.canonical_id.startswith("at://") and isinstance(mention.text, str)
        assert mention.created_at is None or mention.created_at.utcoffset() == timedelta(0)
        json.dumps(dict(mention.raw))


PARSERS = [parse_notifications, parse_thread, parse_post_record, parse_jetstream_event]


@settings(max_examples=200, deadline=None)
@given(payload=JSON, parser=st.sampled_from(PARSERS))
def test_any_json_is_parsed_or_rejected_with_a_parse_error(payload: Any, parser: Any) -> None:
    with contextlib.suppress(ParseError):
        _check(parser(payload))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_valid_payloads_are_parsed_or_rejected_with_a_parse_error(data: st.DataObject) -> None:
    events = fixture("jetstream_events.json")
    parser, payload = data.draw(st.sampled_from([
        (parse_notifications, fixture("notifications.json")),
        (parse_thread, fixture("thread_with_replies.json")),
        (parse_jetstream_event, events[0]),
        (parse_jetstream_event, events[1]),
        (parse_post_record, {"uri": "at://did:plc:abc/app.bsky.feed.post/3k2yihcrp6f2c", "cid": "bafyrei1",
                             "value": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-02-22T19:58:13Z"}}),
    ]))
    with contextlib.suppress(ParseError):
        _check(parser(data.draw(mutated(payload))))
    deleted = parse_jetstream_deletion(data.draw(mutated(events[4])))
    assert deleted is None or (deleted.startswith("at://did:") and "/app.bsky.feed.post/" in deleted)


# -- notifications through the fake ------------------------------------------------------------------------


def seed_mentions(fake: FakeBluesky, count: int, *, start: datetime = NOW - timedelta(hours=2)) -> list[str]:
    return [fake.add_post(f"customer{i}.bsky.social", f"@{fake.brand.handle} problem number {i}",
                          at=start + timedelta(minutes=i)) for i in range(count)]


def test_it_pages_through_notifications_and_loses_nothing_across_a_crash(fake: FakeBluesky) -> None:
    seeded = seed_mentions(fake, 7)
    source = make_source(fake, page_size=2, keywords_stream=False)
    first = source.fetch(None)
    assert not first.exhausted and len(first.mentions) == 2
    # the daemon saved first.next_cursor with its mentions, then the process died: a new source resumes
    restarted = make_source(fake, page_size=2, keywords_stream=False)
    batches, _cursor = drain(restarted, first.next_cursor)
    assert sorted(set(ids([first, *batches]))) == sorted(seeded)
    assert len(batches) >= 3  # one page per fetch


def test_a_crash_before_the_cursor_was_saved_repeats_a_page_and_loses_nothing(fake: FakeBluesky) -> None:
    seeded = seed_mentions(fake, 5)
    source = make_source(fake, page_size=2, keywords_stream=False)
    source.fetch(None)  # its mentions and cursor were never stored
    batches, _ = drain(make_source(fake, page_size=2, keywords_stream=False), None)
    assert sorted(set(ids(batches))) == sorted(seeded)


def test_overlapping_pages_are_harmless(fake: FakeBluesky) -> None:
    fake.page_overlap = 1
    seeded = seed_mentions(fake, 7)
    batches, _ = drain(make_source(fake, page_size=3, keywords_stream=False))
    collected = ids(batches)
    assert sorted(set(collected)) == sorted(seeded) and len(collected) > len(seeded)


def test_the_high_water_mark_moves_only_when_a_pass_ends(fake: FakeBluesky) -> None:
    seeded = seed_mentions(fake, 3)
    source = make_source(fake, page_size=2, keywords_stream=False)
    first_pass, cursor = drain(source)
    assert json.loads(first_pass[0].next_cursor or "")["hw"] is None  # mid-pass: not adopted yet
    assert json.loads(cursor or "")["hw"]["uri"] == seeded[-1]
    second = seed_mentions(fake, 5, start=NOW - timedelta(hours=1))
    page = source.fetch(cursor)  # the second pass starts on the newest page...
    mid_pass = seed_mentions(fake, 2, start=NOW - timedelta(minutes=10))  # ...and these arrive meanwhile
    assert json.loads(page.next_cursor or "")["hw"]["uri"] == seeded[-1]
    rest, cursor = drain(source, page.next_cursor)
    assert set(second) <= set(ids([page, *rest]))
    assert json.loads(cursor or "")["hw"]["uri"] == second[-1]  # the newest item when the pass began
    third, _ = drain(source, cursor)
    assert set(mid_pass) <= set(ids(third))


def test_the_first_pass_looks_back_only_backfill_hours(fake: FakeBluesky) -> None:
    old = seed_mentions(fake, 2, start=NOW - timedelta(days=3))
    recent = seed_mentions(fake, 2, start=NOW - timedelta(hours=1))
    batches, _ = drain(make_source(fake, page_size=1, keywords_stream=False, backfill_hours=24))
    assert sorted(set(ids(batches))) == sorted(recent) and not set(old) & set(ids(batches))


def test_authors_get_their_follower_counts_from_one_batched_profile_lookup(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    source = make_source(fake, keywords_stream=False)
    batches, cursor = drain(source)
    followers = {m.author.handle: m.author.followers for m in batches[0].mentions}
    assert followers == {"jane.bsky.social": 1520, "mads.bsky.social": 88, "minji.bsky.social": 4021}
    drain(source, cursor)
    assert len(fake.calls("GET", "/xrpc/app.bsky.actor.getProfiles")) == 1  # cached


def test_a_failed_profile_lookup_keeps_the_mentions(fake: FakeBluesky) -> None:
    seeded = seed_mentions(fake, 2)
    fake.inject("app.bsky.actor.getProfiles", Fault.status_code(500))
    batches, _ = drain(make_source(fake, keywords_stream=False))
    assert sorted(ids(batches)) == sorted(seeded)
    assert {m.author.handle for m in batches[0].mentions} == {"customer0.bsky.social", "customer1.bsky.social"}


# -- session reuse --------------------------------------------------------------------------------------


def test_five_polls_log_in_once(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    source = make_source(fake, keywords_stream=False)
    cursor = None
    for _ in range(5):
        _, cursor = drain(source, cursor)
    assert create_session_calls(fake) == 1
    assert len(fake.calls("GET", "/xrpc/app.bsky.notification.listNotifications")) == 5


def test_an_expired_access_token_is_refreshed_not_a_new_login(fake: FakeBluesky) -> None:
    seeded = seed_mentions(fake, 2)
    source = make_source(fake, keywords_stream=False)
    _, cursor = drain(source)
    fake.expire_access_tokens()
    fake.add_post("late.bsky.social", f"@{fake.brand.handle} one more", at=NOW - timedelta(minutes=1))
    batches, _ = drain(source, cursor)
    assert create_session_calls(fake) == 1
    assert len(fake.calls("POST", "/xrpc/com.atproto.server.refreshSession")) == 1
    assert len(set(ids(batches)) - set(seeded)) == 1


def test_a_refused_refresh_falls_back_to_one_new_login(fake: FakeBluesky) -> None:
    seed_mentions(fake, 1)
    source = make_source(fake, keywords_stream=False)
    _, cursor = drain(source)
    fake.expire_access_tokens()
    fake.inject("com.atproto.server.refreshSession", Fault.status_code(400, body={"error": "ExpiredToken",
                                                                                 "message": "Token has expired"}))
    drain(source, cursor)
    assert create_session_calls(fake) == 2


# -- errors ---------------------------------------------------------------------------------------------


def test_429_gives_retry_after_from_the_reset_header_and_the_same_cursor_resumes(fake: FakeBluesky) -> None:
    seeded = seed_mentions(fake, 5)
    source = make_source(fake, page_size=2, keywords_stream=False)
    first = source.fetch(None)
    reset = int(NOW.timestamp()) + 120
    fake.inject("app.bsky.notification.listNotifications", Fault.status_code(
        429, headers={"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset),
                      "ratelimit-policy": "3000;w=300"}, body={"error": "RateLimitExceeded",
                                                                "message": "Rate Limit Exceeded"}))
    with pytest.raises(RateLimited) as raised:
        source.fetch(first.next_cursor)
    assert raised.value.retry_after == 120 and not raised.value.permanent
    batches, _ = drain(source, first.next_cursor)
    assert sorted(set(ids([first, *batches]))) == sorted(seeded)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake: FakeBluesky, status: int) -> None:
    fake.inject("app.bsky.notification.listNotifications", Fault.status_code(status))
    with pytest.raises(SourceError) as raised:
        make_source(fake, keywords_stream=False).fetch(None)
    assert not raised.value.permanent and "listNotifications" in str(raised.value)


def test_a_timeout_is_transient(fake: FakeBluesky) -> None:
    fake.inject("app.bsky.notification.listNotifications", Fault.timeout(2))
    with pytest.raises(SourceError) as raised:
        make_source(fake, keywords_stream=False, timeout_seconds=0.5).fetch(None)
    assert not raised.value.permanent


def test_a_wrong_app_password_is_permanent(fake: FakeBluesky) -> None:
    with pytest.raises(SourceError) as raised:
        make_source(fake, env={"BLUESKY_APP_PASSWORD": "wrong"}, keywords_stream=False).fetch(None)
    assert raised.value.permanent and "app password" in str(raised.value)


@pytest.mark.parametrize(("status", "error"), [(401, "AuthMissing"), (403, "Forbidden")])
def test_401_and_403_are_permanent(fake: FakeBluesky, status: int, error: str) -> None:
    fake.inject("app.bsky.notification.listNotifications", Fault.status_code(status, body={"error": error}))
    with pytest.raises(SourceError) as raised:
        make_source(fake, keywords_stream=False).fetch(None)
    assert raised.value.permanent


def test_a_malformed_body_is_transient_and_names_the_endpoint(fake: FakeBluesky) -> None:
    fake.inject("app.bsky.notification.listNotifications", Fault.malformed())
    with pytest.raises(SourceError) as raised:
        make_source(fake, keywords_stream=False).fetch(None)
    assert not raised.value.permanent and "app.bsky.notification.listNotifications" in str(raised.value)


def test_a_malformed_item_is_a_bad_record_and_the_rest_goes_in(fake: FakeBluesky) -> None:
    payload = fixture("notifications.json")
    payload["notifications"][0]["record"]["text"] = None
    del payload["cursor"]
    fake.inject("app.bsky.notification.listNotifications", Fault.status_code(200, body=payload))
    batch = make_source(fake, keywords_stream=False, backfill_hours=24 * 30).fetch(None)
    assert [b.position for b in batch.bad] == ["notifications[0]"]
    assert len(batch.mentions) == 3


def test_missing_credentials_name_the_variable(fake: FakeBluesky) -> None:
    with pytest.raises(MissingCredentials) as raised:
        make_source(fake, env={})
    assert raised.value.variables == ["BLUESKY_APP_PASSWORD"]
    settings = SourceSettings(name="b", platform="bluesky", credentials_env={"app_password": "ACME_BSKY_PW"})
    with pytest.raises(MissingCredentials, match="ACME_BSKY_PW"):
        build_source(settings, BRAND, ENV)


def test_a_missing_handle_or_a_bad_option_is_a_permanent_error_naming_it(fake: FakeBluesky) -> None:
    with pytest.raises(SourceError, match="handle") as raised:
        make_source(fake, brand=Brand(name="Acme", keywords=("acme",)))
    assert raised.value.permanent
    with pytest.raises(ConfigError, match=r"source 'b': options\.page_size"):
        parse_settings({"sources": [{"name": "b", "platform": "bluesky", "options": {"page_size": 500}}]}, env={})


def test_an_unreadable_cursor_is_permanent(fake: FakeBluesky) -> None:
    with pytest.raises(SourceError) as raised:
        make_source(fake).fetch("12345")
    assert raised.value.permanent


# -- Jetstream ------------------------------------------------------------------------------------------


def stream_posts(fake: FakeBluesky, count: int, *, text: str = "the Acme app is down again", start: datetime = NOW - timedelta(seconds=2)) -> list[str]:
    return [fake.add_post(f"streamer{i}.bsky.social", f"{text} ({i})", at=start + timedelta(milliseconds=100 * i))
            for i in range(count)]


def test_keyword_posts_come_from_jetstream_with_resolved_handles(fake: FakeBluesky) -> None:
    matching = stream_posts(fake, 3)
    fake.add_post("weather.bsky.social", "Lovely weather in Tallinn", at=NOW - timedelta(seconds=1))
    fake.add_post(fake.brand, "Acme here: we are on it!", at=NOW - timedelta(seconds=1))  # our own post
    source = make_source(fake)
    batches, cursor = drain(source)
    stream = batches[-1]
    assert sorted(m.canonical_id for m in stream.mentions) == sorted(matching)
    mention = stream.mentions[0]
    assert mention.author.handle.startswith("streamer") and mention.author.followers == 0
    assert mention.url is not None and mention.url.startswith(f"https://bsky.app/profile/{mention.author.handle}/post/")
    assert json.loads(cursor or "")["time_us"] == time_us_of(NOW - timedelta(seconds=1))
    query = fake.jetstream.connections[-1]
    assert query["wantedCollections"] == ["app.bsky.feed.post"]
    assert int(query["cursor"][0]) == time_us_of(NOW) - 3_000_000  # first run: now minus the rewind


def test_stream_batches_page_and_resume_after_a_crash_without_loss(fake: FakeBluesky) -> None:
    matching = stream_posts(fake, 8)
    source = make_source(fake, stream_batch=3)
    batches = [source.fetch(None)]  # the notifications pass
    batches.append(source.fetch(batches[-1].next_cursor))
    assert not batches[-1].exhausted and len(batches[-1].mentions) == 3
    restarted = make_source(fake, stream_batch=3)  # crash: resume from the saved cursor
    rest, _ = drain(restarted, batches[-1].next_cursor)
    assert sorted(set(ids([*batches, *rest]))) == sorted(matching)
    last = json.loads(batches[-1].next_cursor or "")["time_us"]
    resumed = [int(q["cursor"][0]) for q in fake.jetstream.connections[1:]]
    assert resumed[0] == last - 3_000_000  # reconnects rewind a few seconds


def test_a_stream_that_never_catches_up_still_lets_notifications_in(fake: FakeBluesky) -> None:
    stream_posts(fake, 6)
    source = make_source(fake, stream_batch=1, stream_batches_per_pass=2)
    phases = []
    cursor = None
    for _ in range(5):
        batch = source.fetch(cursor)
        cursor = batch.next_cursor
        phases.append(json.loads(cursor or "")["phase"])
    assert phases == ["stream", "stream", "notifications", "stream", "stream"]


def test_deletes_identity_changes_and_bad_events_do_not_stop_the_stream(fake: FakeBluesky) -> None:
    keep = stream_posts(fake, 2)
    doomed = stream_posts(fake, 1, text="Acme lost my parcel", start=NOW - timedelta(milliseconds=1500))[0]
    fake.delete_post(doomed)  # the stream carries the create and the delete
    bad = {"did": did_for("broken.bsky.social"), "time_us": time_us_of(NOW - timedelta(milliseconds=500)),
           "kind": "commit", "commit": {"operation": "create", "collection": "app.bsky.feed.post", "cid": "bafyrei1",
                                        "record": {"text": "acme"}}}
    fake.jetstream.publish(bad)
    source = make_source(fake)
    batches, _ = drain(source)
    assert set(keep) <= set(ids(batches))
    assert [b.position for b in batches[-1].bad] == [f"jetstream time_us={bad['time_us']}"]
    assert doomed in [uri for batch in batches for uri in batch.deleted]  # reported, for storage to mark


def test_an_unresolvable_author_keeps_the_did_as_handle(fake: FakeBluesky) -> None:
    [uri] = stream_posts(fake, 1)
    fake.inject("app.bsky.actor.getProfiles", Fault.status_code(500))
    batches, _ = drain(make_source(fake))
    [mention] = batches[-1].mentions
    assert mention.canonical_id == uri and mention.author.handle == mention.author.id
    assert mention.url == f"https://bsky.app/profile/{mention.author.id}/post/{uri.rsplit('/', 1)[1]}"


def test_an_unreachable_stream_is_transient_and_the_cursor_still_works(fake: FakeBluesky) -> None:
    matching = stream_posts(fake, 2)
    source = make_source(fake)
    first = source.fetch(None)
    fake.jetstream.refuse_next(503)
    with pytest.raises(SourceError) as raised:
        source.fetch(first.next_cursor)
    assert not raised.value.permanent
    batches, _ = drain(source, first.next_cursor)
    assert sorted(ids(batches)) == sorted(matching)


def test_a_dropped_stream_returns_what_it_read_and_the_next_fetch_resumes(fake: FakeBluesky) -> None:
    matching = stream_posts(fake, 5)
    source = make_source(fake)
    first = source.fetch(None)
    fake.jetstream.drop_after(2)
    dropped = source.fetch(first.next_cursor)
    assert len(dropped.mentions) == 2
    again = source.fetch(source.fetch(dropped.next_cursor).next_cursor)  # notifications, then the stream
    assert sorted(set(ids([dropped, again]))) == sorted(matching)


def test_live_posts_arriving_after_the_poll_are_read_on_the_next(fake: FakeBluesky) -> None:
    early = stream_posts(fake, 1)
    now = [NOW]
    source = make_source(fake, clock=lambda: now[0])
    _, cursor = drain(source)
    late = fake.add_post("late.bsky.social", "acme support where are you", at=NOW - timedelta(milliseconds=200))
    now[0] = NOW + timedelta(seconds=30)  # the next poll, half a minute on
    batches, _ = drain(source, cursor)
    assert late in ids(batches)  # the rewind may repeat ``early``: storage dedupes it
    assert set(ids(batches)) <= {late, *early}


def test_without_keywords_there_is_no_stream(fake: FakeBluesky) -> None:
    seed_mentions(fake, 1)
    batch = make_source(fake, brand=Brand(name="Acme", handles=BrandHandles(bluesky="acme.bsky.social"))).fetch(None)
    assert batch.exhausted and not fake.jetstream.connections


# -- threads --------------------------------------------------------------------------------------------


def thread_ref(fake: FakeBluesky, root: str, *, since: datetime, author: str = "jane.bsky.social",
               with_id: bool = True) -> ThreadRef:
    return ThreadRef(platform="bluesky", conversation_id=root, root_platform_id=root, root_canonical_id=root,
                     author_handle=author, author_id=did_for(author) if with_id else None, since=since)


def test_fetch_thread_returns_only_the_customers_later_posts(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    root = uris["jane_mention"]
    t = NOW - timedelta(hours=3)
    ours = fake.add_post(fake.brand, "Hi Jane, so sorry! Could you DM us your order number? – Maria",
                         at=t + timedelta(minutes=20), reply_to=root)
    early = fake.add_post("jane.bsky.social", "hello?", at=t + timedelta(minutes=10), reply_to=root)
    later = fake.add_post("jane.bsky.social", "Sent! Order 55123.", at=t + timedelta(minutes=31), reply_to=ours)
    fake.add_post("mads.bsky.social", "Same here!", at=t + timedelta(minutes=33), reply_to=root)
    last = fake.add_post("jane.bsky.social", "Still nothing…", at=t + timedelta(minutes=45), reply_to=later)
    source = make_source(fake)
    for with_id in (True, False):
        found = source.fetch_thread(thread_ref(fake, root, since=t + timedelta(minutes=20), with_id=with_id)).mentions
        assert [m.canonical_id for m in found] == [later, last]
        assert early not in [m.canonical_id for m in found]
    assert all(m.reply_eligible for m in found)


def test_a_gated_thread_yields_ineligible_follow_ups(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    root = uris["jane_mention"]
    follow_up = fake.add_post("jane.bsky.social", "anyone?", at=NOW - timedelta(minutes=5), reply_to=root)
    fake.gate(root)
    [mention] = make_source(fake).fetch_thread(thread_ref(fake, root, since=NOW - timedelta(hours=1))).mentions
    assert mention.canonical_id == follow_up and mention.reply_eligible is False
    assert "threadgate" in (mention.eligibility_reason or "")


def test_a_deleted_thread_has_no_follow_ups(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    fake.delete_post(uris["jane_mention"])
    thread = make_source(fake).fetch_thread(thread_ref(fake, uris["jane_mention"], since=NOW))
    assert thread.mentions == [] and thread.deleted == [uris["jane_mention"]]


def test_fetch_thread_errors_are_classified_like_fetch(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    fake.inject("app.bsky.feed.getPostThread", Fault.status_code(
        429, headers={"ratelimit-reset": str(int(NOW.timestamp()) + 42)}, body={"error": "RateLimitExceeded"}))
    with pytest.raises(RateLimited) as raised:
        make_source(fake).fetch_thread(thread_ref(fake, uris["jane_mention"], since=NOW))
    assert raised.value.retry_after == 42


def test_stored_timestamps_are_utc(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    batches, _ = drain(make_source(fake, keywords_stream=False))
    assert all(m.created_at is not None and m.created_at.tzinfo is UTC for b in batches for m in b.mentions)
