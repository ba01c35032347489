"""Language codes, said once: which languages closeloop answers in, and how a tag becomes a code.

Pure and dependency-free; every module that compares or normalises a language tag uses this one.
"""

from __future__ import annotations

import re

CUSTOMER_LANGUAGES = ("en", "da", "fi", "et", "he", "ko")
"""The languages closeloop drafts replies in and detects first."""

NO_WORD_BREAKS = frozenset({"ko", "ja", "zh", "th"})
"""Scripts whose words are not reliably separated by spaces (or take attached particles): phrases in these
languages match as substrings, not whole words."""

_LEGACY = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv"}
_ISO_639_1 = re.compile(r"[a-z]{2}")


def normalise_language(tag: str | None) -> str | None:
    """A language tag as a lowercase ISO 639-1 code, or None.

    ``"en-US"`` -> ``"en"``, ``"pt_BR"`` -> ``"pt"``, ``"iw"`` -> ``"he"``; ``"und"``, ``"zxx"``, X's
    ``"qme"``-style codes, blanks and None -> None.
    """
    if not tag:
        return None
    primary = tag.strip().lower().replace("_", "-").split("-")[0]
    primary = _LEGACY.get(primary, primary)
    return primary if _ISO_639_1.fullmatch(primary) else None


__all__ = ["CUSTOMER_LANGUAGES", "NO_WORD_BREAKS", "normalise_language"]
