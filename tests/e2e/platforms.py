"""The platforms the end-to-end suite runs against: one row per platform in ``platforms()``.

A row starts the platform's fake (a real HTTP server from tests/fakes), gives its `[[sources]]` options and
the credentials the daemon finds in its environment, acts as the platform's customer (complain, praise,
answer in a thread) and reads back what the brand published there. Every id a row returns is the platform id
closeloop stores in ``mention.platform_id`` (X tweet id, Reddit fullname, Mastodon status id, Bluesky
at-uri), so the suite can join what it seeded with what the database holds.

To add a platform: subclass ``Platform`` (copy a sibling), add its row to ``platforms()``, and list in its
``defects`` any step the product cannot do there yet; every test of the care loop then runs on it too.

A customer writes the way that platform's client writes: on X a reply to the brand starts with "@acme"
(the client fills it in), as does a Mastodon reply to the brand; Reddit and Bluesky replies need no mention
to reach their author. The Mastodon customer's "it arrived" is an update to their own post, which only the
thread poll can find. Secrets are distinctive strings, so a test can look for them in every log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.bluesky import FakeBluesky
from tests.fakes.mastodon import DOMAIN as MASTODON_DOMAIN
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.reddit import FakeReddit
from tests.fakes.x import BRAND_ID as X_BRAND_ID
from tests.fakes.x import FakeX

BRAND = "Acme"
KEYWORD = "acme"
TIMEOUT = 20  # seconds a client waits on a fake: generous, for a machine shared with other work

# The steps of the care loop a defect can stop (test_care_loop's fixtures of the same names).
STEPS = ("drafted", "approved_cli", "posted_cli", "resolved", "approved_console", "csat_posted", "csat_recorded")


class LiveX(FakeX):
    """The fake X on the wall clock: the daemons under test run on real time, so X's "now" must too."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @now.setter
    def now(self, _value: datetime) -> None:
        pass


@dataclass
class Platform:
    """One platform as the suite drives it.

    ``env`` holds the secrets (by the variable names the product reads by default); ``defects`` maps a step
    in ``STEPS`` to the product defect that stops it here today: that step's test for this platform is an
    expected failure (strict, so it flips to a failure once the defect is fixed and the entry goes).
    """

    name: str
    brand_handle: str
    customer: str
    env: Mapping[str, str]
    defects: Mapping[str, str] = field(default_factory=dict)
    fake: Any = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.fake is not None:
            self.fake.stop()

    def source_options(self) -> dict[str, Any]:
        """The source's `[sources.options]`: at least ``api_base_url`` pointing at the fake."""
        raise NotImplementedError

    def complain(self, text: str) -> str:
        """The customer's complaint, where the brand's source finds it."""
        raise NotImplementedError

    def praise(self, text: str) -> str:
        """A happy post where the source finds it (stored and scored; at most a thank-you in the praise lane)."""
        raise NotImplementedError

    def follow_up(self, *, our_reply: str, own_post: str, text: str) -> str:
        """The customer's later post in the thread of their complaint."""
        raise NotImplementedError

    def answer(self, *, our_reply: str, text: str) -> str:
        """The customer's reply to one of ours, as their client writes it."""
        raise NotImplementedError

    def our_replies(self) -> list[tuple[str, str]]:
        """Every reply the brand published on the fake, as (reply id, parent id)."""
        raise NotImplementedError


class X(Platform):
    def start(self) -> None:
        self.fake = LiveX(now=datetime.now(UTC), bearer_token=self.env["X_BEARER_TOKEN"])
        self.fake.add_user(self.brand_handle, name="Acme Support", followers=48_200, verified=True,
                           user_id=X_BRAND_ID, access_token=self.env["X_ACCESS_TOKEN"])
        self.fake.add_user(self.customer, name="Jane Doe", followers=1520)
        self.fake.start()

    def source_options(self) -> dict[str, Any]:
        return {"api_base_url": self.fake.url, "user_id": X_BRAND_ID, "max_results": 10, "timeout": TIMEOUT}

    def _post(self, text: str, *, reply_to: str | None = None) -> str:
        with self.fake.lock:
            return str(self.fake.post(self.customer, f"@{self.brand_handle} {text}", reply_to=reply_to))

    def complain(self, text: str) -> str:
        return self._post(text)

    def praise(self, text: str) -> str:
        return self._post(text)

    def follow_up(self, *, our_reply: str, own_post: str, text: str) -> str:
        return self._post(text, reply_to=our_reply)

    def answer(self, *, our_reply: str, text: str) -> str:
        return self._post(text, reply_to=our_reply)

    def our_replies(self) -> list[tuple[str, str]]:
        with self.fake.lock:
            return [(t["id"], t["referenced_tweets"][0]["id"]) for t in self.fake.replies_by(self.brand_handle)]


class Reddit(Platform):
    def start(self) -> None:
        self.fake = FakeReddit(client_id=self.env["REDDIT_CLIENT_ID"], client_secret=self.env["REDDIT_CLIENT_SECRET"],
                               username=self.brand_handle, password=self.env["REDDIT_PASSWORD"]).start()

    def source_options(self) -> dict[str, Any]:
        return {"api_base_url": self.fake.url, "timeout": TIMEOUT}

    def _submit(self, title: str) -> str:
        with self.fake.lock:
            return str(self.fake.add_submission(title=title, author=self.customer, subreddit="CustomerService"))

    def complain(self, text: str) -> str:
        return self._submit(f"{BRAND}: {text}")

    def praise(self, text: str) -> str:
        return self._submit(f"{BRAND}: {text}")

    def follow_up(self, *, our_reply: str, own_post: str, text: str) -> str:
        return self.answer(our_reply=our_reply, text=text)

    def answer(self, *, our_reply: str, text: str) -> str:
        return str(self.fake.add_comment(parent=our_reply, body=text, author=self.customer))

    def our_replies(self) -> list[tuple[str, str]]:
        with self.fake.lock:
            return [(c["name"], c["parent_id"]) for c in self.fake.comments_by(self.brand_handle)]


