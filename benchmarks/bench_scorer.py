"""Scorer throughput and memory: a naive pipeline, torch fp32 and int8, the ONNX int8 fast path, the offline model.

Runs on benchmarks/scorer_stand_in.py's stand-in: the xlm-roberta-base shape (278M parameters) with random
weights, built in a temporary directory because the hub is unreachable here, and posts of mixed length in
eight languages. The classification head is fitted so labels split across texts; otherwise every text gets
the same label and the agreement figures would say nothing. Throughput is timed in one process, in
interleaved rounds; memory (RSS) is read in a fresh process per path after it loaded and scored 64 texts.

    nice python benchmarks/bench_scorer.py [--texts 600] [--baseline-texts 150] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RESULTS = ROOT / "benchmarks" / "results" / "bench_scorer.md"
PATHS = ("naive", "fp32", "int8-torch", "onnx", "offline")
TITLES = {
    "naive": "naive `pipeline`, one text per call, torch fp32 (baseline)",
    "fp32": "our scorer, torch fp32, length-sorted batches (the reference)",
    "int8-torch": 'our scorer, torch int8 dynamic quantization (`runtime = "torch"`)',
    "onnx": '**fast path**: ONNX Runtime int8, length-sorted batches (`runtime = "onnx"`)',
    "offline": "offline model (numpy, bundled; en da fi et he ko)",
}
GOALS = "fast path ≥ 10× naive and ≥ 110 texts/s; RSS ≤ 1,500 MB fp32, ≤ 600 MB int8"


def settings_for(kind: str, directory: Path, batch_size: int) -> object:
    from monitor.config import ScoringSettings

    if kind == "offline":
        return ScoringSettings(backend="offline")
    runtime = "onnx" if kind == "onnx" else "torch"
    return ScoringSettings(
        backend="transformers",
        model=str(directory),
        runtime=runtime,
        device="cpu",
        quantize=kind == "int8-torch",
        batch_size=batch_size,
    )


def load_path(kind: str, directory: Path, batch_size: int) -> Callable[[list[str]], list[str]]:
    """A function labelling texts the way ``kind`` does."""
    if kind == "naive":
        from transformers import pipeline

        from monitor.scoring.preprocessing import preprocess

        classify = pipeline("text-classification", model=str(directory), tokenizer=str(directory), device=-1)
        return lambda texts: [
            classify(preprocess(t), truncation=True, max_length=128)[0]["label"] for t in texts
        ]
    from monitor.scoring import build_scorer

    scorer = build_scorer(settings_for(kind, directory, batch_size))  # type: ignore[arg-type]
    return lambda texts: [s.label for s in scorer.score(texts, [None] * len(texts))]


def child(kind: str, directory: Path, batch_size: int) -> None:
    """Load one path, label 64 texts, print the process's memory as JSON."""
    from scorer_stand_in import make_texts

    texts = make_texts(64, seed=3)
    run = load_path(kind, directory, batch_size)
    run(texts)
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    mb = {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}
    print(json.dumps({"rss_mb": mb["VmRSS"], "peak_mb": mb["VmHWM"], "torch": "torch" in sys.modules}))


def measure_memory(kind: str, directory: Path, batch_size: int) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--model",
        str(directory),
        "--batch-size",
        str(batch_size),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        name = fields.get("Model name", "unknown").strip()
    except (OSError, subprocess.CalledProcessError):
        name = platform.processor() or "unknown"
    return f"{name}, {len(os.sched_getaffinity(0))} cores available to this process ({os.cpu_count()} CPUs)"


