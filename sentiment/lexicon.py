"""Loading of the lexicons and weights shipped in ``sentiment/lexicons/`` (read once, cached)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"


def _rows(name: str) -> Iterator[list[str]]:
    with (LEXICON_DIR / name).open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line.split("\t")


@cache
def italian_lexicon() -> dict[str, float]:
    """Lower-case term (word, phrase, emoji or emoticon) -> valence on VADER's -4..+4 scale."""
    return {term: float(value) for term, value in _rows("it_lexicon.tsv")}


@cache
def italian_weights() -> dict[str, tuple[float, float, float]]:
    """Feature -> (negative, neutral, positive) weights of the Italian logistic regression."""
    return {
        row[0]: (float(row[1]), float(row[2]), float(row[3])) for row in _rows("it_weights.tsv")
    }


@cache
def italian_lemmas() -> dict[str, str]:
    """Inflected form -> lemma (from simplemma's Italian dictionary), restricted to the forms the
    Italian model has a weight for."""
    return dict(_rows("it_lemmas.tsv"))
