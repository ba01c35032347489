"""Follow-ups: the threads of open cases are polled for the customer's later posts, which join the case."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.tables import Case, Mention
from monitor.config import parse_settings
from monitor.daemon import Poller
from monitor.pipeline import process_pending
from monitor.scoring import build_scorer
from tests.test_scenarios import READ_ENV, Clock, bare, config


def test_the_customers_later_posts_in_the_thread_join_their_case(engine: Engine, tmp_path: Path) -> None:
    from models.types import utcnow

    now = utcnow()
    with bare(now) as fake:
        fake.add_user("jane_doe", name="Jane Doe", followers=300)
        fake.add_user("bystander")
        root = fake.post("jane_doe", "@acme my order never arrived, I want a refund", at=now - timedelta(minutes=40))
        settings = parse_settings(config(fake, tmp_path, followup_interval_seconds=600), env={})
        clock = Clock(now)
        poller = Poller(engine, settings, "node-1", env=READ_ENV, clock=clock)
        poller.tick()
        process_pending(engine, settings, build_scorer(settings.scoring), now=now)
        assert poller.follow_threads() == 0, "nothing new in the thread yet"

        fake.post("bystander", "@jane_doe same here!", reply_to=root, at=now - timedelta(minutes=5))
        fake.post("jane_doe", "@acme update: it just arrived, thank you so much!", reply_to=root,
                  at=now - timedelta(minutes=2))
        assert poller.follow_threads() == 0, "followed at most once per interval"
        clock.now = now + timedelta(minutes=11)
        assert poller.follow_threads() == 1, "only the customer's own later post"
        process_pending(engine, settings, build_scorer(settings.scoring), now=clock.now)

        with engine.connect() as connection:
            [case_id] = connection.execute(select(Case.id)).scalars().all()  # type: ignore[call-overload]
            in_case = connection.execute(select(Mention.text).where(Mention.case_id == case_id)  # type: ignore[call-overload]
                                         .order_by(Mention.created_at)).scalars().all()
        assert in_case == ["@acme my order never arrived, I want a refund",
                           "@acme update: it just arrived, thank you so much!"]
