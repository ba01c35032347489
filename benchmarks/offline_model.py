"""The shipped offline sentiment model against the lexicons, on the held-out split it was never trained on.

Re-creates the split the training script held out (the manifest's seed and fraction, over the same data
set, checked by sha256), scores it with the shipped model and with the lexicon backend (VADER for en,
AFINN for da; every other language is unscored by it, and unscored counts as wrong), and reports, per
language, macro-recall over the classes present (et, he and ko have no neutral rows) and accuracy. Then
it measures the offline model's speed (texts/s, one process) and memory (RSS of a fresh process before
and after loading the model and scoring). Writes benchmarks/results/offline_model.md.

    python benchmarks/offline_model.py [--data ../shared/datasets/sentiment]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.scoring import Scorer  # noqa: E402
from monitor.scoring.lexicon import LexiconScorer  # noqa: E402
from monitor.scoring.offline import model_files, shipped_scorer  # noqa: E402
from scripts.sentiment_data import LABELS, Row, default_data, digests, read_rows, split  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "offline_model.md"
LANGUAGES = ("en", "da", "fi", "et", "he", "ko")
BASELINE = {"en": "VADER", "da": "AFINN-da"}


def metrics(rows: Sequence[Row], predicted: Sequence[str]) -> dict[str, float]:
    """Macro-recall over the labels present in ``rows``, accuracy, and the share left unscored."""
    recalls = []
    for label in LABELS:
        hits = [p == r.label for r, p in zip(rows, predicted, strict=True) if r.label == label]
        if hits:
            recalls.append(sum(hits) / len(hits))
    correct = sum(p == r.label for r, p in zip(rows, predicted, strict=True))
    unscored = sum(p == "unscored" for p in predicted)
    return {"macro_recall": sum(recalls) / len(recalls), "accuracy": correct / len(rows),
            "unscored": unscored / len(rows)}


def labels_of(scorer: Scorer, rows: Sequence[Row]) -> list[str]:
    return [s.label for s in scorer.score([r.text for r in rows], [r.language for r in rows])]


def timed(scorer: Scorer, rows: Sequence[Row]) -> tuple[list[str], float, float]:
    """Labels, and texts per second of wall time and of this process's CPU time (on a shared machine
    the CPU rate is the steadier of the two)."""
    wall, cpu = time.perf_counter(), time.process_time()
    labels = labels_of(scorer, rows)
    return labels, len(rows) / (time.perf_counter() - wall), len(rows) / (time.process_time() - cpu)


def rss_probe() -> dict[str, float]:
    """RSS (MiB) of a fresh interpreter: at start, with numpy imported, and after loading the shipped
    model and scoring 200 texts."""
    code = (
        "import json, sys\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "before = rss()\n"
        "import numpy\n"
        "with_numpy = rss()\n"
        "from monitor.scoring.offline import shipped_scorer\n"
        "s = shipped_scorer()\n"
        "s.score(['Tämä on ihan kamalaa, en suosittele'] * 200, ['fi'] * 200)\n"
        "print(json.dumps({'before': before, 'numpy': with_numpy, 'after': rss(), 'torch': 'torch' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="the data set folder")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.is_dir():
        print("offline_model: no data set folder (../shared/datasets/sentiment); pass --data", file=sys.stderr)
        return 2
    manifest = json.loads((model_files() / "manifest.json").read_text("utf-8"))
    if digests(args.data) != manifest["dataset"]["sha256"]:
        print(f"offline_model: {args.data} is not the data set the model was trained on (sha256 differs), "
              "so its held-out split is not known", file=sys.stderr)
        return 2
    training = manifest["training"]
    _, test = split(read_rows(args.data), seed=training["split_seed"], held_out=training["held_out"])
    offline = shipped_scorer()
    lexicon = LexiconScorer()

    offline_labels, offline_rate, offline_cpu_rate = timed(offline, test)
    lexicon_labels, lexicon_rate, lexicon_cpu_rate = timed(lexicon, test)
    memory = rss_probe()

    lines = [
        "# Offline sentiment model vs the lexicons, on the held-out split",
        "",
        f"Model `{offline.model_name}` (weights sha256 `{manifest['weights']['sha256'][:12]}`), held-out split: "
        f"seed {training['split_seed']}, {training['held_out']:.0%} of every language and label, never trained on. "
        "Macro-recall is over the labels present in that language's split (et, he and ko have no neutral). "
        "The lexicon backend scores only en (VADER) and da (AFINN); elsewhere it leaves posts unscored, "
        "counted as wrong.",
        "",
        "| lang | held-out rows (neg/neu/pos) | offline macro-recall | offline accuracy | lexicon | lexicon macro-recall | lexicon accuracy |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for language in LANGUAGES:
        indices = [i for i, r in enumerate(test) if r.language == language]
        rows = [test[i] for i in indices]
        counts = Counter(r.label for r in rows)
        ours = metrics(rows, [offline_labels[i] for i in indices])
        theirs = metrics(rows, [lexicon_labels[i] for i in indices])
        baseline = BASELINE.get(language, "unscored")
        lines.append(
            f"| {language} | {len(rows)} ({counts['negative']}/{counts['neutral']}/{counts['positive']}) "
            f"| **{ours['macro_recall']:.3f}** | {ours['accuracy']:.3f} | {baseline} "
            f"| {theirs['macro_recall']:.3f} | {theirs['accuracy']:.3f} |"
        )
    lines += [
        "",
        f"Speed, one process, all {len(test)} held-out texts in one call: offline model "
        f"**{offline_rate:,.0f} texts/s** of wall time ({offline_cpu_rate:,.0f} per CPU-second); the lexicon "
        f"backend {lexicon_rate:,.0f} texts/s ({lexicon_cpu_rate:,.0f} per CPU-second; most texts unscored).",
        f"Memory (RSS) of a fresh interpreter: {memory['before']:.0f} MiB at start, "
        f"+{memory['numpy'] - memory['before']:.0f} MiB for numpy, **+{memory['after'] - memory['numpy']:.0f} MiB** "
        f"to import the scorer (closeloop's config and pydantic included), load the 1.5 MB model and score 200 "
        f"texts; torch imported: {bool(memory['torch'])}.",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, a machine shared with other jobs (timings are a floor, not a ceiling). "
        "Rerun: `python benchmarks/offline_model.py`.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), "utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
