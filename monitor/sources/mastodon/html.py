"""Mastodon status HTML as plain text (pure)."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_BLOCKS = frozenset({"blockquote", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ol", "pre", "ul"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pending = 0  # newlines owed at a block boundary, written before the next text

    def _boundary(self, newlines: int) -> None:
        self._pending = max(self._pending, newlines)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            self._boundary(2)
        elif tag in _BLOCKS:
            self._boundary(1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._boundary(2)
        elif tag in _BLOCKS:
            self._boundary(1)

    def handle_data(self, data: str) -> None:
        if self._pending and not data.strip():
            return  # whitespace next to a block boundary means nothing
        if self._pending and self.parts:
            self.parts.append("\n" * self._pending)
        self._pending = 0
        self.parts.append(data)


_TAG = re.compile(r"<[^>]*>")
_MANY_NEWLINES = re.compile(r"[ \t]*\n[ \t]*(?:\n[ \t]*)+")


def html_to_text(content: str) -> str:
    """Mastodon status HTML as plain text: tags stripped, ``<br>`` a newline, paragraphs a blank line,
    entities unescaped. Link text is kept whole (Mastodon hides part of long URLs in invisible spans)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(content)
        extractor.close()
        text = "".join(extractor.parts)
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        text = unescape(_TAG.sub("", content))
    text = _MANY_NEWLINES.sub("\n\n", text.replace("\r\n", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()
