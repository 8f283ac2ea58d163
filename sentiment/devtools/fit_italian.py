"""Fit the Italian calibration model (dev-time only; needs numpy) and write
``sentiment/lexicons/it_weights.tsv``.

Data: ``../shared/data/it_sentiment_xlmt`` (UMSAB / SENTIPOLC 2016 Italian tweets). Only the
train split is used for fitting and for choosing hyper-parameters (5-fold cross-validation);
the validation split is scored once at the end and reported.

Usage (from the repository root)::

    PYTHONPATH=.. python sentiment/devtools/fit_italian.py [--data ../shared/data/it_sentiment_xlmt]
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from pathlib import Path

import numpy as np

from sportello.sentiment.italian import dense_features, rules
from sportello.sentiment.lexicon import LEXICON_DIR, italian_lexicon


def simplemma_table() -> dict[str, str]:
    """Lower-case form -> lower-case lemma from simplemma's Italian dictionary."""
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    out: dict[str, str] = {}
    for form, lemma in DefaultDictionaryFactory().get_dictionary("it").items():
        form = (form.decode() if isinstance(form, bytes) else form).lower()
        lemma = (lemma.decode() if isinstance(lemma, bytes) else lemma).lower()
        if form.isalpha() and form != lemma:
            out.setdefault(form, lemma)
    return out


LEMMAS = simplemma_table()

DENSE = ["_bias", "_compound", "_pos", "_neg"]


def read_split(data: Path, split: str) -> tuple[list[str], list[int]]:
    texts = (data / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    lines = (data / f"{split}_labels.txt").read_text(encoding="utf-8").split("\n")
    texts = [t for t in texts if t != ""] if len(texts) != len(lines) else texts
    labels = [int(x) for x in lines if x.strip() != ""]
    assert len(texts) == len(labels), (len(texts), len(labels))
    return texts, labels


def macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    f1s = []
    for c in range(3):
        tp = np.sum((p == c) & (y == c))
        fp = np.sum((p == c) & (y != c))
        fn = np.sum((p != c) & (y == c))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


def featurize(texts: list[str]) -> tuple[np.ndarray, list[set[str]]]:
    lex = italian_lexicon()
    dense, bags = [], []
    for t in texts:
        c, pos, neg, bag = rules(t, lex, LEMMAS)
        d = dense_features(c, pos, neg)
        dense.append([d[k] for k in DENSE])
        bags.append(set(bag))
    return np.array(dense), bags


def matrix(
    dense: np.ndarray, bags: list[set[str]], vocab: dict[str, int], dense_scale: float
) -> np.ndarray:
    x = np.zeros((len(bags), len(DENSE) + len(vocab)))
    x[:, : len(DENSE)] = dense * dense_scale
    x[:, 0] = 1.0
    for i, bag in enumerate(bags):
        for f in bag:
            j = vocab.get(f)
            if j is not None:
                x[i, len(DENSE) + j] = 1.0
    return x


def fit(
    x: np.ndarray, y: np.ndarray, l2_words: float, l2_dense: float, iters: int = 600
) -> np.ndarray:
    n, d = x.shape
    w = np.zeros((d, 3))
    yo = np.eye(3)[y]
    reg = np.full((d, 1), l2_words)
    reg[: len(DENSE)] = l2_dense
    reg[0] = 0.0
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    lr, b1, b2 = 0.05, 0.9, 0.999
    for t in range(1, iters + 1):
        s = x @ w
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        g = x.T @ (p - yo) / n + reg * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-8)
    return w


