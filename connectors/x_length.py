"""A post's length as X counts it, and threads of posts that fit.

X does not count characters but a weighted length (twitter-text's configuration v3, the
rules behind X's own composer): after NFC normalization, a code point in Latin, Greek,
Cyrillic, Hebrew, Arabic, Indic and the general punctuation ranges weighs 1, any other (Chinese,
Japanese, Korean, most symbols) weighs 2, an emoji weighs 2 however many code points make it
(a skin tone, a flag, a keycap), and a link weighs 23, the length of X's t.co link, however
long it is. A post holds 280.

The Python port of twitter-text needs ``pkg_resources``, which current setuptools no longer
ships, so the rules are applied here, with the ``emoji`` package's list of emoji. Where X's
count depends on its own lists, this one errs on the long side, so that a post counted here to
fit fits on X too: links are found more loosely than X finds them (a bare domain-like word such
as ``shop.example`` weighs 23 or its own length, whichever is more), and an emoji joined from
others (a ZWJ sequence such as a family) or not in its standard form (``#⃣`` for ``#️⃣``) is
counted part by part. One case still counts short: X counts a link with a scheme but a domain
it does not know (``https://shop.notatld/...``) by its characters, this module at 23.
"""

from __future__ import annotations

import re
import unicodedata

import emoji

MAX_TWEET = 280
LINK_WEIGHT = 23
EMOJI_WEIGHT = 2

# Code points that weigh 1; everything else weighs 2 (twitter-text's configuration v3).
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_ZWJ = "\u200d"
_FULLY_QUALIFIED = emoji.STATUS["fully_qualified"]

_TRAILING = ".,:;!?'\"]}>"
_SCHEME_LINK = re.compile(r"(?<![A-Za-z0-9_@#$/.])https?://[^\s<>\"]+", re.IGNORECASE)
_SCHEME_WITH_DOMAIN = re.compile(r"https?://[^/?#\s]*\.", re.IGNORECASE)
_BARE_LINK = re.compile(
    r"(?<![A-Za-z0-9_@#$/.:-])(?:[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?\.)+[a-z]{2,}(?![\w-])"
    r"(?:[/?#][^\s<>\"]*)?",
    re.IGNORECASE,
)


def weighted_length(text: str) -> int:
    """``text``'s length as X counts it (never less than X's count)."""
    text = unicodedata.normalize("NFC", text)
    spans = _emoji_spans(text) | _link_spans(text)  # links win where both claim a start
    total = 0
    i = 0
    while i < len(text):
        span = spans.get(i)
        if span is None:
            total += _weight(text[i])
            i += 1
        else:
            i, weight = span
            total += weight
    return total


def thread_chunks(text: str, limit: int = MAX_TWEET) -> list[str]:
    """``text`` as one post, or as numbered posts (`` 1/3``) each within ``limit`` as X counts.

    Cuts fall at line or word breaks; a single word longer than a post is cut where it must.
    """
    if weighted_length(text) <= limit:
        return [text]
    parts = 2
    while True:
        room = limit - len(f" {parts}/{parts}")
        pieces = _cut(text, room)
        if len(pieces) <= parts:
            return [f"{piece} {n}/{len(pieces)}" for n, piece in enumerate(pieces, 1)]
        parts = len(pieces)


def _cut(text: str, room: int) -> list[str]:
    pieces: list[str] = []
    rest = text.strip()
    while weighted_length(rest) > room:
        breaks = [m.start() for m in re.finditer(r"\s", rest) if m.start() > 0]
        cut = _last_fitting(rest, breaks, room)
        if cut is None:
            cut = _last_fitting(rest, list(range(1, len(rest))), room) or 1
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return pieces


def _last_fitting(text: str, cuts: list[int], room: int) -> int | None:
    """The last of the increasing ``cuts`` whose prefix fits in ``room`` (binary search: a
    longer prefix never weighs less)."""
    low, high, best = 0, len(cuts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if weighted_length(text[: cuts[middle]].rstrip()) <= room:
            best, low = cuts[middle], middle + 1
        else:
            high = middle - 1
    return best


def _link_spans(text: str) -> dict[int, tuple[int, int]]:
    """start -> (end, weight) of every link-like run, trailing punctuation left out as X
    leaves it."""
    spans: dict[int, tuple[int, int]] = {}
    taken: set[int] = set()
    for pattern in (_SCHEME_LINK, _BARE_LINK):
        for match in pattern.finditer(text):
            start, end = match.start(), match.end()
            if start in taken:
                continue
            while end > start and (text[end - 1] in _TRAILING or _unbalanced(text, start, end)):
                end -= 1
            spans[start] = (end, _link_weight(text[start:end]))
            taken.update(range(start, end))
    return spans


def _link_weight(link: str) -> int:
    """23 for a link X surely knows; a scheme without a domain is no link to X (its
    characters count), and a bare domain-like word may be one (the more of the two)."""
    if _SCHEME_WITH_DOMAIN.match(link):
        return LINK_WEIGHT
    if _SCHEME_LINK.match(link):
        return _parts(link)
    return max(LINK_WEIGHT, _parts(link))


def _unbalanced(text: str, start: int, end: int) -> bool:
    """Whether the link ends with a parenthesis it did not open: ``(see https://x.com/a)``."""
    return text[end - 1] == ")" and text.count("(", start, end) < text.count(")", start, end)


def _emoji_spans(text: str) -> dict[int, tuple[int, int]]:
    """start -> (end, weight) of every emoji."""
    spans: dict[int, tuple[int, int]] = {}
    for found in emoji.emoji_list(text):
        sequence = found["emoji"]
        whole = emoji.EMOJI_DATA[sequence]["status"] <= _FULLY_QUALIFIED and _ZWJ not in sequence
        weight = EMOJI_WEIGHT if whole else max(EMOJI_WEIGHT, _parts(sequence))
        spans[found["match_start"]] = (found["match_end"], weight)
    return spans


def _parts(text: str) -> int:
    return sum(_weight(character) for character in text)


def _weight(character: str) -> int:
    point = ord(character)
    return 1 if any(low <= point <= high for low, high in _LIGHT_RANGES) else 2
