"""Logging: one event per line, as text or JSON, with every secret of the environment masked.

A message starts with its event name and carries ``key=value`` fields (``source_polled source=x new=9``).
JSON lines hold ``ts``, ``level``, ``logger``, ``event``, the parsed fields, anything passed with
``extra=``, and ``exc`` for a traceback; text lines keep a traceback on the same line. Before a line is
written, the value of every environment variable whose name looks secret, and of every variable a config
names as a credential, is replaced by ``***``: a token in an exception message from a platform never
reaches a log file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
# Shorter values are not masked: a masked "ck" would garble every word holding those letters.
MIN_SECRET_LENGTH = 6
MASK = "***"
FIELD = re.compile(r"""(\w+)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""")
_RECORD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class Redactor:
    """Masks known secret values in text; the set grows as configs name more credential variables."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._env: Mapping[str, str] = os.environ

    def watch(self, names: Iterable[str] = (), env: Mapping[str, str] | None = None) -> None:
        """Mask the values of ``names`` too (and re-read the environment)."""
        with self._lock:
            if env is not None:
                self._env = env
            self._names.update(names)
            values = {value for name, value in self._env.items()
                      if (name in self._names or SECRET_NAME.search(name)) and len(value) >= MIN_SECRET_LENGTH}
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None and text else text


REDACT = Redactor()


def redact(text: str) -> str:
    """``text`` with every known secret masked (for error messages stored or shown, not only logged)."""
    return REDACT(text)


def event_fields(message: str) -> tuple[str, dict[str, str]]:
    """The event name (first word) and the ``key=value`` fields of a log message."""
    event, _, rest = message.partition(" ")
    fields = {}
    for key, value in FIELD.findall(rest):
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        fields[key] = value
    return event, fields


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        # One event per line: a traceback stays on its event's line.
        return REDACT(line.replace("\r", "").replace("\n", " ⏎ "))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = REDACT(record.getMessage())
        event, fields = event_fields(message)
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": event,
        }
        for key, value in fields.items():
            data.setdefault(key, value)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                data[key] = REDACT(value) if isinstance(value, str) else value
        data["msg"] = message
        if record.exc_info:
            data["exc"] = REDACT(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=lambda v: REDACT(str(v)))


def configure_logging(level: str | int = "WARNING", fmt: str = "text", *, stream: object = None,
                      secret_names: Iterable[str] = ()) -> None:
    """Send every logger's events to stderr (or ``stream``), one per line, secrets masked."""
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.WARNING)
    REDACT.watch(secret_names, env=os.environ)
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn installs its own handlers; route its events through ours so they are masked too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def credential_names(settings: object) -> set[str]:
    """Every environment variable a config names as a secret (source credentials, the SMTP password)."""
    names: set[str] = set()
    for source in getattr(settings, "sources", ()):
        names.update(source.credentials_env.values())
    smtp = getattr(settings, "smtp", None)
    if smtp is not None:
        names.add(smtp.password_env)
    return names
