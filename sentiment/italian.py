"""Offline Italian sentiment: VADER-style rules over an Italian lexicon, calibrated by a small
logistic regression fitted on Italian tweets (see docs/sentiment.md).

Two stages, both pure Python and dict lookups only:

1. ``rules(text)``: VADER's heuristics in Italian (negation with Italian negative concord,
   boosters/dampeners, "poco" as a weak negator, contrast "ma"/"però", capitals, "!"/"?",
   emoji and emoticons, elongated words, multi-word phrases such as "mai più").
   It gives a VADER-style compound plus positive and negative sums.
2. A 3-class logistic regression over those rule scores and a few hundred word weights
   (words inside a negation scope become ``NOT_word``) turns them into class probabilities;
   the compound is ``P(positive) - P(negative)``, the label follows from tuned thresholds.
"""

from __future__ import annotations

import math
import re

from .label import Label
from .lexicon import italian_lemmas, italian_lexicon, italian_weights

# VADER's constants (Hutto & Gilbert 2014, vaderSentiment 3.3.2).
B_INCR = 0.293
C_INCR = 0.733
N_SCALAR = -0.74
NORM_ALPHA = 15.0


def _words(text: str) -> list[str]:
    return text.split()


NEGATORS = frozenset(
    _words(
        "non nn n mai nessuno nessuna nessun niente nulla né ne' senza nemmeno neanche neppure "
        "mica manco affatto"
    )
)
BOOSTERS = {
    w: B_INCR
    for w in _words(
        "molto troppo davvero super veramente proprio tanto tantissimo così cosi assolutamente "
        "estremamente particolarmente incredibilmente totalmente completamente decisamente "
        "parecchio enormemente terribilmente straordinariamente sempre più piu ultra iper "
        "ancora mega stra"
    )
}
BOOSTERS.update(
    {w: -B_INCR for w in _words("abbastanza piuttosto leggermente quasi po' po relativamente")}
)
WEAK_NEGATORS = frozenset(("poco", "scarsamente"))
CONTRAST = frozenset(("ma", "però", "pero", "tuttavia", "eppure", "invece", "comunque"))

_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2764\u2665"
TOKEN_RE = re.compile(
    r"https?://\S+|www\.\S+|@\w+"  # links and mentions: dropped
    r"|[:;=8][-'^]?[)(\]\[dDpP/\\|*3]+|<3|\*_\*|\^_?\^|\b[xX][dD]+\b"  # emoticons
    r"|[^\W\d_]+(?:')?"  # words (apostrophe kept only for po')
    r"|!|\?"
    rf"|[{_EMOJI}]"
)
_ELONGATED = re.compile(r"(.)\1{2,}")
_DROP_PREFIXES = ("http", "www.", "@")  # become <url> / <user>
_CLAUSE_END = frozenset("!?")


def _lookup(lex: dict[str, float], low: str) -> float | None:
    v = lex.get(low)
    if v is None and len(low) > 3 and _ELONGATED.search(low):
        v = lex.get(_ELONGATED.sub(r"\1", low))
        if v is None:
            v = lex.get(_ELONGATED.sub(r"\1\1", low))
    return v


def tokenize(text: str) -> list[str]:
    toks = TOKEN_RE.findall(text)
    out = []
    for t in toks:
        if t.startswith(_DROP_PREFIXES):
            out.append("<user>" if t[0] == "@" else "<url>")
            continue
        if t.endswith("'") and t.lower() != "po'":
            t = t[:-1]
        out.append(t)
    return out


