"""One reply for many: an approver's text adapted to each case of a spike, and the spike's status update.

The approver writes one text (or one per language) with placeholders; each case gets it filled for its
customer — ``{name}`` (their display name, made safe, else their handle) and ``{handle}`` (``@handle``) —
in the case's language where a variant for it was given, within its platform's length limit (a long name
gives way to the first name, then to the handle; a text that still does not fit leaves that case out, with
the reason). Names and handles are attacker-controlled: only letters, digits, spaces and a few marks of a
name reach the reply, never an ``@``, a ``#`` or a link.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from models.alerts import SpikeRecord
from models.spike_groups import (
    GroupMember,
    GroupReply,
    approve_group,
    claim_status_update,
    group_members,
    record_status_update,
)
from monitor.languages import normalise_language
from responders.lengths import limit_for, platform_length
from responders.style import check_style

log = logging.getLogger("closeloop.spikes")
PLACEHOLDERS = ("name", "handle")
_PLACEHOLDER = re.compile(r"\{([^{}\s]{0,40})\}")
NAME_LIMIT = 40
MAX_TEXT = 5_000
_NAME_MARKS = set(" .-'’")


class GroupReplyError(ValueError):
    """The approver's text cannot be used as it is (an unknown placeholder, no text at all)."""


@dataclass(frozen=True, slots=True)
class Planned:
    """What approving a group would do: one adapted reply per case that can take one, and why the others not."""

    replies: list[GroupReply]
    skipped: dict[int, str]

    def style_summary(self) -> dict[str, int]:
        """Style guide finding -> how many of the replies have it (advisory, as for one reply)."""
        counts: dict[str, int] = {}
        for reply in self.replies:
            for issue in reply.style_issues:
                counts[issue["code"]] = counts.get(issue["code"], 0) + 1
        return counts


def safe_name(name: str | None, handle: str) -> str:
    """A customer's display name as a reply may say it: letters, digits, spaces and ``.-'``, at most 40
    characters; their handle (without ``@``) when nothing of the name is left."""
    kept = "".join(ch if ch in _NAME_MARKS or unicodedata.category(ch)[0] in "LMN" else " "
                   for ch in unicodedata.normalize("NFC", name or ""))
    words = " ".join(kept.split()).strip(" .-'’")
    return words[:NAME_LIMIT].strip() or safe_handle(handle)


def safe_handle(handle: str) -> str:
    return "".join(ch for ch in handle.lstrip("@") if ch.isalnum() or ch in "._-@")[:100]


def check_template(text: str) -> None:
    """GroupReplyError naming the first placeholder that is not one of ``{name}`` and ``{handle}``."""
    for match in _PLACEHOLDER.finditer(text):
        if match.group(1) not in PLACEHOLDERS:
            raise GroupReplyError(f"unknown placeholder {match.group(0)!r} (use {{name}} or {{handle}})")


def fill(template: str, *, name: str, handle: str) -> str:
    values = {"name": name, "handle": f"@{safe_handle(handle)}"}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def variants_from(default: str | None, by_language: Mapping[str, str]) -> dict[str | None, str]:
    """The approver's texts keyed by language (None: the one for every other language), checked."""
    variants: dict[str | None, str] = {}
    for tag, text in by_language.items():
        language = normalise_language(tag)
        if language is None:
            raise GroupReplyError(f"{tag!r} is not a language code (e.g. en, da, he)")
        if text.strip():
            variants[language] = text.strip()
    if default and default.strip():
        variants[None] = default.strip()
    if not variants:
        raise GroupReplyError("write the reply first: the text is empty")
    for text in variants.values():
        if len(text) > MAX_TEXT:
            raise GroupReplyError(f"the reply is {len(text)} characters; at most {MAX_TEXT}")
        check_template(text)
    return variants


def adapt(member: GroupMember, variants: Mapping[str | None, str]) -> tuple[str, str] | str:
    """(language, text) for this case, or the reason it cannot have one."""
    language = normalise_language(member.language)
    template = variants.get(language) if language else None
    if template is None:
        template = variants.get(None)
        if template is None:
            return f"no text in {language or 'its (unknown) language'} and no text for every language"
    name = safe_name(member.author_name, member.author_handle)
    limit = limit_for(member.platform)
    tried = [name, name.split(" ")[0], safe_handle(member.author_handle)]
    for candidate in tried:
        text = fill(template, name=candidate, handle=member.author_handle)
        if platform_length(text, member.platform) <= limit:
            return (language or "und", text)
    length = platform_length(fill(template, name=tried[-1], handle=member.author_handle), member.platform)
    return f"{length} characters; {member.platform} allows {limit}"


