"""The short window: a brand's posts of the last few minutes, with a running tally per (platform, topic).

Pure. Adding a post and letting old ones expire cost in proportion to the post's topics, never to the
window's size, so a look at a hot topic reads its counts directly.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.radar.detect import Tally
from monitor.radar.terms import ALL

Key = tuple[str, str]
"""(platform, topic); either may be ``ALL``."""


PER_PLATFORM_KINDS = ("c:", "w:")
"""Topics also counted per platform: the categories and the watch terms (with every post's ``ALL``). A word of
the posts counts on all platforms together only: per platform, words are too thin to judge."""


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
        keys = [(ALL, ALL), (self.platform, ALL)]
        for topic in self.topics:
            keys.append((ALL, topic))
            if topic.startswith(PER_PLATFORM_KINDS):
                keys.append((self.platform, topic))
        return keys

    def carries(self, key: Key) -> bool:
        return key[0] in (ALL, self.platform) and (key[1] == ALL or key[1] in self.topics)


class _Tally:
    """Who posted under one key in the window; the complaint side is made on the first complaint."""

    __slots__ = ("authors", "complaint_authors", "complaint_ids", "ids")

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.authors: dict[int, int] = {}
        self.complaint_ids: set[int] | None = None
        self.complaint_authors: dict[int, int] | None = None

    def add(self, post: Post) -> None:
        self.ids.add(post.mention_id)
        self.authors[post.author_id] = self.authors.get(post.author_id, 0) + 1
        if post.complaint:
            if self.complaint_ids is None or self.complaint_authors is None:
                self.complaint_ids, self.complaint_authors = set(), {}
            self.complaint_ids.add(post.mention_id)
            self.complaint_authors[post.author_id] = self.complaint_authors.get(post.author_id, 0) + 1

    def remove(self, post: Post) -> None:
        self.ids.discard(post.mention_id)
        _drop(self.authors, post.author_id)
        if post.complaint and self.complaint_ids is not None and self.complaint_authors is not None:
            self.complaint_ids.discard(post.mention_id)
            _drop(self.complaint_authors, post.author_id)

    @property
    def complaints(self) -> int:
        return len(self.complaint_ids) if self.complaint_ids else 0

    def tally(self) -> Tally:
        return Tally(len(self.ids), len(self.authors), self.complaints,
                     len(self.complaint_authors) if self.complaint_authors else 0)


def _drop(counter: dict[int, int], item: int) -> None:
    left = counter.get(item, 0) - 1
    if left <= 0:
        counter.pop(item, None)
    else:
        counter[item] = left


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
        return (len(tally.ids), tally.complaints) if tally else (0, 0)


__all__ = ["Key", "Post", "Window"]
