"""Merging two customers and splitting an identity off again, both audited and reversible.

A merge moves the other customer's identities, conversations and messages to the kept
customer and marks the other row ``merged_into_id``; nothing is deleted. The audit row
lists the ids that moved. An unmerge of an identity moves it, the conversations it owns
(same channel, addressed to its platform id) and its messages to the customer it came
from (revived) or, for an identity that was never merged in, to a new customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from sportello.inbox.batches import chunked
from sportello.inbox.desk_models import CustomerAudit, CustomerLink
from sportello.inbox.models import Conversation, Customer, Identity, Message


class MergeError(ValueError):
    """A merge or unmerge that cannot be done; the message says why."""


def audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    customer_id: int,
    other_id: int | None = None,
    **data: Any,
) -> CustomerAudit:
    row = CustomerAudit(
        at=at, actor=actor, action=action, customer_id=customer_id, other_id=other_id, data=data
    )
    session.add(row)
    return row


def merge_customers(
    session: Session,
    keep: Customer,
    other: Customer,
    *,
    at: datetime,
    actor: str,
    reason: str = "agent",
) -> CustomerAudit:
    """Move everything of ``other`` to ``keep``; ``other`` stays, marked as merged."""
    if keep.id is None or other.id is None:
        raise MergeError("both customers must be stored")
    if keep.id == other.id:
        raise MergeError("a customer cannot be merged with itself")
    for customer in (keep, other):
        if customer.merged_into_id is not None:
            raise MergeError(
                f"customer {customer.id} was merged into {customer.merged_into_id}; use that one"
            )
    identities = _ids(session, Identity, Identity.customer_id == other.id)
    conversations = _ids(session, Conversation, Conversation.customer_id == other.id)
    messages = _ids(session, Message, Message.customer_id == other.id)
    _move(session, Identity, identities, keep.id)
    _move(session, Conversation, conversations, keep.id)
    _move(session, Message, messages, keep.id)
    for field in ("display_name", "language", "phone", "email"):
        if getattr(keep, field) is None:
            setattr(keep, field, getattr(other, field))
    other.merged_into_id = keep.id
    _settle_links(session, keep.id, other.id, at, actor)
    session.flush()
    return audit(
        session,
        at=at,
        actor=actor,
        action="merge",
        customer_id=keep.id,
        other_id=other.id,
        reason=reason,
        identities=identities,
        conversations=conversations,
        messages=messages,
    )


def unmerge_identity(
    session: Session, customer: Customer, identity: Identity, *, at: datetime, actor: str
) -> CustomerAudit:
    """Split ``identity`` (with its conversations and messages) off ``customer``."""
    if identity.customer_id != customer.id:
        raise MergeError(f"identity {identity.id} does not belong to customer {customer.id}")
    assert customer.id is not None and identity.id is not None
    siblings = _ids(session, Identity, Identity.customer_id == customer.id)
    if len(siblings) < 2:
        raise MergeError(f"identity {identity.id} is the only one of customer {customer.id}")
    target = _origin(session, customer.id, identity.id)
    restored = target is not None
    if target is None:
        target = Customer(
            display_name=identity.display_name or identity.handle,
            language=identity.language,
            phone=identity.phone,
            email=identity.email,
            created_at=at,
        )
        session.add(target)
        session.flush()
    target.merged_into_id = None
    assert target.id is not None
    conversations = _ids(
        session,
        Conversation,
        and_(
            col(Conversation.customer_id) == customer.id,
            col(Conversation.channel) == identity.channel,
            col(Conversation.recipient_external_id) == identity.external_id,
        ),
    )
    messages = _ids(
        session,
        Message,
        or_(
            col(Message.identity_id) == identity.id,
            and_(
                col(Message.conversation_id).in_(conversations or [-1]),
                col(Message.identity_id).is_(None),
                col(Message.customer_id) == customer.id,
            ),
        ),
    )
    _move(session, Identity, [identity.id], target.id)
    _move(session, Conversation, conversations, target.id)
    _move(session, Message, messages, target.id)
    session.flush()
    return audit(
        session,
        at=at,
        actor=actor,
        action="unmerge",
        customer_id=customer.id,
        other_id=target.id,
        restored=restored,
        identities=[identity.id],
        conversations=conversations,
        messages=messages,
    )


def current_customer(session: Session, customer: Customer) -> Customer:
    """The customer that ``customer`` was (perhaps repeatedly) merged into, or itself."""
    seen = {customer.id}
    while customer.merged_into_id is not None:
        found = session.get(Customer, customer.merged_into_id)
        if found is None or found.id in seen:
            break
        seen.add(found.id)
        customer = found
    return customer


def merged_family(session: Session, customer_id: int) -> list[int]:
    """``customer_id`` and every customer merged into it, directly or through others."""
    family = [customer_id]
    frontier = [customer_id]
    while frontier:
        rows = session.exec(
            select(Customer.id).where(col(Customer.merged_into_id).in_(frontier))
        ).all()
        frontier = [r for r in rows if r is not None and r not in family]
        family.extend(frontier)
    return family


def _origin(session: Session, customer_id: int, identity_id: int) -> Customer | None:
    """The merged-away customer this identity came from, if it is still merged here."""
    merges = session.exec(
        select(CustomerAudit)
        .where(CustomerAudit.customer_id == customer_id, CustomerAudit.action == "merge")
        .order_by(col(CustomerAudit.id).desc())
    )
    for row in merges:
        if identity_id in row.data.get("identities", []) and row.other_id is not None:
            origin = session.get(Customer, row.other_id)
            if origin is not None and origin.merged_into_id == customer_id:
                return origin
            return None
    return None


def _ids(session: Session, model: Any, condition: Any) -> list[int]:
    return sorted(session.exec(select(model.id).where(condition)).all())


def _move(session: Session, model: Any, ids: Sequence[int], customer_id: int) -> None:
    """Re-point rows to another customer, in chunks (keeps bound parameters few)."""
    for chunk in chunked(ids):
        session.execute(
            update(model).where(model.id.in_(chunk)).values(customer_id=customer_id),
            execution_options={"synchronize_session": "fetch"},
        )


def _settle_links(session: Session, keep_id: int, other_id: int, at: datetime, actor: str) -> None:
    """Suggestions between the two are done; the other's open ones now concern ``keep``.

    A re-pointed suggestion for a pair already suggested (or dismissed) is superseded.
    """
    links = session.exec(
        select(CustomerLink).where(
            or_(
                col(CustomerLink.customer_id).in_((keep_id, other_id)),
                col(CustomerLink.other_id).in_((keep_id, other_id)),
            ),
        )
    ).all()
    pairs = {frozenset((link.customer_id, link.other_id)) for link in links}
    for link in links:
        if link.status != "suggested":
            continue
        pair = {link.customer_id, link.other_id}
        if pair == {keep_id, other_id}:
            link.status, link.decided_at, link.decided_by = "merged", at, actor
            continue
        if other_id not in pair:
            continue
        moved = frozenset(keep_id if c == other_id else c for c in pair)
        if moved in pairs:
            link.status, link.decided_at, link.decided_by = "superseded", at, actor
            continue
        pairs.add(moved)
        link.customer_id = keep_id if link.customer_id == other_id else link.customer_id
        link.other_id = keep_id if link.other_id == other_id else link.other_id
