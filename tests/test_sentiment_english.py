import math

import pytest
from sentiment_data import vader_tweets
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sportello.sentiment import Sentiment, SentimentService

SAMPLES = [
    "I love this product, great service!",
    "This is the worst support ever.",
    "The package arrived today.",
    "Not bad at all :)",
    "The staff was VERY rude!!!",
    "It was good but the delivery was slow",
    "meh",
    "Thanks a lot 😍",
]


@pytest.fixture(scope="module")
def svc() -> SentimentService:
    return SentimentService(default_language="en")


@pytest.fixture(scope="module")
def sia() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def _score(svc: SentimentService, text: str) -> Sentiment:
    s = svc.score(text, language="en")
    assert s is not None
    return s


def _label(c: float) -> str:
    return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"


@pytest.mark.parametrize("text", SAMPLES)
def test_equals_vader_on_samples(
    svc: SentimentService, sia: SentimentIntensityAnalyzer, text: str
) -> None:
    s = svc.score(text, language="en")
    assert s is not None
    assert s.compound == sia.polarity_scores(text)["compound"]
    assert s.label == _label(s.compound)
    assert s.language == "en"


def test_equals_vader_on_groundtruth_tweets(
    svc: SentimentService, sia: SentimentIntensityAnalyzer
) -> None:
    rows = vader_tweets()
    assert len(rows) == 4200
    for _, text in rows:
        s = svc.score(text, language="en")
        expected = sia.polarity_scores(text)["compound"]
        assert s is not None and s.compound == expected, text
        assert s.label == _label(expected)


def test_pearson_r_on_tweets_groundtruth(svc: SentimentService) -> None:
    rows = vader_tweets()
    xs = [_score(svc, t).compound for _, t in rows]
    ys = [r for r, _ in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    r = cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    assert r >= 0.87, r  # vaderSentiment 3.3.2: 0.872 (paper: 0.881)
