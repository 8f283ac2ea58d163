"""An agent's corrections to a customer's details: name, language, phone number, e-mail.

The platforms tell us what they know (a Telegram name, a WhatsApp number); the customer
often tells the agent the rest. What the agent writes is the customer's, not an
identity's: the platforms' later updates change the identities, never these fields.

Every change is audited like a merge (which fields, by whom, when). A phone number or
e-mail address another customer is known by becomes a suggestion to link the two, which
the agent confirms with one click: a number typed by hand may be wrong, so it never
merges by itself. A new channel identity that arrives with it later joins this customer,
as with any customer known by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session

from sportello.inbox.contact_points import normalise_email, normalise_phone
from sportello.inbox.desk_models import CustomerLink
from sportello.inbox.linking import ContactPoint, known_by, linked_customers
from sportello.inbox.merge import audit, current_customer
from sportello.inbox.models import Customer

FIELDS = ("display_name", "language", "phone", "email")
MAX_NAME = 200
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_EVIDENCE = {"phone": "same phone number", "email": "same e-mail address"}


class DetailsError(ValueError):
    """A value an agent gave that cannot be a customer's; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def edit_customer(
    session: Session,
    customer: Customer,
    changes: Mapping[str, str | None],
    *,
    at: datetime,
    actor: str,
    phone_region: str | None = None,
) -> list[CustomerLink]:
    """Set the fields of ``changes`` (None clears one); returns the links it suggested.

    ``phone_region`` reads a number written without its country code (the business's
    country, ``IT`` for ``333 123 4567``).
    """
    if customer.merged_into_id is not None:
        merged = customer.merged_into_id
        raise DetailsError("customer", f"merged into customer {merged}: edit that one")
    wanted = {name: _clean(name, value, phone_region) for name, value in changes.items()}
    changed = {name: value for name, value in wanted.items() if value != getattr(customer, name)}
    if not changed:
        return []
    for name, value in changed.items():
        setattr(customer, name, value)
    assert customer.id is not None
    # The names of the fields only, as a merge's audit holds only ids: erasure keeps the
    # audit trail, which must not keep the customer's details.
    audit(session, at=at, actor=actor, action="edit", customer_id=customer.id, fields=[*changed])
    session.flush()
    evidence: tuple[ContactPoint, ...] = ("phone", "email")
    return [
        link
        for field in evidence
        if (value := changed.get(field)) is not None
        for link in _suggest(session, customer, field, value, at, actor)
    ]


def _clean(name: str, value: str | None, phone_region: str | None) -> str | None:
    if name not in FIELDS:
        raise DetailsError(name, f"not a customer detail: {name}")
    text = (value or "").strip()
    if not text:
        return None
    if name == "display_name":
        if len(text) > MAX_NAME:
            raise DetailsError(name, f"a name has at most {MAX_NAME} characters")
        return text
    if name == "language":
        if not _LANGUAGE.match(text.lower()):
            raise DetailsError(name, f"not a two-letter language code: {text}")
        return text.lower()
    if name == "phone":
        region = None if text.startswith("+") else phone_region
        phone = normalise_phone(text, region)
        if phone is None:
            raise DetailsError(
                name, f"not a valid phone number: {text} (write it with its country code, +39 …)"
            )
        return phone
    email = normalise_email(text)
    if email is None or not _EMAIL.match(email):
        raise DetailsError(name, f"not an e-mail address: {text}")
    return email


def _suggest(
    session: Session,
    customer: Customer,
    field: ContactPoint,
    value: str,
    at: datetime,
    actor: str,
) -> list[CustomerLink]:
    """A suggestion linking ``customer`` to each other customer known by ``value``, unless
    the pair has had one before (a pair an agent dismissed stays dismissed)."""
    assert customer.id is not None
    others = session.exec(known_by(field, value, besides=customer.id))
    found = {current_customer(session, row).id for row in others}
    ids = {id_ for id_ in found if id_ is not None and id_ != customer.id}
    made: list[CustomerLink] = []
    for other in sorted(ids - linked_customers(session, customer.id, ids)):
        link = CustomerLink(
            customer_id=customer.id,
            other_id=other,
            reason=f"{_EVIDENCE[field]}, written by {actor}",
            score=0.99,
            created_at=at,
        )
        session.add(link)
        made.append(link)
    session.flush()
    return made
