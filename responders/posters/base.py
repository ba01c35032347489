"""The shape every poster shares: reply to one mention, and find a reply we may already have made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """The mention being answered: its platform ids and the raw payload we stored for it."""

    platform: str
    platform_id: str
    canonical_id: str
    conversation_id: str | None
    author_handle: str
    raw: Mapping[str, Any] = field(default_factory=dict)


class PostError(Exception):
    """A reply the platform refused. ``permanent`` ones are not retried (deleted parent, locked thread, 403)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class OutcomeUnknown(PostError):
    """The request may or may not have reached the platform (timeout, dropped connection).

    The outbox marks the reply ``unknown`` and reconciles against the platform before any retry.
    """


class Poster(Protocol):
    """A poster may also have ``post_status(*, text, idempotency_key) -> str``: a public post of the brand's own,
    not a reply (a spike's status update); where it has none, the platform is recorded as not supported."""

    platform: str

    def post_reply(self, *, target: ReplyTarget, text: str, idempotency_key: str) -> str:
        """Publish ``text`` as a public reply to ``target``; returns the platform's id of the reply.

        Must not retry on its own: a library-level retry of a POST can publish twice.
        """
        ...

    def find_reply(self, *, target: ReplyTarget, text: str, since: datetime) -> str | None:
        """Our own reply to ``target`` with this ``text`` posted at or after ``since``, if it exists."""
        ...