def plan_group(members: Sequence[GroupMember], variants: Mapping[str | None, str],
               signatures: Sequence[str] = ()) -> Planned:
    """Pure: the adapted reply of every case that can take one now (with the care style guide's findings,
    ``signatures`` the accepted sign-offs), and why each other case cannot."""
    replies: list[GroupReply] = []
    skipped: dict[int, str] = {}
    for member in members:
        if member.answered_by_group:
            skipped[member.case_id] = "already answered by this group"
        elif member.lane != "complaint":
            skipped[member.case_id] = f"a {member.lane} case: answer it on its own"
        elif member.state == "resolved":
            skipped[member.case_id] = "already resolved"
        elif member.draft_status is not None and member.draft_status not in ("draft", "failed"):
            skipped[member.case_id] = f"its reply is already {member.draft_status}"
        elif member.draft_id is None and member.replied:
            skipped[member.case_id] = "already replied to"
        else:
            adapted = adapt(member, variants)
            if isinstance(adapted, str):
                skipped[member.case_id] = adapted
            else:
                issues = check_style(adapted[1], language=adapted[0], platform=member.platform, signatures=signatures)
                replies.append(GroupReply(member.case_id, member.mention_id, member.draft_id, adapted[0],
                                          member.category, adapted[1],
                                          tuple({"code": i.code, "message": i.message} for i in issues)))
    return Planned(replies, skipped)


def approve_spike_group(engine: Engine, *, spike: SpikeRecord, variants: Mapping[str | None, str], approver: str,
                        now: datetime, signatures: Sequence[str] = (), address: str | None = None) -> Planned:
    """Adapt and approve the group's replies; the result names every case approved and why others were not."""
    planned = plan_group(group_members(engine, spike_id=spike.id), variants, signatures)
    approved, lost = approve_group(engine, spike_id=spike.id, approver=approver, replies=planned.replies, now=now,
                                   address=address)
    log.info("group_approved spike=%d approver=%r approved=%d skipped=%d", spike.id, approver, len(approved),
             len(planned.skipped) + len(lost))
    return Planned([r for r in planned.replies if r.case_id in set(approved)], {**planned.skipped, **lost})


def post_status_updates(engine: Engine, *, spike: SpikeRecord, text: str, actor: str, posters: Mapping[Any, Any],
                        now: datetime, address: str | None = None) -> dict[str, str]:
    """Post ``text`` once from the brand's account on each of the spike's platforms: platform -> outcome.

    A platform whose poster cannot publish a top-level post (no ``post_status``) is recorded as
    ``not_supported``; one already claimed is left alone ("already posted"). Never retried blindly: a call that
    may have reached the platform is ``unknown``.
    """
    from responders.posters.base import OutcomeUnknown, PostError

    text = text.strip()
    if not text:
        raise GroupReplyError("write the status update first: the text is empty")
    outcomes: dict[str, str] = {}
    for platform in spike.platforms:
        update_id = claim_status_update(engine, spike_id=spike.id, brand=spike.brand, platform=platform, text=text,
                                        actor=actor, now=now, address=address)
        if update_id is None:
            outcomes[platform] = "already posted (a status update is posted once per platform)"
            continue
        poster = posters.get((spike.brand, platform))
        publish = getattr(poster, "post_status", None)
        if poster is None or publish is None:
            reason = (f"not supported: no poster for {platform} (credentials missing?)" if poster is None else
                      f"not supported: the {platform} poster cannot publish a top-level post")
            record_status_update(engine, update_id=update_id, status="not_supported", now=now, error=reason)
            outcomes[platform] = reason
            continue
        try:
            post_id = str(publish(text=text, idempotency_key=f"spike-{spike.id}-{platform}"))
        except OutcomeUnknown as exc:
            record_status_update(engine, update_id=update_id, status="unknown", now=now, error=str(exc))
            outcomes[platform] = f"unknown: {exc}"
        except PostError as exc:
            record_status_update(engine, update_id=update_id, status="failed", now=now, error=str(exc))
            outcomes[platform] = f"failed: {exc}"
        else:
            record_status_update(engine, update_id=update_id, status="sent", now=now, platform_post_id=post_id)
            outcomes[platform] = f"sent: {post_id}"
    return outcomes


__all__ = [
    "PLACEHOLDERS",
    "GroupReplyError",
    "Planned",
    "adapt",
    "approve_spike_group",
    "check_template",
    "fill",
    "plan_group",
    "post_status_updates",
    "safe_name",
    "variants_from",
]
