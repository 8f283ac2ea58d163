"""Everything held about a customer: export it, or erase every trace of it.

The scope of a customer is the customer, every customer merged into it, their
identities, the conversations they own and every message they wrote or received.

Erasure deletes all of that, plus outbox items, the files kept with the messages, notes,
tags and events of the deleted conversations, link suggestions, and the raw journal
deliveries whose body mentions one of their platform ids or phone numbers. A Telegram group
they opened is handed over to another participant instead of being deleted, so other
people's messages survive; only this customer's own messages leave it. Limits (also in
``docs/inbox.md``):

* a journal delivery that mentions this customer is deleted whole, even when it also
  carries other people's events (their parsed messages stay);
* a redelivery of an old update by the platform after erasure would be ingested again;
* names or numbers typed in free text by *other* customers are not searched for;
* backups and log files are outside the database.

Other areas with tables that point at customers, messages or conversations pass a
function in ``hooks`` (the daemon keeps the list); each runs first, in the same transaction.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import Session, SQLModel, col, select

from sportello.inbox import away, sla, surveys, triage_rules
from sportello.inbox.batches import chunked
from sportello.inbox.desk_models import (
    ConversationNote,
    CustomerAudit,
    CustomerLink,
    NoteMention,
)
from sportello.inbox.merge import audit, merged_family
from sportello.inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationTag,
    Customer,
    Delivery,
    Identity,
    Message,
    MessageFile,
    OutboxItem,
)

CHUNK = 500
MIN_NEEDLE = 5


@dataclass(frozen=True)
class Scope:
    """What belongs to one customer, by id."""

    customer_ids: list[int]
    identity_ids: list[int]
    conversation_ids: list[int]
    message_ids: list[int]
    needles: dict[str, list[str]]  # channel -> platform ids and phone digits to look for


EraseHook = Callable[[Session, Scope], None]


def _forget_automation(session: Session, scope: Scope) -> None:
    """Away-message cooldowns, SLA records, rules' answers and surveys of the erased customer."""
    for customer_id in scope.customer_ids:
        away.forget_customer(session, customer_id)
    sla.forget_conversations(session, scope.conversation_ids)
    triage_rules.forget_answers(session, scope.conversation_ids)
    surveys.forget(session, scope.customer_ids, scope.conversation_ids, scope.message_ids)


def scope_of(session: Session, customer: Customer) -> Scope:
    assert customer.id is not None
    family = merged_family(session, customer.id)
    identities = session.exec(select(Identity).where(col(Identity.customer_id).in_(family))).all()
    conversations = _ids(session, Conversation.id, col(Conversation.customer_id).in_(family))
    messages = _ids(
        session,
        Message.id,
        or_(
            col(Message.customer_id).in_(family),
            col(Message.conversation_id).in_(conversations or [-1]),
        ),
    )
    phones = {i.phone for i in identities if i.phone}
    phones |= {
        c.phone
        for c in session.exec(select(Customer).where(col(Customer.id).in_(family)))
        if c.phone
    }
    digits = {p.lstrip("+") for p in phones}
    needles: dict[str, set[str]] = {}
    for identity in identities:
        needles.setdefault(identity.channel, set()).add(identity.external_id)
    for channel in needles:
        needles[channel] |= digits
    return Scope(
        customer_ids=family,
        identity_ids=[i.id for i in identities if i.id is not None],
        conversation_ids=conversations,
        message_ids=messages,
        needles={k: sorted(n for n in v if len(n) >= MIN_NEEDLE) for k, v in needles.items()},
    )


def export_customer(session: Session, customer: Customer) -> dict[str, Any]:
    """Every row held about ``customer``, as JSON-ready dicts."""
    scope = scope_of(session, customer)
    conversations = scope.conversation_ids or [-1]
    messages = scope.message_ids or [-1]
    family = scope.customer_ids
    return {
        "customer": _row(customer),
        "merged_customers": _rows(
            session, select(Customer).where(col(Customer.id).in_(family[1:] or [-1]))
        ),
        "identities": _rows(session, select(Identity).where(col(Identity.customer_id).in_(family))),
        "conversations": _rows(
            session, select(Conversation).where(col(Conversation.id).in_(conversations))
        ),
        "conversation_tags": _rows(
            session,
            select(ConversationTag).where(col(ConversationTag.conversation_id).in_(conversations)),
        ),
        "conversation_events": _rows(
            session,
            select(ConversationEvent).where(
                col(ConversationEvent.conversation_id).in_(conversations)
            ),
        ),
        "notes": _rows(
            session,
            select(ConversationNote).where(
                col(ConversationNote.conversation_id).in_(conversations)
            ),
        ),
        "messages": _rows(
            session,
            select(Message).where(col(Message.id).in_(messages)).order_by(col(Message.sent_at)),
        ),
        "outbox": _rows(
            session, select(OutboxItem).where(col(OutboxItem.message_id).in_(messages))
        ),
        "files": [
            _file(f)
            for f in session.exec(
                select(MessageFile).where(col(MessageFile.message_id).in_(messages))
            )
        ],
        "suggestions": _rows(session, select(CustomerLink).where(_links_of(family))),
        "audit": _rows(
            session,
            select(CustomerAudit).where(
                or_(
                    col(CustomerAudit.customer_id).in_(family),
                    col(CustomerAudit.other_id).in_(family),
                )
            ),
        ),
        "deliveries": [
            {
                "id": d.id,
                "channel": d.channel,
                "received_at": d.received_at.isoformat(),
                "state": d.state,
                "body": d.body.decode("utf-8", errors="replace"),
            }
            for d in _deliveries(session, scope.needles)
        ],
    }


