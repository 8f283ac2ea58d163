"""X's weighted length of a post, and threads cut by it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.connectors.x_length import MAX_TWEET, thread_chunks, weighted_length

# Expected lengths from twitter-text's conformance suite (conformance/validate.yml) and the
# examples of its documentation, the counts X's own composer makes.
CONFORMANCE = [
    ("This is a test.", 15),
    ("http://test.com", 23),
    ("https://test.com", 23),
    ("test.com", 23),
    ("Test https://test.com test https://test.com test.com test", 86),
    ("Hi http://test.co", 26),
    ("english text 日本語 😷 https://example.com", 46),
    ("の" * 140, 280),
    ("\U0001f431" * 140, 280),
    (
        "A lie gets halfway around the world before the truth has a chance to get its pants "
        "on. Winston Churchill (1874-1965) http://bit.ly/dJpywL",
        140,
    ),
]


@pytest.mark.parametrize(("text", "expected"), CONFORMANCE)
def test_counts_as_twitter_text_does(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("perché così? “Grazie” — a presto…", 34),  # accents, quotes, dash 1; the ellipsis 2
        ("👍🏽 ❤️ 🇮🇹 1️⃣", 11),  # a skin tone, a heart, a flag, a keycap: 2 each
        ("🇹🇮", 4),  # two regional letters that are no country: two symbols
        ("#⃣", 3),  # a keycap not in its standard form: part by part, never short
        ("👨\u200d👩\u200d👧", 8),  # a family: counted part by part, never short
        ("ordine 4411 su shop.it/ordini/4411?x=1", 38),  # a bare domain and path: 23
        ("vedi (https://sportello.it/faq).", 31),  # the link ends before ")."
        ("scrivi a info@sportello.it", 26),  # an address is no link
        ("http://url_removed", 18),  # a scheme with no domain is no link
        ("caf\u0065\u0301", 4),  # counted after NFC: é is one code point
    ],
)
def test_emoji_links_and_accents(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_a_short_text_is_one_post_and_a_long_one_a_numbered_thread() -> None:
    assert thread_chunks("short") == ["short"]
    chunks = thread_chunks("x" * 700)
    assert len(chunks) == 3 and all(weighted_length(c) <= MAX_TWEET for c in chunks)
    assert chunks[0].endswith(" 1/3") and chunks[2].endswith(" 3/3")


def test_threads_are_cut_by_weight_not_by_characters() -> None:
    japanese = "ご注文は明日お届けします。" * 15  # 195 characters weighing 390
    chunks = thread_chunks(japanese)
    assert len(chunks) == 2
    assert all(weighted_length(c) <= MAX_TWEET for c in chunks)
    assert "".join(c.rsplit(" ", 1)[0] for c in chunks) == japanese

    link = "https://sportello.it/ordini/4411/spedizione?traccia=" + "a" * 60
    with_links = f"Ecco i tuoi ordini: {link} {link} {link}"  # 358 characters weighing 91
    assert thread_chunks(with_links) == [with_links]


@given(
    st.lists(
        st.sampled_from(
            ["ciao", "grazie", "の", "日本語", "👍🏽", "❤️", "🇮🇹", "https://x.it/a", "—"]
        ),
        min_size=1,
        max_size=250,
    )
)
def test_every_part_fits_and_the_words_survive(words: list[str]) -> None:
    text = " ".join(words)
    chunks = thread_chunks(text)
    assert all(weighted_length(c) <= MAX_TWEET for c in chunks)
    if len(chunks) > 1:
        assert [c.rsplit(" ", 1)[1] for c in chunks] == [
            f"{n}/{len(chunks)}" for n in range(1, len(chunks) + 1)
        ]
        chunks = [c.rsplit(" ", 1)[0] for c in chunks]
    assert " ".join(chunks).split() == text.split()
