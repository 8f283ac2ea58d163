"""English sentiment: vaderSentiment's ``SentimentIntensityAnalyzer``, unchanged."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from .label import Label

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05


@cache
def _vader() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def label_for(compound: float) -> Label:
    """VADER's standard cut-offs: >= 0.05 positive, <= -0.05 negative."""
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


class EnglishAnalyzer:
    """``polarity(text) -> (compound, label)`` with exactly VADER's compound score."""

    def __init__(self) -> None:
        self._sia = _vader()

    def polarity(self, text: str) -> tuple[float, Label]:
        compound = self._sia.polarity_scores(text)["compound"]
        return compound, label_for(compound)