def erase_customer(
    session: Session,
    customer: Customer,
    *,
    at: datetime,
    actor: str,
    hooks: Sequence[EraseHook] = (),
) -> dict[str, int]:
    """Delete every trace of ``customer``; returns how many rows of each kind went."""
    assert customer.id is not None
    scope = scope_of(session, customer)
    kept = _hand_over_groups(session, scope)
    conversations = [c for c in scope.conversation_ids if c not in kept]
    messages = _ids(
        session,
        Message.id,
        or_(
            col(Message.customer_id).in_(scope.customer_ids),
            col(Message.conversation_id).in_(conversations or [-1]),
        ),
    )
    scope = Scope(scope.customer_ids, scope.identity_ids, conversations, messages, scope.needles)
    for hook in (_forget_automation, *hooks):
        hook(session, scope)
    deliveries = [d.id for d in _deliveries(session, scope.needles) if d.id is not None]
    counts = {
        "outbox": _delete(session, OutboxItem, OutboxItem.message_id, messages),
        "files": _delete(session, MessageFile, MessageFile.message_id, messages),
        "messages": _delete(session, Message, Message.id, messages),
        "mentions": _delete(session, NoteMention, NoteMention.conversation_id, conversations),
        "notes": _delete(
            session, ConversationNote, ConversationNote.conversation_id, conversations
        ),
        "tags": _delete(session, ConversationTag, ConversationTag.conversation_id, conversations),
        "events": _delete(
            session, ConversationEvent, ConversationEvent.conversation_id, conversations
        ),
        "conversations": _delete(session, Conversation, Conversation.id, conversations),
        "identities": _delete(session, Identity, Identity.id, scope.identity_ids),
        "deliveries": _delete(session, Delivery, Delivery.id, deliveries),
        "groups_handed_over": len(kept),
    }
    counts["suggestions"] = _count_delete(session, CustomerLink, _links_of(scope.customer_ids))
    counts["customers"] = _delete(session, Customer, Customer.id, scope.customer_ids)
    audit(session, at=at, actor=actor, action="erase", customer_id=customer.id, counts=counts)
    session.flush()
    session.expunge_all()  # loaded rows may be gone; nothing stale must be flushed later
    return counts


def _hand_over_groups(session: Session, scope: Scope) -> set[int]:
    """Group conversations this customer opened go to another participant; their ids."""
    kept: set[int] = set()
    groups = session.exec(
        select(Conversation).where(
            col(Conversation.id).in_(scope.conversation_ids or [-1]),
            col(Conversation.is_group).is_(True),
        )
    ).all()
    for group in groups:
        heir = session.exec(
            select(Message.customer_id, Identity.external_id)
            .join(Identity, col(Identity.id) == col(Message.identity_id))
            .where(
                Message.conversation_id == group.id,
                Message.direction == "in",
                col(Message.customer_id).not_in(scope.customer_ids),
            )
            .order_by(col(Message.sent_at))
            .limit(1)
        ).first()
        if heir is None:
            continue
        heir_id, heir_external_id = heir
        group.customer_id = heir_id
        group.recipient_external_id = heir_external_id
        for message in session.exec(
            select(Message).where(
                Message.conversation_id == group.id,
                col(Message.customer_id).in_(scope.customer_ids),
                col(Message.identity_id).is_(None),
            )
        ):
            message.customer_id = heir_id
        assert group.id is not None
        kept.add(group.id)
    session.flush()
    return kept


def _deliveries(session: Session, needles: dict[str, list[str]]) -> Iterator[Delivery]:
    """Journal deliveries whose raw body mentions one of ``needles`` (scanned in batches)."""
    for channel, words in needles.items():
        if not words:
            continue
        pattern = re.compile(
            rb"(?<![0-9A-Za-z])(?:"
            + b"|".join(re.escape(w.encode()) for w in words)
            + rb")(?![0-9A-Za-z])"
        )
        last = 0
        while True:
            batch = session.exec(
                select(Delivery)
                .where(Delivery.channel == channel, col(Delivery.id) > last)
                .order_by(col(Delivery.id))
                .limit(CHUNK)
            ).all()
            if not batch:
                break
            last = batch[-1].id or last
            yield from (d for d in batch if pattern.search(d.body))


def _links_of(family: Sequence[int]) -> Any:
    return or_(col(CustomerLink.customer_id).in_(family), col(CustomerLink.other_id).in_(family))


def _ids(session: Session, column: Any, condition: Any) -> list[int]:
    return sorted(session.exec(select(column).where(condition)).all())


def _delete(session: Session, model: Any, column: Any, ids: Sequence[int]) -> int:
    total = 0
    for chunk in chunked(ids):
        result = session.execute(
            delete(model).where(column.in_(chunk)),
            execution_options={"synchronize_session": False},
        )
        total += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return total


def _count_delete(session: Session, model: Any, condition: Any) -> int:
    result = session.execute(
        delete(model).where(condition), execution_options={"synchronize_session": False}
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _row(row: SQLModel) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    return {k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in data.items()}


def _file(row: MessageFile) -> dict[str, Any]:
    """A file kept with one of their messages (sent to them, or theirs), in base64."""
    return {
        "id": row.id,
        "message_id": row.message_id,
        "name": row.name,
        "mime_type": row.mime_type,
        "size": len(row.content),
        "content_base64": base64.b64encode(row.content).decode(),
    }


def _rows(session: Session, statement: Any) -> list[dict[str, Any]]:
    return [_row(r) for r in session.exec(statement)]
