"""Sentiment throughput: texts/s through ``SentimentService`` for English and Italian, next to
vaderSentiment's own ``SentimentIntensityAnalyzer`` on the same texts in the same run.

Run from the repository root: ``python bench/bench_sentiment.py``. Uses ``../shared/data`` texts
when present (or ``$SPORTELLO_SHARED_DATA``), else a built-in sample. Prints a table and writes
``bench/results/sentiment.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, "") and "sportello" not in sys.modules:
    try:
        import sportello  # noqa: F401
    except ImportError:  # running from a checkout: the repo root is the package
        sys.path.insert(0, str(REPO.parent))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from sportello.sentiment import SentimentService  # noqa: E402

DATA = Path(os.environ.get("SPORTELLO_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = {
    "en": [
        "I love this product, great service!",
        "This is the worst support ever, nobody answers.",
        "The package arrived today.",
        "Not bad at all :) thanks",
        "The staff was VERY rude!!! Never again.",
        "It was good but the delivery was slow",
        "When will my order arrive?",
        "Refund please, the app keeps crashing 😡",
    ],
    "it": [
        "Servizio pessimo, mai più!",
        "Grazie mille, consigliatissimo 😍",
        "Quando arriva il mio ordine?",
        "Il prodotto è bello ma la consegna è lentissima",
        "Non funziona niente, è una truffa",
        "Il personale è stato davvero gentile :)",
        "Buongiorno, vorrei informazioni sul rimborso",
        "Tutto ok, pacco arrivato in tempo. Bravi!",
    ],
}


def load_texts(lang: str) -> tuple[list[str], str]:
    if lang == "en":
        path = DATA / "vader_groundtruth" / "tweets_GroundTruth.txt"
        if path.is_file():
            lines = path.read_text(encoding="utf-8").split("\n")
            return [ln.rstrip("\r").split("\t", 2)[2] for ln in lines if ln.strip()], str(path)
    else:
        paths = [DATA / "it_sentiment_xlmt" / f"{s}_text.txt" for s in ("train", "val")]
        if all(p.is_file() for p in paths):
            texts = [t for p in paths for t in p.read_text(encoding="utf-8").split("\n")]
            return texts, str(paths[0].parent)
    return SAMPLE[lang] * 250, "built-in sample"


def rate(fn: Callable[[str], object], texts: list[str], min_seconds: float = 1.0) -> float:
    for t in texts[:50]:  # warm-up (lazy loading)
        fn(t)
    n, start = 0, time.perf_counter()
    while True:
        for t in texts:
            fn(t)
        n += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    seconds = 0.05 if args.quick else 1.0
    sia = SentimentIntensityAnalyzer()
    results: dict[str, dict[str, Any]] = {}
    for lang in ("en", "it"):
        svc = SentimentService(default_language=lang)
        texts, source = load_texts(lang)
        texts = texts[:200] if args.quick else texts
        results[lang] = {
            "texts": len(texts),
            "source": source,
            "service_detect": rate(svc.score, texts, seconds),
            "service_forced": rate(partial(svc.score, language=lang), texts, seconds),
            "vader": rate(sia.polarity_scores, texts, seconds),
        }
        r = results[lang]
        r["ratio_detect_vs_vader"] = r["service_detect"] / r["vader"]
        r["ratio_forced_vs_vader"] = r["service_forced"] / r["vader"]

    print(
        f"{'lang':4} {'texts':>6} {'service':>10} {'forced':>10} {'VADER':>10} "
        f"{'svc/VADER':>9} {'forced/VADER':>12}"
    )
    for lang, r in results.items():
        print(
            f"{lang:4} {r['texts']:>6} {r['service_detect']:>10,.0f} {r['service_forced']:>10,.0f}"
            f" {r['vader']:>10,.0f} {r['ratio_detect_vs_vader']:>9.2f}"
            f" {r['ratio_forced_vs_vader']:>12.2f}"
        )
    print("texts/s on one core; 'service' includes language detection, 'forced' passes language=")
    out = REPO / ("var/bench/quick" if args.quick else "bench/results") / "sentiment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "unit": "texts per second",
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
