"""A poisoned post stops only itself: arbitrary replay lines and mutated platform payloads go through every
parser and then ``models.mentions.store_batch`` on SQLite and PostgreSQL.

The mutations start from the recorded reference payloads and the documented fixtures and poison a few
places each: wrong types, missing fields, huge integers, non-finite numbers, lone surrogates, NUL bytes,
over-long ids, and dates of year 1 and year 9999 (with offsets that overflow UTC). Whatever comes in, no
exception escapes but a ParseError about the envelope, every mention the parser returns is safe, and storage
takes every one of them (the batch is never refused as a whole).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.mentions import store_batch
from models.tables import Mention
from monitor.sources.base import BadRecord, ParsedMention, ParseError
from monitor.sources.bluesky.jetstream import parse_jetstream_deletion, parse_jetstream_event
from monitor.sources.bluesky.parse import notification_mentions, parse_post_record
from monitor.sources.bluesky.parse import read_thread as bluesky_thread
from monitor.sources.common import INT_MAX
from monitor.sources.intake import ID_MAX, Intake, IntakeRules, is_clean
from monitor.sources.mastodon.parse import notification_page, status_page
from monitor.sources.reddit.parse import read_listing
from monitor.sources.reddit.parse import read_thread as reddit_thread
from monitor.sources.replay import ReplaySource
from monitor.sources.x.parse import parse_page
from tests.reference import REFERENCE_PAYLOADS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
Parsed = tuple[list[ParsedMention], list[BadRecord]]


def _x(payload: Any, intake: Intake) -> Parsed:
    page = parse_page(payload, brand_handle="acme", endpoint="search", intake=intake)
    return page.mentions, page.bad


def _reddit_listing(payload: Any, intake: Intake) -> Parsed:
    page = read_listing(payload, brand_handle="acme_care", intake=intake)
    return page.mentions, page.bad


def _reddit_thread(payload: Any, intake: Intake) -> Parsed:
    return reddit_thread(payload, brand_handle="acme_care", intake=intake)


def _mastodon_notifications(payload: Any, intake: Intake) -> Parsed:
    return notification_page(payload, brand_handle="acme@social.example", instance="social.example", intake=intake)


def _mastodon_statuses(payload: Any, intake: Intake) -> Parsed:
    return status_page(payload, brand_handle="acme@social.example", instance="social.example", intake=intake)


def _bluesky_notifications(payload: Any, intake: Intake) -> Parsed:
    found, bad = notification_mentions(payload, "acme.bsky.social", intake)
    return [m for _, m in found], bad


def _bluesky_thread(payload: Any, intake: Intake) -> Parsed:
    page = bluesky_thread(payload, "acme.bsky.social", intake)
    return page.mentions, page.bad


def _bluesky_record(payload: Any, intake: Intake) -> Parsed:
    return parse_post_record(payload, intake=intake), []


def _jetstream(payload: Any, intake: Intake) -> Parsed:
    mentions: list[ParsedMention] = []
    bad: list[BadRecord] = []
    for index, event in enumerate(payload if isinstance(payload, list) else [payload]):
        parse_jetstream_deletion(event)  # never raises
        try:
            mention = parse_jetstream_event(event, intake=intake)
        except ParseError as exc:
            bad.append(BadRecord(f"event {index}", str(exc)))
            continue
        if mention is not None:
            mentions.append(mention)
    return mentions, bad


Parser = Callable[[Any, Intake], Parsed]
CASES: list[tuple[str, Parser]] = [
    ("x/search_full.json", _x), ("x/mentions_full.json", _x), ("ref:x/test_client_search_recent_tweets.0.json", _x),
    ("reddit/search_listing.json", _reddit_listing), ("reddit/comments_listing.json", _reddit_listing),
    ("reddit/mentions_listing.json", _reddit_listing), ("ref:reddit/TestSubreddit.test_search.1.json",
                                                         _reddit_listing),
    ("reddit/thread.json", _reddit_thread),
    ("mastodon/notifications_mentions.json", _mastodon_notifications), ("mastodon/tag_timeline.json",
                                                                         _mastodon_statuses),
    ("ref:mastodon/test_notifications_mentions_only.1.json", _mastodon_notifications),
    ("bluesky/notifications.json", _bluesky_notifications), ("bluesky/thread_with_replies.json", _bluesky_thread),
    ("ref:bluesky/thread_view_post_with_embed_media.json", _bluesky_thread),
    ("ref:bluesky/post_record.json", _bluesky_record), ("bluesky/jetstream_events.json", _jetstream),
]


def _load(name: str) -> Any:
    path = REFERENCE_PAYLOADS / name[4:] if name.startswith("ref:") else FIXTURES / name
    return json.loads(path.read_text("utf-8")) if path.exists() else None


PAYLOADS = [(name, parser, payload) for name, parser in CASES if (payload := _load(name)) is not None]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


# -- poison ------------------------------------------------------------------------------------------------

POISON_STRINGS = [
    "\ud83d", "a\x00b", "\udfff\ud800", "", "   ", "x" * 700, "9" * 600,
    "0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:30:00+00:00",
    "9999-12-31T23:59:59-05:00", "2026-11-20T09:14:03", "yesterday", "t3_", "did:plc:\x00",
    "at://did:plc:abc/app.bsky.feed.post/" + "k" * 600, "https://\ud83d.example/\x00",
]
POISON_NUMBERS = [2**31, 2**63, 2**64 + 1, 10**30, -1, -(2**63), 0, 1.5, 1e308, -1e308, float("inf"),
                  float("-inf"), float("nan"), 253402300800, -62135596801, 10**19, True, False]
poisoned_text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(["\ud83d", "\udfff", "\x00"])),
                        max_size=30)
poison = st.recursive(
    st.one_of(st.sampled_from(POISON_STRINGS), st.sampled_from(POISON_NUMBERS), poisoned_text,
              st.integers(), st.none()),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(poisoned_text, children, max_size=3),
    max_leaves=6,
)
DELETE = object()


def _mutate(payload: Any, paths: list[tuple[Any, ...]], changes: list[tuple[int, Any]]) -> Any:
    mutated = copy.deepcopy(payload)
    for index, value in changes:
        path = paths[index % len(paths)]
        if not path:
            mutated = value if value is not DELETE else None
            continue
        parent = mutated
        try:
            for step in path[:-1]:
                parent = parent[step]
            if value is DELETE and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif value is not DELETE:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change already replaced this part of the payload
    return mutated


def _assert_safe(mentions: list[ParsedMention], intake: Intake) -> None:
    for mention in mentions:
        assert is_clean(mention.text) and is_clean(mention.author.handle) and mention.author.handle.strip()
        assert is_clean(mention.canonical_id) and 0 < len(mention.canonical_id) <= ID_MAX
        assert mention.created_at is None or intake.admits(mention.created_at)
        assert mention.author.followers is None or 0 <= mention.author.followers <= INT_MAX
        assert all(0 <= n <= INT_MAX for n in mention.metrics.values())


def _store_all(engine: Engine, mentions: list[ParsedMention]) -> None:
    store_batch(engine, mentions=mentions, brand="Acme", source_id=None)  # never refused as a whole
    wanted = {(m.platform, m.canonical_id) for m in mentions}
    with engine.connect() as connection:
        rows = connection.execute(select(Mention.platform, Mention.canonical_id).where(  # type: ignore[call-overload]
            Mention.canonical_id.in_([c for _, c in wanted]))).all()  # type: ignore[attr-defined]
    assert wanted <= {(r.platform, r.canonical_id) for r in rows}, "every good record is stored"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_platform_payloads_never_stop_more_than_themselves(engine: Engine, data: st.DataObject) -> None:
    _name, parser, payload = data.draw(st.sampled_from(PAYLOADS), label="payload")
    paths = _paths(payload)
    changes = data.draw(st.lists(st.tuples(st.integers(0, 10_000), st.one_of(poison, st.just(DELETE))),
                                 min_size=1, max_size=3), label="changes")
    intake = IntakeRules().at(datetime.now(UTC))
    try:
        mentions, bad = parser(_mutate(payload, paths, changes), intake)
    except ParseError:
        return  # the envelope itself is not the platform's shape: the whole answer is refused, with a reason
    assert all(isinstance(b, BadRecord) and b.reason for b in bad)
    _assert_safe(mentions, intake)
    _store_all(engine, mentions)


def test_the_unmutated_payloads_parse_whole() -> None:
    for name, parser, payload in PAYLOADS:
        mentions, bad = parser(payload, IntakeRules().at(datetime.now(UTC)))
        assert bad == [] and mentions, name


# -- replay lines --------------------------------------------------------------------------------------

GOOD = {"platform": "reddit", "id": "t3_g", "text": "acme lost my parcel", "created_at": "2026-11-20T09:14:03Z",
        "author": {"handle": "jane", "followers": 3}, "metrics": {"likes": 1}}
record = st.builds(lambda changes: {**GOOD, **changes},
                   st.dictionaries(st.sampled_from([*GOOD, "author", "lang", "url", "in_reply_to_id"]), poison,
                                   max_size=3))
line = st.one_of(
    record.map(lambda r: json.dumps(r, allow_nan=True)),
    st.builds(lambda r, author: json.dumps({**r, "author": author}), record,
              st.dictionaries(st.sampled_from(["handle", "name", "id", "followers", "verified"]), poison, max_size=4)),
    poisoned_text.map(lambda t: t.encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
    st.sampled_from(["[" * 5000, '{"id": ' + "9" * 5000 + "}", "", "\ufeff"]),
)
_files = itertools.count()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(lines=st.lists(line, min_size=1, max_size=8), raw_bytes=st.binary(max_size=20), bom=st.booleans())
def test_arbitrary_replay_lines_never_stop_the_file(engine: Engine, tmp_path: Path, lines: list[str],
                                                    raw_bytes: bytes, bom: bool) -> None:
    path = tmp_path / f"poison-{next(_files)}.jsonl"
    numbered = [json.dumps({**GOOD, "id": f"t3_{path.stem}_{n}"}) if n % 2 else text for n, text in enumerate(lines)]
    body = "\n".join(text.replace("\n", " ").replace("\r", " ") for text in numbered).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body + b"\n" + raw_bytes.replace(b"\n", b" ") + b"\n")
    source = ReplaySource(name="fuzz", path=path, batch_size=3)
    cursor: str | None = None
    accounted = 0
    for _ in range(20):
        batch = source.fetch(cursor)
        _assert_safe(batch.mentions, IntakeRules().at(datetime.now(UTC)))
        _store_all(engine, batch.mentions)
        accounted += len(batch.mentions) + len(batch.bad)
        assert batch.next_cursor != cursor or batch.exhausted
        cursor = batch.next_cursor
        if batch.exhausted:
            break
    assert cursor is not None and int(cursor.split(":")[0]) == path.stat().st_size, "the cursor reached the end"
    assert accounted == _lines_with_content(path), "every line is a mention or a bad line, none vanishes"
    assert all(f"t3_{path.stem}_{n}" in _stored_ids(engine) for n in range(1, len(lines), 2)), \
        "every good line is stored"


def _lines_with_content(path: Path) -> int:
    """Lines that are not blank: undecodable ones count, a byte order mark opening line 1 does not."""
    count = 0
    for number, raw in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            count += 1
            continue
        count += bool((text.removeprefix("\ufeff") if number == 1 else text).strip())
    return count


def _stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(Mention.canonical_id)).scalars())  # type: ignore[call-overload]


def test_poison_classes_are_all_fed() -> None:
    """The report lists what the fuzzer feeds; keep the list and the strategies in step."""
    assert {"\ud83d", "a\x00b", "0001-01-01T00:00:00+05:00", "9999-12-31T23:30:00+00:00"} <= set(POISON_STRINGS)
    assert {2**63, 2**64 + 1} <= set(POISON_NUMBERS) and any(isinstance(n, float) for n in POISON_NUMBERS)
    assert len(PAYLOADS) >= 10, "the fixtures (and the reference payloads when present) are all mutated"
