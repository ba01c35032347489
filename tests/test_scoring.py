"""The scorer: a tiny real transformer built here, the lexicon fallback, and lazy heavy imports."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import monitor.scoring as scoring
from monitor.config import ScoringSettings
from monitor.scoring import UNSCORED, Scorer, ScorerUnavailable, Sentiment, build_scorer
from monitor.scoring.labels import normalise_labels
from monitor.scoring.lexicon import LexiconScorer
from tests.fixtures_models import build_tiny_classifier

TEXTS = [
    "bad",
    "my order never arrived and nobody answers, I have written to @acme three times https://t.co/x",
    "det er elendigt og forfærdeligt",
    "the refund is late",
    "주문한 물건이 아직 도착하지 않았어요",
]
HUB_MODEL = "cardiffnlp/twitter-xlm-roberta-base-sentiment"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-xlmr"), winner=0, margin=4.0)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty hub cache, and huggingface_hub told it is offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path


def test_it_scores_with_a_local_model_directory_in_batches(tiny_model: Path, offline: Path) -> None:
    settings = ScoringSettings(backend="transformers", model=str(tiny_model), batch_size=2, quantize=False)
    scorer = build_scorer(settings)
    assert isinstance(scorer, Scorer)
    assert scorer.model_name == str(tiny_model)

    batched = scorer.score([*TEXTS, "   "], [None] * (len(TEXTS) + 1))

    assert [s.label for s in batched] == ["negative"] * len(TEXTS) + ["unscored"]
    assert {s.model for s in batched[:-1]} == {str(tiny_model)}
    assert batched[-1] == UNSCORED
    alone = [scorer.score([text], [None])[0] for text in TEXTS]
    assert [s.score for s in batched[:-1]] == pytest.approx([s.score for s in alone], abs=1e-4)
    assert len({round(s.score, 3) for s in alone}) > 2  # confidences differ, so a mix-up would show


def test_it_keeps_labels_when_quantized(tiny_model: Path, offline: Path) -> None:
    settings = ScoringSettings(backend="transformers", model=str(tiny_model), batch_size=2, quantize=True)
    scores = build_scorer(settings).score(TEXTS, ["en", "en", "da", "en", "ko"])

    assert [s.label for s in scores] == ["negative"] * len(TEXTS)
    assert all(0.5 < s.score <= 1.0 for s in scores)


def test_a_small_token_budget_splits_batches_without_changing_scores(tiny_model: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from monitor.scoring.preprocessing import length_sorted_batches
    from monitor.scoring.transformers_backend import TransformersScorer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    wide = TransformersScorer(model, tokenizer, model_name="tiny", batch_size=8, max_length=64)
    narrow = TransformersScorer(
        model, tokenizer, model_name="tiny", batch_size=8, max_length=64, token_budget=40
    )

    assert len(list(length_sorted_batches([30, 12, 8], batch_size=8, token_budget=40))) == 2
    languages = [None] * len(TEXTS)
    assert [s.score for s in narrow.score(TEXTS, languages)] == pytest.approx(
        [s.score for s in wide.score(TEXTS, languages)], abs=1e-4
    )


def test_it_scores_nothing_for_no_texts(tiny_model: Path, offline: Path) -> None:
    scorer = build_scorer(ScoringSettings(backend="transformers", model=str(tiny_model)))
    assert scorer.score([], []) == []
    assert scorer.score(["", " \n"], [None, "en"]) == [UNSCORED, UNSCORED]
    with pytest.raises(ValueError):
        scorer.score(["one"], [])


def test_it_falls_back_to_the_offline_model_once_when_the_model_is_not_cached(
    offline: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(scoring, "_fallback_warned", False)
    settings = ScoringSettings(backend="auto", model=HUB_MODEL)

    with caplog.at_level(logging.INFO, logger="closeloop.scoring"):
        first = build_scorer(settings)
        second = build_scorer(settings)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "closeloop.scoring"
    assert HUB_MODEL in warnings[0].getMessage()
    assert "offline:closeloop-sentiment-1" in warnings[0].getMessage()
    assert first.model_name == second.model_name == "offline:closeloop-sentiment-1"
    scores = first.score(
        ["I hate this, my refund never came", "Det er elendigt og forfærdeligt", "Tämä on ihan kamalaa"],
        ["en", "da", "fi"],
    )
    # Finnish, unscored by the lexicons, is read now. (The Danish words here are not in the model's small
    # Danish training data: it scores the sentence, without a reliable label; see the README's evaluation.)
    assert (scores[0].label, scores[2].label) == ("negative", "negative")
    assert scores[1].label in {"negative", "neutral", "positive"}
    assert {s.model for s in scores} == {"offline:closeloop-sentiment-1"}


def test_the_offline_backend_is_chosen_by_name() -> None:
    scorer = build_scorer(ScoringSettings(backend="offline"))
    assert scorer.model_name == "offline:closeloop-sentiment-1"
    assert isinstance(scorer, Scorer)


def test_it_refuses_to_start_without_the_model_when_transformers_is_required(offline: Path) -> None:
    with pytest.raises(ScorerUnavailable, match=HUB_MODEL):
        build_scorer(ScoringSettings(backend="transformers", model=HUB_MODEL))


def test_hf_hub_offline_wins_over_allow_download(offline: Path) -> None:
    with pytest.raises(ScorerUnavailable, match="closeloop model download"):
        build_scorer(ScoringSettings(backend="transformers", model=HUB_MODEL, allow_download=True))


def test_it_loads_a_hub_id_from_the_cache_at_the_pinned_revision(tiny_model: Path, offline: Path) -> None:
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = offline / "hub" / "models--acme--tiny-sentiment" / "snapshots" / revision
    shutil.copytree(tiny_model, snapshot)
    settings = ScoringSettings(backend="transformers", model="acme/tiny-sentiment", revision=revision)

    scorer = build_scorer(settings)

    assert scorer.model_name == "acme/tiny-sentiment@0123456"
    assert scorer.score(["the refund is late"], ["en"])[0].model == "acme/tiny-sentiment@0123456"
    with pytest.raises(ScorerUnavailable):
        build_scorer(settings.model_copy(update={"revision": "f" * 40}))


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("I hate this, my refund never came", "en", Sentiment("negative", 0.5719, "lexicon:vader")),
        ("Thank you so much, great help!", None, Sentiment("positive", 0.8788, "lexicon:vader")),
        ("The package arrives on Tuesday", "en-GB", Sentiment("neutral", 1.0, "lexicon:vader")),
        ("Det er elendigt og forfærdeligt", "da", Sentiment("negative", 0.6124, "lexicon:afinn-da")),
        ("Tak, det er fantastisk godt", "DA", Sentiment("positive", 0.9186, "lexicon:afinn-da")),
        ("Min ordre er ikke kommet", "da", Sentiment("neutral", 1.0, "lexicon:afinn-da")),
        ("Tämä on ihan kamalaa", "fi", UNSCORED),
        ("ההזמנה שלי לא הגיעה", "he", UNSCORED),
        ("   ", "en", UNSCORED),
    ],
)
def test_the_lexicon_scores_english_and_danish_only(
    text: str, language: str | None, expected: Sentiment
) -> None:
    (got,) = LexiconScorer().score([text], [language])
    assert (got.label, got.model) == (expected.label, expected.model)
    assert got.score == pytest.approx(expected.score, abs=1e-3)


def test_the_lexicon_backend_is_chosen_by_name() -> None:
    scorer = build_scorer(ScoringSettings(backend="lexicon"))
    assert scorer.model_name == "lexicon"
    assert isinstance(scorer, Scorer)


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({0: "negative", 1: "neutral", 2: "positive"}, ["negative", "neutral", "positive"]),
        ({0: "Negative", 1: "Neutral", 2: "Positive"}, ["negative", "neutral", "positive"]),
        ({0: "NEG", 1: "NEU", 2: "POS"}, ["negative", "neutral", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, ["negative", "neutral", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1"}, ["negative", "positive"]),
        ({0: "POSITIVE", 1: "NEGATIVE"}, ["positive", "negative"]),
    ],
)
def test_it_reads_the_models_labels(id2label: dict[int, str], expected: list[str]) -> None:
    assert normalise_labels(id2label) == expected


@pytest.mark.parametrize("id2label", [{0: "1 star", 1: "5 stars"}, {0: "LABEL_0", 2: "LABEL_2"}, {0: "joy"}])
def test_it_refuses_labels_it_cannot_read(id2label: dict[int, str]) -> None:
    with pytest.raises(ValueError):
        normalise_labels(id2label)


def test_importing_the_scorer_does_not_import_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "import monitor.scoring, monitor.scoring.language, monitor.scoring.lexicon\n"
        "from monitor.config import ScoringSettings\n"
        "s = monitor.scoring.build_scorer(ScoringSettings(backend='lexicon'))\n"
        "s.score(['I love it'], ['en'])\n"
        "s = monitor.scoring.build_scorer(ScoringSettings(backend='offline'))\n"
        "s.score(['I love it'], ['en'])\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_numbers_carry_no_sentiment_in_the_lexicon() -> None:
    """VADER's lexicon reads "143" as "I love you"; in care text it is an order number."""
    from monitor.scoring.lexicon import LexiconScorer

    scorer = LexiconScorer()
    with_number, without = scorer.score(
        ["@acme order 143 never arrived", "@acme order never arrived"], ["en", "en"]
    )
    assert with_number == without
