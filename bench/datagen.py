"""Realistic inbox data at scale, inserted in bulk through SQLAlchemy Core, cached by size.

For ``messages`` = N: N/10 customers, each on one to three channels (N/5 identities, one DM
conversation each, so N/5 conversations), about five messages per conversation alternating
customer and agent, spread over the last 90 days, with sentiment on inbound messages, a
realistic mix of open / waiting / resolved conversations, and some tags.

``python bench/datagen.py 100000 [--postgres]`` builds (or reuses) a dataset and prints where.
Library use: :func:`sqlite_dataset` and :func:`postgres_dataset` return a database URL.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import VAR
from pgschema import reset_schema, schema_comment, schema_url, set_schema_comment
from sqlalchemy import Engine, text

from sportello.inbox.db import make_engine, migrate
from sportello.inbox.models import (
    Conversation,
    ConversationTag,
    Customer,
    Identity,
    Message,
)

VERSION = 1  # bump when the shape of the generated data changes: caches are rebuilt
BATCH = 20_000
CHANNELS = ("whatsapp", "messenger", "x", "telegram")
CHANNEL_WEIGHTS = (40, 25, 20, 15)
FIRST = [
    "Giulia",
    "Marco",
    "Francesca",
    "Luca",
    "Sara",
    "Alessandro",
    "Chiara",
    "Matteo",
    "Anna",
    "Davide",
    "Emma",
    "James",
    "Olivia",
    "Noah",
    "Sofia",
    "Lorenzo",
]
LAST = [
    "Rossi",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "Smith",
    "Brown",
    "Esposito",
    "Ferrari",
    "Fontana",
    "Moretti",
]
INBOUND = [
    "Ciao, il mio ordine {n} non è ancora arrivato, potete controllare?",
    "Buongiorno, vorrei sapere se il prodotto è disponibile in negozio",
    "Hi, I was charged twice for order {n}, can you help me?",
    "Il pacco è arrivato danneggiato, vorrei un rimborso per favore",
    "Grazie mille, tutto risolto! Servizio eccellente",
    "When does the summer sale start? I want the blue jacket",
    "Posso cambiare l'indirizzo di consegna dell'ordine {n}?",
    "The app keeps crashing when I open my cart, really annoying",
    "Servizio pessimo, aspetto una risposta da tre giorni",
    "Avete la taglia M della giacca in vetrina?",
    "My refund for order {n} still hasn't arrived",
    "Quali sono gli orari di apertura domenica?",
]
OUTBOUND = [
    "Ciao {name}, controlliamo subito l'ordine {n} e ti aggiorniamo.",
    "Hi {name}, sorry about that: we have refunded the duplicate charge.",
    "Certo, la spedizione è partita oggi: ecco il tracking.",
    "Thanks {name}! Anything else we can help with?",
    "Ci scusiamo per il disagio, ti abbiamo inviato un buono sconto.",
    "Il negozio è aperto dalle 9 alle 19, domenica dalle 10 alle 13.",
]
TAGS = ["ordine", "rimborso", "spedizione", "vip", "reclamo", "info"]


def _external_id(channel: str, n: int) -> str:
    return {
        "whatsapp": str(393_400_000_000 + n),
        "messenger": str(6_000_000_000_000_000 + n),
        "x": str(1_400_000_000_000_000_000 + n),
        "telegram": str(500_000_000 + n),
    }[channel]


def _message_external_id(channel: str, thread: str, n: int) -> str:
    return {
        "whatsapp": f"wamid.HBgM{n:014d}FQIAERgS",
        "messenger": f"m_{n:020d}",
        "x": str(1_800_000_000_000_000_000 + n),
        "telegram": f"{thread}:{n}",
    }[channel]


def _label(compound: float) -> str:
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def generate(
    engine: Engine, messages: int, *, seed: int = 1, now: datetime | None = None
) -> dict[str, int]:
    """Insert a dataset of about ``messages`` messages into an empty, migrated database."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC).replace(microsecond=0)
    n_conversations = max(1, messages // 5)
    n_customers = max(1, messages // 10)
    customers, identities, conversations, tags, rows = [], [], [], [], []

    # identities (= conversations) are dealt to customers: each customer gets at least one
    owner = list(range(1, n_customers + 1)) + [
        rng.randint(1, n_customers) for _ in range(n_conversations - n_customers)
    ]
    owner.sort()
    names: dict[int, str] = {}
    for cid in range(1, n_customers + 1):
        names[cid] = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        customers.append(
            {
                "id": cid,
                "display_name": names[cid],
                "language": rng.choice(("it", "it", "it", "en")),
                "email": f"cliente{cid}@example.com" if rng.random() < 0.3 else None,
                "phone": f"+39347{cid:07d}" if rng.random() < 0.4 else None,
                "created_at": now - timedelta(days=rng.uniform(30, 400)),
            }
        )
    remaining = messages
    message_id = 0
    for conv_id, cid in enumerate(owner, start=1):
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        external = _external_id(channel, conv_id)
        identities.append(
            {
                "id": conv_id,
                "customer_id": cid,
                "channel": channel,
                "external_id": external,
                "handle": f"user{conv_id}" if channel in ("x", "telegram") else None,
                "phone": f"+{external}" if channel == "whatsapp" else None,
                "email": None,
                "display_name": names[cid],
                "language": None,
                "created_at": now - timedelta(days=rng.uniform(1, 120)),
            }
        )
        left = n_conversations - conv_id + 1
        count = (
            max(1, min(remaining - (left - 1), round(rng.uniform(1, 9)))) if left > 1 else remaining
        )
        remaining -= count
        at = now - timedelta(days=rng.uniform(0, 90))
        opened = at
        last_in = last_out = first_response = waiting = None
        worst = latest = None
        for i in range(count):
            inbound = i % 2 == 0
            if i:
                at += timedelta(minutes=rng.expovariate(1 / 45))
            at = min(at, now)
            message_id += 1
            compound = round(rng.uniform(-1, 1), 4) if inbound else None
            template = rng.choice(INBOUND if inbound else OUTBOUND)
            rows.append(
                {
                    "conversation_id": conv_id,
                    "customer_id": cid,
                    "identity_id": conv_id if inbound else None,
                    "channel": channel,
                    "direction": "in" if inbound else "out",
                    "author": "customer" if inbound else rng.choice(("agent",) * 9 + ("bot",)),
                    "kind": "text",
                    "external_id": _message_external_id(channel, external, message_id),
                    "text": template.format(n=10_000 + message_id % 90_000, name=names[cid]),
                    "attachments": [],
                    "sent_at": at,
                    "received_at": at + timedelta(seconds=1),
                    "sentiment_compound": compound,
                    "sentiment_label": None if compound is None else _label(compound),
                    "sentiment_language": "it" if inbound else None,
                    "sentiment_corrected": False,
                    "delivery_status": None if inbound else "delivered",
                }
            )
            if inbound:
                last_in = at
                waiting = waiting or at
                latest = compound
                worst = compound if worst is None else min(worst, compound)
            else:
                last_out = at
                first_response = first_response or at
                waiting = None
        recent = now - at < timedelta(days=7)
        status = (
            "open" if waiting and recent else rng.choice(("resolved",) * 8 + ("open", "snoozed"))
        )
        conversations.append(
            {
                "id": conv_id,
                "channel": channel,
                "thread_external_id": external,
                "customer_id": cid,
                "recipient_external_id": external,
                "title": None,
                "is_group": False,
                "public": False,
                "status": status,
                "assignee": rng.choice((None, None, "anna", "marco", "luca")),
                "priority": 1 if rng.random() < 0.05 else 0,
                "opened_at": opened,
                "first_response_at": first_response,
                "resolved_at": at if status == "resolved" else None,
                "snoozed_until": now + timedelta(days=1) if status == "snoozed" else None,
                "last_message_at": at,
                "last_customer_message_at": last_in,
                "last_agent_message_at": last_out,
                "waiting_since": waiting if status == "open" else None,
                "latest_sentiment": latest,
                "worst_sentiment": worst,
            }
        )
        if rng.random() < 0.3:
            tags.append({"conversation_id": conv_id, "tag": rng.choice(TAGS)})
    rows.sort(key=lambda r: r["sent_at"])  # ids follow time, as they do in a live inbox
    for i, row in enumerate(rows, start=1):
        row["id"] = i

    with engine.begin() as connection:
        for model, data in (
            (Customer, customers),
            (Identity, identities),
            (Conversation, conversations),
            (ConversationTag, tags),
            (Message, rows),
        ):
            table = model.__table__  # type: ignore[attr-defined]
            for batch in _batches(data):
                connection.execute(table.insert(), batch)
        if engine.dialect.name == "postgresql":
            for name in ("customers", "identities", "conversations", "messages"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
        connection.execute(text("ANALYZE"))
    return {
        "customers": len(customers),
        "identities": len(identities),
        "conversations": len(conversations),
        "messages": len(rows),
    }


def _tag(messages: int) -> str:
    return f"sportello-bench-datagen v{VERSION} messages={messages}"


def sqlite_dataset(messages: int) -> str:
    """A cached SQLite file with ``messages`` messages (built on first use); its URL."""
    path = VAR / f"inbox-v{VERSION}-{messages}.db"
    if not path.exists():
        building = path.with_suffix(".building")
        for stale in VAR.glob(building.name + "*"):
            stale.unlink()
        started = time.monotonic()
        engine = make_engine(f"sqlite:///{building}")
        migrate(engine)
        counts = generate(engine, messages)
        engine.dispose()
        building.rename(path)
        print(f"generated {counts} in {time.monotonic() - started:.1f}s -> {path}")
    return f"sqlite:///{path}"


def postgres_dataset(base_url: str, messages: int) -> str:
    """A cached schema ``inbox_<messages>`` of the bench database; a URL that uses it."""
    schema = f"inbox_{messages}"
    if schema_comment(base_url, schema) != _tag(messages):
        started = time.monotonic()
        url = reset_schema(base_url, schema)
        engine = make_engine(url)
        migrate(engine)
        counts = generate(engine, messages)
        engine.dispose()
        set_schema_comment(base_url, schema, _tag(messages))
        print(f"generated {counts} in {time.monotonic() - started:.1f}s -> {schema}")
    return schema_url(base_url, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("messages", type=int)
    parser.add_argument("--postgres", action="store_true", help="build in the bench database")
    args = parser.parse_args()
    if args.postgres:
        from common import postgres_url

        base = postgres_url()
        if base is None:
            raise SystemExit("PostgreSQL does not answer")
        print(postgres_dataset(base, args.messages))
    else:
        print(sqlite_dataset(args.messages))


if __name__ == "__main__":
    main()
