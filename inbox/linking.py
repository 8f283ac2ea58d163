"""Linking one person's identities across channels.

Strong evidence (the same normalised phone number or e-mail address, a contact card
the user shared about themselves, an agent's decision) merges customers through the
audited :func:`~sportello.inbox.merge.merge_customers`. Weak evidence (the same display
name, a similar handle on another channel) only stores a :class:`CustomerLink`
suggestion for an agent to confirm or dismiss: sportello never merges on a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from functools import cache
from typing import Literal

from sqlalchemy import ColumnElement, String, and_, bindparam, func, literal_column, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sportello.inbox.desk_models import CustomerLink
from sportello.inbox.merge import MergeError, audit, current_customer, merge_customers
from sportello.inbox.models import Customer, Identity

HANDLE_SIMILARITY = 0.85
MAX_CANDIDATES = 200
# Built once: an untyped SQL function compared with ``==`` or ``>=`` keeps a comparator that
# points back at it, a reference cycle only the garbage collector frees; two such cycles a
# new customer made the collector's young-generation passes long (docs/benchmarks.md).
ContactPoint = Literal["phone", "email"]  # strong evidence: a field people are known by
lowered_name = func.lower(Identity.display_name)
lowered_handle = func.lower(Identity.handle)


@dataclass(frozen=True)
class Evidence:
    reason: str
    score: float


def name_key(name: str | None) -> str:
    """A name without case, accents or extra spaces: ``"Giulia  Rossì"`` -> ``giulia rossi``."""
    if not name:
        return ""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"[^\W_]+", plain))


def handle_key(handle: str | None) -> str:
    """A handle reduced to its letters and digits: ``@Giulia_Rossi`` -> ``giuliarossi``."""
    return name_key(handle).replace(" ", "")


def weak_evidence(a: Identity, b: Identity) -> Evidence | None:
    """Why two identities on different channels might be the same person, if they might."""
    if a.channel == b.channel:
        return None
    reasons: list[str] = []
    score = 0.0
    names = name_key(a.display_name), name_key(b.display_name)
    if names[0] and names[0] == names[1]:
        reasons.append("same display name")
        score += 0.5 if " " in names[0] else 0.3
    handles = [h for h in (handle_key(a.handle), handle_key(b.handle)) if h]
    if len(handles) == 2:
        similarity = SequenceMatcher(None, handles[0], handles[1]).ratio()
        if similarity >= HANDLE_SIMILARITY:
            reasons.append("same handle" if similarity == 1 else "similar handle")
            score += 0.4 * similarity
    else:  # one side has no handle: compare the handle with the other's name
        name_as_handle = (names[1] if a.handle else names[0]).replace(" ", "")
        if handles and name_as_handle and handles[0] == name_as_handle:
            reasons.append("handle matches display name")
            score += 0.3
    if not reasons:
        return None
    return Evidence(", ".join(reasons), round(min(score, 0.95), 2))


def suggest_links(
    session: Session, identity: Identity, now: datetime, batch: Iterable[Identity] = ()
) -> list[CustomerLink]:
    """Store suggestions linking ``identity``'s customer to look-alikes on other channels.

    It reads without flushing the session (a flush for every new customer stored the rest of
    a worker's batch one row at a time): stored identities, as they are stored by then (a
    changed name or handle and a merge are flushed), and the new identities of the worker's
    ``batch`` that wait for the flush (on PostgreSQL, ``inbox/numbered_rows.py``).
    """
    params: dict[str, object] = {"channel": identity.channel, "customer_id": identity.customer_id}
    name = identity.display_name.lower() if identity.display_name else None
    if name is not None:
        params["name"] = name
    handle = handle_key(identity.handle)
    name_as_handle = name_key(identity.display_name).replace(" ", "")
    prefixes = [p for p in (handle[:3] if len(handle) >= 3 else "", name_as_handle[:3]) if p]
    if name is None and not prefixes:
        return []
    for n, prefix in enumerate(prefixes):  # the range of strings that start with the prefix
        params[f"prefix{n}"], params[f"prefix{n}_end"] = prefix, _next_string(prefix)
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _look_alikes(postgres, by_name=name is not None, prefixes=len(prefixes))
    with session.no_autoflush:
        candidates = {c.id: c for c in session.exec(statement, params=params)}
        for other in batch:
            if other.id not in candidates and _looks_alike(other, identity, name, prefixes):
                candidates[other.id] = other
        linked = linked_customers(
            session, identity.customer_id, {c.customer_id for c in candidates.values()}
        )
    made: list[CustomerLink] = []
    for other in candidates.values():
        evidence = weak_evidence(identity, other)
        if evidence is None or other.customer_id in linked:
            continue
        linked.add(other.customer_id)
        link = CustomerLink(
            customer_id=identity.customer_id,
            other_id=other.customer_id,
            reason=evidence.reason,
            score=evidence.score,
            created_at=now,
        )
        session.add(link)
        made.append(link)
    return made


def _looks_alike(
    other: Identity, identity: Identity, name: str | None, prefixes: list[str]
) -> bool:
    """What the look-alike query asks of a stored identity, asked of one in memory."""
    if other.channel == identity.channel or other.customer_id == identity.customer_id:
        return False
    if name is not None and other.display_name and other.display_name.lower() == name:
        return True
    handle = other.handle.lower() if other.handle else ""
    return any(handle.startswith(prefix) for prefix in prefixes)


@cache
def _look_alikes(postgres: bool, *, by_name: bool, prefixes: int) -> SelectOfScalar[Identity]:
    """The look-alike query for a name and/or handle prefixes, to run with ``params``.

    Built once per shape: building it for every new customer was a third of its search. The
    limit is written into the statement: a bound one (``LIMIT $6``) made PostgreSQL's generic
    plan for the prepared statement a scan of every identity, stopping early in theory.
    """
    conditions = [lowered_name == bindparam("name")] if by_name else []
    conditions += [_handle_starts(postgres, f"prefix{n}") for n in range(prefixes)]
    return (
        select(Identity)
        .where(
            col(Identity.channel) != bindparam("channel"),
            col(Identity.customer_id) != bindparam("customer_id"),
            or_(*conditions),
        )
        .limit(literal_column(str(MAX_CANDIDATES)) if postgres else MAX_CANDIDATES)
    )


def _handle_starts(postgres: bool, param: str) -> ColumnElement[bool]:
    """``lower(handle)`` starts with the prefix bound as ``param`` (letters and digits): it
    lies between the prefix and ``param_end``, as the index can answer it (migration 0011).

    PostgreSQL's index (``text_pattern_ops``) compares bytes, with the ``~>=~`` and ``~<~``
    operators; with them a prepared statement's generic plan uses it. ``LIKE $1`` cannot
    (every identity read: 34 ms a new customer at 1M messages, against 0.3), and the pattern
    written into the statement instead made it new text each time, planned anew for every new
    customer (about 0.2 ms of the 0.33 ms it took).
    """
    low, high = bindparam(param, type_=String), bindparam(f"{param}_end", type_=String)
    if postgres:
        return and_(
            lowered_handle.op("~>=~", is_comparison=True)(low),
            lowered_handle.op("~<~", is_comparison=True)(high),
        )
    return and_(lowered_handle >= low, lowered_handle < high)


def _next_string(prefix: str) -> str:
    """The first string after every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def linked_customers(session: Session, customer_id: int, others: set[int]) -> set[int]:
    """Those of ``others`` with any suggestion for their pair with ``customer_id``, whatever
    its status (a dismissed pair stays dismissed)."""
    if not others:
        return set()
    rows = session.exec(
        select(CustomerLink.customer_id, CustomerLink.other_id).where(
            or_(
                (col(CustomerLink.customer_id) == customer_id)
                & col(CustomerLink.other_id).in_(others),
                (col(CustomerLink.other_id) == customer_id)
                & col(CustomerLink.customer_id).in_(others),
            )
        )
    ).all()
    return {b if a == customer_id else a for a, b in rows}


