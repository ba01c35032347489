"""Care quality: how well closeloop reads posts and how good its drafts are, on a labelled set.

    python benchmarks/care_quality.py [--set tests/data/care_set.jsonl] [--scorer lexicon] [--markdown OUT.md]

Every post in the set is scored (``--scorer``: ``lexicon``, ``auto``, ``none`` or ``module:factory`` for any
``monitor.scoring.Scorer``), read (``understand``), triaged (``monitor.triage``) and drafted as the pipeline
would draft it (``config.toml``'s brand facts, the labelled history, the row's position as the case id).
Every post is drafted, praise included, so a misread post shows up as a bad draft. It prints intent and
category accuracy, fact recall, complaint detection (precision/recall/F1, complaint vs not), and for the
drafts: the style-clean rate, drafts quoting profanity or a fragment of two words or fewer, apologies to
praise, the share asking for a DM, repeat complaints that reuse what the customer already gave, and
neighbouring drafts that share a sentence.

``--legacy`` measures the drafter of a checkout before issue 12 (run with that checkout first on
PYTHONPATH): only what its drafts show can be counted there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import regex

REPO = Path(__file__).resolve().parent.parent
DM = regex.compile(r"\bDM\b|yksityisviesti|privaatsõnum|בפרטי|הודעה פרטית|쪽지", regex.IGNORECASE)
QUOTED = regex.compile(r"[“”\"»«„]\u2068?([^“”\"»«„]+?)\u2069?[“”\"»«]")
WORD = regex.compile(r"[\p{L}\p{N}]+")


def load_set(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def build_scorer(name: str) -> Any:
    """A Scorer by name: lexicon, auto (the configured model, falling back), none, or module:factory."""
    from monitor.config import ScoringSettings
    from monitor.scoring import UNSCORED
    from monitor.scoring import build_scorer as configured

    if name == "lexicon":
        return configured(ScoringSettings(backend="lexicon"))
    if name == "auto":
        return configured(ScoringSettings(backend="auto"))
    if name == "none":
        class Unscored:
            model_name = "none"

            def score(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Any]:
                return [UNSCORED for _ in texts]

        return Unscored()
    module, _, attribute = name.partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(module), attribute or "load")
    return factory()


def _norm(text: str) -> str:
    return text.casefold().strip(" .#")


def fact_hits(expected: dict[str, list[str]], facts: Any) -> tuple[int, int]:
    got = {
        "order_numbers": [n.upper() for n in facts.order_numbers], "amounts": [str(a) for a in facts.amounts],
        "dates": list(facts.dates), "products": list(facts.products), "tried": [str(a) for a in facts.tried],
    }
    total = hits = 0
    for key, values in expected.items():
        for value in values:
            total += 1
            if key in ("order_numbers", "amounts"):
                hits += value.upper() in got[key] or value in got[key]
            elif key == "tried":
                hits += value in got[key] or ("=" not in value and any(g.split("=")[0] == value for g in got[key]))
            else:
                hits += any(_norm(value) in _norm(g) or _norm(g) in _norm(value) for g in got[key] if _norm(g))
    return hits, total


def quoted_spans(text: str, quote: str) -> list[str]:
    return [quote] if quote else [m.group(1) for m in QUOTED.finditer(text)]


def prf(pairs: Sequence[tuple[bool, bool]]) -> tuple[float, float, float]:
    tp = sum(1 for gold, pred in pairs if gold and pred)
    fp = sum(1 for gold, pred in pairs if not gold and pred)
    fn = sum(1 for gold, pred in pairs if gold and not pred)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def measure(rows: list[dict[str, Any]], scorer: Any, *, legacy: bool) -> dict[str, Any]:
    import monitor
    from monitor.config import load_settings
    from responders.drafting import DraftRequest, draft_reply
    from responders.style import check_style
    from responders.understanding.profanity import profanities

    # The config.toml of the code being measured (a legacy checkout has no brands.facts).
    settings = load_settings(Path(monitor.__file__).resolve().parent.parent / "config.toml", env={})
    brand = settings.brands[0]
    sentiments = scorer.score([r["text"] for r in rows], [r["language"] for r in rows])
    out: dict[str, Any] = {"posts": len(rows), "scorer": sorted({s.model for s in sentiments}), "by_language": {}}
    per_language: dict[str, Counter[str]] = defaultdict(Counter)
    detection: list[tuple[bool, bool]] = []
    counts: Counter[str] = Counter()
    previous_sentences: set[str] = set()
    for index, (row, sentiment) in enumerate(zip(rows, sentiments, strict=True)):
        language = row["language"]
        base: dict[str, Any] = {
            "platform": row["platform"], "post_text": row["text"], "language": language,
            "author_handle": row["author"]["handle"], "author_name": row["author"]["name"], "brand_name": brand.name,
            "agent_name": "Maria", "agent_signature": "– Maria, Acme care",
        }
        stats = per_language[language]
        stats["posts"] += 1
        if legacy:
            draft = draft_reply(DraftRequest(**base))
            predicted_complaint = _legacy_complaint(row, sentiment, settings)
        else:
            from monitor.triage import triage
            from monitor.urgency import severity_hits
            from responders.drafting import EarlierContact, facts_for

            history = tuple(EarlierContact(text=h["text"], platform=h["platform"], days_ago=h["days_ago"],
                                           case_state=h["case_state"], category=h["category"])
                            for h in row.get("history", ()))
            draft = draft_reply(DraftRequest(**base, label=sentiment.label, score=sentiment.score, history=history,
                                             facts=facts_for(brand), seed=index))
            reading = draft.reading
            assert reading is not None
            stats["intent_ok"] += reading.intent == row["intent"]
            stats["category_ok"] += reading.category == row["category"]
            hits, total = fact_hits(row["facts"], reading.facts)
            stats["fact_hits"] += hits
            stats["facts"] += total
            decision = triage(intent=reading.intent, label=sentiment.label, score=sentiment.score,
                              cues=severity_hits(row["text"], language, settings.ranking.severity_words),
                              negative_threshold=settings.scoring.negative_threshold, category=reading.category)
            predicted_complaint = decision.complaint
            counts["cases"] += decision.opens_case
            counts["praise_lane"] += decision.lane == "praise"
            if row["intent"] == "complaint":
                counts["complaints"] += 1
                counts["complaints_reaching_a_person"] += decision.opens_case
            if row.get("history") and row["intent"] == "complaint":
                from responders.understanding import Post, understand

                earlier = understand(Post(" ".join(h["text"] for h in row["history"]), language)).facts.order_numbers
                if earlier:
                    counts["repeat_with_order"] += 1
                    uses = all(f"#{n}" in draft.text for n in earlier[:1]) and not draft.asks_private
                    counts["repeat_uses_order"] += uses
                counts["repeat"] += 1
                counts["repeat_high"] += draft.priority == "high"
        detection.append((row["intent"] == "complaint", predicted_complaint))
        issues = draft.style_issues
        stats["clean"] += not issues
        spans = quoted_spans(draft.text, draft.quote)
        stats["quotes_profanity"] += any(profanities(s, language) for s in spans)
        stats["draft_profanity"] += bool(profanities(draft.text, language))
        stats["quotes_fragment"] += any(len(WORD.findall(s)) <= 2 for s in spans)
        asks_dm = draft.asks_private if not legacy else bool(DM.search(draft.text))
        stats["dm"] += asks_dm
        if row["intent"] == "praise":
            stats["praise"] += 1
            apology = not [i for i in check_style(draft.text, language=draft.language, platform="reddit",
                                                  signatures=["– Maria, Acme care"]) if i.code == "no_apology"]
            stats["praise_apologised"] += apology
        body = draft.text.rsplit("\n", 1)[0]
        sentences = {s.strip() for s in regex.split(r"(?<=[.!?])\s+", body)[1:] if len(WORD.findall(s)) >= 4}
        stats["shares_sentence"] += bool(sentences & previous_sentences)
        previous_sentences = sentences
    total = Counter[str]()
    for language, stats in per_language.items():
        total.update(stats)
        out["by_language"][language] = dict(stats)
    out["total"] = dict(total)
    out["detection"] = prf(detection)
    out["counts"] = dict(counts)
    return out


def _legacy_complaint(row: dict[str, Any], sentiment: Any, settings: Any) -> bool:
    from responders.problem import classify_complaint  # type: ignore[import-not-found]

    from monitor.triage import is_complaint
    from monitor.urgency import severity_hits

    hits = severity_hits(row["text"], row["language"], settings.ranking.severity_words)
    category = classify_complaint(row["text"], row["language"])
    cues = [*hits, category] if category != "general" else hits
    return bool(is_complaint(label=sentiment.label, score=sentiment.score, cues=cues, negative_threshold=0.5))


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "n/a"


def report(result: dict[str, Any], *, legacy: bool) -> str:
    t, c = result["total"], result["counts"]
    precision, recall, f1 = result["detection"]
    lines = [f"posts: {result['posts']}  scorer: {', '.join(result['scorer'])}  drafter: "
             f"{'before issue 12 (legacy)' if legacy else 'this checkout'}", ""]
    lines.append("| metric | value |")
    lines.append("|---|---|")
    if not legacy:
        lines += [
            f"| intent accuracy | {_pct(t['intent_ok'], t['posts'])} |",
            f"| category accuracy | {_pct(t['category_ok'], t['posts'])} |",
            f"| fact recall | {_pct(t['fact_hits'], t['facts'])} |",
        ]
    lines += [
        f"| complaint detection (complaint vs not) | precision {precision:.2f}, recall {recall:.2f}, **F1 {f1:.2f}** |",
        f"| style-clean drafts | {_pct(t['clean'], t['posts'])} |",
        f"| drafts quoting profanity | {_pct(t['quotes_profanity'], t['posts'])} |",
        f"| drafts containing profanity at all | {_pct(t['draft_profanity'], t['posts'])} |",
        f"| drafts quoting a fragment of ≤ 2 words | {_pct(t['quotes_fragment'], t['posts'])} |",
        f"| apologies to praise | {_pct(t['praise_apologised'], t['praise'])} |",
        f"| drafts asking for a DM | {_pct(t['dm'], t['posts'])} |",
        f"| drafts sharing a sentence with the previous draft | {_pct(t['shares_sentence'], t['posts'] - 1)} |",
    ]
    if not legacy:
        lines += [
            f"| repeat complaints whose draft reuses the order number already given (and asks no DM) | "
            f"{_pct(c.get('repeat_uses_order', 0), c.get('repeat_with_order', 0))} |",
            f"| repeat complaints marked high priority | {_pct(c.get('repeat_high', 0), c.get('repeat', 0))} |",
            f"| complaints that open a case (reach a person) | "
            f"{_pct(c.get('complaints_reaching_a_person', 0), c.get('complaints', 0))} |",
            f"| cases opened / praise lane | {c.get('cases', 0)} / {c.get('praise_lane', 0)} |",
        ]
    lines += ["", "| language | posts | intent | category | facts | clean | DM |", "|---|---:|---:|---:|---:|---:|---:|"]
    for language, s in result["by_language"].items():
        def share(key: str, whole: str = "posts", s: dict[str, int] = s) -> str:
            return f"{100 * s.get(key, 0) / s[whole]:.0f}%" if s.get(whole) else "–"
        lines.append(f"| {language} | {s['posts']} | {share('intent_ok')} | {share('category_ok')} | "
                     f"{share('fact_hits', 'facts')} | {share('clean')} | {share('dm')} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default=str(REPO / "tests" / "data" / "care_set.jsonl"))
    parser.add_argument("--scorer", default="lexicon")
    parser.add_argument("--markdown", help="also write the report to this file")
    parser.add_argument("--legacy", action="store_true", help="measure a pre-issue-12 drafter on PYTHONPATH")
    args = parser.parse_args(argv)
    rows = load_set(Path(args.set))
    result = measure(rows, build_scorer(args.scorer), legacy=args.legacy)
    text = report(result, legacy=args.legacy)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
