"""The Bluesky poster: atproto's send_post against the fake PDS, exactly once, and reconciliation."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import Brand, BrandHandles
from monitor.sources.base import MissingCredentials, ParsedMention
from monitor.sources.bluesky.parse import parse_notifications
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget
from responders.posters.bluesky import BlueskyPoster, build_poster
from tests.fakes.bluesky import FakeBluesky, seed_customers
from tests.fakes.server import Fault

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ENV = {"BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"}
BRAND = Brand(name="Acme", handles=BrandHandles(bluesky="acme.bsky.social"), keywords=("acme",))
TEXT = "Hi Jane, I'm so sorry your order hasn't arrived. Could you DM us the order number? – Maria"
CREATE = "/xrpc/com.atproto.repo.createRecord"


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky() as running:
        yield running


def make_poster(fake: FakeBluesky, **options: object) -> BlueskyPoster:
    return build_poster(BRAND, {"api_base_url": fake.url, "timeout_seconds": 2, **options}, ENV)


def target_from(mention: ParsedMention) -> ReplyTarget:
    """What the outbox hands the poster: the stored mention's ids and raw payload."""
    assert mention.platform_id is not None
    return ReplyTarget(platform="bluesky", platform_id=mention.platform_id, canonical_id=mention.canonical_id,
                       conversation_id=mention.conversation_id, author_handle=mention.author.handle, raw=mention.raw)


def notification_targets(fake: FakeBluesky, poster: BlueskyPoster) -> dict[str, ReplyTarget]:
    body = poster.session.query("app.bsky.notification.listNotifications", None)
    return {m.author.handle: target_from(m) for m in parse_notifications(body)}


def strong(ref: dict[str, str]) -> dict[str, str]:
    return {"uri": ref["uri"], "cid": ref["cid"]}


def recent() -> datetime:
    """``since`` for find_reply: atproto stamps createdAt with the real clock."""
    return datetime.now(UTC) - timedelta(minutes=1)


