"""Signing a reply at approval: the approver's signature becomes the last line, replacing the draft's."""

from __future__ import annotations

import pytest

from responders.drafting import sign
from responders.style import check_style

AGENT = "– Maria, Acme care"
APPROVER = "– Aino, Acme care"


@pytest.mark.parametrize(
    ("text", "signature", "replacing", "expected"),
    [
        (f"Hi Jane! Sorry.\n{AGENT}", APPROVER, [AGENT], f"Hi Jane! Sorry.\n{APPROVER}"),
        (f"Hi Jane! Sorry.\n{AGENT}\n\n", APPROVER, [AGENT], f"Hi Jane! Sorry.\n{APPROVER}"),
        ("Hi Jane! Sorry.", APPROVER, [AGENT], f"Hi Jane! Sorry.\n{APPROVER}"),
        (f"Hi Jane! Sorry.\n{APPROVER}", APPROVER, [AGENT], f"Hi Jane! Sorry.\n{APPROVER}"),
        (f"Hi Jane! Sorry.\n{AGENT}\n{APPROVER}", APPROVER, [AGENT], f"Hi Jane! Sorry.\n{APPROVER}"),
        (f"Hi Jane! Sorry.\n  {AGENT}  ", APPROVER, [AGENT], f"Hi Jane! Sorry.\n{APPROVER}"),
        (f"{AGENT} says hi.\nHi Jane!", APPROVER, [AGENT], f"{AGENT} says hi.\nHi Jane!\n{APPROVER}"),
        (f"Hi Jane!\n{AGENT}", "", [AGENT], "Hi Jane!"),
        ("", APPROVER, [], APPROVER),
        ("שלום!\n– נועה", "– 지우, Acme 고객지원", ["– נועה"], "שלום!\n– 지우, Acme 고객지원"),
    ],
)
def test_sign_places_or_replaces_the_signature(text: str, signature: str, replacing: list[str], expected: str) -> None:
    assert sign(text, signature, replacing=replacing) == expected


def test_signing_twice_changes_nothing() -> None:
    once = sign(f"Hi Jane! Sorry.\n{AGENT}", APPROVER, replacing=[AGENT])
    assert sign(once, APPROVER, replacing=[AGENT]) == once


def test_a_signed_reply_passes_the_signature_check_for_its_approver_only() -> None:
    text = sign(f"Hi Jane, I’m so sorry about this.\n{AGENT}", APPROVER, replacing=[AGENT])
    assert check_style(text, language="en", platform="x", signatures=[APPROVER]) == []
    assert [i.code for i in check_style(text, language="en", platform="x", signatures=[AGENT])] == ["no_signature"]
