"""Phone numbers and e-mail addresses in one form, so that channels can be compared."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=4096)
def normalise_phone(raw: str | None, default_region: str | None = None) -> str | None:
    """E.164 form of a phone number, or ``None`` when it is not a valid number.

    Cached: every WhatsApp message carries its sender's number, and parsing it is a tenth of
    storing a message from a known customer.
    """
    if not raw:
        return None
    text = raw.strip()
    if not text.startswith("+") and default_region is None:
        text = "+" + text.lstrip("0")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    return raw.strip().lower()