def test_it_posts_a_reply_exactly_once_and_returns_its_at_uri(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    target = notification_targets(fake, poster)["jane.bsky.social"]
    uri = poster.post_reply(target=target, text=TEXT, idempotency_key="closeloop-1-abc")
    [reply] = fake.replies_by_brand()
    assert uri == reply.uri and uri.startswith(f"at://{fake.brand.did}/app.bsky.feed.post/")
    assert len(fake.calls("POST", CREATE)) == 1
    assert reply.record["text"] == TEXT and reply.record["$type"] == "app.bsky.feed.post"
    parent = {"uri": target.platform_id, "cid": target.raw["cid"]}
    assert strong(reply.record["reply"]["parent"]) == strong(reply.record["reply"]["root"]) == parent
    assert reply.record["langs"] == ["en"]


def test_a_reply_deep_in_a_thread_keeps_the_threads_root(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    poster = make_poster(fake)
    target = notification_targets(fake, poster)["mads.bsky.social"]  # a reply to our post
    poster.post_reply(target=target, text="Hej Mads, det er vi kede af! – Maria", idempotency_key="k")
    [reply] = fake.replies_by_brand()
    assert reply.record["reply"]["parent"]["uri"] == uris["mads_reply"]
    assert strong(reply.record["reply"]["root"]) == {"uri": uris["brand_post"], "cid": fake.posts[uris["brand_post"]].cid}
    assert reply.record["langs"] == ["da"]


def test_a_target_without_a_cid_is_looked_up_first(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    poster = make_poster(fake)
    replayed = ReplyTarget(platform="bluesky", platform_id=uris["jane_mention"], canonical_id=uris["jane_mention"],
                           conversation_id=None, author_handle="jane.bsky.social", raw={})
    poster.post_reply(target=replayed, text=TEXT, idempotency_key="k")
    [reply] = fake.replies_by_brand()
    assert strong(reply.record["reply"]["parent"]) == {"uri": uris["jane_mention"],
                                                       "cid": fake.posts[uris["jane_mention"]].cid}


def test_three_replies_log_in_once(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    for handle, target in notification_targets(fake, poster).items():
        poster.post_reply(target=target, text=f"Hello {handle}", idempotency_key=handle)
    assert len(fake.calls("POST", "/xrpc/com.atproto.server.createSession")) == 1
    assert len(fake.replies_by_brand()) == 3


def test_a_dropped_connection_is_outcome_unknown_with_one_post_and_find_reply_finds_it(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    target = notification_targets(fake, poster)["jane.bsky.social"]
    since = recent()
    fake.inject("com.atproto.repo.createRecord", Fault.drop_after_handling())
    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert len(fake.calls("POST", CREATE)) == 1  # neither atproto nor httpx sent it again
    [reply] = fake.replies_by_brand()
    assert poster.find_reply(target=target, text=f"  {TEXT}\n", since=since) == reply.uri


def test_a_timeout_after_sending_is_outcome_unknown(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake, timeout_seconds=0.5)
    target = notification_targets(fake, poster)["jane.bsky.social"]
    fake.inject("com.atproto.repo.createRecord", Fault.timeout(2))
    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert len(fake.calls("POST", CREATE)) == 1


@pytest.mark.parametrize(("fault", "permanent"), [
    (Fault.status_code(429, headers={"ratelimit-reset": "1795176060", "ratelimit-remaining": "0"},
                       body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}), False),
    (Fault.status_code(500, body={"error": "InternalServerError"}), False),
    (Fault.status_code(503), False),
    (Fault.status_code(403, body={"error": "Forbidden", "message": "account is taken down"}), True),
    (Fault.status_code(401, body={"error": "AuthMissing"}), True),
    (Fault.status_code(400, body={"error": "InvalidRequest", "message": "Invalid record"}), True),
])
def test_answers_before_acting_are_post_errors_of_their_kind(fake: FakeBluesky, fault: Fault, permanent: bool) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    target = notification_targets(fake, poster)["jane.bsky.social"]
    fake.inject("com.atproto.repo.createRecord", fault)
    with pytest.raises(PostError) as raised:
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert not isinstance(raised.value, OutcomeUnknown) and raised.value.permanent is permanent
    assert len(fake.calls("POST", CREATE)) == 1 and not fake.replies_by_brand()


@pytest.mark.parametrize("fault", [Fault.status_code(502), Fault.status_code(504), Fault.malformed()])
def test_gateway_errors_and_unreadable_answers_are_outcome_unknown(fake: FakeBluesky, fault: Fault) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    target = notification_targets(fake, poster)["jane.bsky.social"]
    fake.inject("com.atproto.repo.createRecord", fault)
    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert len(fake.calls("POST", CREATE)) == 1


def test_an_expired_token_on_the_post_refreshes_and_is_not_resent(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    target = notification_targets(fake, poster)["jane.bsky.social"]
    fake.inject("com.atproto.repo.createRecord", Fault.status_code(400, body={"error": "ExpiredToken",
                                                                              "message": "Token has expired"}))
    with pytest.raises(PostError) as raised:
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert not raised.value.permanent and not isinstance(raised.value, OutcomeUnknown)
    assert len(fake.calls("POST", CREATE)) == 1
    assert len(fake.calls("POST", "/xrpc/com.atproto.server.refreshSession")) == 1
    poster.post_reply(target=target, text=TEXT, idempotency_key="k")  # the outbox's later retry
    assert len(fake.replies_by_brand()) == 1


def test_a_deleted_or_gated_target_is_permanent_and_nothing_is_sent(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    poster = make_poster(fake)
    targets = notification_targets(fake, poster)
    fake.delete_post(uris["jane_mention"])
    fake.gate(uris["brand_post"])  # mads replied in our thread; we closed it
    for handle in ("jane.bsky.social", "mads.bsky.social"):
        with pytest.raises(PostError) as raised:
            poster.post_reply(target=targets[handle], text=TEXT, idempotency_key="k")
        assert raised.value.permanent
    assert not fake.calls("POST", CREATE)


def test_an_unreachable_pds_is_transient_not_unknown() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    poster = build_poster(BRAND, {"api_base_url": f"http://127.0.0.1:{port}", "timeout_seconds": 0.5}, ENV)
    target = ReplyTarget(platform="bluesky", platform_id="at://did:plc:abc/app.bsky.feed.post/3k2yihcrp6f2c",
                         canonical_id="at://did:plc:abc/app.bsky.feed.post/3k2yihcrp6f2c", conversation_id=None,
                         author_handle="jane.bsky.social")
    with pytest.raises(PostError) as raised:
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert not raised.value.permanent and not isinstance(raised.value, OutcomeUnknown)


def test_find_reply_ignores_other_authors_other_parents_other_texts_and_older_posts(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    poster = make_poster(fake)
    targets = notification_targets(fake, poster)
    jane, mads = targets["jane.bsky.social"], targets["mads.bsky.social"]
    since = recent()
    assert poster.find_reply(target=jane, text=TEXT, since=since) is None
    fake.add_post("mimic.bsky.social", TEXT, at=datetime.now(UTC), reply_to=uris["jane_mention"])  # not ours
    poster.post_reply(target=mads, text=TEXT, idempotency_key="a")  # ours, another parent
    poster.post_reply(target=jane, text=TEXT + " Thanks!", idempotency_key="b")  # ours, another text
    fake.add_post(fake.brand, TEXT, at=since - timedelta(hours=1), reply_to=uris["jane_mention"])  # ours, too old
    assert poster.find_reply(target=jane, text=TEXT, since=since) is None
    uri = poster.post_reply(target=jane, text=TEXT, idempotency_key="c")
    assert poster.find_reply(target=jane, text=" ".join(TEXT.split(" ")), since=since) == uri


def test_find_reply_pages_through_our_feed(fake: FakeBluesky) -> None:
    uris = seed_customers(fake, NOW)
    poster = make_poster(fake)
    jane = notification_targets(fake, poster)["jane.bsky.social"]
    since = recent()
    uri = poster.post_reply(target=jane, text=TEXT, idempotency_key="k")
    for i in range(120):
        fake.add_post(fake.brand, f"update {i}", at=datetime.now(UTC), reply_to=uris["brand_post"])
    assert poster.find_reply(target=jane, text=TEXT, since=since) == uri
    assert len(fake.calls("GET", "/xrpc/app.bsky.feed.getAuthorFeed")) == 2


def test_find_reply_errors_are_post_errors(fake: FakeBluesky) -> None:
    seed_customers(fake, NOW)
    poster = make_poster(fake)
    jane = notification_targets(fake, poster)["jane.bsky.social"]
    fake.inject("app.bsky.feed.getAuthorFeed", Fault.status_code(503))
    with pytest.raises(PostError) as raised:
        poster.find_reply(target=jane, text=TEXT, since=recent())
    assert not raised.value.permanent


def test_missing_credentials_name_the_variable() -> None:
    with pytest.raises(MissingCredentials) as raised:
        build_poster(BRAND, {}, {})
    assert raised.value.variables == ["BLUESKY_APP_PASSWORD"]
    with pytest.raises(MissingCredentials, match="ACME_BSKY_POST_PW"):
        build_poster(BRAND, {"credentials_env": {"app_password": "ACME_BSKY_POST_PW"}}, ENV)


def test_a_bad_option_or_no_handle_is_a_permanent_post_error() -> None:
    with pytest.raises(PostError) as raised:
        build_poster(BRAND, {"timeout_seconds": "soon"}, ENV)
    assert raised.value.permanent and "timeout_seconds" in str(raised.value)
    with pytest.raises(PostError, match="handle"):
        build_poster(Brand(name="Acme"), {}, ENV)
