"""The Mastodon poster against a fake instance over real HTTP with the real Mastodon.py: one POST per
reply, errors with a kind, and reconciliation through our own statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Brand, BrandHandles
from monitor.sources.base import MissingCredentials
from monitor.sources.mastodon.parse import parse_statuses
from responders.posters.base import OutcomeUnknown, PostError, ReplyTarget
from responders.posters.mastodon import MastodonPoster, build_poster, comparable
from tests.fakes.mastodon import DOMAIN, TOKEN, FakeMastodon, ManualClock
from tests.fakes.server import Fault
from tests.reference import REFERENCE_PAYLOADS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
REFERENCE = REFERENCE_PAYLOADS / "mastodon"
BRAND = Brand(name="Acme", handles=BrandHandles(mastodon=f"acme@{DOMAIN}"), keywords=("acme",))
TEXT = "Hi Jane, so sorry your order never arrived. I have sent a new one today, it lands Friday. – Maria"


def reference(name: str) -> Any:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference payloads not found at {REFERENCE} (../shared is not checked out here)")
    return json.loads(path.read_text())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeMastodon]:
    with FakeMastodon(clock=clock) as server:
        yield server


def poster_for(fake: FakeMastodon, **options: Any) -> MastodonPoster:
    return build_poster(BRAND, {"api_base_url": fake.url, **options}, {"MASTODON_ACCESS_TOKEN": TOKEN})


def target_of(status: dict[str, Any]) -> ReplyTarget:
    [mention] = parse_statuses([status])
    assert mention.platform_id is not None
    return ReplyTarget(platform="mastodon", platform_id=mention.platform_id, canonical_id=mention.canonical_id,
                       conversation_id=mention.conversation_id, author_handle=mention.author.handle, raw=mention.raw)


@pytest.fixture
def complaint(fake: FakeMastodon) -> dict[str, Any]:
    jane = fake.add_account("jane", display_name="Jane Doe")
    return fake.post(jane, f"@acme@{DOMAIN} my order never arrived", created_at=NOW - timedelta(minutes=30))


def posts(fake: FakeMastodon) -> list[Any]:
    return fake.calls("POST", "/api/v1/statuses")


def test_it_posts_one_public_reply_and_returns_its_id(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    reply_id = poster_for(fake).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="closeloop-1-abc")

    [request] = posts(fake)
    [reply] = fake.replies_to(complaint["id"], by=fake.me)
    assert reply_id == reply["id"]
    assert request.headers["idempotency-key"] == "closeloop-1-abc"
    assert request.form()["visibility"] == "public"
    assert request.form()["in_reply_to_id"] == complaint["id"]
    assert request.form()["status"] == f"@jane {TEXT}"  # Mastodon notifies only the accounts a reply mentions
    assert reply["visibility"] == "public"


def test_it_does_not_mention_the_author_twice(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    poster_for(fake).post_reply(target=target_of(complaint), text=f"@Jane {TEXT}", idempotency_key="k")
    poster_for(fake, mention_author=False).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k2")

    assert [r.form()["status"] for r in posts(fake)] == [f"@Jane {TEXT}", TEXT]


def test_a_remote_author_is_mentioned_with_their_domain(fake: FakeMastodon) -> None:
    ola = fake.add_account("ola", domain="fosstodon.example")
    status = fake.post(ola, f"@acme@{DOMAIN} refund please")

    poster_for(fake).post_reply(target=target_of(status), text="Hi Ola, refunded today. – Maria", idempotency_key="k")

    assert posts(fake)[0].form()["status"].startswith("@ola@fosstodon.example Hi Ola")


def test_the_same_idempotency_key_never_makes_a_second_status(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    poster = poster_for(fake)
    target = target_of(complaint)

    first = poster.post_reply(target=target, text=TEXT, idempotency_key="closeloop-7-k")
    second = poster.post_reply(target=target, text=TEXT, idempotency_key="closeloop-7-k")

    assert first == second
    assert len(posts(fake)) == 2
    assert len(fake.replies_to(complaint["id"])) == 1


def test_a_dropped_connection_is_outcome_unknown_with_one_post_and_find_reply_finds_it(
    fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    poster = poster_for(fake)
    target = target_of(complaint)
    fake.inject("post_status", Fault.drop_after_handling())

    with pytest.raises(OutcomeUnknown):
        poster.post_reply(target=target, text=TEXT, idempotency_key="closeloop-9-k")

    assert len(posts(fake)) == 1  # no retry by Mastodon.py, requests or urllib3
    [saved] = fake.replies_to(complaint["id"], by=fake.me)
    assert poster.find_reply(target=target, text=TEXT, since=NOW - timedelta(minutes=5)) == saved["id"]


def test_a_timeout_is_outcome_unknown_with_one_post(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    fake.inject("post_status", Fault.timeout(2))

    with pytest.raises(OutcomeUnknown):
        poster_for(fake, timeout=0.5).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")

    assert len(posts(fake)) == 1


def test_no_connection_is_a_transient_error_not_an_unknown_outcome(complaint: dict[str, Any]) -> None:
    poster = build_poster(BRAND, {"api_base_url": "http://127.0.0.1:9"}, {"MASTODON_ACCESS_TOKEN": TOKEN})

    with pytest.raises(PostError) as caught:
        poster.post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")

    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.permanent is False


def test_a_429_is_transient_and_nothing_is_posted(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    fake.inject("post_status", Fault.status_code(429, headers={"X-RateLimit-Reset": "2026-11-20T12:05:00.000Z"},
                                                 body={"error": "Too many requests"}))

    with pytest.raises(PostError) as caught:
        poster_for(fake).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")

    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.permanent is False
    assert fake.replies_to(complaint["id"]) == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake: FakeMastodon, complaint: dict[str, Any], status: int) -> None:
    fake.inject("post_status", Fault.status_code(status))

    with pytest.raises(PostError) as caught:
        poster_for(fake).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")

    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.permanent is False


def test_forbidden_is_permanent(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    fake.inject("post_status", Fault.status_code(403, body={"error": "This action is not allowed"}))

    with pytest.raises(PostError, match="403") as caught:
        poster_for(fake).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")

    assert caught.value.permanent is True


def test_a_deleted_parent_is_permanent(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    target = target_of(complaint)
    fake.delete(complaint["id"])

    with pytest.raises(PostError, match="404") as caught:
        poster_for(fake).post_reply(target=target, text=TEXT, idempotency_key="k")

    assert caught.value.permanent is True
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_text_the_instance_rejects_is_permanent(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    with pytest.raises(PostError, match=r"422.*character limit") as caught:
        poster_for(fake).post_reply(target=target_of(complaint), text="x" * 600, idempotency_key="k")

    assert caught.value.permanent is True


def test_a_rejected_token_is_permanent(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    poster = build_poster(BRAND, {"api_base_url": fake.url}, {"MASTODON_ACCESS_TOKEN": "revoked"})

    with pytest.raises(PostError, match="401") as caught:
        poster.post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")

    assert caught.value.permanent is True


def test_a_malformed_answer_after_posting_is_outcome_unknown(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    fake.inject("post_status", Fault.malformed())

    with pytest.raises(OutcomeUnknown):
        poster_for(fake).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k")


@pytest.mark.parametrize("visibility", ["private", "direct"])
def test_it_never_answers_a_private_post_in_public(fake: FakeMastodon, visibility: str) -> None:
    jane = fake.add_account("jane")
    status = fake.post(jane, f"@acme@{DOMAIN} my address is 12 Main St", visibility=visibility)

    with pytest.raises(PostError, match=visibility) as caught:
        poster_for(fake).post_reply(target=target_of(status), text=TEXT, idempotency_key="k")

    assert caught.value.permanent is True
    assert posts(fake) == []


# -- find_reply ----------------------------------------------------------------------------------------


def test_find_reply_ignores_other_people_other_parents_and_older_posts(fake: FakeMastodon, clock: ManualClock,
                                                                      complaint: dict[str, Any]) -> None:
    poster = poster_for(fake)
    target = target_of(complaint)
    other = fake.add_account("mallory", domain="elsewhere.example")
    elsewhere = fake.post(other, f"@acme@{DOMAIN} me too")
    fake.post(other, f"@jane {TEXT}", in_reply_to=complaint)  # someone else's copy
    fake.post(fake.me, f"@jane {TEXT}", in_reply_to=elsewhere)  # ours, to another parent
    fake.post(fake.me, f"@jane {TEXT}", in_reply_to=complaint, created_at=NOW - timedelta(minutes=20))  # too old
    fake.post(fake.me, "@jane a different answer", in_reply_to=complaint)

    assert poster.find_reply(target=target, text=TEXT, since=NOW - timedelta(minutes=10)) is None

    clock.advance(minutes=1)
    reply_id = poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    assert poster.find_reply(target=target, text=TEXT, since=NOW - timedelta(minutes=10)) == reply_id
    assert len(fake.calls("GET", "/api/v1/accounts/verify_credentials")) == 1  # our id is cached


def test_find_reply_pages_back_through_our_statuses(fake: FakeMastodon, clock: ManualClock,
                                                    complaint: dict[str, Any]) -> None:
    poster = poster_for(fake)
    target = target_of(complaint)
    reply_id = poster.post_reply(target=target, text=TEXT, idempotency_key="k")
    for n in range(60):  # newer statuses push the reply to the second page
        clock.advance(seconds=1)
        fake.post(fake.me, f"Update {n}: all deliveries are on time.")

    assert poster.find_reply(target=target, text=TEXT, since=NOW - timedelta(minutes=1)) == reply_id
    assert len(fake.calls("GET", f"/api/v1/accounts/{fake.me['id']}/statuses")) == 2


def test_find_reply_matches_the_text_whatever_the_html_and_whitespace(fake: FakeMastodon,
                                                                     complaint: dict[str, Any]) -> None:
    text = "Hi Jane,\n\nso sorry & thanks for waiting.\nTrack it at https://track.example/parcel/4411XYZ – Maria"
    poster = poster_for(fake)
    reply_id = poster.post_reply(target=target_of(complaint), text=text, idempotency_key="k")

    found = poster.find_reply(target=target_of(complaint), text="  " + text.replace("\n", " ") + " ",
                              since=NOW - timedelta(minutes=1))

    assert found == reply_id


def test_comparable_drops_mention_domains_and_collapses_whitespace() -> None:
    assert comparable("@ola@fosstodon.example  Hi\n\nOla") == "@ola Hi Ola"
    assert comparable("mail me at a@b.example") == "mail me at a@b.example"


def test_find_reply_errors_have_a_kind(fake: FakeMastodon, complaint: dict[str, Any]) -> None:
    poster = poster_for(fake)
    fake.inject("verify_credentials", Fault.status_code(503), Fault.status_code(401))

    with pytest.raises(PostError) as unavailable:
        poster.find_reply(target=target_of(complaint), text=TEXT, since=NOW)
    with pytest.raises(PostError) as unauthorised:
        poster.find_reply(target=target_of(complaint), text=TEXT, since=NOW)

    assert unavailable.value.permanent is False
    assert unauthorised.value.permanent is True


def test_find_reply_reads_the_recorded_reply_payloads(clock: ManualClock) -> None:
    """The recorded status, our recorded account and our recorded reply, served as they are."""
    parent = reference("test_status_reply.0.json")
    me = reference("test_status_reply.1.json")
    reply = reference("test_status_reply.2.json")
    with FakeMastodon(clock=clock) as fake:
        fake.me = {k: v for k, v in me.items() if k not in ("source", "role")}
        fake.accounts[fake.me["id"]] = fake.me
        fake.add_raw_status(parent)
        fake.add_raw_status(reply)
        poster = poster_for(fake)
        target = target_of(parent)

        found = poster.find_reply(target=target, text="@mastodonpy_test_2 same!",
                                  since=datetime(2026, 8, 1, 13, 53, tzinfo=UTC))
        too_late = poster.find_reply(target=target, text="@mastodonpy_test_2 same!",
                                     since=datetime(2026, 8, 1, 13, 54, tzinfo=UTC))

    assert found == "117020583258292382"
    assert too_late is None


def test_missing_credentials_name_the_variable() -> None:
    with pytest.raises(MissingCredentials, match="MASTODON_ACCESS_TOKEN"):
        build_poster(BRAND, {"api_base_url": "https://social.example"}, {})
    with pytest.raises(MissingCredentials, match="ACME_POSTER_TOKEN"):
        build_poster(BRAND, {"credentials_env": {"access_token": "ACME_POSTER_TOKEN"}}, {"MASTODON_ACCESS_TOKEN": "x"})


def test_build_poster_finds_the_instance() -> None:
    env = {"MASTODON_ACCESS_TOKEN": TOKEN}

    assert build_poster(BRAND, {}, env).base_url == f"https://{DOMAIN}"
    assert build_poster(BRAND, {"instance": "social.example"}, env).base_url == "https://social.example"
    with pytest.raises(PostError, match="api_base_url") as caught:
        build_poster(Brand(name="Acme"), {}, env)
    assert caught.value.permanent is True


def test_a_posted_reply_counts_even_when_the_library_trips_on_its_headers(fake: FakeMastodon,
                                                                          complaint: dict[str, Any]) -> None:
    """Mastodon.py raises on an unreadable X-RateLimit-Reset even for a 200; the status exists regardless."""
    fake.inject("post_status", Fault.status_code(200, headers={"X-RateLimit-Reset": "soon"},
                                                 body={"id": "424242", "content": "<p>hi</p>"}))

    assert poster_for(fake).post_reply(target=target_of(complaint), text=TEXT, idempotency_key="k") == "424242"
