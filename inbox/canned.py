"""Canned replies: reusable answers with ``{name}`` and ``{next_open}`` filled in on sending."""

from __future__ import annotations

import re
from datetime import datetime

from sportello.inbox.business_hours import BusinessCalendar, format_next_open
from sportello.inbox.models import Customer

PLACEHOLDER = re.compile(r"\{(name|next_open)\}")
_SOON = {"it": "al più presto", "en": "as soon as possible"}


def render(
    template: str,
    *,
    customer: Customer | None,
    calendar: BusinessCalendar | None,
    now: datetime,
    language: str | None = None,
) -> str:
    """``template`` with its placeholders filled; any other brace is left as written.

    ``{name}`` is the customer's display name (empty when unknown); ``{next_open}`` is
    when the business next opens, in words in the customer's language (``now`` itself
    when it is open now), or "as soon as possible" when no business hours are known.
    """
    lang = (language or (customer.language if customer else None) or "en")[:2].lower()

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "name":
            return (customer.display_name if customer else None) or ""
        opening = calendar.next_open(now) if calendar is not None else None
        if calendar is None or opening is None:
            return _SOON.get(lang, _SOON["en"])
        return format_next_open(opening, calendar.tz, lang)

    return PLACEHOLDER.sub(fill, template)
