"""Where the evaluation data of the sentiment tests lives: ``../shared/data`` beside the repository
(CI), or ``$SPORTELLO_SHARED_DATA``. Tests needing it skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SPORTELLO_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def data_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"evaluation data not found: {path} (set SPORTELLO_SHARED_DATA)")
    return path


def vader_tweets() -> list[tuple[float, str]]:
    path = data_file("vader_groundtruth", "tweets_GroundTruth.txt")
    rows = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        line = line.rstrip("\r\n")
        if line:
            _, rating, text = line.split("\t", 2)
            rows.append((float(rating), text))
    return rows


def italian_split(split: str) -> tuple[list[str], list[int]]:
    texts = data_file("it_sentiment_xlmt", f"{split}_text.txt").read_text(encoding="utf-8")
    labels = data_file("it_sentiment_xlmt", f"{split}_labels.txt").read_text(encoding="utf-8")
    t = texts.split("\n")
    y = [int(x) for x in labels.split("\n") if x.strip()]
    assert len(t) == len(y)
    return t, y