def predict_proba(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    s = x @ w
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    return p / p.sum(axis=1, keepdims=True)


def labels_from(comp: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.where(comp >= hi, 2, np.where(comp <= lo, 0, 1))


def best_thresholds(comp: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    grid = np.round(np.arange(-0.6, 0.61, 0.02), 2)
    best = (-1.0, 0.0, 0.0)
    for lo, hi in itertools.product(grid, grid):
        if lo >= hi:
            continue
        f = macro_f1(y, labels_from(comp, lo, hi))
        if f > best[0]:
            best = (f, float(lo), float(hi))
    return best


def build_vocab(bags: list[set[str]], min_df: int) -> dict[str, int]:
    df = Counter(f for bag in bags for f in bag)
    words = sorted(f for f, c in df.items() if c >= min_df)
    return {f: i for i, f in enumerate(words)}


def cv_score(
    dense: np.ndarray,
    bags: list[set[str]],
    y: np.ndarray,
    params: tuple[int, float, float, float],
    folds: int = 5,
) -> tuple[tuple[float, float, float], float]:
    min_df, l2w, l2d, scale = params
    idx = np.arange(len(y))
    rng = np.random.default_rng(0)
    rng.shuffle(idx)
    comp = np.zeros(len(y))
    argmax = np.zeros(len(y), dtype=int)
    for k in range(folds):
        te = idx[k::folds]
        tr = np.setdiff1d(idx, te)
        vocab = build_vocab([bags[i] for i in tr], min_df)
        w = fit(matrix(dense[tr], [bags[i] for i in tr], vocab, scale), y[tr], l2w, l2d)
        p = predict_proba(matrix(dense[te], [bags[i] for i in te], vocab, scale), w)
        comp[te] = p[:, 2] - p[:, 0]
        argmax[te] = p.argmax(1)
    return best_thresholds(comp, y), macro_f1(y, argmax)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/it_sentiment_xlmt")
    ap.add_argument("--quick", action="store_true", help="skip the hyper-parameter search")
    args = ap.parse_args()
    data = Path(args.data)
    tr_texts, tr_y = read_split(data, "train")
    va_texts, va_y = read_split(data, "val")
    ytr, yva = np.array(tr_y), np.array(va_y)
    dtr, btr = featurize(tr_texts)
    dva, bva = featurize(va_texts)

    # rules alone, thresholds chosen on train
    f_rules, lo_r, hi_r = best_thresholds(dtr[:, 1], ytr)
    pred = labels_from(dva[:, 1], lo_r, hi_r)
    print(
        f"rules only: train macro-F1 {f_rules:.3f} (thr {lo_r}, {hi_r}); "
        f"val macro-F1 {macro_f1(yva, pred):.3f} acc {np.mean(pred == yva):.3f}"
    )

    grid = [(2, 0.003, 0.001, 1.0)]
    if not args.quick:
        grid = list(itertools.product([2, 3], [0.001, 0.003, 0.01], [0.001], [1.0]))
    results = []
    for params in grid:
        (f, lo, hi), f_arg = cv_score(dtr, btr, ytr, params)
        results.append((max(f, f_arg), params, lo, hi, f_arg > f))
        print(f"cv {params}: macro-F1 thr {f:.3f} ({lo}, {hi}) argmax {f_arg:.3f}", flush=True)
    f, params, lo, hi, use_argmax = max(results, key=lambda r: r[0])
    mode = "argmax" if use_argmax else f"thresholds ({lo}, {hi})"
    print(f"chosen {params} cv macro-F1 {f:.3f} labels by {mode}")

    min_df, l2w, l2d, scale = params
    vocab = build_vocab(btr, min_df)
    w = fit(matrix(dtr, btr, vocab, scale), ytr, l2w, l2d)
    p = predict_proba(matrix(dva, bva, vocab, scale), w)
    comp = p[:, 2] - p[:, 0]
    pred = p.argmax(1) if use_argmax else labels_from(comp, lo, hi)
    print(
        f"val: macro-F1 {macro_f1(yva, pred):.3f} acc {np.mean(pred == yva):.3f} "
        f"(argmax {macro_f1(yva, p.argmax(1)):.3f}, "
        f"thresholds {macro_f1(yva, labels_from(comp, lo, hi)):.3f})"
    )

    out = LEXICON_DIR / "it_weights.tsv"
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(
            "# Italian calibration model for sportello: 3-class logistic regression "
            "(negative, neutral, positive).\n"
            "# Fitted by sentiment/devtools/fit_italian.py on the Italian train split of UMSAB\n"
            "# (cardiffnlp/xlm-t; SENTIPOLC 2016, Barbieri et al.). Weights are our own "
            "numbers (MIT).\n"
            f"# params min_df={min_df} l2_words={l2w} l2_dense={l2d} dense_scale={scale}; "
            f"cv macro-F1 {f:.3f}\n"
            "# _thresholds: label cut-offs on P(pos)-P(neg) (negative <= col1, positive >= col3);\n"
            "# col2 = 1 means the label is the most probable class instead.\n"
        )
        fh.write(f"_thresholds\t{lo:.2f}\t{int(use_argmax)}\t{hi:.2f}\n")
        for k, name in enumerate(DENSE):
            row = w[k] * scale if k else w[k]
            fh.write(f"{name}\t{row[0]:.4f}\t{row[1]:.4f}\t{row[2]:.4f}\n")
        kept = 0
        for f_, j in sorted(vocab.items()):
            row = w[len(DENSE) + j]
            row = row - row.mean()
            if np.abs(row).max() >= 0.02:
                fh.write(f"{f_}\t{row[0]:.4f}\t{row[1]:.4f}\t{row[2]:.4f}\n")
                kept += 1
    print(f"wrote {out} ({kept} word features)")
    write_lemmas(vocab)


def write_lemmas(vocab: dict[str, int]) -> None:
    """Ship the part of simplemma's table the model needs: forms mapping to a modelled lemma."""
    lemmas = {f[4:] if f.startswith("NOT_") else f for f in vocab}
    rows = sorted((f, lem) for f, lem in LEMMAS.items() if lem in lemmas or f in lemmas)
    out = LEXICON_DIR / "it_lemmas.tsv"
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(
            "# Italian form -> lemma, from simplemma's Italian dictionary (simplemma, MIT,\n"
            "# Adrien Barbaresi), restricted to lemmas used by it_weights.tsv.\n"
        )
        for f, lem in rows:
            fh.write(f"{f}\t{lem}\n")
    print(f"wrote {out} ({len(rows)} forms)")


if __name__ == "__main__":
    main()
