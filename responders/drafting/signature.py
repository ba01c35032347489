"""Signing a reply: the signature of whoever approves it is its last line, on its own.

Pure. A draft is signed when it is made (by the agent it was drafted for) and signed again, by the approver,
at approval; ``sign`` replaces the draft's signature rather than stacking a second one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def _same(line: str, signature: str) -> bool:
    return unicodedata.normalize("NFC", line.strip()) == unicodedata.normalize("NFC", signature.strip())


def sign(text: str, signature: str, *, replacing: Sequence[str] = ()) -> str:
    """``text`` ending with ``signature`` as its own last line.

    Trailing blank lines go; trailing lines that are ``signature`` itself or one of ``replacing`` (the
    signatures the draft may already carry: the drafting agent's, every configured one) are replaced, so
    signing twice changes nothing. A signature elsewhere in the text is left alone (the style guide reports
    it as ``signature_not_last``). A blank ``signature`` leaves the text unsigned (and without the replaced
    signature lines).
    """
    lines = text.rstrip().splitlines()
    known = [s for s in (signature, *replacing) if s.strip()]
    while lines and (not lines[-1].strip() or any(_same(lines[-1], s) for s in known)):
        lines.pop()
    body = "\n".join(lines).rstrip()
    if not signature.strip():
        return body
    return f"{body}\n{signature.strip()}" if body else signature.strip()


__all__ = ["sign"]
