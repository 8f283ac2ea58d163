"""Who is writing: channel identities, and the customer each one belongs to.

An identity is found by (channel, platform user id). A new identity joins an existing
customer only on strong evidence: the same normalised phone number or e-mail address.
Evidence that arrives later (a known identity reveals a phone number or e-mail address,
or shares its own contact card) merges the two customers through the audited merge; weak
evidence (same name, similar handle) only stores a suggestion (see ``inbox/linking.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from sportello.connectors.base import Person
from sportello.inbox.contact_points import normalise_email, normalise_phone
from sportello.inbox.linking import merge_on_evidence, suggest_links
from sportello.inbox.lookups import Lookups
from sportello.inbox.models import Customer, Identity
from sportello.inbox.new_row import new_row
from sportello.inbox.numbered_rows import add_new


def find_customer_by_evidence(
    session: Session, phone: str | None, email: str | None
) -> Customer | None:
    """A customer already known by this phone number or e-mail address."""
    for column, value in ((Identity.phone, phone), (Identity.email, email)):
        if value is None:
            continue
        identity = session.exec(select(Identity).where(column == value).limit(1)).first()
        if identity is not None:
            return session.get(Customer, identity.customer_id)
    for column, value in ((Customer.phone, phone), (Customer.email, email)):
        if value is None:
            continue
        customer = session.exec(select(Customer).where(column == value).limit(1)).first()
        if customer is not None:
            return customer
    return None


def resolve_identity(
    session: Session, channel: str, person: Person, now: datetime, known: Lookups
) -> Identity:
    """The identity for ``person`` on ``channel`` (among ``known``), created (with its
    customer) if new."""
    identity = known.identity(channel, person.external_id)
    phone = normalise_phone(person.phone)
    email = normalise_email(person.email)
    if identity is not None:
        learned = (phone and phone != identity.phone) or (email and email != identity.email)
        if _refresh(identity, person, phone, email) & {"display_name", "handle"}:
            session.flush()  # the batch's later look-alike searches read stored names
        if learned:
            known.claim(phone, email)
            merge_on_evidence(session, identity, now=now, reason="phone or e-mail learned")
        return identity
    customer = (
        None
        if known.unclaimed_evidence(phone, email)
        else find_customer_by_evidence(session, phone, email)
    )
    is_new = customer is None
    if customer is None:
        customer = new_row(
            Customer,
            display_name=person.display_name or person.handle,
            language=person.language,
            phone=phone,
            email=email,
            created_at=now,
        )
        add_new(session, customer, known.reserved)
    assert customer.id is not None
    identity = new_row(
        Identity,
        customer_id=customer.id,
        channel=channel,
        external_id=person.external_id,
        handle=person.handle,
        phone=phone,
        email=email,
        display_name=person.display_name,
        language=person.language,
        created_at=now,
    )
    add_new(session, identity, known.reserved)
    known.add_identity(identity)
    known.claim(phone, email)
    if is_new:
        suggest_links(session, identity, now, batch=known.waiting_identities)
    return identity


def _refresh(identity: Identity, person: Person, phone: str | None, email: str | None) -> set[str]:
    """Keep the newest profile data the platform tells us; never erase what we knew.
    Returns the names of the fields that changed.

    Only what changed is set: an unchanged identity stays clean and costs its flush nothing.
    """
    changed: set[str] = set()
    for name, value in (
        ("display_name", person.display_name),
        ("handle", person.handle),
        ("phone", phone),
        ("email", email),
        ("language", person.language),
    ):
        if value and value != getattr(identity, name):
            setattr(identity, name, value)
            changed.add(name)
    return changed


def link_shared_contact(
    session: Session, owner: Identity, contact: Person, now: datetime, known: Lookups
) -> None:
    """A contact card a customer shared about themselves proves their phone number.

    Only a card whose platform user id is the sender's own counts (Telegram sets
    ``user_id`` when the user shares their own number). When another customer is known
    by that number (say, on WhatsApp), the two customers are merged (audited).
    """
    if contact.external_id != owner.external_id:
        return
    phone = normalise_phone(contact.phone)
    if phone is None:
        return
    owner.phone = phone
    known.claim(phone)
    session.flush()
    if merge_on_evidence(session, owner, now=now, reason="shared own contact card") is not None:
        return
    customer = session.get(Customer, owner.customer_id)
    if customer is not None and customer.phone is None:
        customer.phone = phone


def fill_profile(session: Session, identity_id: int, person: Person) -> bool:
    """Names a platform gave on request, for an identity (and customer) that had none."""
    identity = session.get(Identity, identity_id)
    if identity is None or identity.display_name or not person.display_name:
        return False
    identity.display_name = person.display_name
    customer = session.get(Customer, identity.customer_id)
    if customer is not None and not customer.display_name:
        customer.display_name = person.display_name
    return True


def needs_profile(session: Session, identity_id: int) -> str | None:
    """The platform user id of an identity still without a name, else None."""
    identity = session.get(Identity, identity_id)
    if identity is None or identity.display_name:
        return None
    return identity.external_id
