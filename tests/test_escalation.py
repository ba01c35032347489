"""Escalations: the supervisor is emailed once per case and reason, even with two daemons."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.tables import Notification
from monitor.config import Settings
from responders.mailer import MailError, SmtpMailer
from responders.tracker import send_escalations
from tests.resolution_fixtures import lexicon_settings, running_smtp
from tests.test_pipeline import NOW, post, run, write
from tests.test_tracker import ROOTS, send_reply


@pytest.fixture
def settings() -> Settings:
    return lexicon_settings()

EVIL = post("400", "@acme <b>refund</b> now, terrible", handle="evil\r\nBcc: x@evil.example", name=None,
            minutes_ago=55)


class Outbox:
    def __init__(self, *, refuse: bool = False) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse = refuse
        self.lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        if self.refuse:
            raise MailError("421 busy")
        with self.lock:
            self.sent.append(message)


def with_supervisor(settings: Settings) -> Settings:
    return settings.model_copy(update={"resolution": settings.resolution.model_copy(
        update={"supervisor_email": "lead@acme.example", "escalate_minutes_before_deadline": 10})})


def reasons(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(  # type: ignore[misc]
            select(Notification.case_id, Notification.reason, Notification.status).order_by(Notification.id))]  # type: ignore[call-overload]


def test_a_case_nearing_its_deadline_unanswered_is_escalated_once(engine: Engine, settings: Settings,
                                                                  tmp_path: Path) -> None:
    settings = with_supervisor(settings)
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    mailer = Outbox()
    assert send_escalations(engine, settings, mailer, now=NOW) == 1, "Jane's deadline is 10 min away, Sam's 20"
    assert send_escalations(engine, settings, mailer, now=NOW) == 0
    assert send_escalations(engine, settings, mailer, now=NOW + timedelta(minutes=10)) == 1
    assert [m["To"] for m in mailer.sent] == ["lead@acme.example"] * 2
    assert "Escalation: case 1" in str(mailer.sent[0]["Subject"])
    assert "my order never arrived" in mailer.sent[0].get_content()


def test_an_answered_case_unresolved_past_the_target_is_escalated_once(engine: Engine, settings: Settings,
                                                                       tmp_path: Path) -> None:
    settings = with_supervisor(settings)
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    send_reply(engine, 1)
    send_reply(engine, 2)
    mailer = Outbox()
    assert send_escalations(engine, settings, mailer, now=NOW) == 0, "answered cases are not near a deadline"
    later = NOW + timedelta(hours=settings.resolution.resolution_target_hours)
    assert send_escalations(engine, settings, mailer, now=later) == 2
    assert send_escalations(engine, settings, mailer, now=later + timedelta(days=3)) == 0
    assert {r[1] for r in reasons(engine)} == {"resolution_target"}


def test_two_daemons_escalate_each_case_once(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    settings = with_supervisor(settings)
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    mailer = Outbox()
    barrier = threading.Barrier(2)

    def daemon() -> None:
        barrier.wait()
        send_escalations(engine, settings, mailer, now=NOW + timedelta(minutes=15))

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mailer.sent) == 2
    assert sorted(r[0] for r in reasons(engine)) == [1, 2]


def test_a_refused_escalation_is_retried_and_no_one_escalates_without_a_supervisor(
        engine: Engine, settings: Settings, tmp_path: Path) -> None:
    run(engine, settings, write(tmp_path / "a.jsonl", ROOTS))
    nobody = settings.model_copy(update={"resolution": settings.resolution.model_copy(
        update={"supervisor_email": None})})
    assert send_escalations(engine, nobody, Outbox(), now=NOW) == 0, "no supervisor configured"
    settings = with_supervisor(settings)
    assert send_escalations(engine, settings, Outbox(refuse=True), now=NOW) == 0
    assert reasons(engine) == [(1, "response_deadline", "failed")]
    assert send_escalations(engine, settings, Outbox(), now=NOW) == 1
    assert reasons(engine) == [(1, "response_deadline", "sent")]


def test_over_real_smtp_a_handle_cannot_add_a_header(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    with running_smtp() as (inbox, port):
        settings = with_supervisor(settings).model_copy(update={"smtp": settings.smtp.model_copy(
            update={"host": "127.0.0.1", "port": port, "security": "none", "user": None})})
        run(engine, settings, write(tmp_path / "a.jsonl", [EVIL]))
        assert send_escalations(engine, settings, SmtpMailer(settings.smtp), now=NOW) == 1
    [(recipients, raw)] = inbox.messages
    assert recipients == ["lead@acme.example"]
    headers = raw.split(b"\r\n\r\n", 1)[0].lower()
    assert b"bcc" not in headers and b"evil.example" not in headers
    assert "evil" in inbox.parsed()[0].get_content()
