"""Sources of mentions: one package per platform (``<platform>/``: its description in ``__init__``, ``client``,
``parse``, ``source``), listed once in platforms.py, all the same shape (base.py), built by registry.py; every
post made safe where it enters (intake.py); helpers they share in common.py."""

from monitor.sources.base import (
    BadRecord,
    Batch,
    ParsedAuthor,
    ParsedMention,
    ParseError,
    RateLimited,
    Source,
    SourceError,
)

__all__ = [
    "BadRecord",
    "Batch",
    "ParseError",
    "ParsedAuthor",
    "ParsedMention",
    "RateLimited",
    "Source",
    "SourceError",
]
