"""The Reddit poster: one comment per call through real praw against the fake Reddit, never retried, and
our own replies found again when an outcome was lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Brand, BrandHandles
from monitor.sources.base import MissingCredentials
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget
from responders.posters.reddit import RedditPoster, build_poster
from tests.fakes.reddit import FakeReddit
from tests.fakes.server import Fault

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T = NOW.timestamp()
ENV = {"REDDIT_CLIENT_ID": "test-client", "REDDIT_CLIENT_SECRET": "test-secret", "REDDIT_USERNAME": "acme_care",
       "REDDIT_PASSWORD": "test-password"}
BRAND = Brand(name="Acme", handles=BrandHandles(reddit="acme_care"), keywords=("acme",))
TEXT = "Sorry about the double charge, Jane. Please DM us the order number. – Maria"


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    server = FakeReddit(clock=lambda: T)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def poster(fake: FakeReddit) -> RedditPoster:
    return build_poster(BRAND, {"api_base_url": fake.url, "timeout": 0.5}, ENV)


def target_for(fullname: str, **raw: Any) -> ReplyTarget:
    return ReplyTarget(platform="reddit", platform_id=fullname, canonical_id=fullname, conversation_id=None,
                       author_handle="jane_doe", raw=raw)


@pytest.fixture
def mention(fake: FakeReddit) -> str:
    post = fake.add_submission(title="Acme charged me twice", created=T - 3600)
    return fake.add_comment(parent=post, body="u/acme_care charged twice for order 55120", created=T - 600)


def comment_posts(fake: FakeReddit) -> int:
    return len(fake.calls("POST", "/api/comment"))


def test_it_replies_once_and_returns_the_new_comments_fullname(fake: FakeReddit, poster: RedditPoster,
                                                                  mention: str) -> None:
    reply = poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="closeloop-1-abc")
    [request] = fake.calls("POST", "/api/comment")
    assert request.form()["thing_id"] == mention and request.form()["text"] == TEXT
    assert reply.startswith("t1_") and fake.things[reply]["data"]["parent_id"] == mention
    assert fake.things[reply]["data"]["author"] == "acme_care"


def test_it_replies_to_a_submission(fake: FakeReddit, poster: RedditPoster) -> None:
    post = fake.add_submission(title="acme kettle broke", created=T - 60)
    reply = poster.post_reply(target=target_for(post), text=TEXT, idempotency_key="k")
    assert fake.things[reply]["data"]["parent_id"] == post and fake.things[reply]["data"]["link_id"] == post


def test_a_dropped_connection_is_an_unknown_outcome_posted_once_and_found_after(
        fake: FakeReddit, poster: RedditPoster, mention: str) -> None:
    fake.inject("comment", Fault.drop_after_handling())
    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert comment_posts(fake) == 1  # prawcore would have sent it again: three comments
    [saved] = fake.comments_by("acme_care")
    found = poster.find_reply(target=target_for(mention), text=TEXT, since=NOW - timedelta(minutes=5))
    assert found == saved["name"]


def test_a_timeout_is_an_unknown_outcome_and_not_retried(fake: FakeReddit, poster: RedditPoster,
                                                         mention: str) -> None:
    fake.inject("comment", Fault.timeout(2))
    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert comment_posts(fake) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_after_sending_is_an_unknown_outcome(fake: FakeReddit, poster: RedditPoster, mention: str,
                                                            status: int) -> None:
    fake.inject("comment", Fault.status_code(status), Fault.status_code(status))
    with pytest.raises(OutcomeUnknown) as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert not caught.value.permanent and comment_posts(fake) == 1


def test_a_429_is_a_transient_refusal_without_sleeping(fake: FakeReddit, poster: RedditPoster, mention: str) -> None:
    fake.inject("comment", Fault.status_code(429, headers={"x-ratelimit-remaining": "0", "x-ratelimit-used": "600",
                                                            "x-ratelimit-reset": "40"}))
    started = time.monotonic()
    with pytest.raises(PostError, match="HTTP 429; retry after 40s") as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert type(caught.value) is PostError and not caught.value.permanent
    assert comment_posts(fake) == 1 and time.monotonic() - started < 5


def test_reddits_ratelimit_answer_is_transient_and_not_reposted(fake: FakeReddit, poster: RedditPoster,
                                                                 mention: str) -> None:
    body = {"json": {"errors": [["RATELIMIT", "Take a break for 3 seconds before trying again.", "ratelimit"]]}}
    fake.inject("comment", Fault.status_code(200, body=body))
    started = time.monotonic()
    with pytest.raises(PostError, match="RATELIMIT") as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert type(caught.value) is PostError and not caught.value.permanent
    assert comment_posts(fake) == 1 and time.monotonic() - started < 2


@pytest.mark.parametrize(
    "fault",
    [Fault.malformed(), Fault.status_code(200, body={"json": {"errors": [], "data": {}}}),
     Fault.status_code(200, body={"json": {"errors": [], "data": {"things": []}}}),
     Fault.status_code(200, body={"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": {}}]}}}),
     Fault.status_code(200, body="ok")],
)
def test_an_unreadable_success_is_an_unknown_outcome(fake: FakeReddit, poster: RedditPoster, mention: str,
                                                     fault: Fault) -> None:
    fake.inject("comment", fault)
    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert comment_posts(fake) == 1


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_permanent(fake: FakeReddit, poster: RedditPoster, mention: str, status: int) -> None:
    fake.inject("comment", Fault.status_code(status))
    with pytest.raises(PostError, match=f"HTTP {status}") as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert caught.value.permanent and not isinstance(caught.value, OutcomeUnknown)
    assert comment_posts(fake) == 1


def test_a_refused_token_is_transient_and_replaced_for_the_next_attempt(fake: FakeReddit, poster: RedditPoster,
                                                                        mention: str) -> None:
    fake.inject("comment", Fault.status_code(401, headers={"www-authenticate": 'Bearer error="invalid_token"'}))
    with pytest.raises(PostError, match="HTTP 401") as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert not caught.value.permanent and comment_posts(fake) == 1
    poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    first, second = fake.calls("POST", "/api/comment")
    assert first.headers["authorization"] != second.headers["authorization"]


def test_wrong_account_credentials_are_permanent(fake: FakeReddit, mention: str) -> None:
    for env in ({**ENV, "REDDIT_PASSWORD": "wrong"}, {**ENV, "REDDIT_CLIENT_SECRET": "wrong"}):
        poster = build_poster(BRAND, {"api_base_url": fake.url}, env)
        with pytest.raises(PostError) as caught:
            poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
        assert caught.value.permanent
    assert comment_posts(fake) == 0


def test_a_locked_thread_a_deleted_parent_and_an_archived_thread_are_permanent(fake: FakeReddit,
                                                                               poster: RedditPoster) -> None:
    locked = fake.add_submission(title="acme thread", created=T - 60, locked=True)
    old = fake.add_submission(title="acme thread", created=T - 60, archived=True)
    open_post = fake.add_submission(title="acme thread", created=T - 60)
    deleted = fake.add_comment(parent=open_post, body="acme", created=T - 30)
    fake.remove(deleted)
    for parent, code in [(locked, "THREAD_LOCKED"), (old, "TOO_OLD"), (deleted, "DELETED_COMMENT")]:
        with pytest.raises(PostError, match=code) as caught:
            poster.post_reply(target=target_for(parent), text=TEXT, idempotency_key="k")
        assert caught.value.permanent
    assert fake.comments_by("acme_care") == []


def test_a_failed_token_request_means_nothing_was_sent(fake: FakeReddit, poster: RedditPoster, mention: str) -> None:
    fake.inject("token", Fault.drop_after_handling())
    with pytest.raises(PostError) as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert type(caught.value) is PostError and not caught.value.permanent and comment_posts(fake) == 0


def test_an_unreachable_platform_is_a_transient_refusal(fake: FakeReddit, poster: RedditPoster,
                                                        mention: str) -> None:
    fake.stop()
    with pytest.raises(PostError) as caught:
        poster.post_reply(target=target_for(mention), text=TEXT, idempotency_key="k")
    assert type(caught.value) is PostError and not caught.value.permanent


def test_a_target_without_a_fullname_is_refused(poster: RedditPoster) -> None:
    target = ReplyTarget(platform="reddit", platform_id="abc", canonical_id="abc", conversation_id=None,
                         author_handle="jane_doe")
    with pytest.raises(PostError, match="not a comment or submission fullname") as caught:
        poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert caught.value.permanent
    assert target_for("x", name="t1_abc").raw["name"] == "t1_abc"


def test_find_reply_matches_only_our_reply_to_that_parent_with_that_text(fake: FakeReddit, poster: RedditPoster,
                                                                         mention: str) -> None:
    post = fake.things[mention]["data"]["link_id"]
    other_parent = fake.add_comment(parent=post, body="acme is slow", author="sam_k", created=T - 500)
    target = target_for(mention)
    since = NOW - timedelta(minutes=5)
    fake.add_comment(parent=mention, body=TEXT, author="impostor", created=T - 60)  # someone else's
    fake.add_comment(parent=other_parent, body=TEXT, author="acme_care", created=T - 50)  # another parent
    fake.add_comment(parent=mention, body="A different reply – Maria", author="acme_care", created=T - 40)
    fake.add_comment(parent=mention, body=TEXT, author="acme_care", created=T - 3000)  # before since
    assert poster.find_reply(target=target, text=TEXT, since=since) is None
    ours = fake.add_comment(parent=mention, body=TEXT.replace(" ", "  ", 3) + "\n", author="acme_care",
                            created=T - 30)
    assert poster.find_reply(target=target, text=TEXT, since=since) == ours


def test_find_reply_pages_back_through_our_comments(fake: FakeReddit, poster: RedditPoster, mention: str) -> None:
    ours = fake.add_comment(parent=mention, body=TEXT, author="acme_care", created=T - 200)
    post = fake.things[mention]["data"]["link_id"]
    for i in range(150):
        fake.add_comment(parent=post, body=f"reply {i}", author="acme_care", created=T - 100 + i * 0.1)
    assert poster.find_reply(target=target_for(mention), text=TEXT, since=NOW - timedelta(minutes=5)) == ours
    assert len(fake.calls("GET", "/user/acme_care/comments")) == 2


def test_find_reply_raises_when_reddit_cannot_be_asked(fake: FakeReddit, poster: RedditPoster,
                                                       mention: str) -> None:
    fake.inject("user_comments", Fault.status_code(503))
    with pytest.raises(PostError, match="cannot read our comments") as caught:
        poster.find_reply(target=target_for(mention), text=TEXT, since=NOW)
    assert not caught.value.permanent


def test_missing_credentials_name_every_variable() -> None:
    with pytest.raises(MissingCredentials) as caught:
        build_poster(BRAND, {}, {"REDDIT_CLIENT_ID": "x"})
    assert caught.value.variables == ["REDDIT_CLIENT_SECRET", "REDDIT_USERNAME", "REDDIT_PASSWORD"]
    with pytest.raises(MissingCredentials, match="ACME_REDDIT_PASSWORD"):
        build_poster(BRAND, {"credentials_env": {"password": "ACME_REDDIT_PASSWORD"}}, ENV)
