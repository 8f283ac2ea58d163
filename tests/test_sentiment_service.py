import dataclasses

import pytest

from sportello.sentiment import Sentiment, SentimentService


@pytest.fixture(scope="module")
def svc() -> SentimentService:
    return SentimentService(default_language="it")


def test_sentiment_is_a_frozen_dataclass_with_three_fields() -> None:
    s = Sentiment(compound=0.5, label="positive", language="it")
    assert [f.name for f in dataclasses.fields(Sentiment)] == ["compound", "label", "language"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.compound = 0.1  # type: ignore[misc]


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_scores_none(svc: SentimentService, text: str) -> None:
    assert svc.score(text) is None


def test_score_detects_language(svc: SentimentService) -> None:
    it = svc.score("Servizio pessimo, non comprerò mai più da questo negozio!")
    en = svc.score("Terrible service, I will never buy from this shop again!")
    assert it is not None and en is not None
    assert (it.language, it.label) == ("it", "negative")
    assert (en.language, en.label) == ("en", "negative")
    assert -1 <= it.compound <= 1 and -1 <= en.compound <= 1


def test_forced_language_skips_detection(svc: SentimentService) -> None:
    s = svc.score("Terrible service, I will never buy from this shop again!", language="it")
    assert s is not None
    assert s.language == "it"
    with pytest.raises(ValueError):
        svc.score("bonjour", language="fr")


@pytest.mark.parametrize(
    "text",
    [
        "La consegna è arrivata in ritardo e nessuno risponde alle email",
        "Buongiorno, vorrei sapere quando arriva il mio ordine",
        "Il personale del negozio è stato gentilissimo, grazie di tutto",
        "@user ciao, il link per il rimborso non funziona http://t.co/x",
    ],
)
def test_detects_italian(text: str) -> None:
    assert SentimentService(default_language="en").detect_language(text) == "it"


@pytest.mark.parametrize(
    "text",
    [
        "The delivery arrived late and nobody answers my emails",
        "Hello, I would like to know when my order will arrive",
        "The staff at the store were really kind, thanks for everything",
    ],
)
def test_detects_english(text: str) -> None:
    assert SentimentService(default_language="it").detect_language(text) == "en"


@pytest.mark.parametrize("text", ["ok", "grazie", "thanks", "👍", "lol", "?!"])
def test_short_text_falls_back_to_default(text: str) -> None:
    assert SentimentService(default_language="it").detect_language(text) == "it"
    assert SentimentService(default_language="en").detect_language(text) == "en"


def test_other_languages_fall_back_to_default() -> None:
    text = "Bonjour, je voudrais savoir quand ma commande arrivera chez moi"
    assert SentimentService(default_language="it").detect_language(text) == "it"
    assert SentimentService(default_language="en").detect_language(text) == "en"


def test_unsupported_default_language() -> None:
    with pytest.raises(ValueError):
        SentimentService(default_language="fr")


def test_preload_loads_every_analyzer() -> None:
    from sportello.sentiment import service

    service._ANALYZERS.clear()
    SentimentService().preload()
    assert set(service._ANALYZERS) == set(SentimentService.languages)
