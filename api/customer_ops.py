"""Customer operations: link suggestions, merge/unmerge, audit, timeline, export, erasure.

Registered before ``api/customers.py`` so ``/customers/suggestions`` is not read as an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import or_
from sqlmodel import Session, col, select

from sportello.api.customers import customer_out
from sportello.api.deps import Admin, Caller, DaemonDep, SessionDep
from sportello.api.desk_schemas import (
    AuditOut,
    CustomerPatch,
    ErasedOut,
    MergeIn,
    SuggestionOut,
    UnmergeIn,
)
from sportello.api.inputs import RowId
from sportello.api.pagination import (
    MAX_LIMIT,
    Before,
    BeforeTime,
    Offset,
    decode_cursor,
    encode_cursor,
    offset_of,
)
from sportello.api.schemas import CustomerOut, MessageOut, Page
from sportello.api.views import message_out
from sportello.inbox import settings_store
from sportello.inbox.customer_details import DetailsError, edit_customer
from sportello.inbox.desk_models import CustomerAudit, CustomerLink
from sportello.inbox.erasure import erase_customer, export_customer
from sportello.inbox.linking import confirm_link, dismiss_link
from sportello.inbox.merge import MergeError, merge_customers, unmerge_identity
from sportello.inbox.models import Customer, Identity
from sportello.inbox.timeline import customer_timeline

router = APIRouter(prefix="/api/v1", tags=["customers"])


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise HTTPException(404, f"customer {customer_id} not found")
    return customer


def _link(session: Session, link_id: int) -> CustomerLink:
    link = session.get(CustomerLink, link_id)
    if link is None:
        raise HTTPException(404, f"suggestion {link_id} not found")
    return link


@router.get("/customers/suggestions")
def list_suggestions(
    session: SessionDep,
    _: Caller,
    status: str = "suggested",
    customer_id: RowId | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[SuggestionOut]:
    """Suggested links between customers (weak evidence), strongest first."""
    query = select(CustomerLink).where(CustomerLink.status == status)
    if customer_id is not None:
        query = query.where(
            or_(
                col(CustomerLink.customer_id) == customer_id,
                col(CustomerLink.other_id) == customer_id,
            )
        )
    offset = offset_of(cursor)
    rows = list(
        session.exec(
            query.order_by(col(CustomerLink.score).desc(), col(CustomerLink.id))
            .offset(offset)
            .limit(limit + 1)
        )
    )
    next_cursor = encode_cursor(Offset(offset=offset + limit)) if len(rows) > limit else None
    return Page(
        items=[SuggestionOut.model_validate(r) for r in rows[:limit]], next_cursor=next_cursor
    )


@router.post("/customers/suggestions/{link_id}/confirm")
def confirm_suggestion(
    link_id: RowId, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> CustomerOut:
    """Merge the two customers of the suggestion (the older one is kept); answers it."""
    link = _link(session, link_id)
    try:
        kept = confirm_link(session, link, at=daemon.clock.now(), actor=caller)
    except MergeError as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    return customer_out(session, kept)


@router.post("/customers/suggestions/{link_id}/dismiss")
def dismiss_suggestion(
    link_id: RowId, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> SuggestionOut:
    link = _link(session, link_id)
    try:
        dismiss_link(session, link, at=daemon.clock.now(), actor=caller)
    except MergeError as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    return SuggestionOut.model_validate(link)


@router.patch("/customers/{customer_id}")
def edit(
    customer_id: RowId, body: CustomerPatch, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> CustomerOut:
    """Correct the customer's name, language, phone number or e-mail address (audited).

    A phone number or e-mail another customer is known by suggests linking the two.
    """
    customer = _customer(session, customer_id)
    hours = settings_store.business_hours(session, daemon.settings)
    region = hours.holidays.partition("-")[0] if hours is not None and hours.holidays else None
    try:
        edit_customer(
            session,
            customer,
            body.model_dump(exclude_unset=True),
            at=daemon.clock.now(),
            actor=caller,
            phone_region=region,
        )
    except DetailsError as exc:
        raise HTTPException(409 if exc.field == "customer" else 422, str(exc)) from None
    session.commit()
    daemon.live.publish("customer.updated", customer_id=customer_id)
    return customer_out(session, customer)


@router.post("/customers/{customer_id}/merge")
def merge(
    customer_id: RowId, body: MergeIn, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> CustomerOut:
    """Move every identity, conversation and message of ``other_id`` to this customer."""
    keep, other = _customer(session, customer_id), _customer(session, body.other_id)
    try:
        merge_customers(session, keep, other, at=daemon.clock.now(), actor=caller)
    except MergeError as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    return customer_out(session, keep)


@router.post("/customers/{customer_id}/unmerge")
def unmerge(
    customer_id: RowId, body: UnmergeIn, session: SessionDep, daemon: DaemonDep, caller: Caller
) -> CustomerOut:
    """Split one identity off; answers the customer it now belongs to."""
    customer = _customer(session, customer_id)
    identity = session.get(Identity, body.identity_id)
    if identity is None:
        raise HTTPException(404, f"identity {body.identity_id} not found")
    try:
        entry = unmerge_identity(session, customer, identity, at=daemon.clock.now(), actor=caller)
    except MergeError as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    assert entry.other_id is not None
    return customer_out(session, _customer(session, entry.other_id))


@router.get("/customers/{customer_id}/audit")
def customer_audit(
    customer_id: RowId,
    session: SessionDep,
    _: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[AuditOut]:
    """Merges, splits and decisions that involved this customer, newest first."""
    condition = or_(
        col(CustomerAudit.customer_id) == customer_id, col(CustomerAudit.other_id) == customer_id
    )
    return _audit_page(session, condition, limit, cursor)


@router.get("/audit")
def all_audit(
    session: SessionDep,
    _: Caller,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[AuditOut]:
    """The whole customer audit log, newest first, optionally one ``action`` only."""
    condition = CustomerAudit.action == action if action is not None else None
    return _audit_page(session, condition, limit, cursor)


def _audit_page(session: Session, condition: Any, limit: int, cursor: str | None) -> Page[AuditOut]:
    query = select(CustomerAudit)
    if condition is not None:
        query = query.where(condition)
    position = decode_cursor(cursor, Before)
    if position is not None:
        query = query.where(col(CustomerAudit.id) < position.id)
    rows = list(session.exec(query.order_by(col(CustomerAudit.id).desc()).limit(limit + 1)))
    next_cursor = encode_cursor(Before.of(rows[limit - 1].id)) if len(rows) > limit else None
    return Page(items=[AuditOut.model_validate(r) for r in rows[:limit]], next_cursor=next_cursor)


@router.get("/customers/{customer_id}/timeline")
def timeline(
    customer_id: RowId,
    session: SessionDep,
    _: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[MessageOut]:
    """Every message of the customer on every channel, newest first."""
    _customer(session, customer_id)
    position = decode_cursor(cursor, BeforeTime)
    before = (position.t, position.id) if position is not None else None
    rows = customer_timeline(session, customer_id, limit=limit + 1, before=before)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(BeforeTime.of(rows[-1].sent_at, rows[-1].id))
    return Page(items=[message_out(m) for m in rows], next_cursor=next_cursor)


@router.get("/customers/{customer_id}/export")
def export(customer_id: RowId, session: SessionDep, _: Admin) -> dict[str, Any]:
    """Everything held about the customer (and customers merged into it), as JSON (admins)."""
    return export_customer(session, _customer(session, customer_id))


@router.delete("/customers/{customer_id}")
def erase(customer_id: RowId, session: SessionDep, daemon: DaemonDep, caller: Admin) -> ErasedOut:
    """Erase every trace of the customer (admins); an audit entry keeps only the counts."""
    counts = erase_customer(
        session,
        _customer(session, customer_id),
        at=daemon.clock.now(),
        actor=caller,
        hooks=daemon.erase_hooks,
    )
    session.commit()
    return ErasedOut(customer_id=customer_id, deleted=counts)
