"""The short window: a brand's posts of the last few minutes, with a running tally per (platform, topic).

Pure. Adding a post and letting old ones expire cost in proportion to the post's topics, never to the
window's size, so a look at a hot topic reads its counts directly.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.radar.detect import Tally
from monitor.radar.terms import ALL

Key = tuple[str, str]
"""(platform, topic); either may be ``ALL``."""


@dataclass(frozen=True, slots=True)
class Post:
    """A mention as the radar counts it."""

    mention_id: int
    brand: str
    platform: str
    at: datetime
    author_id: int
    complaint: bool
    topics: frozenset[str]

    def counts_towards(self) -> list[Key]:
        return [(p, t) for t in (ALL, *self.topics) for p in (ALL, self.platform)]

    def carries(self, key: Key) -> bool:
        return key[0] in (ALL, self.platform) and (key[1] == ALL or key[1] in self.topics)


class _Tally:
    __slots__ = ("authors", "complaint_authors", "complaint_ids", "ids")

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.complaint_ids: set[int] = set()
        self.authors: Counter[int] = Counter()
        self.complaint_authors: Counter[int] = Counter()

    def add(self, post: Post) -> None:
        self.ids.add(post.mention_id)
        self.authors[post.author_id] += 1
        if post.complaint:
            self.complaint_ids.add(post.mention_id)
            self.complaint_authors[post.author_id] += 1

    def remove(self, post: Post) -> None:
        self.ids.discard(post.mention_id)
        _drop(self.authors, post.author_id)
        if post.complaint:
            self.complaint_ids.discard(post.mention_id)
            _drop(self.complaint_authors, post.author_id)

    def tally(self) -> Tally:
        return Tally(len(self.ids), len(self.authors), len(self.complaint_ids), len(self.complaint_authors))


def _drop(counter: Counter[int], item: int) -> None:
    counter[item] -= 1
    if counter[item] <= 0:
        del counter[item]


class Window:
    """A brand's posts in the short window, with a running tally per key."""

    def __init__(self, length: timedelta) -> None:
        self.length = length
        self.posts: dict[int, Post] = {}
        self.tallies: dict[Key, _Tally] = {}
        self._heap: list[tuple[datetime, int]] = []

    def add(self, post: Post) -> None:
        if post.mention_id in self.posts:
            return
        self.posts[post.mention_id] = post
        heapq.heappush(self._heap, (post.at, post.mention_id))
        for key in post.counts_towards():
            self.tallies.setdefault(key, _Tally()).add(post)

    def expire(self, now: datetime) -> None:
        while self._heap and self._heap[0][0] <= now - self.length:
            _at, mention_id = heapq.heappop(self._heap)
            post = self.posts.pop(mention_id)
            for key in post.counts_towards():
                tally = self.tallies[key]
                tally.remove(post)
                if not tally.ids:
                    del self.tallies[key]

    def count(self, key: Key) -> tuple[int, int]:
        tally = self.tallies.get(key)
        return (len(tally.ids), len(tally.complaint_ids)) if tally else (0, 0)


__all__ = ["Key", "Post", "Window"]
