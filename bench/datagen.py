"""A realistic generated inbox: Italian and English customers on the four channels.

Rows go in through SQLAlchemy Core ``insert`` in batches (no ORM objects), so a million
messages take minutes, not hours; the database triggers (SQLite full-text search) and
indexes see them exactly as they see live traffic. Conversations get consistent
derived fields (``waiting_since``, ``last_*_at``, sentiment) from their messages, and the
status events the daemon would have recorded: each conversation is ``opened``; some are
resolved between an agent's reply and the customer's next message and ``reopened`` by it; a
conversation quiet for :data:`RESOLVE_AFTER` has been resolved by an agent nine times in ten,
as in a working inbox, and the rest stay in the backlog.

    from sportello.bench.datagen import generate
    stats = generate(engine, customers=2_000, conversations=5_000, messages=20_000, seed=1)

The schema must exist (``sportello.inbox.db.migrate``). Ids continue after the largest
existing ones, so generating twice into one database adds a second inbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, text
from sqlmodel import SQLModel

from sportello.inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationTag,
    Customer,
    Identity,
    Message,
)
from sportello.inbox.triage_key import triage_key

CHANNELS = ("telegram", "whatsapp", "messenger", "x")
FIRST_IT = [
    "Giulia",
    "Marco",
    "Francesca",
    "Luca",
    "Chiara",
    "Alessandro",
    "Sara",
    "Matteo",
    "Elena",
    "Davide",
    "Martina",
    "Paolo",
    "Federica",
    "Giorgio",
    "Valentina",
    "Simone",
    "Anna",
    "Stefano",
    "Laura",
    "Andrea",
]
LAST_IT = [
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
]
FIRST_EN = [
    "Oliver",
    "Emma",
    "James",
    "Charlotte",
    "Harry",
    "Amelia",
    "George",
    "Sophie",
    "Jack",
    "Olivia",
    "Thomas",
    "Grace",
    "William",
    "Lucy",
    "Daniel",
    "Emily",
]
LAST_EN = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
]
# (text, sentiment compound) per language; placeholders keep messages varied.
TEXTS_IT = [
    ("Ciao, il mio ordine {order} non è ancora arrivato", -0.3),
    ("Vorrei un rimborso per l'ordine {order}, il prodotto è rotto", -0.6),
    ("Grazie mille, gentilissimi come sempre!", 0.8),
    ("A che ora aprite domani?", 0.0),
    ("Pessimo servizio, aspetto da tre giorni una risposta", -0.8),
    ("Posso cambiare l'indirizzo di spedizione dell'ordine {order}?", 0.0),
    ("La fattura {order} è sbagliata, mi servono i dati corretti", -0.4),
    ("Ottimo, tutto risolto, buona giornata", 0.7),
    ("Il pacco è arrivato danneggiato, che faccio?", -0.5),
    ("Avete disponibile la taglia M in blu?", 0.0),
]
TEXTS_EN = [
    ("Hi, my order {order} still hasn't arrived", -0.3),
    ("I want a refund for order {order}, the item is broken", -0.6),
    ("Thanks a lot, great support as always!", 0.8),
    ("What time do you open tomorrow?", 0.0),
    ("Terrible service, I have been waiting three days for an answer", -0.8),
    ("Can I change the delivery address of order {order}?", 0.0),
    ("The invoice {order} is wrong, please send a corrected one", -0.4),
    ("Perfect, all sorted, have a nice day", 0.7),
    ("The parcel arrived damaged, what should I do?", -0.5),
    ("Do you have size M in blue?", 0.0),
]
REPLIES_IT = [
    "Ciao {name}, controlliamo subito l'ordine {order}",
    "Ci dispiace per il disagio, ti abbiamo inviato un'etichetta di reso",
    "Certo, fatto! Serve altro?",
]
REPLIES_EN = [
    "Hi {name}, we are checking order {order} right away",
    "Sorry for the trouble, we sent you a return label",
    "Sure, done! Anything else?",
]
RESOLVE_AFTER = timedelta(days=2)
RESOLVED_WHEN_QUIET = 0.9
REOPENED_SHARE = 0.1  # customer messages after a reply that come once it was resolved
TAGS = ("shipping", "refund", "invoice", "vip", "complaint")
AGENTS = ("anna", "marco", "sofia")


@dataclass(frozen=True)
class Generated:
    customers: int
    identities: int
    conversations: int
    messages: int
    first_customer_id: int
    first_conversation_id: int
    first_message_id: int


def generate(
    engine: Engine,
    *,
    customers: int = 2_000,
    conversations: int = 5_000,
    messages: int = 20_000,
    seed: int = 0,
    now: datetime | None = None,
    span: timedelta = timedelta(days=60),
    batch: int = 5_000,
) -> Generated:
    """Insert a generated inbox; ``messages`` >= ``conversations`` >= 1, ``customers`` >= 1."""
    if not (customers >= 1 and conversations >= 1 and messages >= conversations):
        raise ValueError("need customers >= 1, conversations >= 1, messages >= conversations")
    rng = random.Random(seed)
    # conversations open up to a day before now, so the newest traffic is recent
    latest_opening = span.total_seconds() - min(span.total_seconds() * 0.05, 86_400)
    now = now or datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    start = now - span
    writer = _Writer(engine, batch)
    base = {t: writer.next_id(t) for t in ("customers", "identities", "conversations", "messages")}

    people: list[list[dict[str, Any]]] = []  # per customer: its identities
    identity_id = base["identities"]
    phones: set[str] = set()
    for n in range(customers):
        customer_id = base["customers"] + n
        italian = rng.random() < 0.6
        first = rng.choice(FIRST_IT if italian else FIRST_EN)
        last = rng.choice(LAST_IT if italian else LAST_EN)
        name = f"{first} {last}"
        phone = _phone(rng, italian)
        while phone in phones:  # a wa_id belongs to one person
            phone = _phone(rng, italian)
        phones.add(phone)
        email = (
            f"{first}.{last}{rng.randint(1, 999)}@example.com".lower()
            if rng.random() < 0.4
            else None
        )
        created = start + timedelta(seconds=rng.uniform(0, span.total_seconds() / 2))
        writer.add(
            Customer,
            id=customer_id,
            display_name=name,
            language="it" if italian else "en",
            email=email,
            phone=phone if rng.random() < 0.5 else None,
            created_at=created,
            merged_into_id=None,
        )
        own = []
        for channel in rng.sample(CHANNELS, k=1 if rng.random() < 0.7 else 2):
            row = {
                "id": identity_id,
                "customer_id": customer_id,
                "channel": channel,
                "external_id": _platform_id(channel, identity_id, phone),
                "handle": f"{first}{last[:1]}{identity_id % 97}".lower()
                if channel in ("telegram", "x")
                else None,
                "phone": phone if channel == "whatsapp" else None,
                "email": None,
                "display_name": name,
                "language": "it" if italian else "en",
                "created_at": created,
            }
            writer.add(Identity, **row)
            own.append(row)
            identity_id += 1
        people.append(own)

    sizes = [1] * conversations
    for index in rng.choices(range(conversations), k=messages - conversations):
        sizes[index] += 1
    # ids in the order things happen, as a daemon assigns them: conversations by opening
    # time, each one's messages together (so ids run a few days out of order at most)
    openings = sorted(rng.uniform(0, latest_opening) for _ in range(conversations))
    message_id = base["messages"]
    for n, (size, opening) in enumerate(zip(sizes, openings, strict=True)):
        conversation_id = base["conversations"] + n
        identity = rng.choice(rng.choice(people))
        italian = identity["language"] == "it"
        opened = start + timedelta(seconds=opening)
        at = opened
        state = _ConversationState()
        assignee = rng.choice((None, None, *AGENTS))
        closer = assignee or rng.choice(AGENTS)
        rows: list[dict[str, Any]] = []
        events: list[tuple[str, datetime, str | None, dict[str, Any]]] = [
            ("opened", opened, None, {})
        ]
        for position in range(size):
            inbound = position == 0 or rng.random() < 0.55
            if inbound and state.answered and rng.random() < REOPENED_SHARE:
                assert state.last_at is not None
                closed = state.last_at + timedelta(minutes=rng.uniform(1, 30))
                if closed < at:
                    events.append(("resolved", closed, closer, {"previous": "open"}))
                    events.append(("reopened", at, None, {"previous": "resolved"}))
            order = f"#{rng.randint(10000, 99999)}"
            if inbound:
                body, compound = rng.choice(TEXTS_IT if italian else TEXTS_EN)
                body = body.format(order=order)
            else:
                body = rng.choice(REPLIES_IT if italian else REPLIES_EN)
                body, compound = body.format(name=identity["display_name"], order=order), None
            rows.append(
                dict(
                    id=message_id,
                    conversation_id=conversation_id,
                    customer_id=identity["customer_id"],
                    identity_id=identity["id"] if inbound else None,
                    channel=identity["channel"],
                    direction="in" if inbound else "out",
                    author="customer" if inbound else "agent",
                    sent_by=None if inbound else closer,
                    kind="text",
                    external_id=f"gen:{message_id}",
                    reply_to_external_id=None,
                    text=body,
                    attachments=[],
                    sent_at=at,
                    received_at=at,
                    edited_at=None,
                    sentiment_compound=compound,
                    sentiment_label=_label(compound),
                    sentiment_language=("it" if italian else "en") if inbound else None,
                    sentiment_corrected=False,
                    delivery_status=None if inbound else "read",
                    delivery_error=None,
                    button_payload=None,
                )
            )
            state.note(inbound, at, compound)
            message_id += 1
            at = min(at + timedelta(minutes=rng.expovariate(1 / 90)), now)
        assert state.last_at is not None
        if now - state.last_at > RESOLVE_AFTER and rng.random() < RESOLVED_WHEN_QUIET:
            status = "resolved"
        else:
            waiting = state.waiting_since is not None
            status = "open" if waiting else rng.choice(("resolved", "resolved", "pending"))
        resolved_at = None
        if status == "resolved":
            resolved_at = min(state.last_at + timedelta(minutes=rng.uniform(1, 120)), now)
            events.append(("resolved", resolved_at, closer, {"previous": "open"}))
            state.waiting_since = None
        elif status == "pending":
            paused = min(state.last_at + timedelta(minutes=rng.uniform(1, 30)), now)
            events.append(("pending", paused, closer, {"previous": "open"}))
        priority = rng.choices((0, 1, 2, 3), weights=(80, 12, 6, 2))[0]
        writer.add(
            Conversation,
            id=conversation_id,
            channel=identity["channel"],
            thread_external_id=f"gen:{conversation_id}",
            customer_id=identity["customer_id"],
            recipient_external_id=identity["external_id"],
            title=None,
            is_group=False,
            public=identity["channel"] == "x" and rng.random() < 0.3,
            status=status,
            assignee=assignee,
            priority=priority,
            opened_at=opened,
            first_response_at=state.first_response_at,
            resolved_at=resolved_at,
            snoozed_until=None,
            last_message_at=state.last_at,
            last_customer_message_at=state.last_customer_at,
            last_agent_message_at=state.last_agent_at,
            waiting_since=state.waiting_since,
            latest_sentiment=state.latest,
            worst_sentiment=state.worst,
            triage_key=triage_key(
                waiting_since=state.waiting_since,
                priority=priority,
                sla_due_at=None,
                latest_sentiment=state.latest,
                last_message_at=state.last_at,
            ),
        )
        for row in rows:  # after their conversation: a batch never holds orphans
            writer.add(Message, **row)
        for kind, event_at, actor, data in events:
            writer.add(
                ConversationEvent,
                conversation_id=conversation_id,
                kind=kind,
                at=event_at,
                actor=actor,
                data=data,
            )
        for tag in rng.sample(TAGS, k=rng.choices((0, 1, 2), weights=(60, 30, 10))[0]):
            writer.add(ConversationTag, conversation_id=conversation_id, tag=tag)
    writer.close()
    return Generated(
        customers=customers,
        identities=identity_id - base["identities"],
        conversations=conversations,
        messages=messages,
        first_customer_id=base["customers"],
        first_conversation_id=base["conversations"],
        first_message_id=base["messages"],
    )


class _ConversationState:
    """The derived fields of a conversation, folded over its messages in time order."""

    def __init__(self) -> None:
        self.waiting_since: datetime | None = None
        self.first_response_at: datetime | None = None
        self.last_at: datetime | None = None
        self.last_customer_at: datetime | None = None
        self.last_agent_at: datetime | None = None
        self.latest: float | None = None
        self.worst: float | None = None

    @property
    def answered(self) -> bool:
        """The last message was the business's."""
        return self.last_at is not None and self.waiting_since is None

    def note(self, inbound: bool, at: datetime, compound: float | None) -> None:
        self.last_at = at
        if inbound:
            self.last_customer_at = at
            self.waiting_since = self.waiting_since or at
            if compound is not None:
                self.latest = compound
                self.worst = compound if self.worst is None else min(self.worst, compound)
        else:
            self.last_agent_at = at
            self.first_response_at = self.first_response_at or at
            self.waiting_since = None


