"""One reply for fifty, through a crash: the installed `closeloop` daemon watches X and Mastodon (their fakes),
fifty customers complain about one outage at once, the radar opens a spike, an approver answers the whole
group with one text from the command line, the daemon is killed (SIGKILL) while a reply is in flight, and
after a restart each of the fifty customers has exactly one reply on their platform. Then the spike's status
update goes out once from the brand's account on each platform, and asking again posts nothing.

The kill is placed with the fake's own count of handled posts: the eleventh reply on X is published by the
fake and its answer held back, so the daemon dies knowing neither outcome (its row is ``sending``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from tests.e2e.conftest import BACKENDS, empty_database
from tests.e2e.desk import AGENT, CLOSELOOP, Desk, subprocess_env, write_config
from tests.e2e.platforms import Platform, platforms
from tests.fakes.server import Fault
from tests.resolution_fixtures import free_port, running_smtp

PER_PLATFORM = 25
HELD_AFTER = 10  # replies X answers normally before the one whose answer is held while the daemon is killed
ROLES = "poll,score,post"
REPLY = ("Hi {name}, we are sorry: logins are failing for everyone right now. We are fixing it and will "
         "post here when it works again. – Maria, Acme care")
STATUS = "Logins are failing for many of you right now. We are fixing it and will post here when it works again."
SPIKE_MENTION, SPIKE_REPLY, MENTION, DRAFT, PROGRESS = (SQLModel.metadata.tables[name] for name in (
    "spike_mention", "spike_reply", "mention", "draft", "radar_progress"))
ORDINARY = ("my order is late again", "love the new kettle", "billing question about my invoice",
            "when does the store open on sunday", "support was quick today, thanks")
HISTORY = 52  # a day of ordinary mentions, one every half hour: what the radar learns the brand's usual from


def _ordinary_day(path: Path) -> Path:
    """A replay of the brand's last day: ordinary posts about ordinary things (Reddit: no poster here)."""
    start = datetime.now(UTC) - timedelta(hours=27)
    path.write_text("".join(json.dumps({
        "platform": "reddit", "id": f"t3_day{n}", "text": f"Acme {ORDINARY[n % len(ORDINARY)]}",
        "created_at": (start + timedelta(minutes=30 * n)).isoformat(),
        "author": {"handle": f"regular{n % 20}", "name": f"Regular {n % 20}", "followers": 20},
    }) + "\n" for n in range(HISTORY)), "utf-8")
    return path


def _customers(platform: Platform) -> list[str]:
    """Twenty-five customers on the platform, each posting one complaint about the outage; their post ids."""
    ids = []
    for n in range(PER_PLATFORM):
        text = f"login outage: I cannot log in to the Acme app at all, error {n} every time"
        if platform.name == "x":
            with platform.fake.lock:
                platform.fake.add_user(f"locked_out_{n}", name=f"Customer {n} X", followers=10 + n)
                ids.append(str(platform.fake.post(f"locked_out_{n}", f"@{platform.brand_handle} {text}")))
        else:
            account = platform.fake.add_account(f"lockedout{n}", display_name=f"Kunde {n}", followers=5 + n)
            with platform.fake.lock:
                me = platform.fake.me["username"]
                ids.append(str(platform.fake.post(account, f"@{me} {text}")["id"]))
    return ids


@pytest.fixture(params=BACKENDS)
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    assert CLOSELOOP.is_file(), f"the closeloop console script is not installed next to {CLOSELOOP.parent}"
    rows = [p for p in platforms() if p.name in ("x", "mastodon")]
    started: list[Platform] = []
    with empty_database(request.param, tmp_path) as database, running_smtp() as (inbox, smtp_port):
        desk: Desk | None = None
        try:
            for platform in rows:
                platform.start()
                started.append(platform)
            replay = _ordinary_day(tmp_path / "last-day.jsonl")
            config = write_config(tmp_path / "config.toml", database_url=database, platforms=rows, replay=replay,
                                  console_port=free_port(), smtp_port=smtp_port)
            with config.open("a", encoding="utf-8") as toml:  # the radar learns from one day here, not three
                toml.write("\n[radar]\nwarmup_hours = 24\n")
            desk = Desk(root=tmp_path, backend=request.param, database_url=database, config=config,
                        env=subprocess_env(rows), platforms=rows, console="", inbox=inbox)
            desk.ok("db", "upgrade")
            yield desk
        finally:
            if desk is not None:
                desk.kill_daemons()
                desk.dispose()
            for platform in started:
                platform.stop()


