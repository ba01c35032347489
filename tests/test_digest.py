"""The weekly digest, end to end against a real SMTP server (aiosmtpd) on a free local port."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from models.notifications import digest_deliveries
from monitor.cli import main
from monitor.config import Settings, parse_settings
from responders.digest import build_digest, digest_due, preview_html, send_weekly_digest
from responders.mailer import MailError, SmtpMailer
from tests.resolution_fixtures import EVIL_HANDLE, NOW, WEEK, Inbox, running_smtp, seed

RECIPIENTS = ("ceo@acme.example", "cfo@acme.example")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as server:
        yield server


def digest_settings(port: int, **smtp: Any) -> Settings:
    return parse_settings({
        "app": {"timezone": "UTC"},
        "agents": [{"name": "Maria Jensen", "signature": "– Maria"}, {"name": "Aino Virtanen", "signature": "– Aino"}],
        "smtp": {"host": "127.0.0.1", "port": port, "sender": "closeloop@acme.example", **smtp},
        "digest": {"recipients": list(RECIPIENTS), "weekday": "mon", "hour": 8},
        "resolution": {"supervisor_email": "lead@acme.example"},
    }, env={})


def test_each_recipient_gets_the_week_once_with_text_html_and_inline_charts(
        engine: Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = digest_settings(port)
    seed(engine)
    assert send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=WEEK, now=NOW) == 2
    assert sorted(to for to, _raw in inbox.messages) == [[r] for r in RECIPIENTS]
    assert send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=WEEK, now=NOW) == 0
    assert len(inbox.messages) == 2, "re-running sends nothing"
    assert digest_deliveries(engine, week=WEEK) == dict.fromkeys(RECIPIENTS, "sent")

    message = inbox.parsed()[0]
    assert message.get_content_type() == "multipart/alternative"
    text_part, related = message.get_payload()  # type: ignore[misc]
    assert text_part.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert [i.get_content_type() for i in images] == ["image/png"] * 3
    html = html_part.get_content()
    for image in images:
        assert image.get_payload(decode=True).startswith(b"\x89PNG")
        assert f"cid:{image['Content-ID'].strip('<>')}" in html

    text = text_part.get_content()
    assert "4 complaints, 2 resolved, 1 answered but not fixed" in text
    assert "Answered within the hour: 50% (last week 50%, +0 pts)" in text
    assert "Resolved: 50% (last week 50%, +0 pts)" in text
    assert "CSAT: 5.0/5 (last week 3.0/5, +2.0)" in text
    assert "First response, median / p90: 30 min / 1.5 h" in text
    assert "Reopened: 1 (25%)" in text and "Escalations: 1" in text
    assert "delivery: 3 (+3 vs last week)" in text
    assert "https://x.example/customer2/status/2" in html


def test_post_text_is_escaped_and_a_handle_cannot_add_a_header(engine: Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = digest_settings(port)
    seed(engine)
    send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=WEEK, now=NOW)
    for recipients, raw in inbox.messages:
        assert len(recipients) == 1 and "evil@x.example" not in recipients[0]
        headers = raw.split(b"\r\n\r\n", 1)[0]
        assert b"bcc" not in headers.lower() and b"evil@x" not in headers
    message = inbox.parsed()[0]
    assert "Bcc" not in message
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert EVIL_HANDLE.split("\r\n")[0] in html


def test_two_daemons_sending_at_once_send_each_digest_once(engine: Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = digest_settings(port)
    seed(engine)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def daemon() -> None:
        barrier.wait()
        results.append(send_weekly_digest(engine, settings, SmtpMailer(settings.smtp), week=WEEK, now=NOW))

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) in ([0, 2], [1, 1])
    assert sorted(to[0] for to, _raw in inbox.messages) == sorted(RECIPIENTS)


class RefusingOnce:
    def __init__(self, inner: SmtpMailer) -> None:
        self.inner, self.refused = inner, False

    def send(self, message: EmailMessage) -> None:
        if not self.refused:
            self.refused = True
            raise MailError("451 try again later")
        self.inner.send(message)


def test_a_refused_send_is_retried_later_and_nothing_else_is(engine: Engine, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = digest_settings(port)
    seed(engine)
    mailer = RefusingOnce(SmtpMailer(settings.smtp))
    assert send_weekly_digest(engine, settings, mailer, week=WEEK, now=NOW) == 1
    assert sorted(digest_deliveries(engine, week=WEEK).values()) == ["failed", "sent"]
    assert send_weekly_digest(engine, settings, mailer, week=WEEK, now=NOW) == 1
    assert send_weekly_digest(engine, settings, mailer, week=WEEK, now=NOW) == 0
    assert sorted(to[0] for to, _raw in inbox.messages) == sorted(RECIPIENTS)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(datetime.now(UTC) - timedelta(days=1))
            .not_valid_after(datetime.now(UTC) + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_it_sends_over_starttls(sqlite_engine: Engine, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    with running_smtp(tls_context=server_context, require_starttls=True) as (inbox, port):
        settings = digest_settings(port, security="starttls")
        seed(sqlite_engine)
        client_context = ssl.create_default_context(cafile=str(cert))
        assert send_weekly_digest(sqlite_engine, settings, SmtpMailer(settings.smtp, tls_context=client_context),
                                  week=WEEK, now=NOW) == 2
        assert len(inbox.messages) == 2
        untrusted = SmtpMailer(settings.smtp)  # the system's CAs do not trust a self-signed certificate
        with pytest.raises(MailError):
            untrusted.send(inbox.parsed()[0])


@pytest.mark.parametrize(("local", "timezone", "expected"), [
    ("2026-11-23T07:59", "UTC", None),
    ("2026-11-23T08:00", "UTC", "2026-W47"),
    ("2026-11-26T15:00", "UTC", "2026-W47"),
    ("2026-11-23T08:30", "Europe/Copenhagen", "2026-W47"),
    ("2026-11-23T07:30", "Europe/Copenhagen", None),
])
def test_the_digest_is_due_from_the_configured_day_and_hour(local: str, timezone: str, expected: str | None) -> None:
    from zoneinfo import ZoneInfo

    settings = digest_settings(25).model_copy(update={"app": parse_settings({"app": {"timezone": timezone}},
                                                                            env={}).app})
    now = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    assert digest_due(now, settings) == expected


def test_the_preview_is_a_self_contained_page(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed(sqlite_engine)
    settings = digest_settings(25)
    page = preview_html(build_digest(sqlite_engine, settings, week=WEEK, now=NOW))
    assert page.count("data:image/png;base64,") == 3 and "cid:" not in page
    config = tmp_path / "c.toml"
    config.write_text(f'[app]\ntimezone = "UTC"\n[database]\nurl = "sqlite:///{tmp_path / "cli.db"}"\n', "utf-8")
    out = tmp_path / "digest.html"
    assert main(["--config", str(config), "digest", "--week", WEEK, "--preview", str(out)]) == 0
    assert "weekly care digest · 2026-W47" in out.read_text("utf-8")
    assert main(["--config", str(config), "digest", "--week", "2026-47", "--preview", str(out)]) == 2