class _Writer:
    """Buffers rows per table and inserts them in batches, parents before children."""

    ORDER = (
        "customers",
        "identities",
        "conversations",
        "conversation_tags",
        "conversation_events",
        "messages",
    )

    def __init__(self, engine: Engine, batch: int) -> None:
        self.engine = engine
        self.batch = batch
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.ORDER}
        self.tables: dict[str, Table] = {}

    def next_id(self, table: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT max(id) FROM {table}")).scalar() or 0) + 1

    def add(self, model: type[SQLModel], **row: Any) -> None:
        table: Table = model.__table__  # type: ignore[attr-defined]
        self.tables[table.name] = table
        pending = self.rows[table.name]
        pending.append(row)
        if len(pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        with self.engine.begin() as connection:
            for name in self.ORDER:
                if self.rows[name]:
                    connection.execute(self.tables[name].insert(), self.rows[name])
                    self.rows[name] = []

    def close(self) -> None:
        self.flush()
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as connection:  # explicit ids: move the sequences past them
            for name in ("customers", "identities", "conversations", "messages"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {name}))"
                    )
                )


def _phone(rng: random.Random, italian: bool) -> str:
    if italian:
        return f"+393{rng.choice('2345679')}{rng.randint(0, 9)}{rng.randint(1000000, 9999999)}"
    return f"+447{rng.choice('45789')}{rng.randint(10000000, 99999999)}"


def _platform_id(channel: str, identity_id: int, phone: str) -> str:
    if channel == "whatsapp":
        return phone.lstrip("+")
    if channel == "messenger":
        return str(7_000_000_000_000_000 + identity_id)
    if channel == "x":
        return str(1_400_000_000_000_000_000 + identity_id)
    return str(600_000_000 + identity_id)


def _label(compound: float | None) -> str | None:
    if compound is None:
        return None
    return "negative" if compound <= -0.05 else "positive" if compound >= 0.05 else "neutral"
