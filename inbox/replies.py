"""Automatic texts for a customer: which language, which template, how it reads.

The language is the customer's own when known (their channel identity, then their customer
record), else the language detected in their message, else the brand's default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session

from sportello.inbox.models import Customer, Identity

_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?])")
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class Recipient:
    """What an automatic text needs to know about its reader."""

    name: str
    languages: tuple[str, ...]


def recipient(
    session: Session,
    customer_id: int,
    identity_id: int | None = None,
    detected_language: str | None = None,
) -> Recipient:
    identity = session.get(Identity, identity_id) if identity_id is not None else None
    customer = session.get(Customer, customer_id)
    # The customer's own first: an agent may have corrected them (``customer_details``).
    names = [
        customer.display_name if customer else None,
        identity.display_name if identity else None,
        identity.handle if identity else None,
    ]
    name = next((n.split()[0] for n in names if n and n.strip()), "")
    languages = (
        customer.language if customer else None,
        identity.language if identity else None,
        detected_language,
    )
    return Recipient(name=name, languages=tuple(lang for lang in languages if lang))


def pick_template(
    texts: Mapping[str, str], languages: Iterable[str], default_language: str
) -> tuple[str, str] | None:
    """The (language, template) to use: the first language with a text, matching ``it-IT`` to
    ``it``; then the default language; then any text at all. None when there is no text."""
    by_base = {key.lower()[:2]: key for key in texts}
    for language in (*languages, default_language):
        key = language if language in texts else by_base.get(language.lower()[:2])
        if key is not None:
            return key, texts[key]
    first = next(iter(texts), None)
    return None if first is None else (first, texts[first])


def render(template: str, **values: str) -> str:
    """Fill ``{name}`` and ``{next_open}``; an empty name leaves no stray space or comma gap."""
    text = template.format_map(values)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()
