"""``SentimentService``: detect the language, pick its analyzer, return a ``Sentiment``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .label import Label
from .language import SCORED_LANGUAGES, LanguageDetector


@dataclass(frozen=True, slots=True)
class Sentiment:
    compound: float  # in [-1, 1]
    label: Label
    language: str  # "en" | "it"


class Analyzer(Protocol):
    def polarity(self, text: str) -> tuple[float, Label]: ...


def _make_analyzer(language: str) -> Analyzer:
    if language == "en":
        from .english import EnglishAnalyzer

        return EnglishAnalyzer()
    if language == "it":
        from .italian import ItalianAnalyzer

        return ItalianAnalyzer()
    raise ValueError(f"no sentiment analyzer for language {language!r}; have {SCORED_LANGUAGES}")


_ANALYZERS: dict[str, Analyzer] = {}


def analyzer_for(language: str) -> Analyzer:
    """The analyzer of ``language``, built on first use and shared by all services."""
    analyzer = _ANALYZERS.get(language)
    if analyzer is None:
        analyzer = _ANALYZERS[language] = _make_analyzer(language)
    return analyzer


class SentimentService:
    """Scores inbound messages and mentions: ``score(text) -> Sentiment | None``."""

    languages = SCORED_LANGUAGES

    def __init__(self, default_language: str = "it") -> None:
        self.default_language = default_language
        self._detector = LanguageDetector(default_language, SCORED_LANGUAGES)

    def preload(self) -> None:
        """Load the language model and every lexicon now (they load lazily otherwise)."""
        self._detector.detect("buongiorno a tutti, come state oggi")
        for language in SCORED_LANGUAGES:
            analyzer_for(language)

    def detect_language(self, text: str) -> str:
        """ "en" or "it"; the default language for short, unsure or other-language text."""
        return self._detector.detect(text)

    def score(self, text: str, language: str | None = None) -> Sentiment | None:
        """Sentiment of ``text`` (None if it is empty or whitespace only). ``language`` forces
        the analyzer and skips detection."""
        if not text or text.isspace():
            return None
        if language is None:
            language = self._detector.detect(text)
        elif language not in SCORED_LANGUAGES:
            raise ValueError(f"language must be one of {SCORED_LANGUAGES}, not {language!r}")
        compound, label = analyzer_for(language).polarity(text)
        return Sentiment(compound=compound, label=label, language=language)
