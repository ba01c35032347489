"""Reading a satisfaction answer, and drafting the follow-up that asks for one."""

from __future__ import annotations

import pytest

from responders.csat import CsatRequest, draft_csat_followup, parse_csat


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("5", "en", 5), ("1", "en", 1), ("4/5", "en", 4), ("8/10", "en", 4), ("10/10", "en", 5), ("3 out of 5", "en", 3),
    ("⭐⭐⭐⭐", None, 4), ("★★★☆☆", None, 3), ("5 stars!", "en", 5),
    ("great, thanks!", "en", 5), ("not good", "en", 2), ("terrible", "en", 1), ("okay I guess", "en", 3),
    ("rigtig godt", "da", 5), ("dårlig", "da", 2), ("erinomainen", "fi", 5), ("huono", "fi", 2),
    ("hea", "et", 4), ("kohutav", "et", 1), ("מצוין", "he", 5), ("בסדר", "he", 3), ("최고예요", "ko", 5),
    ("5점", "ko", 5), ("보통이에요", "ko", 3),
    ("order 12345 is still missing", "en", None), ("", "en", None), ("3 or 4", "en", None), ("7", "en", None),
    ("good but terrible", "en", None), ("where is my refund", "en", None),
])
def test_it_reads_a_score_or_refuses_to_guess(text: str, language: str | None, expected: int | None) -> None:
    assert parse_csat(text, language) == expected


@pytest.mark.parametrize("language", ["en", "da", "fi", "et", "he", "ko"])
def test_the_follow_up_is_personal_signed_and_passes_the_style_guide(language: str) -> None:
    draft = draft_csat_followup(CsatRequest(platform="x", language=language, author_handle="jane_doe",
                                            author_name="Jane Doe", brand_name="Acme", agent_name="Maria Jensen",
                                            agent_signature="– Maria, Acme care"))
    assert draft.language == language
    assert draft.style_issues == []
    assert "Jane" in draft.text and draft.text.endswith("– Maria, Acme care")
    assert "5" in draft.text


def test_names_are_data_not_template_source() -> None:
    draft = draft_csat_followup(CsatRequest(platform="mastodon", language=None, author_handle="jane@social.example",
                                            author_name="{{ 7*7 }}", brand_name="Acme", agent_name="Maria",
                                            agent_signature="– Maria"))
    assert "49" not in draft.text
    assert draft.text.startswith("@jane@social.example ")
    assert draft.style_issues == []
