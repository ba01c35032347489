"""The shipped command against every platform at once: `closeloop run --once`, installed, as a subprocess, with
a real config.toml naming one source of each platform (X, Reddit, Mastodon, Bluesky, replay), the credentials
in the environment and every ``api_base_url`` pointing at the local fakes.

This is the test that catches wiring only a deployment meets (the Reddit source crashed the daemon at
start-up when its credentials were set). A new platform or option gets a line here first.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.db import make_engine
from models.tables import Mention, Source
from models.types import utcnow
from tests.fakes.bluesky import FakeBluesky, seed_customers
from tests.fakes.mastodon import DOMAIN, TOKEN, FakeMastodon
from tests.fakes.reddit import FakeReddit
from tests.fakes.x import seeded

REPO = Path(__file__).resolve().parent.parent
CLOSELOOP = REPO / ".venv" / "bin" / "closeloop"
ENV = {
    "X_BEARER_TOKEN": "test-bearer-token",
    "REDDIT_CLIENT_ID": "test-client", "REDDIT_CLIENT_SECRET": "test-secret",
    "REDDIT_USERNAME": "acme_care", "REDDIT_PASSWORD": "test-password",
    "MASTODON_ACCESS_TOKEN": TOKEN,
    "BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop",
}
SOURCES = ("acme-x", "acme-reddit", "acme-mastodon", "acme-bluesky", "acme-replay")


def _toml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else json.dumps(value)


def _config(path: Path, urls: dict[str, str]) -> Path:
    sources = [
        ("acme-x", "x", {"api_base_url": urls["x"], "max_results": 100, "timeout": 5}),
        ("acme-reddit", "reddit", {"api_base_url": urls["reddit"], "timeout": 5}),
        ("acme-mastodon", "mastodon", {"api_base_url": urls["mastodon"], "hashtags": ["acme"], "timeout": 5}),
        ("acme-bluesky", "bluesky", {"api_base_url": urls["bluesky"], "jetstream_url": urls["jetstream"],
                                     "timeout_seconds": 5, "stream_seconds": 1, "stream_idle_seconds": 0.2}),
    ]
    lines = [
        "[app]", f"data_dir = {_toml(str(path.parent))}",
        "[scoring]", 'backend = "lexicon"',
        "[daemon]", "health_port = 0", "max_pages_per_poll = 20",
        "[[brands]]", 'name = "Acme"', 'keywords = ["acme"]',
        "[brands.handles]", 'x = "acme"', 'reddit = "acme_care"', f'mastodon = "acme@{DOMAIN}"',
        'bluesky = "acme.bsky.social"',
        "[[agents]]", 'name = "Maria Jensen"', 'signature = "– Maria, Acme care"', 'languages = ["en"]',
    ]
    for name, platform, options in sources:
        lines += ["[[sources]]", f"name = {_toml(name)}", f"platform = {_toml(platform)}", "interval_seconds = 60",
                  "[sources.options]", *[f"{k} = {_toml(v)}" for k, v in options.items()]]
    lines += ["[[sources]]", 'name = "acme-replay"', 'platform = "replay"', 'path = "replay.jsonl"']
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _replay(path: Path) -> set[str]:
    """Good lines, and one of each poison that used to stop the file (they are skipped, the rest goes in)."""
    now = utcnow()
    good = [{"platform": "reddit", "id": f"t3_replay{n}", "text": f"acme lost my parcel #{n}",
             "created_at": (now - timedelta(minutes=n)).isoformat(), "author": {"handle": f"r{n}"}} for n in range(3)]
    poisoned = [
        {**good[0], "id": "t3_ancient", "created_at": "0001-01-01T00:00:00+05:00"},
        {**good[0], "id": "t3_future", "created_at": "9999-12-31T23:30:00+00:00"},
        {**good[0], "id": "t3_surrogate", "text": "acme \ud83d broke", "author": {"handle": "s", "followers": 2**70}},
    ]
    lines = [json.dumps(line) for line in [good[0], *poisoned, *good[1:]]]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    return {g["id"] for g in good} | {"t3_surrogate"}


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    now = utcnow()
    x = seeded(now).start()
    reddit = FakeReddit().start()
    mastodon = FakeMastodon().start()
    bluesky = FakeBluesky().start()
    try:
        reddit.add_submission(title="acme charged me twice", created=time.time() - 120)
        customer = mastodon.add_account("janet", display_name="Janet")
        mastodon.post(customer, "@acme my parcel never came #acme", created_at=now - timedelta(minutes=3))
        seed_customers(bluesky, now)
        yield {"x": x, "reddit": reddit, "mastodon": mastodon, "bluesky": bluesky}
    finally:
        for fake in (x, reddit, mastodon, bluesky):
            fake.stop()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_run_once_polls_every_platform_from_a_real_config(fakes: dict[str, Any], tmp_path: Path,
                                                           database_url: str) -> None:
    urls = {name: fake.url for name, fake in fakes.items()} | {"jetstream": fakes["bluesky"].jetstream.url}
    config = _config(tmp_path / "config.toml", urls)
    expected_replay = _replay(tmp_path / "replay.jsonl")
    env = {**os.environ, **ENV, "CLOSELOOP_DATABASE_URL": database_url}

    run = subprocess.run([str(CLOSELOOP), "--config", str(config), "--log-level", "INFO", "run", "--once"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)

    output = run.stdout + run.stderr
    assert "Traceback" not in output, output[-4000:]
    assert run.returncode == 0, output[-4000:]
    assert "skipped source" not in output, "every source had its credentials"
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Source.name, Mention.platform, Mention.canonical_id)  # type: ignore[call-overload]
                                      .join(Source, Mention.source_id == Source.id)).all()
            states = {s.name: (s.error_count, s.disabled_reason) for s in connection.execute(select(Source))}
    finally:
        engine.dispose()
    per_source = Counter(row.name for row in rows)
    assert all(per_source[name] > 0 for name in SOURCES), per_source
    assert {row.platform for row in rows if row.name != "acme-replay"} == {"x", "reddit", "mastodon", "bluesky"}
    assert {row.canonical_id for row in rows if row.name == "acme-replay"} == expected_replay
    assert all(state == (0, None) for state in states.values()), states
    assert "position='line 2' reason=\"field 'created_at' is outside the years a date can hold" in output
    assert "position='line 3' reason='created_at 9999-12-31T23:30:00+00:00 is in the future" in output
    assert "source=acme-replay fetched=4 new=4 bad=2 sanitised=3" in output  # surrogate, clamped followers, raw