class Mastodon(Platform):
    def start(self) -> None:
        self.fake = FakeMastodon(token=self.env["MASTODON_ACCESS_TOKEN"],
                                 username=self.brand_handle.split("@")[0]).start()
        self.fake.add_account(self.customer, display_name="Kim Berg", followers=310)

    def source_options(self) -> dict[str, Any]:
        return {"api_base_url": self.fake.url, "timeout": TIMEOUT}

    def _post(self, text: str, *, reply_to: str | None = None) -> str:
        with self.fake.lock:
            customer = next(a for a in self.fake.accounts.values() if a["username"] == self.customer)
            parent = self.fake.statuses[int(reply_to)] if reply_to else None
            return str(self.fake.post(customer, text, in_reply_to=parent)["id"])

    def complain(self, text: str) -> str:
        return self._post(f"@{self.fake.me['username']} {text}")

    def praise(self, text: str) -> str:
        return self._post(f"@{self.fake.me['username']} {text}")

    def follow_up(self, *, our_reply: str, own_post: str, text: str) -> str:
        return self._post(text, reply_to=own_post)

    def answer(self, *, our_reply: str, text: str) -> str:
        return self._post(f"@{self.fake.me['username']} {text}", reply_to=our_reply)

    def our_replies(self) -> list[tuple[str, str]]:
        with self.fake.lock:
            return [(s["id"], s["in_reply_to_id"]) for s in self.fake.statuses.values()
                    if s["account"]["id"] == self.fake.me["id"] and s.get("in_reply_to_id")]


class Bluesky(Platform):
    def start(self) -> None:
        self.fake = FakeBluesky(handle=self.brand_handle, app_password=self.env["BLUESKY_APP_PASSWORD"]).start()
        self.fake.add_account(self.customer, "김민지", followers=4021)

    def source_options(self) -> dict[str, Any]:
        # Jetstream is read for the keywords; a short read keeps each poll short.
        return {"api_base_url": self.fake.url, "jetstream_url": self.fake.jetstream.url, "timeout_seconds": TIMEOUT,
                "stream_seconds": 1.0, "stream_idle_seconds": 0.2}

    def _post(self, text: str, *, reply_to: str | None = None) -> str:
        return str(self.fake.add_post(self.customer, text, at=datetime.now(UTC), reply_to=reply_to))

    def complain(self, text: str) -> str:
        return self._post(f"@{self.brand_handle} {text}")

    def praise(self, text: str) -> str:
        return self._post(f"@{self.brand_handle} {text}")

    def follow_up(self, *, our_reply: str, own_post: str, text: str) -> str:
        return self._post(text, reply_to=our_reply)

    def answer(self, *, our_reply: str, text: str) -> str:
        return self._post(text, reply_to=our_reply)

    def our_replies(self) -> list[tuple[str, str]]:
        return [(p.uri, p.record["reply"]["parent"]["uri"]) for p in self.fake.replies_by_brand()]


def platforms() -> list[Platform]:
    """A fresh row per platform (each will hold its own running fake)."""
    return [
        X("x", brand_handle="acme", customer="jane_doe",
          env={"X_BEARER_TOKEN": "e2e-x-bearer-7Qm2", "X_CONSUMER_KEY": "e2e-x-consumer-key-4Jd8",
               "X_CONSUMER_SECRET": "e2e-x-consumer-secret-9Zt1", "X_ACCESS_TOKEN": f"{X_BRAND_ID}-e2e-x-access-2Hc5",
               "X_ACCESS_TOKEN_SECRET": "e2e-x-access-secret-6Pw3"}),
        Reddit("reddit", brand_handle="acme_care", customer="ola_nordmann",
               env={"REDDIT_CLIENT_ID": "e2e-reddit-client-1Vb7", "REDDIT_CLIENT_SECRET": "e2e-reddit-secret-8Ky4",
                    "REDDIT_USERNAME": "acme_care", "REDDIT_PASSWORD": "e2e-reddit-password-3Nf6"}),
        Mastodon("mastodon", brand_handle=f"acme@{MASTODON_DOMAIN}", customer="kim",
                 env={"MASTODON_ACCESS_TOKEN": "e2e-mastodon-token-5Rg9"}),
        Bluesky("bluesky", brand_handle="acme.bsky.social", customer="minji.bsky.social",
                env={"BLUESKY_APP_PASSWORD": "e2e1-bsky-app2-pw7x"}),
    ]


PLATFORM_NAMES = tuple(p.name for p in platforms())
DEFECTS: dict[tuple[str, str], str] = {(p.name, step): reason for p in platforms() for step, reason in p.defects.items()}
assert {step for _name, step in DEFECTS} <= set(STEPS), f"a defect names an unknown step: {DEFECTS}"
SECRETS = tuple(value for p in platforms() for name, value in p.env.items() if name != "REDDIT_USERNAME")
