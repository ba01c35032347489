"""The Mastodon source: pure parsers against recorded and documented payloads, and fetch against a fake
instance over real HTTP with the real Mastodon.py."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import asdict
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
from monitor.sources.mastodon.client import retry_after
from monitor.sources.mastodon.html import html_to_text
from monitor.sources.mastodon.parse import (
    notification_page,
    parse_context,
    parse_notifications,
    parse_statuses,
    reply_eligibility,
)
from monitor.sources.mastodon.source import MastodonSource, build_source
from tests.fakes.mastodon import DOMAIN, TOKEN, FakeMastodon, ManualClock, iso
from tests.fakes.server import Fault
from tests.reference import REFERENCE_PAYLOADS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mastodon"
REFERENCE = REFERENCE_PAYLOADS / "mastodon"
BRAND = Brand(name="Acme", handles=BrandHandles(mastodon=f"acme@{DOMAIN}"), keywords=("acme",))


def reference(name: str) -> Any:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference payloads not found at {REFERENCE} (../shared is not checked out here)")
    return json.loads(path.read_text())


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def view(mention: ParsedMention) -> dict[str, Any]:
    data = asdict(mention)
    data.pop("raw")
    data["created_at"] = mention.created_at.isoformat() if mention.created_at else None
    data["metrics"] = dict(mention.metrics)
    return data


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeMastodon]:
    with FakeMastodon(clock=clock) as server:
        server.seed(mentions=25, tagged=12, start=NOW - timedelta(minutes=1))
        yield server


def settings_for(fake: FakeMastodon, **options: Any) -> SourceSettings:
    return SourceSettings(name="mastodon-acme", platform="mastodon",
                          options={"api_base_url": fake.url, "hashtags": ["acme"], "limit": 10, **options})


def source_for(fake: FakeMastodon, clock: ManualClock, **options: Any) -> MastodonSource:
    return build_source(settings_for(fake, **options), BRAND, {"MASTODON_ACCESS_TOKEN": TOKEN}, clock=clock)


def drain(source: MastodonSource, cursor: str | None, *, max_calls: int = 50) -> tuple[list[Batch], str | None]:
    """Fetch until the poll cycle is done; the batches and the cursor to save."""
    batches = []
    for _ in range(max_calls):
        batch = source.fetch(cursor)
        batches.append(batch)
        cursor = batch.next_cursor
        if batch.exhausted:
            return batches, cursor
    raise AssertionError("the poll cycle never finished")


def ids(batches: list[Batch]) -> set[str]:
    return {m.platform_id for b in batches for m in b.mentions if m.platform_id}


# -- parsers: recorded payloads ------------------------------------------------------------------------


def test_it_parses_the_recorded_mention_notifications() -> None:
    payload = reference("test_notifications_mentions_only.1.json")

    [mention] = parse_notifications(payload, instance="localhost")

    assert mention.canonical_id == "http://localhost:3000/ap/users/117020565693913441/statuses/117020577157693549"
    assert mention.platform_id == "117020577157693549"
    assert mention.text == "@mastodonpy_test hello!"
    assert mention.author.handle == "admin@localhost"
    assert mention.author.id == "117020565693913441"
    assert mention.author.name == "admin"
    assert mention.author.followers == 1
    assert mention.created_at == datetime(2026, 8, 1, 13, 51, 42, 823000, tzinfo=UTC)
    assert mention.url == "http://localhost:3000/@admin/117020577157693549"
    assert mention.in_reply_to_id is None
    assert mention.conversation_id == "117020577157693549"
    assert mention.lang == "en"
    assert mention.reply_eligible is True
    assert mention.raw["id"] == "117020577157693549"


def test_it_takes_a_local_handles_domain_from_the_account_url_when_not_told_the_instance() -> None:
    [mention] = parse_notifications(reference("test_notifications_mentions_only.1.json"))

    assert mention.author.handle == "admin@localhost"


def test_it_parses_recorded_statuses_including_a_reply_and_the_source_text_form() -> None:
    parent = reference("test_status_reply.0.json")
    reply = reference("test_status_reply.2.json")
    deleted = reference("test_status_reply.3.json")  # DELETE answers carry ``text`` instead of ``content``

    mentions = parse_statuses([reply, parent], instance="localhost")
    [from_source] = parse_statuses([deleted], instance="localhost")

    assert [m.text for m in mentions] == ["@mastodonpy_test_2 same!", "Toot, finally!"]
    assert mentions[0].in_reply_to_id == "117020583245459824"
    assert mentions[0].conversation_id == "117020583245459824"  # the parent is in the payload: it is the root
    assert mentions[1].lang == "ja"
    assert from_source.text == "@mastodonpy_test_2 same!"


def test_it_skips_the_brands_own_statuses_in_recorded_payloads() -> None:
    reply = reference("test_status_reply.2.json")  # posted by "admin"

    assert parse_statuses([reply], brand_handle="admin@localhost", instance="localhost") == []


# -- parsers: documented shapes (golden files) ----------------------------------------------------------


@pytest.mark.parametrize(("payload", "parser"), [
    ("notifications_mentions", parse_notifications),
    ("tag_timeline", parse_statuses),
])
def test_it_parses_documented_payloads_as_the_golden_files_say(payload: str, parser: Any) -> None:
    mentions = parser(fixture(f"{payload}.json"), brand_handle="acme@social.example", instance="social.example")

    assert [view(m) for m in mentions] == fixture(f"{payload}.expected.json")


def test_it_skips_other_notification_types_boosts_and_the_brand() -> None:
    notifications = parse_notifications(fixture("notifications_mentions.json"), brand_handle="acme@social.example")
    timeline = parse_statuses(fixture("tag_timeline.json"), brand_handle="acme@social.example")

    assert len(notifications) == 5  # 7 notifications: a favourite and a follow are not mentions
    assert all(m.author.handle != "acme@social.example" for m in timeline)
    assert len(timeline) == 3  # 5 statuses: one boost, one by the brand


def test_it_keeps_the_raw_status_for_the_poster() -> None:
    [first, *_] = parse_notifications(fixture("notifications_mentions.json"))

    assert first.raw["visibility"] == "public"
    assert first.raw["account"]["acct"] == "jane"


@pytest.mark.parametrize(("visibility", "eligible", "reason"), [
    ("public", True, "public post"),
    ("unlisted", True, "unlisted"),
    ("private", False, "followers-only"),
    ("direct", False, "direct message"),
    ("limited", False, "unknown"),
    (None, False, "unknown"),
])
def test_reply_eligibility_follows_visibility(visibility: Any, eligible: bool, reason: str) -> None:
    assert reply_eligibility(visibility)[0] is eligible
    assert reason in reply_eligibility(visibility)[1]


@pytest.mark.parametrize(("html", "text"), [
    ("<p>hello</p>", "hello"),
    ("<p>one<br>two<br/>three</p>", "one\ntwo\nthree"),
    ("<p>first</p><p>second</p>", "first\n\nsecond"),
    ("<p>fish &amp; chips &lt;3 &#39;ok&#39; &quot;q&quot;</p>", "fish & chips <3 'ok' \"q\""),
    ('<p><a href="https://x.example/abcdef"><span class="invisible">https://</span>'
     '<span class="ellipsis">x.example/ab</span><span class="invisible">cdef</span></a></p>', "https://x.example/abcdef"),
    ('<p><span class="h-card"><a href="https://s.example/@a" class="u-url mention">@<span>a</span></a></span> hi</p>',
     "@a hi"),
    ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
    ("<blockquote><p>quoted</p></blockquote><p>reply</p>", "quoted\n\nreply"),
    ("plain text, no tags", "plain text, no tags"),
    ("<p>unclosed <b>bold", "unclosed bold"),
    ("", ""),
])
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s.pop("id"), "status id is missing"),
    (lambda s: s.pop("uri"), "status uri is missing"),
    (lambda s: s.pop("content"), "status has no content"),
    (lambda s: s.update(content=12), "content must be a string"),
    (lambda s: s.update(account="jane"), "account must be an object"),
    (lambda s: s["account"].pop("acct") and s["account"].pop("username"), "no acct"),
    (lambda s: s.update(created_at="yesterday"), "not an ISO 8601 timestamp"),
    (lambda s: s.update(created_at="2026-11-20T09:14:03"), "no timezone"),
])
def test_it_rejects_malformed_statuses_naming_the_field(mutate: Any, message: str) -> None:
    payload = fixture("notifications_mentions.json")
    mutate(payload[-1]["status"])

    with pytest.raises(ParseError, match=message):
        parse_notifications(payload)


def test_it_tolerates_absent_optional_fields() -> None:
    status = {"id": "1", "uri": "https://s.example/users/a/statuses/1", "content": "<p>hi</p>",
              "account": {"acct": "a@s.example"}}

    [mention] = parse_statuses([status])

    assert mention.created_at is None
    assert mention.author.followers is None
    assert mention.metrics == {}
    assert mention.url == status["uri"]
    assert mention.reply_eligible is False  # no visibility: never assume a public reply is fine


@pytest.mark.parametrize("payload", [None, {}, "[]", 3, {"ancestors": []}])
def test_it_rejects_payloads_that_are_not_arrays(payload: Any) -> None:
    with pytest.raises(ParseError, match="expected a JSON array"):
        parse_notifications(payload)
    with pytest.raises(ParseError, match="expected a JSON array"):
        parse_statuses(payload)


def test_a_bad_item_is_a_bad_record_and_the_rest_still_counts() -> None:
    payload = fixture("notifications_mentions.json")
    payload[0]["status"]["uri"] = None

    mentions, bad = notification_page(payload)

    assert len(mentions) == 4
    assert [b.position for b in bad] == ["notifications[0] id=9107"]
    assert "uri" in bad[0].reason


def test_parse_context_reads_the_descendants() -> None:
    timeline = fixture("tag_timeline.json")

    mentions = parse_context({"ancestors": [], "descendants": timeline[:1]})

    assert [m.platform_id for m in mentions] == ["113517402000000005"]


# -- parsers: fuzzed -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def _parsers() -> list[Any]:
    return [parse_notifications, parse_statuses, parse_context]


@settings(max_examples=300, deadline=None)
@given(payload=json_values)
def test_parsers_take_any_json_and_return_mentions_or_parse_error(payload: Any) -> None:
    for parser in _parsers():
        try:
            result = parser(payload)
        except ParseError:
            continue
        assert isinstance(result, list)
        assert all(isinstance(m, ParsedMention) for m in result)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    payload = copy.deepcopy(fixture(name))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(payload) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return payload


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mutated("notifications_mentions.json"))
def test_mutated_notifications_give_mentions_or_parse_error(payload: Any) -> None:
    try:
        result = parse_notifications(payload, brand_handle="acme@social.example")
    except ParseError:
        return
    assert all(isinstance(m, ParsedMention) and m.canonical_id and m.author.handle for m in result)
    assert all(m.created_at is None or m.created_at.tzinfo is not None for m in result)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mutated("tag_timeline.json"))
def test_mutated_timelines_give_mentions_or_parse_error(payload: Any) -> None:
    try:
        result = parse_statuses(payload)
    except ParseError:
        return
    assert all(isinstance(m, ParsedMention) and m.platform_id for m in result)


# -- fetch against the fake ----------------------------------------------------------------------------


def test_fetch_pages_through_mentions_and_hashtags_and_loses_nothing(fake: FakeMastodon, clock: ManualClock) -> None:
    source = source_for(fake, clock)

    batches, _cursor = drain(source, None)

    assert ids(batches) == fake.mention_status_ids() | fake.tagged_status_ids("acme")
    assert len(batches) > 4  # limit 10: several pages of each endpoint
    assert all(not b.exhausted for b in batches[:-1]) and batches[-1].exhausted
    assert not fake.calls("GET", "/api/v1/instance")  # no version checks
    assert all(b.bad == [] for b in batches)


def test_it_asks_for_mentions_only_and_pages_with_min_id(fake: FakeMastodon, clock: ManualClock) -> None:
    source = source_for(fake, clock, hashtags=[])
    _, cursor = drain(source, None)
    customer = next(a for a in fake.accounts.values() if a["username"] == "jane")
    fresh = fake.post(customer, f"@acme@{DOMAIN} where is my parcel?")
    before = len(fake.requests)
    batches, _ = drain(source, cursor)

    [request] = fake.requests[before:]
    assert request.query["types[]"] == ["mention"]
    assert "min_id" in request.query
    assert ids(batches) == {fresh["id"]}


def test_it_resumes_from_a_saved_cursor_after_a_crash(fake: FakeMastodon, clock: ManualClock) -> None:
    seen: set[str] = set()
    first = source_for(fake, clock)
    cursor = None
    for _ in range(3):  # a few pages, the cursor saved with each
        batch = first.fetch(cursor)
        seen |= ids([batch])
        cursor = batch.next_cursor
    customer = next(a for a in fake.accounts.values() if a["username"] == "ola")
    while_down = [fake.post(customer, f"@acme@{DOMAIN} hello? order {n}") for n in range(12)]
    tagged = fake.post(customer, "still broken #acme")
    del first  # the process dies; a new one starts from the saved cursor

    batches, cursor = drain(source_for(fake, clock), cursor)
    seen |= ids(batches)
    batches, _ = drain(source_for(fake, clock), cursor)  # and the next cycle
    seen |= ids(batches)

    assert seen == fake.mention_status_ids() | fake.tagged_status_ids("acme")
    assert {s["id"] for s in while_down} | {tagged["id"]} <= seen


def test_a_cursor_saved_before_a_crash_replays_overlapping_pages_without_gaps(fake: FakeMastodon,
                                                                               clock: ManualClock) -> None:
    source = source_for(fake, clock)
    _, cursor = drain(source, None)
    customer = next(a for a in fake.accounts.values() if a["username"] == "kim")
    new = {fake.post(customer, f"@acme@{DOMAIN} complaint {n}")["id"] for n in range(15)}
    first_page = source.fetch(cursor)  # fetched and stored, but the cursor was never saved

    replay, _ = drain(source, cursor)  # so the same cursor is used again

    assert ids([first_page]) <= ids(replay)  # the overlap is repeated, storage dedupes it
    assert new <= ids(replay)


def test_a_late_federated_hashtag_status_within_the_overlap_is_still_found(fake: FakeMastodon,
                                                                           clock: ManualClock) -> None:
    source = source_for(fake, clock, notifications=False, overlap_seconds=600)
    newest = fake.post(fake.me, "an update #acme")  # read now, so the cursor is at NOW
    _, cursor = drain(source, None)
    clock.advance(minutes=10)
    remote = fake.add_account("sam", domain="slow.example")
    late = fake.post(remote, "my #acme parcel is lost", created_at=NOW - timedelta(minutes=9))  # arrives now
    assert int(late["id"]) < int(newest["id"])  # its id is older than the cursor

    batches, _ = drain(source, cursor)

    assert late["id"] in ids(batches)


def test_without_overlap_a_late_federated_status_would_be_missed(fake: FakeMastodon, clock: ManualClock) -> None:
    """The reason for the overlap: min_id alone skips statuses whose ids are older than the cursor."""
    source = source_for(fake, clock, notifications=False, overlap_seconds=0)
    fake.post(fake.me, "an update #acme")
    _, cursor = drain(source, None)
    clock.advance(minutes=10)
    late = fake.post(fake.add_account("sam", domain="slow.example"), "lost #acme parcel",
                     created_at=NOW - timedelta(minutes=9))

    batches, _ = drain(source, cursor)

    assert late["id"] not in ids(batches)


def test_the_first_poll_backfills_only_back_to_the_horizon(clock: ManualClock) -> None:
    with FakeMastodon(clock=clock) as fake:
        customer = fake.add_account("jane")
        old = [fake.post(customer, f"@acme@{DOMAIN} ancient {n}", created_at=NOW - timedelta(days=3, hours=n))
               for n in range(10)]
        recent = [fake.post(customer, f"@acme@{DOMAIN} recent {n}", created_at=NOW - timedelta(hours=n))
                  for n in range(1, 23)]
        source = source_for(fake, clock, hashtags=[], backfill_hours=24, limit=5)

        batches, _ = drain(source, None)

    assert {s["id"] for s in recent} <= ids(batches)
    # Paging stops at the page that crosses the horizon: at most the rest of that page is older.
    assert len({s["id"] for s in old} & ids(batches)) <= 4
    assert len(batches) == 5


def test_rate_limit_gives_retry_after_from_the_reset_header_and_the_cursor_resumes(fake: FakeMastodon,
                                                                                  clock: ManualClock) -> None:
    source = source_for(fake, clock)
    clock.now = NOW + timedelta(seconds=20)  # 4 m 40 s before the fake's five-minute window resets
    fake.rate_limit = len(fake.requests) + 3
    seen: set[str] = set()
    cursor = None
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        for _ in range(10):
            batch = source.fetch(cursor)
            seen |= ids([batch])
            cursor = batch.next_cursor

    assert time.monotonic() - started < 5  # Mastodon.py did not sleep
    assert caught.value.retry_after == pytest.approx(280, abs=0.01)
    assert caught.value.permanent is False
    clock.advance(seconds=280)  # the window resets
    fake.rate_limit = 300
    batches, _ = drain(source, cursor)
    assert seen | ids(batches) == fake.mention_status_ids() | fake.tagged_status_ids("acme")


def test_an_injected_429_uses_its_iso_reset_header(fake: FakeMastodon, clock: ManualClock) -> None:
    reset = iso(NOW + timedelta(seconds=93))
    fake.inject("notifications", Fault.status_code(429, headers={"X-RateLimit-Reset": reset},
                                                   body={"error": "Too many requests"}))

    with pytest.raises(RateLimited) as caught:
        source_for(fake, clock).fetch(None)

    assert caught.value.retry_after == pytest.approx(93)


def test_retry_after_falls_back_to_retry_after_then_a_minute() -> None:
    import requests

    response = requests.Response()
    response.headers["Retry-After"] = "17"
    assert retry_after(response, NOW) == 17
    response.headers["Retry-After"] = "Fri, 20 Nov 2026 12:02:00 GMT"
    assert retry_after(response, NOW) == 120
    assert retry_after(requests.Response(), NOW) == 60
    response.headers["X-RateLimit-Reset"] = iso(NOW - timedelta(seconds=5))
    assert retry_after(response, NOW) == 1  # never zero or negative


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(fake: FakeMastodon, clock: ManualClock, status: int) -> None:
    fake.inject("notifications", Fault.status_code(status))

    with pytest.raises(SourceError) as caught:
        source_for(fake, clock).fetch(None)

    assert caught.value.permanent is False
    assert not isinstance(caught.value, RateLimited)


def test_a_timeout_is_transient(fake: FakeMastodon, clock: ManualClock) -> None:
    fake.inject("notifications", Fault.timeout(2))

    with pytest.raises(SourceError, match="network error") as caught:
        source_for(fake, clock, timeout=0.5).fetch(None)

    assert caught.value.permanent is False


def test_an_unreachable_instance_is_transient(clock: ManualClock) -> None:
    settings = SourceSettings(name="m", platform="mastodon", options={"api_base_url": "http://127.0.0.1:9"})

    with pytest.raises(SourceError) as caught:
        build_source(settings, BRAND, {"MASTODON_ACCESS_TOKEN": TOKEN}, clock=clock).fetch(None)

    assert caught.value.permanent is False


def test_a_rejected_token_is_permanent(fake: FakeMastodon, clock: ManualClock) -> None:
    source = build_source(settings_for(fake), BRAND, {"MASTODON_ACCESS_TOKEN": "revoked"}, clock=clock)

    with pytest.raises(SourceError, match="401") as caught:
        source.fetch(None)

    assert caught.value.permanent is True


def test_forbidden_is_permanent(fake: FakeMastodon, clock: ManualClock) -> None:
    fake.inject("notifications", Fault.status_code(403, body={"error": "This action is not allowed"}))

    with pytest.raises(SourceError, match="403") as caught:
        source_for(fake, clock).fetch(None)

    assert caught.value.permanent is True


@pytest.mark.parametrize("route", ["notifications", "tag_timeline"])
def test_a_malformed_body_is_transient_and_the_cursor_is_kept(fake: FakeMastodon, clock: ManualClock,
                                                              route: str) -> None:
    source = source_for(fake, clock)
    _, cursor = drain(source, None)
    fake.inject(route, Fault.malformed())

    with pytest.raises(SourceError, match="malformed") as caught:
        drain(source, cursor)

    assert caught.value.permanent is False
    drain(source, cursor)  # the same cursor works once the body is readable again


def test_a_body_of_the_wrong_shape_is_transient(fake: FakeMastodon, clock: ManualClock) -> None:
    fake.inject("notifications", Fault.status_code(200, body={"data": []}))

    with pytest.raises(SourceError, match="expected a JSON array") as caught:
        source_for(fake, clock).fetch(None)

    assert caught.value.permanent is False


def test_an_unreadable_rate_limit_header_is_transient(fake: FakeMastodon, clock: ManualClock) -> None:
    fake.inject("notifications", Fault.status_code(200, headers={"X-RateLimit-Reset": "soon"}, body=[]))

    with pytest.raises(SourceError, match="rate-limit headers") as caught:
        source_for(fake, clock).fetch(None)

    assert caught.value.permanent is False
    assert not isinstance(caught.value, RateLimited)


def test_a_malformed_status_is_a_bad_record_and_the_cursor_moves_on(fake: FakeMastodon, clock: ManualClock) -> None:
    source = source_for(fake, clock, hashtags=[])
    _, cursor = drain(source, None)
    customer = next(a for a in fake.accounts.values() if a["username"] == "jane")
    broken = fake.post(customer, f"@acme@{DOMAIN} broken one")
    good = fake.post(customer, f"@acme@{DOMAIN} fine one")
    broken["uri"] = None

    [batch], cursor = drain(source, cursor)
    [after], _ = drain(source, cursor)

    assert ids([batch]) == {good["id"]}
    assert [b.reason for b in batch.bad] == ["status uri is missing"]
    assert after.mentions == [] and after.bad == []


def test_missing_credentials_name_the_variable(fake: FakeMastodon) -> None:
    with pytest.raises(MissingCredentials, match="MASTODON_ACCESS_TOKEN") as caught:
        build_source(settings_for(fake), BRAND, {})
    assert caught.value.variables == ["MASTODON_ACCESS_TOKEN"]

    renamed = SourceSettings(name="m", platform="mastodon", credentials_env={"access_token": "ACME_MASTODON"},
                             options={"api_base_url": fake.url})
    with pytest.raises(MissingCredentials, match="ACME_MASTODON"):
        build_source(renamed, BRAND, {"MASTODON_ACCESS_TOKEN": TOKEN})


def test_build_source_options(fake: FakeMastodon) -> None:
    env = {"MASTODON_ACCESS_TOKEN": TOKEN}
    by_instance = build_source(SourceSettings(name="m", platform="mastodon", options={"instance": "social.example"}),
                               BRAND, env)
    by_handle = build_source(SourceSettings(name="m", platform="mastodon"), BRAND, env)
    tags = build_source(settings_for(fake, hashtags=["#Acme", "acme", "AcmeHelp"]), BRAND, env)

    assert by_instance.base_url == "https://social.example"
    assert by_handle.base_url == f"https://{DOMAIN}"
    assert [e.key for e in tags.endpoints] == ["notifications", "tag:acme", "tag:acmehelp"]
    no_place = Brand(name="Acme", keywords=("acme",))
    with pytest.raises(SourceError, match="api_base_url") as caught:
        build_source(SourceSettings(name="m", platform="mastodon"), no_place, env)
    assert caught.value.permanent is True
    with pytest.raises(ConfigError, match=r"source 'm': options\.hashtags: .*not a hashtag"):
        parse_settings({"sources": [{"name": "m", "platform": "mastodon", "options": {"hashtags": ["two words"]}}]},
                       env={})


def test_an_unreadable_cursor_is_permanent(fake: FakeMastodon, clock: ManualClock) -> None:
    with pytest.raises(SourceError, match="unreadable cursor") as caught:
        source_for(fake, clock).fetch("not json")
    assert caught.value.permanent is True


# -- threads -------------------------------------------------------------------------------------------


def test_fetch_thread_returns_only_the_customers_later_posts(fake: FakeMastodon, clock: ManualClock) -> None:
    jane = fake.add_account("janet", display_name="Janet")
    other = fake.add_account("bystander", domain="elsewhere.example")
    root = fake.post(jane, f"@acme@{DOMAIN} my parcel is lost", created_at=NOW - timedelta(hours=2))
    earlier = fake.post(jane, "it was order 77", in_reply_to=root, created_at=NOW - timedelta(hours=1, minutes=50))
    ours = fake.post(fake.me, "@janet so sorry, we are on it", in_reply_to=root, created_at=NOW - timedelta(hours=1))
    later = fake.post(jane, f"@acme@{DOMAIN} it arrived, thanks!", in_reply_to=ours, created_at=NOW - timedelta(minutes=5))
    fake.post(other, "same problem here", in_reply_to=root, created_at=NOW - timedelta(minutes=4))
    [mention] = parse_statuses([root])
    ref = ThreadRef(platform="mastodon", conversation_id=mention.conversation_id, root_platform_id=root["id"],
                    root_canonical_id=root["uri"], author_handle=mention.author.handle, author_id=mention.author.id,
                    since=datetime.fromisoformat(earlier["created_at"]), root_raw=root)

    found = source_for(fake, clock).fetch_thread(ref).mentions

    assert [m.platform_id for m in found] == [later["id"]]
    assert found[0].conversation_id == root["id"]
    assert found[0].in_reply_to_id == ours["id"]
    assert found[0].text == "@acme it arrived, thanks!"


def test_fetch_thread_matches_by_handle_without_an_author_id(fake: FakeMastodon, clock: ManualClock) -> None:
    jane = fake.add_account("janet")
    root = fake.post(jane, f"@acme@{DOMAIN} help", created_at=NOW - timedelta(hours=1))
    later = fake.post(jane, "anyone?", in_reply_to=root, created_at=NOW - timedelta(minutes=1))
    ref = ThreadRef(platform="mastodon", conversation_id=None, root_platform_id=root["id"], root_canonical_id=root["uri"],
                    author_handle="janet@127.0.0.1", author_id=None, since=NOW - timedelta(hours=1))

    assert [m.platform_id for m in source_for(fake, clock).fetch_thread(ref).mentions] == [later["id"]]


def test_fetch_thread_of_a_deleted_root_is_empty(fake: FakeMastodon, clock: ManualClock) -> None:
    jane = fake.add_account("janet")
    root = fake.post(jane, f"@acme@{DOMAIN} help", created_at=NOW - timedelta(hours=1))
    fake.delete(root["id"])
    ref = ThreadRef(platform="mastodon", conversation_id=None, root_platform_id=root["id"], root_canonical_id=root["uri"],
                    author_handle="janet", author_id=jane["id"], since=NOW - timedelta(hours=1))

    thread = source_for(fake, clock).fetch_thread(ref)
    assert thread.mentions == [] and thread.deleted == [root["uri"]], "the case's root is marked deleted"


def test_fetch_thread_errors_have_a_kind(fake: FakeMastodon, clock: ManualClock) -> None:
    jane = fake.add_account("janet")
    root = fake.post(jane, f"@acme@{DOMAIN} help", created_at=NOW - timedelta(hours=1))
    ref = ThreadRef(platform="mastodon", conversation_id=None, root_platform_id=root["id"], root_canonical_id=root["uri"],
                    author_handle="janet", author_id=jane["id"], since=NOW - timedelta(hours=1))
    source = source_for(fake, clock)
    fake.inject("context", Fault.status_code(429, headers={"X-RateLimit-Reset": iso(NOW + timedelta(seconds=30))}),
                Fault.status_code(503), Fault.malformed())

    with pytest.raises(RateLimited) as limited:
        source.fetch_thread(ref)
    assert limited.value.retry_after == pytest.approx(30)
    with pytest.raises(SourceError) as unavailable:
        source.fetch_thread(ref)
    assert unavailable.value.permanent is False
    with pytest.raises(SourceError, match="malformed") as malformed:
        source.fetch_thread(ref)
    assert malformed.value.permanent is False
