"""Sources of mentions: one module per platform, all the same shape (see base.py), built by registry.py."""

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
