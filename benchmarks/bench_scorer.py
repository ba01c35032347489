"""Throughput of the transformers scorer against a naive one-text-at-a-time pipeline, on CPU.

Builds, in a temporary directory, a BPE tokenizer trained on a synthetic multilingual corpus and a
classifier with random weights and the real xlm-roberta-base shape (278M parameters), so no download
is needed. The classification head is rescaled so the labels split across texts; otherwise every
random-weight text gets the same label and the int8/fp32 agreement would say nothing.

    python benchmarks/bench_scorer.py [--texts 600] [--baseline-texts 150] [--batch-size 32] [--repeats 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
    pipeline,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from monitor.config import ScoringSettings  # noqa: E402
from monitor.scoring import Scorer, build_scorer  # noqa: E402
from monitor.scoring.transformers_backend import TOKEN_BUDGET, preprocess  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "scorer.md"
WORDS = {
    "en": "my order never arrived and nobody answers the support chat refund was charged twice app keeps "
    "crashing after update thanks for quick help great service still waiting three weeks delivery "
    "broken package customer account login password cancel subscription please fix this today",
    "da": "min ordre er aldrig kommet og ingen svarer på kundeservice pengene blev trukket to gange appen "
    "går ned efter opdateringen tak for hurtig hjælp god service venter stadig tre uger levering "
    "ødelagt pakke konto adgangskode opsig abonnement ret det venligst i dag elendigt",
    "fi": "tilaukseni ei ole vieläkään saapunut eikä kukaan vastaa asiakaspalvelu rahat veloitettiin "
    "kahdesti sovellus kaatuu päivityksen jälkeen kiitos nopeasta avusta hyvä palvelu odotan yhä "
    "kolme viikkoa toimitus rikki paketti tili salasana peruuta tilaus korjatkaa tänään",
    "et": "minu tellimus pole kohale jõudnud ja keegi ei vasta klienditugi raha võeti kaks korda rakendus "
    "jookseb kokku pärast uuendust aitäh kiire abi eest hea teenindus ootan ikka kolm nädalat tarne "
    "katki pakk konto parool tühista tellimus parandage täna",
    "de": "meine bestellung ist nie angekommen und niemand antwortet kundendienst zweimal abgebucht die app "
    "stürzt nach dem update ab danke für schnelle hilfe guter service warte immer noch drei wochen",
    "es": "mi pedido nunca llegó y nadie responde atención al cliente me cobraron dos veces la aplicación "
    "se cierra después de la actualización gracias por la ayuda rápida buen servicio sigo esperando",
    "he": "ההזמנה שלי לא הגיעה ואף אחד לא עונה שירות לקוחות חייבו אותי פעמיים האפליקציה קורסת אחרי "
    "העדכון תודה על העזרה המהירה שירות מעולה עדיין מחכה שלושה שבועות משלוח",
    "ko": "주문한 물건이 아직 도착하지 않았고 아무도 답하지 않아요 고객센터 두 번 결제되었어요 업데이트 후 "
    "앱이 계속 꺼져요 빠른 도움 감사합니다 좋은 서비스 아직도 기다리고 있어요 삼 주 배송",
}
EXTRAS = (
    "@acme",
    "@acme_support",
    "https://t.co/a1b2c3",
    "#fail",
    "!!",
    "?",
    "😡",
    "🙏",
    "👍",
    "2x",
    "#123456",
)


def make_texts(count: int, seed: int) -> list[str]:
    """Social posts: mostly 3-60 words, about one in thirty near 120 words, in eight languages."""
    rng = random.Random(seed)
    vocab = {lang: words.split() for lang, words in WORDS.items()}
    langs = list(vocab)
    texts = []
    for _ in range(count):
        lang = rng.choice(langs)
        length = (
            rng.randint(100, 140)
            if rng.random() < 1 / 30
            else min(60, max(3, int(rng.lognormvariate(2.7, 0.6))))
        )
        words = [
            rng.choice(EXTRAS) if rng.random() < 0.08 else rng.choice(vocab[lang]) for _ in range(length)
        ]
        texts.append(" ".join(words))
    return texts


def build_tokenizer(directory: Path, vocab_size: int) -> PreTrainedTokenizerFast:
    """A BPE tokenizer with XLM-R's special tokens, trained on synthetic posts (800 pieces: ~1.6 per word)."""
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..4
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    raw.train_from_iterator(make_texts(3000, seed=1), trainer)
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_model(directory: Path, tokenizer: PreTrainedTokenizerFast, calibration: list[str]) -> None:
    """xlm-roberta-base's shape with random weights; the head spreads ``calibration`` over all labels."""
    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=250002,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )
    model = XLMRobertaForSequenceClassification(config).eval()
    features: list[torch.Tensor] = []
    hook = model.classifier.out_proj.register_forward_hook(lambda _m, args, _out: features.append(args[0]))
    with torch.inference_mode():
        for start in range(0, len(calibration), 16):
            batch = tokenizer(
                [preprocess(t) for t in calibration[start : start + 16]],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            model(**batch)
    hook.remove()
    x = torch.cat(features)
    mean = x.mean(0)
    _, s, v = torch.linalg.svd(x - mean, full_matrices=False)
    weight = (v[:3] / (s[:3, None] / len(x) ** 0.5)).contiguous()  # each logit: a unit-variance component
    with torch.no_grad():
        model.classifier.out_proj.weight.copy_(weight)
        model.classifier.out_proj.bias.copy_(-(weight @ mean))
    model.save_pretrained(directory)


def scorer_labels(scorer: Scorer, texts: list[str]) -> list[str]:
    return [s.label for s in scorer.score(texts, [None] * len(texts))]


def naive_labels(classify: Callable[..., list[dict[str, str]]], texts: list[str]) -> list[str]:
    """The baseline: one pipeline call per text, truncated like the scorer."""
    return [classify(preprocess(t), truncation=True, max_length=128)[0]["label"] for t in texts]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--baseline-texts", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=8, help="interleaved timing rounds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    load_before = os.getloadavg()[0]
    texts = make_texts(args.texts, seed=42)
    stride = max(1, len(texts) // args.baseline_texts)
    subset = texts[::stride][: args.baseline_texts]
    with tempfile.TemporaryDirectory(prefix="bench-scorer-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        tokenizer = build_tokenizer(directory, vocab_size=800)
        build_model(directory, tokenizer, make_texts(96, seed=7))
        print(f"built model in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        lengths = [
            len(ids)
            for ids in tokenizer([preprocess(t) for t in texts], truncation=True, max_length=128)["input_ids"]
        ]
        words = sum(len(t.split()) for t in texts)

        classify = pipeline("text-classification", model=str(directory), tokenizer=str(directory), device=-1)
        runs: dict[str, tuple[int, Callable[[], list[str]]]] = {
            "naive": (len(subset), lambda: naive_labels(classify, subset))
        }
        load_seconds = {}
        for quantize in (True, False):
            settings = ScoringSettings(
                backend="transformers", model=str(directory), quantize=quantize, batch_size=args.batch_size
            )
            load_start = time.perf_counter()
            scorer = build_scorer(settings)
            load_seconds[quantize] = time.perf_counter() - load_start
            scorer_labels(scorer, texts[:4])  # warm-up
            runs["int8" if quantize else "fp32"] = (len(texts), lambda s=scorer: scorer_labels(s, texts))
        naive_labels(classify, subset[:2])

        # Rounds interleave the paths, so a burst of load from other jobs hurts them alike; best round wins.
        rates: dict[str, list[float]] = {name: [] for name in runs}
        labels: dict[str, list[str]] = {}
        for _ in range(args.repeats):
            for name, (count, run) in runs.items():
                start = time.perf_counter()
                labels[name] = run()
                rates[name].append(count / (time.perf_counter() - start))

    best = {name: max(values) for name, values in rates.items()}
    median = {name: statistics.median(values) for name, values in rates.items()}
    int8_ratio, fp32_ratio = best["int8"] / best["naive"], best["fp32"] / best["naive"]
    agreement = sum(a == b for a, b in zip(labels["int8"], labels["fp32"], strict=True)) / len(texts)
    same_as_naive = sum(labels["fp32"][i * stride] == b for i, b in enumerate(labels["naive"]))
    spread = {label: labels["fp32"].count(label) for label in ("negative", "neutral", "positive")}
    titles = {
        "naive": "naive `pipeline`, one text per call (fp32)",
        "int8": f"`build_scorer`, int8 dynamic, sorted batches (≤{args.batch_size} texts, ≤{TOKEN_BUDGET} tokens)",
        "fp32": f"`build_scorer`, fp32, sorted batches (≤{args.batch_size} texts, ≤{TOKEN_BUDGET} tokens)",
    }
    table = [
        "| path | texts | best texts/s | median texts/s | every round | best vs baseline | median vs baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (count, _) in runs.items():
        every = " / ".join(f"{rate:.1f}" for rate in rates[name])
        table.append(
            f"| {titles[name]} | {count} | {best[name]:.1f} | {median[name]:.1f} | {every} "
            f"| {best[name] / best['naive']:.1f}x | {median[name] / median['naive']:.1f}x |"
        )
    report = "\n".join(
        [
            "# Scorer throughput (CPU)",
            "",
            f"- date: {dt.date.today().isoformat()}",
            f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}",
            f"- torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}",
            "- model: random weights, xlm-roberta-base shape (12 layers, hidden 768, vocab 250002, 3 labels)",
            f"- texts: {len(texts)} synthetic posts in 8 languages, {words / len(texts):.1f} words and "
            f"{sum(lengths) / len(lengths):.1f} tokens on average (max {max(lengths)} after truncation to 128)",
            "",
            *table,
            "",
            f"- int8 vs fp32 label agreement: {agreement:.1%} of {len(texts)} texts "
            f"(fp32 labels: {spread['negative']} negative, {spread['neutral']} neutral, {spread['positive']} positive)",
            f"- {args.repeats} interleaved rounds (best and median shown); model load is excluded "
            f"(int8 {load_seconds[True]:.1f}s including quantization, fp32 {load_seconds[False]:.1f}s)",
            f"- fp32 scorer vs naive pipeline: {same_as_naive} of {len(subset)} labels identical",
            f"- 1-minute load average before the run: {load_before:.1f} (other jobs on the machine; above 0 adds noise)",
            "",
            "Notes:",
            f"- the naive baseline is timed on every {stride}th text, so its length mix matches the full set;",
            "  it is called with the same preprocessing and truncation (128 tokens) as the scorer.",
            f"- target ≥ 5x the naive baseline: int8 {'meets' if int8_ratio >= 5 else 'misses'} it "
            f"({int8_ratio:.1f}x best, {median['int8'] / median['naive']:.1f}x median); fp32 batching alone gives {fp32_ratio:.1f}x, since with so few cores the "
            "forward pass is compute-bound and batching mostly saves per-call overhead and padding.",
            "- the weights are random, with the head fitted so labels split across texts: int8 noise against "
            "random features",
            "  is a pessimistic proxy for agreement; measure it on the real model where it is cached.",
            "",
        ]
    )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
