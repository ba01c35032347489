"""Sending approved replies exactly once, and reconciling those whose outcome was lost.

A step claims rows, does the platform call outside any transaction, and records the result; each step
returns how much it did, so the daemon can run it on a tick and tests can run it directly.

Nothing waits silently: an approved reply this outbox cannot send (no poster for its brand and platform, a
post that takes no API reply, a post its author deleted) is marked ``held`` with the reason, which the case
page, the queue, `closeloop post`, /metrics and the digest show; it is approved again as soon as the reason
is gone (a poster appears on the next start with credentials).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO

from sqlalchemy.engine import Engine

from models.outbox import (
    OutboxItem,
    WaitingReply,
    claim_approved,
    claim_for_reconciliation,
    held_replies,
    hold_reply,
    mark_sending,
    record_reply_failed,
    record_reply_sent,
    record_reply_unknown,
    release_held,
    requeue_unsent,
    text_hash,
    waiting_replies,
)
from models.types import utcnow
from responders.posters.base import OutcomeUnknown, Poster, PostError, ReplyTarget

log = logging.getLogger("closeloop.outbox")
RETRY_AFTER = timedelta(minutes=2)
# How far before approval a reply found on the platform may be dated (clock skew between us and them).
CLOCK_SKEW = timedelta(minutes=5)


def target_of(item: OutboxItem) -> ReplyTarget:
    return ReplyTarget(
        platform=item.platform, platform_id=item.mention_platform_id, canonical_id=item.mention_canonical_id,
        conversation_id=item.conversation_id, author_handle=item.author_handle, raw=item.raw or {},
    )


def idempotency_key(item: OutboxItem) -> str:
    """Stable for a draft and its approved text: a platform that honours keys sees a resend as the same post."""
    return f"closeloop-{item.draft_id}-{(item.text_hash or '')[:16]}"


def hold_reason(reply: WaitingReply, posters: Collection[tuple[str, str]]) -> str | None:
    """Why the outbox cannot send ``reply`` with ``posters`` (keyed by brand and platform); None when it can."""
    if reply.post_deleted:
        return "the post was deleted by its author: there is nothing to reply to; reject this reply"
    if (reply.brand, reply.platform) not in posters:
        return (f"no poster for {reply.platform} (brand {reply.brand}): no enabled {reply.platform} source for "
                "the brand, or its posting credentials are not set; it is sent once they are")
    if reply.reply_eligible is False:
        why = f" ({reply.eligibility_reason})" if reply.eligibility_reason else ""
        return f"{reply.platform} takes no API reply to this post{why}: reply by hand, then reject this draft"
    return None


@dataclass
class Outbox:
    engine: Engine
    posters: Mapping[tuple[str, str], Poster]
    owner: str
    clock: Callable[[], datetime] = utcnow
    lease: timedelta = timedelta(minutes=2)
    settle: timedelta = timedelta(minutes=1)
    batch: int = 20
    sent_log: list[int] = field(default_factory=list)

    def _poster(self, item: OutboxItem) -> Poster | None:
        poster = self.posters.get((item.brand, item.platform))
        if poster is None:
            log.warning("no_poster brand=%s platform=%s draft=%d", item.brand, item.platform, item.draft_id)
        return poster

    def settle_holds(self) -> int:
        """Hold the approved replies this outbox cannot send, saying why, and approve again the held ones it
        now can; returns how many changed."""
        changed = 0
        now = self.clock()
        for reply in waiting_replies(self.engine, now=now):
            reason = hold_reason(reply, self.posters)
            if reason is not None and (reply.status == "approved" or reply.last_error != reason):
                if hold_reply(self.engine, draft_id=reply.draft_id, reason=reason, now=now):
                    log.warning("reply_held draft=%d case=%d reason=%r", reply.draft_id, reply.case_id, reason)
                    changed += 1
            elif (reason is None and reply.status == "held"
                  and release_held(self.engine, draft_id=reply.draft_id, now=now)):
                log.info("reply_released draft=%d case=%d", reply.draft_id, reply.case_id)
                changed += 1
        return changed

    def send_approved(self) -> int:
        """Hold what cannot be sent, then send one batch of approved replies; returns how many were published."""
        self.settle_holds()
        platforms = sorted({platform for _brand, platform in self.posters})
        sent = 0
        for item in claim_approved(self.engine, owner=self.owner, now=self.clock(), lease=self.lease,
                                   limit=self.batch, platforms=platforms):
            poster = self._poster(item)
            if poster is None:
                continue
            if item.text_hash != text_hash(item.text):
                record_reply_failed(self.engine, draft_id=item.draft_id, permanent=True, now=self.clock(),
                                    error="the text changed after approval; approve it again")
                continue
            if not mark_sending(self.engine, draft_id=item.draft_id, owner=self.owner, now=self.clock(),
                                lease=self.lease):
                continue
            sent += self._send(poster, item)
        return sent

    def _send(self, poster: Poster, item: OutboxItem) -> int:
        try:
            reply_id = poster.post_reply(target=target_of(item), text=item.text, idempotency_key=idempotency_key(item))
        except OutcomeUnknown as exc:
            log.warning("reply_outcome_unknown draft=%d error=%r", item.draft_id, str(exc))
            record_reply_unknown(self.engine, draft_id=item.draft_id, error=str(exc), now=self.clock())
            return 0
        except PostError as exc:
            log.warning("reply_refused draft=%d permanent=%s error=%r", item.draft_id, exc.permanent, str(exc))
            now = self.clock()
            record_reply_failed(self.engine, draft_id=item.draft_id, error=str(exc), permanent=exc.permanent,
                                now=now, retry_at=now + RETRY_AFTER)
            return 0
        except Exception as exc:  # anything else: we cannot tell whether it went out
            log.exception("reply_outcome_unknown draft=%d", item.draft_id)
            record_reply_unknown(self.engine, draft_id=item.draft_id, error=f"{type(exc).__name__}: {exc}",
                                 now=self.clock())
            return 0
        record_reply_sent(self.engine, draft_id=item.draft_id, platform_reply_id=reply_id, now=self.clock())
        self.sent_log.append(item.draft_id)
        log.info("reply_sent draft=%d case=%d platform=%s id=%s", item.draft_id, item.case_id, item.platform, reply_id)
        return 1

    def reconcile(self) -> int:
        """Settle replies in ``sending``/``unknown``: found on the platform → sent; not found → approved
        again (the next send step publishes it). Returns how many were settled."""
        platforms = sorted({platform for _brand, platform in self.posters})
        settled = 0
        for item in claim_for_reconciliation(self.engine, owner=self.owner, now=self.clock(), lease=self.lease,
                                             settle=self.settle,
                                             limit=self.batch, platforms=platforms):
            poster = self._poster(item)
            if poster is None:
                continue
            since = (item.approved_at or self.clock()) - CLOCK_SKEW
            try:
                found = poster.find_reply(target=target_of(item), text=item.text, since=since)
            except Exception as exc:  # try again on a later tick; the lease keeps others off meanwhile
                log.warning("reconcile_failed draft=%d error=%r", item.draft_id, str(exc))
                continue
            if found:
                record_reply_sent(self.engine, draft_id=item.draft_id, platform_reply_id=found, now=self.clock(),
                                  found_on_platform=True)
                log.info("reply_reconciled draft=%d found=%s", item.draft_id, found)
            else:
                requeue_unsent(self.engine, draft_id=item.draft_id, now=self.clock())
                log.info("reply_reconciled draft=%d found=none requeued=1", item.draft_id)
            settled += 1
        return settled


def report_held(engine: Engine, stream: TextIO) -> int:
    """Write one line per held reply with its reason, and a total, to ``stream``; returns how many are held."""
    held = held_replies(engine)
    for reply in held:
        print(f"held: {reply.kind} draft {reply.draft_id} of case {reply.case_id} ({reply.brand}, {reply.platform}): "
              f"{reply.reason}", file=stream)
    if held:
        print(f"closeloop: {len(held)} approved repl{'y is' if len(held) == 1 else 'ies are'} held, not sent",
              file=stream)
    return len(held)
