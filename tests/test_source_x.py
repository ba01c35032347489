"""The X source: parsers against recorded and documented payloads, and fetch against FakeX through tweepy."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import Brand, BrandHandles, SourceSettings
from monitor.sources.base import (
    MissingCredentials,
    ParsedMention,
    ParseError,
    RateLimited,
    SourceError,
    ThreadRef,
)
from monitor.sources.x import SPEC
from monitor.sources.x.parse import parse_mentions, parse_page, parse_search
from monitor.sources.x.source import XSource, build_source, default_query
from tests.fakes.server import Fault
from tests.fakes.x import BRAND, BRAND_ID, FakeX, seeded, snowflake
from tests.reference import REFERENCE_PAYLOADS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
REFERENCE = REFERENCE_PAYLOADS / "x"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "x"
ACME = Brand(name="Acme", handles=BrandHandles(x=BRAND), keywords=("acme", "#acmefail"))
ENV = {"X_BEARER_TOKEN": "test-bearer-token"}


def reference(name: str) -> Any:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference payloads not present at {REFERENCE} (they live in ../shared, outside the repo)")
    return json.loads(path.read_text())


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with seeded(NOW) as server:
        yield server  # type: ignore[misc]


def make_source(fake: FakeX, *, max_results: int = 10, timeout: float = 2.0, **options: Any) -> XSource:
    settings = SourceSettings(name="x-acme", platform="x", options={
        "api_base_url": fake.url, "max_results": max_results, "timeout": timeout, **options})
    return build_source(settings, ACME, ENV, clock=lambda: NOW)


def matching_ids(fake: FakeX) -> set[str]:
    """What a complete poll must yield: visible, in the 7-day window, saying acme, not a retweet, not ours."""
    return {t["id"] for t in fake.tweets.values()
            if t["id"] not in fake.deleted and t["_at"] >= NOW - timedelta(days=7)
            and ("acme" in t["text"].lower()) and not t["text"].startswith("RT ") and t["author_id"] != BRAND_ID}


def poll(source: XSource, cursor: str | None = None, *, limit: int = 50) -> tuple[list[ParsedMention], str | None, int]:
    """Fetch until exhausted; returns the mentions, the last cursor and the number of calls."""
    mentions: list[ParsedMention] = []
    for calls in range(1, limit + 1):
        batch = source.fetch(cursor)
        mentions.extend(batch.mentions)
        cursor = batch.next_cursor
        if batch.exhausted:
            return mentions, cursor, calls
    raise AssertionError("the source never finished its pass")


# -- parsers ---------------------------------------------------------------------------------------------------


def test_it_parses_the_recorded_search_without_expansions() -> None:
    payload = reference("test_client_search_recent_tweets.0.json")
    mentions = parse_search(payload, brand_handle="acme")
    assert [m.platform_id for m in mentions] == [t["id"] for t in payload["data"]]
    first = mentions[0]
    assert first.canonical_id == first.platform_id == "1578516068309794817"
    assert first.text == "2022-10-07 22:42:12.637103 tweepy"
    assert first.created_at is None and first.author.handle == "unknown" and first.author.id is None
    assert first.url == "https://x.com/i/web/status/1578516068309794817"
    assert first.reply_eligible is False
    assert first.eligibility_reason == "X allows API replies only where the author mentioned @acme"
    assert first.raw == payload["data"][0]


def test_it_parses_the_documented_full_shape() -> None:
    mentions = parse_search(fixture("search_full.json"), brand_handle="acme")
    jane, mikkel, anon = mentions
    assert jane.author.handle == "jane_doe" and jane.author.name == "Jane Doe" and jane.author.id == "783214"
    assert jane.author.followers == 1520 and jane.author.verified is False
    assert jane.created_at == datetime(2024, 11, 26, 14, 2, 11, tzinfo=UTC)
    assert jane.url == "https://x.com/jane_doe/status/1861403347811823616"
    assert jane.metrics == {"likes": 14, "reposts": 2, "replies": 1, "quotes": 0}
    assert jane.lang == "en" and jane.conversation_id == "1861403347811823616" and jane.in_reply_to_id is None
    assert jane.reply_eligible is True and jane.eligibility_reason == "the author mentioned @acme"
    # An edited tweet: canonical id is the first version, platform id the current one.
    assert mikkel.canonical_id == "1861400931376398336" and mikkel.platform_id == "1861401112343711744"
    assert mikkel.in_reply_to_id == "1861398000230137856" and mikkel.author.verified is True
    assert mikkel.reply_eligible is False
    # An author missing from includes is known by id; X's media-only language is no language.
    assert anon.author.handle == "4410021" and anon.author.id == "4410021" and anon.lang is None


def test_it_parses_the_mentions_timeline_and_matches_the_handle_in_any_case() -> None:
    [mention] = parse_mentions(fixture("mentions_full.json"), brand_handle="Acme")
    assert mention.author.handle == "tom_b" and mention.reply_eligible is True


@pytest.mark.parametrize("name", ["search_empty.json", "mentions_unknown_user.json"])
def test_it_reads_bodies_without_data_as_no_mentions(name: str) -> None:
    assert parse_search(fixture(name)) == []


def test_eligibility_comes_from_the_text_when_entities_are_absent() -> None:
    payload = {"data": [{"id": "1", "text": "hello @acme!"}, {"id": "2", "text": "mail to x@acme.com, cc @acmefan"}]}
    eligible, not_eligible = parse_search(payload, brand_handle="acme")
    assert eligible.reply_eligible is True
    assert not_eligible.reply_eligible is False


def test_tweets_x_reports_not_found_are_deleted() -> None:
    payload = {"data": [{"id": "2", "text": "@acme reply to a deleted tweet"}], "errors": [
        {"resource_id": "1", "resource_type": "tweet", "parameter": "referenced_tweets.id", "title": "Not Found Error",
         "type": "https://api.twitter.com/2/problems/resource-not-found"},
        {"resource_id": "9", "resource_type": "user", "type": "https://api.twitter.com/2/problems/resource-not-found"},
        {"resource_id": "x\ud83d", "resource_type": "tweet", "type": "https://api.twitter.com/2/problems/resource-not-found"},
    ]}
    page = parse_page(payload, brand_handle="acme")
    assert [m.canonical_id for m in page.mentions] == ["2"] and page.deleted == ["1"]


def test_without_a_brand_handle_no_mention_is_eligible() -> None:
    [mention] = parse_search({"data": [{"id": "1", "text": "@acme hi"}]})
    assert mention.reply_eligible is False and "no X handle" in (mention.eligibility_reason or "")


@pytest.mark.parametrize("payload, message", [
    ([], "must be a JSON object"),
    ({}, "none of data, meta or errors"),
    ({"title": "Unauthorized"}, "none of data, meta or errors"),
    ({"data": {"id": "1", "text": "x"}}, "data must be a list"),
    ({"data": [{"text": "no id"}]}, "id is missing"),
    ({"data": [{"id": "1"}]}, "text is missing"),
    ({"data": [{"id": "abc", "text": "x"}]}, "numeric id"),
    ({"data": [{"id": "1", "text": "x", "created_at": "yesterday"}]}, "not an ISO 8601"),
    ({"data": [{"id": "1", "text": "x", "edit_history_tweet_ids": "1"}]}, "must be a list"),
    ({"data": [], "meta": {"newest_id": 1.5}}, "newest_id"),
    ({"data": [], "includes": []}, "includes must be an object"),
])
def test_it_rejects_malformed_payloads_with_a_clear_message(payload: Any, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_search(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_parsers_return_mentions_or_parse_error_for_any_json(value: Any) -> None:
    for parse in (parse_search, parse_mentions):
        try:
            result = parse(value, brand_handle="acme")
        except ParseError:
            continue
        assert isinstance(result, list) and all(isinstance(m, ParsedMention) for m in result)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


FULL = json.loads((FIXTURES / "search_full.json").read_text())
FULL_PATHS = _paths(FULL)[1:]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FULL_PATHS), json_values, st.booleans())
def test_parsers_survive_mutated_valid_payloads(path: tuple[Any, ...], replacement: Any, delete: bool) -> None:
    payload = copy.deepcopy(FULL)
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    try:
        result = parse_search(payload, brand_handle="acme")
    except ParseError:
        return
    assert all(isinstance(m, ParsedMention) and m.canonical_id.isdigit() for m in result)


# -- building --------------------------------------------------------------------------------------------------


def test_the_default_query_is_built_from_the_brand_keywords() -> None:
    assert default_query(ACME) == '(acme OR "#acmefail") -is:retweet'
    assert default_query(Brand(name="B", handles=BrandHandles(x="bee"))) == "(@bee) -is:retweet"
    with pytest.raises(SourceError, match="no keywords and no X handle") as nothing:
        default_query(Brand(name="B"))
    assert nothing.value.permanent, "a configuration fault, not a ValueError"


def test_missing_credentials_name_the_variables() -> None:
    settings = SourceSettings(name="x-acme", platform="x")
    with pytest.raises(MissingCredentials) as caught:
        build_source(settings, ACME, {})
    assert caught.value.variables == ["X_BEARER_TOKEN"] and "X_BEARER_TOKEN" in str(caught.value)
    renamed = SourceSettings(name="x-acme", platform="x", credentials_env={"bearer_token": "ACME_X_TOKEN"})
    with pytest.raises(MissingCredentials, match="ACME_X_TOKEN"):
        build_source(renamed, ACME, ENV)
    assert SPEC.read_credentials == {"bearer_token": "X_BEARER_TOKEN"}


# -- fetching --------------------------------------------------------------------------------------------------


def test_it_pages_through_a_pass_and_adopts_since_id_only_at_its_end(fake: FakeX) -> None:
    source = make_source(fake)
    cursor = None
    seen: list[str] = []
    states = []
    while True:
        batch = source.fetch(cursor)
        seen += [m.platform_id or "" for m in batch.mentions]
        cursor = batch.next_cursor
        states.append(json.loads(cursor or "{}")["search"])
        if batch.exhausted:
            break
    assert len(states) == 4  # 40 matching tweets, 10 a page
    assert set(seen) == matching_ids(fake) and len(seen) == 40
    for middle in states[:-1]:
        assert middle["since_id"] is None and middle["next_token"] and middle["newest_id"] == max(seen, key=int)
    assert states[-1] == {"query": source.query, "since_id": max(seen, key=int), "next_token": None,
                          "newest_id": None}
    searches = fake.calls("GET", "/2/tweets/search/recent")
    assert searches[0].arg("expansions") == "author_id,referenced_tweets.id"
    assert "edit_history_tweet_ids" in (searches[0].arg("tweet.fields") or "")
    assert searches[0].arg("user.fields") == "name,username,public_metrics,verified"
    assert searches[1].arg("next_token") and searches[0].arg("since_id") is None

    fake.now = NOW + timedelta(minutes=5)
    new = fake.post("tom_b", "@acme still nothing", at=fake.now)
    mentions, _, calls = poll(source, cursor)
    assert [m.platform_id for m in mentions] == [new] and calls == 1
    assert fake.calls("GET", "/2/tweets/search/recent")[-1].arg("since_id") == max(seen, key=int)


def test_a_crash_mid_pass_resumes_from_the_saved_cursor_and_loses_nothing(fake: FakeX) -> None:
    source = make_source(fake)
    first = source.fetch(None)
    second = source.fetch(first.next_cursor)
    source.fetch(second.next_cursor)  # fetched, then the process dies before storing it or its cursor
    fake.post("lee_k", "@acme posted while we were down", at=NOW + timedelta(minutes=1))
    restarted = make_source(fake)
    rest, cursor, _ = poll(restarted, second.next_cursor)
    collected = {m.platform_id for m in first.mentions + second.mentions + rest}
    assert collected == matching_ids(fake) - {max(matching_ids(fake), key=int)}
    # The tweet posted mid-pass is newer than the pass's newest: the next pass picks it up.
    later, _, _ = poll(restarted, cursor)
    assert {m.platform_id for m in later} == {max(matching_ids(fake), key=int)}


def test_overlapping_pages_only_cause_duplicates(fake: FakeX) -> None:
    fake.overlap = 3
    mentions, _, calls = poll(make_source(fake))
    ids = [m.platform_id for m in mentions]
    assert set(ids) == matching_ids(fake)
    assert len(ids) > len(set(ids)) and calls > 4


def test_it_polls_the_mentions_timeline_too_when_user_id_is_set(fake: FakeX) -> None:
    fake.post("rival_co", "hey @acme, collab?", at=NOW - timedelta(hours=1))  # no keyword, only the mention
    source = make_source(fake, user_id=BRAND_ID, max_results=15)
    mentions, cursor, calls = poll(source)
    ids = {m.platform_id for m in mentions}
    mentioned = {t["id"] for t in fake.tweets.values()
                 if any(m.get("id") == BRAND_ID for m in t["entities"].get("mentions", []))
                 and t["id"] not in fake.deleted}
    assert ids == matching_ids(fake) | mentioned
    assert len(mentioned) == 17 and calls == 3 + 2  # 41 search results in 3 pages, then 17 mentions in 2
    state = json.loads(cursor or "")
    assert state["next"] == "search" and state["mentions"]["since_id"] == max(mentioned, key=int)
    assert fake.calls("GET", f"/2/users/{BRAND_ID}/mentions")[1].arg("pagination_token")


def test_the_brands_own_posts_are_not_mentions(fake: FakeX) -> None:
    parent = fake.post("jane_doe", "@acme where is my order?", at=NOW - timedelta(minutes=30))
    fake.post(BRAND, "@jane_doe sorry, acme is on it", at=NOW - timedelta(minutes=20), reply_to=parent)
    mentions, _, _ = poll(make_source(fake, max_results=100))
    assert all(m.author.handle != BRAND for m in mentions)
    assert parent in {m.platform_id for m in mentions}


def test_retweets_and_tweets_beyond_the_window_are_not_fetched(fake: FakeX) -> None:
    original = next(iter(matching_ids(fake)))
    retweet = fake.retweet("rival_co", original)
    mentions, _, _ = poll(make_source(fake, max_results=100))
    ids = {m.platform_id for m in mentions}
    assert retweet not in ids and "beyond search's reach" not in " ".join(m.text for m in mentions)


def test_an_edited_tweet_keeps_its_canonical_id(fake: FakeX) -> None:
    original = fake.post("jane_doe", "@acme my order never arived", at=NOW - timedelta(minutes=3))
    edited = fake.edit(original, "@acme my order never arrived")
    mentions, _, _ = poll(make_source(fake, max_results=100))
    [mention] = [m for m in mentions if m.platform_id == edited]
    assert mention.canonical_id == original and original not in {m.platform_id for m in mentions}


def test_eligibility_follows_xs_mention_rule(fake: FakeX) -> None:
    mentions, _, _ = poll(make_source(fake, max_results=100))
    for mention in mentions:
        assert mention.reply_eligible is ("@acme" in mention.text.lower()), mention.text
        if not mention.reply_eligible:
            assert mention.eligibility_reason == "X allows API replies only where the author mentioned @acme"


def test_it_reads_the_recorded_payload_served_as_is(fake: FakeX) -> None:
    payload = reference("test_client_search_recent_tweets.0.json")
    fake.serve_as_is("search", payload)
    batch = make_source(fake).fetch(None)
    assert len(batch.mentions) == 10 and batch.exhausted is False
    assert json.loads(batch.next_cursor or "")["search"]["next_token"] == payload["meta"]["next_token"]


def test_one_unreadable_tweet_is_reported_and_the_rest_go_in(fake: FakeX) -> None:
    body = fixture("search_full.json")
    del body["meta"]["next_token"]
    body["data"].append({"id": "1861390022912049999", "text": None})
    fake.serve_as_is("search", body)
    batch = make_source(fake).fetch(None)
    assert len(batch.mentions) == 3 and len(batch.bad) == 1
    assert "text is missing" in batch.bad[0].reason and batch.bad[0].position == "search data[3]"


# -- errors ----------------------------------------------------------------------------------------------------


def test_a_429_gives_retry_after_from_the_reset_header_and_the_cursor_resumes(fake: FakeX) -> None:
    source = make_source(fake)
    first = source.fetch(None)
    reset = int(NOW.timestamp()) + 90
    fake.inject("search", Fault.status_code(429, headers={"x-rate-limit-reset": str(reset),
                                                          "x-rate-limit-remaining": "0"}))
    with pytest.raises(RateLimited) as caught:
        source.fetch(first.next_cursor)
    assert caught.value.retry_after == 90 and caught.value.permanent is False
    rest, _, _ = poll(source, first.next_cursor)
    assert {m.platform_id for m in first.mentions + rest} == matching_ids(fake)


def test_the_fakes_own_rate_limit_window_is_honoured(fake: FakeX) -> None:
    fake.exhaust("search", reset_in=300)
    with pytest.raises(RateLimited) as caught:
        make_source(fake).fetch(None)
    assert caught.value.retry_after == 300


@pytest.mark.parametrize("headers, expected", [
    ({"x-rate-limit-reset": str(int(NOW.timestamp()) - 30)}, 1.0),  # reset already passed: floor of 1 s
    ({"retry-after": "42"}, 42.0),
    ({}, 60.0),
])
def test_retry_after_falls_back_sensibly(fake: FakeX, headers: dict[str, str], expected: float) -> None:
    fake.inject("search", Fault.status_code(429, headers=headers))
    with pytest.raises(RateLimited) as caught:
        make_source(fake).fetch(None)
    assert caught.value.retry_after == expected


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake: FakeX, status: int) -> None:
    fake.inject("search", Fault.status_code(status, body=[1, 2]))
    with pytest.raises(SourceError) as caught:
        make_source(fake).fetch(None)
    assert caught.value.permanent is False and not isinstance(caught.value, RateLimited)


def test_a_timeout_is_transient(fake: FakeX) -> None:
    fake.inject("search", Fault.timeout(2))
    with pytest.raises(SourceError, match="timed out") as caught:
        make_source(fake, timeout=0.5).fetch(None)
    assert caught.value.permanent is False


def test_an_unreachable_api_is_transient() -> None:
    with FakeX(now=NOW) as gone:
        url = gone.url
    settings = SourceSettings(name="x-acme", platform="x", options={"api_base_url": url, "timeout": 0.5})
    source = build_source(settings, ACME, ENV)
    with pytest.raises(SourceError, match="unreachable") as caught:
        source.fetch(None)
    assert caught.value.permanent is False


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_permanent(fake: FakeX, status: int) -> None:
    fake.inject("search", Fault.status_code(status, body={"title": "Unauthorized", "detail": "Unauthorized"}))
    with pytest.raises(SourceError) as caught:
        make_source(fake).fetch(None)
    assert caught.value.permanent is True


def test_a_wrong_bearer_token_is_permanent(fake: FakeX) -> None:
    settings = SourceSettings(name="x-acme", platform="x", options={"api_base_url": fake.url})
    source = build_source(settings, ACME, {"X_BEARER_TOKEN": "revoked"})
    with pytest.raises(SourceError, match="401") as caught:
        source.fetch(None)
    assert caught.value.permanent is True


def test_an_unknown_account_for_mentions_is_permanent(fake: FakeX) -> None:
    source = make_source(fake, user_id="999")
    cursor = json.dumps({"v": 1, "next": "mentions"})
    with pytest.raises(SourceError, match="no account with user_id 999") as caught:
        source.fetch(cursor)
    assert caught.value.permanent is True


def test_a_malformed_body_is_transient_and_names_the_endpoint(fake: FakeX) -> None:
    fake.inject("search", Fault.malformed())
    with pytest.raises(SourceError, match="search: malformed") as caught:
        make_source(fake).fetch(None)
    assert caught.value.permanent is False
    fake.serve_as_is("search", {"title": "something else"})
    with pytest.raises(SourceError, match="none of data, meta or errors"):
        make_source(fake).fetch(None)


def test_a_since_id_beyond_the_search_window_restarts_without_it(fake: FakeX) -> None:
    stale = snowflake(NOW - timedelta(days=30), 1)
    cursor = json.dumps({"v": 1, "next": "search", "search": {"query": '(acme OR "#acmefail") -is:retweet',
                                                              "since_id": stale, "next_token": None,
                                                              "newest_id": None}})
    source = make_source(fake)
    batch = source.fetch(cursor)
    assert batch.mentions == [] and batch.exhausted is False
    assert json.loads(batch.next_cursor or "")["search"]["since_id"] is None
    mentions, _, _ = poll(source, batch.next_cursor)
    assert {m.platform_id for m in mentions} == matching_ids(fake)


def test_a_refused_page_token_restarts_the_pass_with_the_old_bounds(fake: FakeX) -> None:
    source = make_source(fake)
    first = source.fetch(None)
    state = json.loads(first.next_cursor or "")
    state["search"]["next_token"] = "expired0token"
    batch = source.fetch(json.dumps(state))
    assert batch.mentions == [] and batch.exhausted is False
    resumed = json.loads(batch.next_cursor or "")["search"]
    assert resumed["next_token"] is None and resumed["newest_id"] == state["search"]["newest_id"]
    rest, _, _ = poll(source, batch.next_cursor)
    assert {m.platform_id for m in first.mentions + rest} == matching_ids(fake)


def test_a_bad_query_is_permanent(fake: FakeX) -> None:
    with pytest.raises(SourceError, match="rejected") as caught:
        make_source(fake, query="(acme").fetch(None)
    assert caught.value.permanent is True


def test_an_unreadable_or_foreign_cursor_restarts_the_pass(fake: FakeX) -> None:
    source = make_source(fake, max_results=100)
    for cursor in ("not json", "[]", json.dumps({"v": 1, "search": {"query": "other", "since_id": "5"}})):
        batch = source.fetch(cursor)
        assert {m.platform_id for m in batch.mentions} == matching_ids(fake)


def test_the_bearer_token_never_reaches_the_logs(fake: FakeX, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    poll(make_source(fake, max_results=100))
    assert "source_page source=x-acme endpoint=search fetched=40" in caplog.text
    assert ENV["X_BEARER_TOKEN"] not in caplog.text


# -- threads ---------------------------------------------------------------------------------------------------


def test_fetch_thread_returns_only_the_customers_later_posts(fake: FakeX) -> None:
    root = fake.post("jane_doe", "@acme my order never arrived", at=NOW - timedelta(hours=3))
    ours = fake.post(BRAND, "@jane_doe so sorry, Jane, checking now", at=NOW - timedelta(hours=2), reply_to=root)
    earlier = fake.post("jane_doe", "@acme order 4821 btw", at=NOW - timedelta(hours=2, minutes=30), reply_to=root)
    later = fake.post("jane_doe", "@acme got it, thanks!", at=NOW - timedelta(hours=1), reply_to=ours)
    fake.post("tom_b", "@jane_doe @acme same here", at=NOW - timedelta(minutes=50), reply_to=root)
    fake.post("jane_doe", "@acme unrelated new thread", at=NOW - timedelta(minutes=40))
    ref = ThreadRef(platform="x", conversation_id=root, root_platform_id=root, root_canonical_id=root,
                    author_handle="jane_doe", author_id=fake.user_id("jane_doe"),
                    since=NOW - timedelta(hours=2, minutes=10))
    source = make_source(fake)
    found = source.fetch_thread(ref).mentions
    assert [m.platform_id for m in found] == [later] and earlier not in {m.platform_id for m in found}
    [search] = fake.calls("GET", "/2/tweets/search/recent")
    assert search.arg("query") == f"conversation_id:{root} from:{fake.user_id('jane_doe')}"
    assert search.arg("since_id") == root and search.arg("start_time") == "2026-11-20T09:50:00Z"


def test_fetch_thread_clamps_old_cases_to_the_search_window(fake: FakeX) -> None:
    ref = ThreadRef(platform="x", conversation_id="1", root_platform_id="1", root_canonical_id="1",
                    author_handle="jane_doe", author_id=None, since=NOW - timedelta(days=30))
    assert make_source(fake).fetch_thread(ref).mentions == []
    [search] = fake.calls("GET", "/2/tweets/search/recent")
    assert search.arg("since_id") is None and search.arg("query") == "conversation_id:1 from:jane_doe"


def test_fetch_thread_raises_the_same_errors(fake: FakeX) -> None:
    fake.inject("search", Fault.status_code(429, headers={"x-rate-limit-reset": str(int(NOW.timestamp()) + 5)}))
    ref = ThreadRef(platform="x", conversation_id="1", root_platform_id="1", root_canonical_id="1",
                    author_handle="jane_doe", author_id=None, since=NOW - timedelta(hours=1))
    with pytest.raises(RateLimited) as caught:
        make_source(fake).fetch_thread(ref)
    assert caught.value.retry_after == 5
