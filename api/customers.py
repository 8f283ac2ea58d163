"""``/api/v1/customers``: a customer with every channel identity and conversation.

Customers merged into another are left out of the list; reading one by id still works
and shows ``merged_into_id``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import CompoundSelect, func, or_, union
from sqlmodel import Session, col, select

from sportello.api.deps import Caller, SessionDep, get_or_404
from sportello.api.inputs import RowId
from sportello.api.pagination import MAX_LIMIT, Offset, encode_cursor, offset_of
from sportello.api.schemas import CustomerOut, IdentityOut, Page
from sportello.api.views import conversations_out
from sportello.inbox.models import Conversation, Customer, Identity, Message

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


def customer_out(session: Session, customer: Customer) -> CustomerOut:
    identities = session.exec(select(Identity).where(Identity.customer_id == customer.id)).all()
    # A union of two index lookups: as an OR, PostgreSQL scanned every conversation.
    ids: CompoundSelect[int] = union(
        select(Conversation.id).where(Conversation.customer_id == customer.id),
        select(Message.conversation_id).where(Message.customer_id == customer.id),
    )
    conversations = session.exec(
        select(Conversation)
        .where(col(Conversation.id).in_(ids))
        .order_by(col(Conversation.last_message_at).desc())
    ).all()
    return CustomerOut(
        id=customer.id or 0,
        display_name=customer.display_name,
        language=customer.language,
        phone=customer.phone,
        email=customer.email,
        created_at=customer.created_at,
        merged_into_id=customer.merged_into_id,
        identities=[IdentityOut.model_validate(i) for i in identities],
        conversations=conversations_out(session, conversations),
    )


@router.get("")
def list_customers(
    session: SessionDep,
    _: Caller,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[CustomerOut]:
    query = select(Customer).where(col(Customer.merged_into_id).is_(None))
    if q:
        pattern = f"%{q.lower()}%"
        matching = select(Identity.customer_id).where(
            or_(
                func.lower(Identity.display_name).like(pattern),
                func.lower(Identity.handle).like(pattern),
                col(Identity.phone).like(pattern),
                col(Identity.external_id) == q,
            )
        )
        query = query.where(
            or_(func.lower(Customer.display_name).like(pattern), col(Customer.id).in_(matching))
        )
    offset = offset_of(cursor)
    rows = list(
        session.exec(query.order_by(col(Customer.id).desc()).offset(offset).limit(limit + 1))
    )
    next_cursor = encode_cursor(Offset(offset=offset + limit)) if len(rows) > limit else None
    return Page(items=[customer_out(session, c) for c in rows[:limit]], next_cursor=next_cursor)


@router.get("/{customer_id}")
def read_customer(customer_id: RowId, session: SessionDep, _: Caller) -> CustomerOut:
    return customer_out(session, get_or_404(session, Customer, customer_id, "customer"))
