"""Outgoing mail: building safe messages and sending them over SMTP (none, STARTTLS or implicit TLS).

Headers are built only from configuration and fixed text, and every header value is stripped of control
characters first, so nothing derived from a post (a handle holding "\\r\\nBcc: …") can ever become a header.
Messages use ``email.policy.SMTP``. The password is read from the environment variable the config names,
at send time, and never logged.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

import regex

from monitor.config import SmtpSettings

log = logging.getLogger("closeloop.mailer")
_CONTROL = regex.compile(r"[\p{Cc}\p{Zl}\p{Zp}]+")
_ADDRESS = regex.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+")


class MailError(Exception):
    """A message the server did not accept; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to the addresses in its To header; MailError when it was not accepted."""
        ...


def header_value(value: str, *, limit: int = 200) -> str:
    """``value`` made safe for a header: control characters (CR, LF, …) become spaces, and it is shortened."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def address(value: str) -> str:
    """A bare e-mail address, or ValueError: display names, lists and line breaks are refused."""
    if _CONTROL.search(value):
        raise ValueError(f"not a single e-mail address: {value!r}")
    _name, parsed = parseaddr(value)
    if not parsed or not _ADDRESS.fullmatch(parsed) or parsed != value.strip():
        raise ValueError(f"not a single e-mail address: {value!r}")
    return parsed


@dataclass(frozen=True, slots=True)
class InlineImage:
    """An image the HTML part shows with ``<img src="cid:{cid}">``."""

    cid: str
    data: bytes
    subtype: str = "png"
    filename: str = "chart.png"


@dataclass(frozen=True, slots=True)
class Outgoing:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    images: Sequence[InlineImage] = field(default_factory=tuple)
    headers: Mapping[str, str] = field(default_factory=dict)


def build_message(outgoing: Outgoing, *, domain: str = "closeloop.local") -> EmailMessage:
    """A plain-text message, or multipart/alternative (text, then HTML with its inline images related)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = address(outgoing.sender)
    message["To"] = address(outgoing.recipient)
    message["Subject"] = header_value(outgoing.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=header_value(domain, limit=100).replace(" ", ""))
    for name, value in outgoing.headers.items():
        message[header_value(name, limit=60).replace(" ", "-")] = header_value(value)
    message.set_content(outgoing.text, subtype="plain", charset="utf-8")
    if outgoing.html is not None:
        message.add_alternative(outgoing.html, subtype="html", charset="utf-8")
        html_part = message.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for image in outgoing.images:
            html_part.add_related(image.data, maintype="image", subtype=image.subtype, cid=f"<{image.cid}>",
                                  filename=image.filename, disposition="inline")
    return message


class SmtpMailer:
    """Sends each message on its own SMTP connection (mail here is a few messages a week)."""

    def __init__(self, settings: SmtpSettings, *, env: Mapping[str, str] | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._env = os.environ if env is None else env
        self._context = tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self._context)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.security == "starttls":
            client.ehlo()
            client.starttls(context=self._context)
            client.ehlo()
        return client

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        recipients = [address(message["To"])]
        try:
            with self._connect() as client:
                if s.user:
                    password = self._env.get(s.password_env)
                    if password is None:
                        raise MailError(f"smtp.user is set but ${s.password_env} is empty", permanent=True)
                    client.login(s.user, password)
                client.send_message(message, from_addr=address(message["From"]), to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"recipient refused: {exc.recipients}", permanent=True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"login refused ({exc.smtp_code})", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"{type(exc).__name__}: {exc}") from None
        log.info("mail_sent to=%s subject=%r", recipients[0], message["Subject"])


__all__ = ["InlineImage", "MailError", "Mailer", "Outgoing", "SmtpMailer", "address", "build_message",
           "header_value"]
