"""The care-quality benchmark runs, and the issue's targets hold on the labelled set (a regression guard: the
lexicons were tuned on this set, so it guards against getting worse, not against overfitting; the held-out
sets in tests/data/ measure that)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("care_quality", REPO / "benchmarks" / "care_quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result(bench: ModuleType) -> dict:
    rows = bench.load_set(REPO / "tests" / "data" / "care_set.jsonl")
    return bench.measure(rows, bench.build_scorer("lexicon"), legacy=False)


def test_the_labelled_sets_are_well_formed(bench: ModuleType) -> None:
    for name in ("care_set", "care_holdout", "care_holdout2"):
        rows = bench.load_set(REPO / "tests" / "data" / f"{name}.jsonl")
        assert len({r["id"] for r in rows}) == len(rows)
        assert {r["language"] for r in rows} == {"en", "da", "fi", "et", "he", "ko"}
        assert {r["intent"] for r in rows} == {"complaint", "question", "praise", "other"}
    assert len(bench.load_set(REPO / "tests" / "data" / "care_set.jsonl")) >= 300


def test_no_praise_gets_an_apology(result: dict) -> None:
    assert result["total"]["praise"] == 50 and result["total"]["praise_apologised"] == 0


def test_no_draft_quotes_profanity_or_a_fragment(result: dict) -> None:
    assert result["total"]["quotes_profanity"] == 0 and result["total"]["draft_profanity"] == 0
    assert result["total"]["quotes_fragment"] == 0


def test_at_most_three_quarters_of_drafts_ask_for_a_dm(result: dict) -> None:
    assert result["total"]["dm"] <= 0.75 * result["posts"]


def test_a_repeat_complaint_uses_what_the_customer_already_gave(result: dict) -> None:
    counts = result["counts"]
    assert counts["repeat_with_order"] >= 20 and counts["repeat_uses_order"] == counts["repeat_with_order"]


def test_complaint_detection_f1_is_at_least_0_65(result: dict) -> None:
    assert result["detection"][2] >= 0.65


def test_the_report_renders(bench: ModuleType, result: dict) -> None:
    text = bench.report(result, legacy=False)
    assert "apologies to praise" in text and "| ko |" in text
