"""Logging: one event per line, as text or JSON, with every secret of the environment masked.

Our events are written ``log.info("source_polled source=%s fetched=%d", name, n)``: the first word is the
event, and each ``key=`` at the head of the message is a field. A field's value is the argument the call
passed (``%s``/``%d``/``%r``), or the text written in the call; it is never re-read from the rendered line,
so a value holding ``model=…`` cannot forge or overwrite a field. The fields end at the first word that is
not ``key=value`` (or one ending in punctuation, as in ``reason=%r: the rest``); ``extra={...}`` adds more.
Lines of other libraries (alembic, apscheduler, uvicorn) are not events: they are written as the event
``log`` with their logger and text.

JSON lines hold ``ts``, ``level``, ``logger``, ``event``, the fields, ``msg`` (the rendered line) and
``exc`` for a traceback; text lines keep a traceback on the same line. Before a line is written, the value
of every environment variable whose name looks secret, and of every variable a config names as a
credential, is replaced by ``***``: a token in an exception message from a platform never reaches a log.
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
from typing import Any

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
# Shorter values are not masked: a masked "ck" would garble every word holding those letters.
MIN_SECRET_LENGTH = 6
MASK = "***"
OUR_LOGGERS = "closeloop"
FOREIGN_EVENT = "log"
EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
FIELD = re.compile(r"(\w+)=(\S*)\Z")
CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")
ONE_CONVERSION = re.compile(rf"({CONVERSION.pattern})([:;,.!?)]*)\Z")
_RECORD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
# Noise of a healthy scheduler: a step outlasting its tick is skipped by design (coalesce, one instance).
_EXPECTED = ("maximum number of running instances reached", "was missed by")


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


def _conversions(text: str) -> int:
    return sum(1 for found in CONVERSION.finditer(text) if found.group() != "%%")


def event_fields(template: str, args: tuple[Any, ...] = ()) -> tuple[str, dict[str, Any]]:
    """The event name and the fields of a call ``log.x(template, *args)``.

    Raises ValueError when ``template`` does not start with an event name (a line of another library).
    """
    event, _, rest = template.partition(" ")
    if not EVENT_NAME.match(event):
        raise ValueError("not an event")
    fields: dict[str, Any] = {}
    position = _conversions(event)
    for word in rest.split(" ") if rest else ():
        field = FIELD.match(word)
        if field is None:
            break
        key, written = field.groups()
        single = ONE_CONVERSION.match(written)
        count = _conversions(written)
        if single is not None and single.group(1) != "%%":
            value = args[position] if position < len(args) else None
            fields[key] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
            position += 1
            if single.group(2):
                break
            continue
        fields[key] = written % tuple(args[position:position + count]) if count else written.replace("%%", "%")
        position += count
        if written and not written[-1].isalnum() and written[-1] not in "_-/%'\"":
            break
    return event, fields


def _masked(value: Any) -> Any:
    return REDACT(value) if isinstance(value, str) else value


def record_fields(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """The event and the fields of a record: its call's fields, then anything passed with ``extra=``."""
    event, fields = FOREIGN_EVENT, dict[str, Any]()
    ours = record.name == OUR_LOGGERS or record.name.startswith(OUR_LOGGERS + ".")
    if ours and isinstance(record.msg, str):
        args = record.args if isinstance(record.args, tuple) else ()
        try:
            event, fields = event_fields(record.msg, args)
        except (ValueError, TypeError, IndexError):
            event, fields = FOREIGN_EVENT, {}
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
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
        event, fields = record_fields(record)
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": event,
        }
        for key, value in fields.items():
            data.setdefault(key, _masked(value))
        data["msg"] = REDACT(record.getMessage())
        if record.exc_info:
            data["exc"] = REDACT(self.formatException(record.exc_info))
        return REDACT(json.dumps(data, ensure_ascii=False, default=lambda v: REDACT(str(v))))


class _QuietScheduler(logging.Filter):
    """Drops the scheduler's notes on skipped and coalesced runs: expected whenever a step outlasts its tick."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not any(part in record.getMessage() for part in _EXPECTED)


_QUIET = _QuietScheduler()


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
        logger.setLevel(logging.NOTSET)  # a uvicorn.Config made earlier in this process set its own level
    # APScheduler's per-run lines ("Running job", "executed successfully") are our job events' business;
    # below DEBUG they only bury them, several times a second.
    scheduler = logging.getLogger("apscheduler")
    scheduler.setLevel(logging.NOTSET if level <= logging.DEBUG else max(level, logging.WARNING))
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        logging.getLogger(name).removeFilter(_QUIET)
        logging.getLogger(name).addFilter(_QUIET)


def credential_names(settings: object) -> set[str]:
    """Every environment variable a config names as a secret (source credentials, the SMTP password)."""
    names: set[str] = set()
    for source in getattr(settings, "sources", ()):
        names.update(source.credentials_env.values())
    smtp = getattr(settings, "smtp", None)
    if smtp is not None:
        names.add(smtp.password_env)
    return names