def rules(
    text: str, lex: dict[str, float] | None = None, lemmas: dict[str, str] | None = None
) -> tuple[float, float, float, list[str]]:
    """VADER-style scoring. Returns (compound, pos_sum, neg_sum, bag) where ``bag`` is the list
    of lower-case lemma/emoji features, ``NOT_``-prefixed inside a negation scope."""
    if lex is None:
        lex = italian_lexicon()
    if lemmas is None:
        lemmas = italian_lemmas()
    toks = tokenize(text)
    lows = [t.lower() for t in toks]
    n = len(toks)
    words = [t for t in toks if t[0].isalpha()]
    shouting = any(w.isupper() and len(w) > 1 for w in words) and not all(
        w.isupper() for w in words if len(w) > 1
    )
    sentiments: list[float] = []
    bag: list[str] = []
    excl = quest = 0
    contrast_at = -1
    neg_left = 0  # tokens left in the current negation scope (for the bag)
    i = 0
    while i < n:
        low = lows[i]
        if low == "!":
            if not excl:
                bag.append("!")
            excl += 1
            neg_left = 0
            i += 1
            continue
        if low == "?":
            if not quest:
                bag.append("?")
            quest += 1
            neg_left = 0
            i += 1
            continue
        # phrases (two tokens, e.g. "mai più", "non funziona"): never negated
        if i + 1 < n:
            v = lex.get(low + " " + lows[i + 1])
            if v is not None:
                sentiments.append(v)
                bag.append(low + " " + lows[i + 1])
                neg_left = 0
                i += 2
                continue
        if low in NEGATORS:
            neg_left = 3
            bag.append(low)
            i += 1
            continue
        if contrast_at < 0 and low in CONTRAST:
            contrast_at = len(sentiments)
        lemma = lemmas.get(low, low)
        bag.append("NOT_" + lemma if neg_left else lemma)
        if neg_left:
            neg_left -= 1
        v = _lookup(lex, low)
        if v is None or (low in BOOSTERS and i + 1 < n and lows[i + 1] in lex):
            i += 1
            continue
        tok = toks[i]
        if shouting and tok.isupper() and len(tok) > 1:
            v += C_INCR if v > 0 else -C_INCR
        negated = False
        for dist in (1, 2, 3):
            j = i - dist
            if j < 0:
                break
            prev = lows[j]
            if prev in _CLAUSE_END:
                break
            b = BOOSTERS.get(prev)
            if b is not None:
                scalar = b if v > 0 else -b
                if toks[j].isupper() and shouting:
                    scalar += C_INCR if v > 0 else -C_INCR
                v += scalar * (1.0, 0.95, 0.9)[dist - 1]
            elif prev in NEGATORS:
                negated = True
            elif dist <= 2 and prev in WEAK_NEGATORS:
                v *= -0.5 if v > 0 else 0.5
        if negated:
            v *= N_SCALAR
        sentiments.append(v)
        i += 1
    if contrast_at >= 0:
        for k in range(len(sentiments)):
            sentiments[k] *= 0.5 if k < contrast_at else 1.5
    total = sum(sentiments)
    if total:
        emph = min(excl, 4) * 0.292
        if quest > 1:
            emph += 0.96 if quest > 3 else quest * 0.18
        total += emph if total > 0 else -emph
        compound = total / math.sqrt(total * total + NORM_ALPHA)
        compound = max(-1.0, min(1.0, compound))
    else:
        compound = 0.0
    pos = sum(s + 1 for s in sentiments if s > 0)
    neg = sum(s - 1 for s in sentiments if s < 0)
    return compound, pos, neg, bag


def dense_features(compound: float, pos: float, neg: float) -> dict[str, float]:
    """The few real-valued features of the calibration model."""
    return {
        "_bias": 1.0,
        "_compound": compound,
        "_pos": pos / (pos + 4.0),
        "_neg": neg / (4.0 - neg),
    }


class ItalianAnalyzer:
    """Italian sentiment: ``polarity(text) -> (compound, label)``.

    The label is the most probable class when the weights file says so (middle column of its
    ``_thresholds`` row = 1), else it follows the tuned cut-offs on the compound."""

    def __init__(self) -> None:
        self._lex = italian_lexicon()
        self._lemmas = italian_lemmas()
        weights = dict(italian_weights())
        meta = weights.pop("_thresholds")
        self._neg_threshold, self._argmax, self._pos_threshold = meta[0], meta[1] == 1, meta[2]
        self._dense = {k: weights.pop(k) for k in list(weights) if k.startswith("_")}
        self._words = weights

    def probabilities(self, text: str) -> tuple[float, float, float]:
        compound, pos, neg, bag = rules(text, self._lex, self._lemmas)
        s0 = s1 = s2 = 0.0
        for name, x in dense_features(compound, pos, neg).items():
            w = self._dense.get(name)
            if w is not None:
                s0 += w[0] * x
                s1 += w[1] * x
                s2 += w[2] * x
        words = self._words
        for f in set(bag):
            w = words.get(f)
            if w is not None:
                s0 += w[0]
                s1 += w[1]
                s2 += w[2]
        m = max(s0, s1, s2)
        e0, e1, e2 = math.exp(s0 - m), math.exp(s1 - m), math.exp(s2 - m)
        z = e0 + e1 + e2
        return e0 / z, e1 / z, e2 / z

    def polarity(self, text: str) -> tuple[float, Label]:
        p_neg, p_neu, p_pos = self.probabilities(text)
        compound = p_pos - p_neg
        if self._argmax:
            if p_neu >= p_pos and p_neu >= p_neg:
                return compound, "neutral"
            return compound, "positive" if p_pos > p_neg else "negative"
        if compound >= self._pos_threshold:
            return compound, "positive"
        if compound <= self._neg_threshold:
            return compound, "negative"
        return compound, "neutral"