def _spike_with_cases(desk: Desk, wanted: int) -> tuple[int, int] | None:
    """(spike id, its cases that have a reply draft) of the spike holding the most cases, once it holds ``wanted``."""
    rows = desk.rows(select(SPIKE_MENTION.c.spike_id, func.count(func.distinct(MENTION.c.case_id)).label("cases"))
                     .join(MENTION, MENTION.c.id == SPIKE_MENTION.c.mention_id)
                     .join(DRAFT, DRAFT.c.case_id == MENTION.c.case_id)
                     .where(MENTION.c.case_id.is_not(None), DRAFT.c.kind == "reply")
                     .group_by(SPIKE_MENTION.c.spike_id))
    best = max(rows, key=lambda r: r.cases, default=None)
    return (best.spike_id, best.cases) if best is not None and best.cases >= wanted else None


def _group_statuses(desk: Desk, spike_id: int) -> Counter[str]:
    return Counter(r.status for r in desk.rows(select(DRAFT.c.status).join(
        SPIKE_REPLY, SPIKE_REPLY.c.draft_id == DRAFT.c.id).where(SPIKE_REPLY.c.spike_id == spike_id)))


def _replies_per_post(platform: Platform) -> Counter[str]:
    return Counter(parent for _reply, parent in platform.our_replies())


def test_a_group_reply_to_fifty_cases_posts_fifty_replies_exactly_once_through_a_kill_and_restart(
        desk: Desk) -> None:
    x, mastodon = desk.platform("x"), desk.platform("mastodon")
    daemon = desk.start_daemon("desk-1", ROLES)
    desk.wait("the radar to count the brand's ordinary day", lambda: any(
        r.last_mention_id >= HISTORY for r in desk.rows(select(PROGRESS.c.last_mention_id))), timeout=180)
    complaints = {p.name: _customers(p) for p in (x, mastodon)}
    total = sum(len(ids) for ids in complaints.values())
    spike_id, _cases = desk.wait(f"a spike holding {total} drafted cases",
                                 lambda: _spike_with_cases(desk, total), timeout=240)

    release = threading.Event()
    x.fake.inject("create_tweet", *([Fault.timeout(0)] * HELD_AFTER), Fault.hold(release))
    approved = desk.ok("spikes", "approve", str(spike_id), "--text", REPLY, "--as", AGENT)
    assert f"{total} replies approved by {AGENT}" in approved, approved

    desk.wait("X to publish the reply whose answer it holds",
              lambda: x.fake.handled.get("create_tweet", 0) > HELD_AFTER, timeout=120)
    daemon.process.kill()  # SIGKILL: no clean shutdown, no released leases
    daemon.process.wait(timeout=30)
    desk.daemons.remove(daemon)
    release.set()
    at_kill = _group_statuses(desk, spike_id)
    assert at_kill["sending"] == 1, f"the held reply's outcome is unknown to the dead daemon: {at_kill}"
    assert at_kill["sent"] < total, at_kill

    desk.start_daemon("desk-1", ROLES)
    desk.wait(f"all {total} group replies sent", lambda: _group_statuses(desk, spike_id)["sent"] == total,
              timeout=240)
    assert desk.stop_daemons() == {"desk-1": 0}

    for platform in (x, mastodon):
        per_post = _replies_per_post(platform)
        assert {post: per_post[post] for post in complaints[platform.name]} == dict.fromkeys(
            complaints[platform.name], 1), f"{platform.name}: each customer answered exactly once"
        assert sum(per_post.values()) == PER_PLATFORM, f"{platform.name}: no reply to anything else"
    texts: list[Any] = desk.rows(select(DRAFT.c.text).join(SPIKE_REPLY, SPIKE_REPLY.c.draft_id == DRAFT.c.id))
    assert sorted(t.text.split(",")[0] for t in texts) == sorted(
        [f"Hi Customer {n} X" for n in range(PER_PLATFORM)] + [f"Hi Kunde {n}" for n in range(PER_PLATFORM)])
    assert "reply_reconciled" in "".join(d.output() for d in desk.daemons), "the held reply was found, not resent"

    status = desk.ok("spikes", "status", str(spike_id), "--text", STATUS, "--as", AGENT)
    assert "mastodon: sent: " in status and "x: sent: " in status, status
    again = desk.closeloop("spikes", "status", str(spike_id), "--text", STATUS)
    assert again.returncode == 1 and again.stdout.count("already posted") == 2, again.stdout + again.stderr
    with x.fake.lock:
        ours = [t for t in x.fake.tweets.values() if t["author_id"] == x.fake.user_id(x.brand_handle)]
        assert [t["text"] for t in ours if "referenced_tweets" not in t] == [STATUS]
    with mastodon.fake.lock:
        own = [s for s in mastodon.fake.statuses.values() if s["account"]["id"] == mastodon.fake.me["id"]]
        assert len([s for s in own if not s.get("in_reply_to_id")]) == 1
