"""The load process: signed webhook deliveries over keep-alive HTTP/1.1 connections on loopback.

Run as its own process (``python bench/loadgen.py '<json spec>'``) so that the client's CPU is
not the server's. A minimal asyncio HTTP/1.1 client is used rather than httpx: on a two-core
machine a heavier client would saturate before the bare endpoint does and hide the ceiling.

Spec keys: ``url``, ``kind`` (``telegram`` or ``whatsapp``), ``mode`` (``closed``: ``concurrency``
requests always in flight; ``open``: ``rate`` requests per second on a schedule, latency counted
from the scheduled instant so a stalled server cannot hide its queue), ``duration`` (s),
``first_id`` (the first update number; each request is a new delivery), ``duplicate_every``
(every n-th request re-sends an earlier delivery, to check that it adds nothing).
Writes one JSON object to the file ``out``: status counts, latencies of the answered requests,
the monotonic instant each new delivery was accepted, and how many distinct ones were accepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

TEXTS = [
    "Ciao, il mio ordine non è ancora arrivato, potete controllare?",
    "Buongiorno, vorrei sapere gli orari del negozio di via Roma",
    "Hi, I was charged twice for order 4821, can you help?",
    "Il pacco è arrivato danneggiato 😡 voglio un rimborso",
    "Grazie mille per l'aiuto, tutto risolto!",
    "When does the summer sale start?",
    "Posso cambiare l'indirizzo di consegna?",
    "The app keeps crashing when I open my cart",
]
USERS = 2000


def telegram_delivery(n: int, secret: str) -> tuple[bytes, dict[str, str]]:
    user_id = 700_000_000 + n % USERS
    sender = {"id": user_id, "is_bot": False, "first_name": f"Cliente{n % USERS}"}
    update = {
        "update_id": n,
        "message": {
            "message_id": n,
            "from": sender,
            "chat": {"id": user_id, "type": "private", "first_name": sender["first_name"]},
            "date": int(time.time()),
            "text": TEXTS[n % len(TEXTS)],
        },
    }
    body = json.dumps(update, separators=(",", ":")).encode()
    return body, {"X-Telegram-Bot-Api-Secret-Token": secret}


def whatsapp_delivery(n: int, secret: str) -> tuple[bytes, dict[str, str]]:
    wa_id = str(393_470_000_000 + n % USERS)
    entry = {
        "id": "102290129340398",
        "changes": [
            {
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550783881",
                        "phone_number_id": "106540352242922",
                    },
                    "contacts": [{"profile": {"name": f"Cliente {n % USERS}"}, "wa_id": wa_id}],
                    "messages": [
                        {
                            "from": wa_id,
                            "id": f"wamid.HBgLBENCH{n:012d}AA==",
                            "timestamp": str(int(time.time())),
                            "type": "text",
                            "text": {"body": TEXTS[n % len(TEXTS)]},
                        }
                    ],
                },
            }
        ],
    }
    body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": f"sha256={digest}"}


DELIVERIES: dict[str, Callable[[int, str], tuple[bytes, dict[str, str]]]] = {
    "telegram": telegram_delivery,
    "whatsapp": whatsapp_delivery,
}


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status = int((await self.reader.readline()).split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value == b"chunked"
            elif name == b"connection" and value == b"close":
                close = True
        if chunked:
            await self._read_chunks()
        elif length:
            await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status

    async def _read_chunks(self) -> None:
        """Read a ``Transfer-Encoding: chunked`` body to its end (a body without a length)."""
        assert self.reader is not None
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            await self.reader.readexactly(size + 2)  # the chunk and its CRLF
        while await self.reader.readline() not in (b"\r\n", b""):  # trailers
            pass


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(spec["url"])
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    make = DELIVERIES[spec["kind"]]
    secret = spec["secret"]
    duration = float(spec["duration"])
    concurrency = int(spec.get("concurrency", 1))
    duplicate_every = int(spec.get("duplicate_every", 0))
    counter = iter(range(int(spec["first_id"]), 1 << 62))
    sent_ids: list[int] = []
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    accepted_at: list[float] = []
    accepted_ids: set[int] = set()
    rng = random.Random(7)

    bodies: dict[int, tuple[bytes, dict[str, str]]] = {}
    issued = [0]

    def next_delivery() -> tuple[int, bool]:
        """A new delivery, or every ``duplicate_every``-th time the same bytes as an earlier one,
        as a platform re-sends after a timeout."""
        issued[0] += 1
        if duplicate_every and sent_ids and issued[0] % duplicate_every == 0:
            return rng.choice(sent_ids), True
        n = next(counter)
        sent_ids.append(n)
        bodies[n] = make(n, secret)
        return n, False

    async def one(connection: Connection, started: float) -> None:
        n, duplicate = next_delivery()
        body, headers = bodies[n]
        try:
            status = await connection.post(path, body, headers)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            connection.writer = None
            status = 0
        done = time.monotonic()
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 200:
            latencies.append(done - started)
            if not duplicate and n not in accepted_ids:
                accepted_ids.add(n)
                accepted_at.append(done)

    start = time.monotonic()
    end = start + duration
    if spec["mode"] == "closed":

        async def loop() -> None:
            connection = Connection(host, port)
            while time.monotonic() < end:
                await one(connection, time.monotonic())

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    else:
        rate = float(spec["rate"])
        idle: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(concurrency):
            idle.put_nowait(Connection(host, port))
        tasks: set[asyncio.Task[None]] = set()

        async def scheduled(at: float) -> None:
            connection = await idle.get()
            try:
                await one(connection, at)
            finally:
                idle.put_nowait(connection)

        i = 0
        while (at := start + i / rate) < end:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(scheduled(at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if tasks:
            await asyncio.wait(tasks)
    elapsed = time.monotonic() - start
    return {
        "elapsed_s": elapsed,
        "requests": sum(statuses.values()),
        "statuses": statuses,
        "latencies_s": latencies,
        "accepted_at": accepted_at,
        "accepted_distinct": len(accepted_ids),
        "first_id": int(spec["first_id"]),
        "last_id": sent_ids[-1] if sent_ids else None,
        "start": start,
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    # a file, not stdout: the event loop may leave a pipe non-blocking and cut a long write
    with open(spec["out"], "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
