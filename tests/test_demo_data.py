"""The bundled demo replay file: valid, realistic per platform, and covering the cases the desk must handle."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from monitor.urgency import severity_hits

DEMO = resources.files("monitor.demo") / "demo.jsonl"
DEMO_END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
X_EPOCH_MS = 1288834974657
PLATFORMS = {"x", "reddit", "mastodon", "bluesky"}
FIELDS = {
    "platform",
    "id",
    "text",
    "created_at",
    "author",
    "url",
    "in_reply_to_id",
    "conversation_id",
    "lang",
    "metrics",
}
HEBREW = re.compile(r"[\u0590-\u05ff]")
HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
RTL_MARK = "\u200f"

# The non-English posts, by id; everything else is English.
LANGUAGE = {
    "2123712002290171645": "da",
    "t1_o3a6pwh": "da",
    "https://det.social/users/sorenh/statuses/117648355901284019": "da",
    "at://did:plc:wkbc3nprl2b7lo2zhfu7hsgl/app.bsky.feed.post/3n2qdvveb2rja": "da",
    "2123722455940193596": "fi",
    "t3_1q5bqny": "fi",
    "https://mementomori.social/users/aino/statuses/117648072268286721": "fi",
    "at://did:plc:blrt7i2ouyrjjlejnh7f6dk5/app.bsky.feed.post/3n2qi2yq5b6vh": "fi",
    "2123715236352662500": "et",
    "t1_o3ab170": "et",
    "https://mastodon.social/users/liisu/statuses/117648499785065575": "et",
    "2123737478187376134": "he",
    "2123709142667735034": "he",
    "t1_o3aew9t": "he",
    "at://did:plc:v34f6vetcmdz7uub244qnjgx/app.bsky.feed.post/3n2qirb7nrvfd": "he",
    "2123744226766234396": "ko",
    "2123718653452655299": "ko",
    "https://mastodon.social/users/haneul/statuses/117648290850725845": "ko",
    "at://did:plc:obg4v7ybctkrmisikcz67l7f/app.bsky.feed.post/3n2qgf5atpyo2": "ko",
}
# The complaints, by id, with their category; the rest is praise, questions and chatter.
COMPLAINTS = {
    "2123706084354209862": "delivery",
    "2123719321924523740": "delivery",
    "2123743418106939333": "delivery",
    "2123730300942047875": "delivery",
    "2123712002290171645": "delivery",
    "2123715236352662500": "delivery",
    "at://did:plc:yptdwdihcxanka6yt2uu5cgg/app.bsky.feed.post/3n2qjnjqlwpr3": "delivery",
    "at://did:plc:obg4v7ybctkrmisikcz67l7f/app.bsky.feed.post/3n2qgf5atpyo2": "delivery",
    "2123734385602564434": "billing",
    "2123740291707469044": "billing",
    "2123737478187376134": "billing",
    "t3_1q5af4o": "billing",
    "t1_o3a5zbs": "billing",
    "https://det.social/users/sorenh/statuses/117648355901284019": "billing",
    "https://mastodon.social/users/haneul/statuses/117648290850725845": "billing",
    "at://did:plc:uyxxapwo37d2xcu656yrzxa5/app.bsky.feed.post/3n2qepy3a3okw": "billing",
    "2123742098548393900": "outage",
    "2123745856894351012": "outage",
    "2123732673064033485": "outage",
    "2123722455940193596": "outage",
    "2123744226766234396": "outage",
    "https://mas.to/users/elin/statuses/117648218704486500": "outage",
    "at://did:plc:v34f6vetcmdz7uub244qnjgx/app.bsky.feed.post/3n2qirb7nrvfd": "outage",
    "2123723583626206544": "support",
    "2123725817259006522": "support",
    "t1_o3afoss": "support",
    "t1_o3ab170": "support",
    "2123738752078734406": "product",
    "t3_1q5cd36": "product",
    "t3_1q5bqny": "product",
    "t1_o3aew9t": "product",
    "https://mastodon.social/users/grumpyhedgehog/statuses/117648601056425142": "product",
}


def _lines() -> list[str]:
    return DEMO.read_text(encoding="utf-8").splitlines()


def _mentions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines()]


def _created_at(mention: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(mention["created_at"])


@pytest.mark.parametrize("number", range(1, len(_lines()) + 1), ids=lambda n: f"line-{n}")
def test_every_line_is_a_complete_mention(number: int) -> None:
    mention = json.loads(_lines()[number - 1])
    assert set(mention) == FIELDS
    assert mention["platform"] in PLATFORMS
    assert isinstance(mention["id"], str) and mention["id"]
    assert isinstance(mention["text"], str) and mention["text"].strip()
    created = _created_at(mention)
    assert created.utcoffset() == timedelta(0)
    assert mention["created_at"].endswith("+00:00")
    author = mention["author"]
    assert set(author) == {"id", "handle", "name", "followers", "verified"}
    assert isinstance(author["handle"], str) and author["handle"]
    assert author["followers"] is None or author["followers"] >= 0
    assert isinstance(author["verified"], bool)
    assert set(mention["metrics"]) == {"likes", "reposts", "replies"}


def test_it_is_a_few_dozen_mentions_in_time_order() -> None:
    mentions = _mentions()
    assert 40 <= len(mentions) <= 60
    times = [_created_at(m) for m in mentions]
    assert times == sorted(times)
    assert all(DEMO_END - timedelta(hours=3) <= t < DEMO_END for t in times)
    assert Counter(m["platform"] for m in mentions).keys() == PLATFORMS


def test_ids_are_unique_per_platform() -> None:
    keys = Counter((m["platform"], m["id"]) for m in _mentions())
    assert [key for key, count in keys.items() if count > 1] == []


@pytest.mark.parametrize(
    ("platform", "id_pattern", "url_template"),
    [
        ("x", r"\d{19}", "https://x.com/{handle}/status/{id}"),
        ("reddit", r"t[13]_[0-9a-z]{7}", None),
        ("mastodon", r"https://(?P<host>[a-z.]+)/users/(?P<name>\w+)/statuses/(?P<sid>\d{18})", None),
        ("bluesky", r"at://(?P<did>did:plc:[a-z2-7]{24})/app\.bsky\.feed\.post/(?P<rkey>[2-7a-z]{13})", None),
    ],
    ids=["x", "reddit", "mastodon", "bluesky"],
)
def test_ids_and_urls_look_like_the_platform(
    platform: str, id_pattern: str, url_template: str | None
) -> None:
    for mention in (m for m in _mentions() if m["platform"] == platform):
        match = re.fullmatch(id_pattern, mention["id"])
        assert match, mention["id"]
        handle, url = mention["author"]["handle"], mention["url"]
        if platform == "x":
            assert url == url_template.format(handle=handle, id=mention["id"])  # type: ignore[union-attr]
        elif platform == "reddit":
            short = mention["id"][3:]
            tail = f"/comment/{short}/" if mention["id"].startswith("t1_") else f"/comments/{short}/"
            assert re.fullmatch(r"https://www\.reddit\.com/r/\w+/comments/[0-9a-z]{7}/\S+", url), url
            assert tail in url, url
        elif platform == "mastodon":
            assert handle == f"{match['name']}@{match['host']}"
            assert url == f"https://{match['host']}/@{match['name']}/{match['sid']}"
        else:
            assert mention["author"]["id"] == match["did"]
            assert url == f"https://bsky.app/profile/{handle}/post/{match['rkey']}"


def test_x_ids_are_snowflakes_of_their_created_at() -> None:
    for mention in (m for m in _mentions() if m["platform"] == "x"):
        millis = (int(mention["id"]) >> 22) + X_EPOCH_MS
        posted = datetime.fromtimestamp(millis / 1000, tz=UTC)
        assert abs(posted - _created_at(mention)) < timedelta(seconds=1), mention["id"]


def test_replies_point_at_their_parent_and_thread() -> None:
    by_id = {m["id"]: m for m in _mentions()}
    replies = [m for m in by_id.values() if m["in_reply_to_id"] in by_id]
    assert replies
    for reply in replies:
        parent = by_id[reply["in_reply_to_id"]]
        assert parent["platform"] == reply["platform"]
        assert reply["conversation_id"] == parent["conversation_id"]
        assert _created_at(parent) < _created_at(reply)


def test_all_six_languages_are_present() -> None:
    mentions = _mentions()
    ids = {m["id"] for m in mentions}
    assert set(LANGUAGE) <= ids
    counts = Counter(LANGUAGE.get(m["id"], "en") for m in mentions)
    assert {language for language, count in counts.items() if count >= 3} == {
        "en",
        "da",
        "fi",
        "et",
        "he",
        "ko",
    }
    assert counts["en"] > len(mentions) / 2


@pytest.mark.parametrize(("language", "script"), [("he", HEBREW), ("ko", HANGUL)], ids=["hebrew", "hangul"])
def test_script_matches_the_expected_language(language: str, script: re.Pattern[str]) -> None:
    for mention in _mentions():
        assert bool(script.search(mention["text"])) == (LANGUAGE.get(mention["id"]) == language), mention[
            "id"
        ]


def test_x_lang_hints_agree_where_set() -> None:
    hinted = [m for m in _mentions() if m["lang"] is not None]
    assert hinted
    assert all(m["platform"] == "x" for m in hinted)
    for mention in hinted:
        assert mention["lang"] == LANGUAGE.get(mention["id"], "en"), mention["id"]


def test_complaints_cover_every_category() -> None:
    by_id = {m["id"]: m for m in _mentions()}
    assert set(COMPLAINTS) <= set(by_id)
    assert len(COMPLAINTS) >= 15
    assert set(COMPLAINTS.values()) == {"delivery", "billing", "outage", "support", "product"}
    assert len(by_id) - len(COMPLAINTS) >= 10  # praise, questions and chatter too
    for mention_id in COMPLAINTS:
        if by_id[mention_id]["platform"] == "x":
            assert "@acme" in by_id[mention_id]["text"].lower(), mention_id


def test_it_has_urgent_and_awkward_cases() -> None:
    mentions = _mentions()
    texts = [m["text"] for m in mentions]
    assert any("{{ 7*7 }}" in t and "<script>alert(1)</script>" in t for t in texts)
    assert any(re.search(r"<\w+[^>]*>", m["author"]["name"]) for m in mentions)
    assert any(RTL_MARK in m["text"] and HEBREW.search(m["text"]) for m in mentions)
    assert any(m["author"]["verified"] for m in mentions)
    assert sum((m["author"]["followers"] or 0) >= 50_000 for m in mentions) >= 2
    words = {"en": ("refund", "cancel", "down", "charged twice", "never arrived")}
    hits = {hit for t in texts for hit in severity_hits(t, "en", words)}
    assert hits == set(words["en"])
    posts_per_author = Counter((m["platform"], m["author"]["id"]) for m in mentions)
    assert max(posts_per_author.values()) >= 3