def agreement(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--baseline-texts", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:  # imports only what the path itself imports
        child(args.child, args.model, args.batch_size)
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    import torch
    from scorer_stand_in import build_stand_in, make_texts

    from monitor.scoring.onnx_export import prepare_fast_path
    from monitor.scoring.preprocessing import TOKEN_BUDGET, preprocess

    load_before = os.getloadavg()
    texts = make_texts(args.texts, seed=42)
    stride = max(1, len(texts) // args.baseline_texts)
    subset = texts[::stride][: args.baseline_texts]
    with tempfile.TemporaryDirectory(prefix="bench-scorer-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        tokenizer = build_stand_in(directory)
        built = time.perf_counter() - started
        started = time.perf_counter()
        prepare_fast_path(directory)
        exported = time.perf_counter() - started
        print(
            f"built the stand-in in {built:.0f}s, exported the fast path in {exported:.0f}s", file=sys.stderr
        )
        lengths = [
            len(ids)
            for ids in tokenizer([preprocess(t) for t in texts], truncation=True, max_length=128)["input_ids"]
        ]
        words = sum(len(t.split()) for t in texts)

        memory = {kind: measure_memory(kind, directory, args.batch_size) for kind in PATHS}
        print(f"memory: {memory}", file=sys.stderr)
        runs: dict[str, tuple[list[str], Callable[[list[str]], list[str]]]] = {}
        for kind in PATHS:
            run = load_path(kind, directory, args.batch_size)
            run(texts[:4])  # warm-up
            runs[kind] = (subset if kind == "naive" else texts, run)

        # Rounds interleave the paths, so a burst of load from other jobs hurts them alike.
        # CPU seconds (every thread of this process) are what other jobs disturb least: a busy machine
        # stretches the wall clock, much less the work each text needs.
        rates: dict[str, list[float]] = {kind: [] for kind in PATHS}
        per_cpu: dict[str, list[float]] = {kind: [] for kind in PATHS}
        labels: dict[str, list[str]] = {}
        for round_ in range(args.repeats):
            for kind, (batch, run) in runs.items():
                start, cpu_start = time.perf_counter(), time.process_time()
                labels[kind] = run(batch)
                rates[kind].append(len(batch) / (time.perf_counter() - start))
                per_cpu[kind].append(len(batch) / max(time.process_time() - cpu_start, 1e-9))
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{k} {v[-1]:.1f}/s {per_cpu[k][-1]:.1f}/cpu-s" for k, v in rates.items()),
                file=sys.stderr,
            )
        load_after = os.getloadavg()

    best = {kind: max(values) for kind, values in rates.items()}
    median = {kind: statistics.median(values) for kind, values in rates.items()}
    cpu = {kind: statistics.median(values) for kind, values in per_cpu.items()}
    table = [
        "| path | texts | best texts/s | median texts/s | median vs naive | texts per CPU-second | vs naive (CPU) "
        "| RSS MB | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in PATHS:
        table.append(
            f"| {TITLES[kind]} | {len(runs[kind][0])} | {best[kind]:.1f} | {median[kind]:.1f} "
            f"| {median[kind] / median['naive']:.1f}× | {cpu[kind]:.1f} | {cpu[kind] / cpu['naive']:.1f}× "
            f"| {memory[kind]['rss_mb']:.0f} | {memory[kind]['peak_mb']:.0f} |"
        )
    fp32 = labels["fp32"]
    spread = ", ".join(f"{fp32.count(label)} {label}" for label in ("negative", "neutral", "positive"))
    naive_same = sum(fp32[i * stride] == label.lower() for i, label in enumerate(labels["naive"]))
    onnx_ratio, onnx_rate = median["onnx"] / median["naive"], median["onnx"]
    met = onnx_ratio >= 10 and onnx_rate >= 110
    report = "\n".join(
        [
            "# Scorer throughput and memory (CPU)",
            "",
            f"- date: {dt.date.today().isoformat()}; machine: {machine()}",
            f"- torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}, "
            f"onnxruntime {_version('onnxruntime')}, transformers {_version('transformers')}",
            "- model: **random weights**, xlm-roberta-base shape (12 layers, hidden 768, vocab 250002, 3 labels), "
            "built locally because the hub is unreachable here; a BPE tokenizer trained on posts like these",
            f"- texts: {len(texts)} posts in 8 languages (en da fi et he ko: real care posts and dataset sentences; "
            f"de es: word lists), {words / len(texts):.1f} words and {sum(lengths) / len(lengths):.1f} tokens on "
            f"average, max {max(lengths)} after truncation to 128; batches ≤{args.batch_size} texts, ≤{TOKEN_BUDGET} tokens",
            f"- load average (1/5/15 min) before: {'/'.join(f'{x:.1f}' for x in load_before)}, after: "
            f"{'/'.join(f'{x:.1f}' for x in load_after)} — other jobs shared the cores, so absolute rates are low",
            f"- one-time costs, not timed below: building the stand-in {built:.0f}s; exporting + quantizing the fast path {exported:.0f}s",
            "",
            *table,
            "",
            f"- label agreement with torch fp32 on {len(texts)} texts (fp32: {spread}): ONNX int8 "
            f"{agreement(labels['onnx'], fp32):.1%}, torch int8 {agreement(labels['int8-torch'], fp32):.1%}; "
            f"naive pipeline vs our fp32: {naive_same} of {len(subset)} identical",
            f"- {args.repeats} interleaved rounds; texts per CPU-second counts every thread of the process (torch "
            f"and ONNX Runtime used 2), so on 2 idle cores the wall-clock rate approaches up to twice it; the naive baseline runs on every {stride}th text (same length mix, same "
            "preprocessing and truncation). RSS: a fresh process per path, after loading and scoring 64 texts "
            f"(the fast path's process imports torch: {memory['onnx']['torch']}).",
            f"- goals: {GOALS}. Fast path at the median: {onnx_ratio:.1f}× naive, {onnx_rate:.0f} texts/s — "
            f"{'met' if met else 'not met'}; RSS fp32 {memory['fp32']['rss_mb']:.0f} MB, fast path "
            f"{memory['onnx']['rss_mb']:.0f} MB.",
            "- random weights put many texts near a decision boundary, so int8 agreement here is a pessimistic proxy; "
            "measure it on the real model where it is cached. CUDA path untested here: no GPU lent.",
            "",
        ]
    )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