def known_by(field: ContactPoint, value: str, *, besides: int) -> SelectOfScalar[Customer]:
    """The customers but ``besides`` whose ``field`` (phone number or e-mail address) is
    ``value``: their own, or one of their identities'."""
    owners = select(Identity.customer_id).where(getattr(Identity, field) == value)
    return select(Customer).where(
        col(Customer.id) != besides,
        or_(getattr(Customer, field) == value, col(Customer.id).in_(owners)),
    )


def merge_on_evidence(
    session: Session, identity: Identity, *, now: datetime, reason: str
) -> Customer | None:
    """Merge ``identity``'s customer with another one known by its phone or e-mail.

    The older customer is kept. Returns the customer kept, or ``None`` when there was
    nothing to merge.
    """
    mine = session.get(Customer, identity.customer_id)
    if mine is None:
        return None
    assert mine.id is not None
    evidence: tuple[tuple[ContactPoint, str | None], ...] = (
        ("phone", identity.phone),
        ("email", identity.email),
    )
    for field, value in evidence:
        if value is None:
            continue
        other = session.exec(
            known_by(field, value, besides=mine.id).order_by(col(Customer.id)).limit(1)
        ).first()
        if other is None:
            continue
        other = current_customer(session, other)
        if other.id == mine.id:
            continue
        keep, gone = (other, mine) if (other.id or 0) < (mine.id or 0) else (mine, other)
        merge_customers(session, keep, gone, at=now, actor="system", reason=reason)
        return keep
    return None


def confirm_link(session: Session, link: CustomerLink, *, at: datetime, actor: str) -> Customer:
    """An agent says the suggestion is right: merge the two (the older customer is kept)."""
    if link.status != "suggested":
        raise MergeError(f"suggestion {link.id} is already {link.status}")
    a = session.get(Customer, link.customer_id)
    b = session.get(Customer, link.other_id)
    if a is None or b is None:
        raise MergeError(f"suggestion {link.id} refers to a customer that no longer exists")
    a, b = current_customer(session, a), current_customer(session, b)
    keep, gone = (a, b) if (a.id or 0) < (b.id or 0) else (b, a)
    merge_customers(session, keep, gone, at=at, actor=actor, reason=f"suggestion {link.id}")
    link.status, link.decided_at, link.decided_by = "confirmed", at, actor
    return keep


def dismiss_link(session: Session, link: CustomerLink, *, at: datetime, actor: str) -> None:
    if link.status != "suggested":
        raise MergeError(f"suggestion {link.id} is already {link.status}")
    link.status, link.decided_at, link.decided_by = "dismissed", at, actor
    audit(
        session,
        at=at,
        actor=actor,
        action="link_dismissed",
        customer_id=link.customer_id,
        other_id=link.other_id,
        suggestion=link.id,
    )
