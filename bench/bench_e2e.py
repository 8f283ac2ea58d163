"""End to end through a real daemon and the Telegram emulator, one customer message at a time.

1. Away message: the business is always closed; each new customer writes once; measured from
   the webhook POST to the away message arriving at the emulator's ``sendMessage``. Target:
   p99 under 1 s.
2. The agent-reply path: webhook in -> message visible through the API ->
   ``POST /api/v1/conversations/{id}/messages`` -> outbox -> the emulator receives it.

The baseline in the same run is ``/healthz`` on the same daemon.

``python bench/bench_e2e.py [--quick] [--n 100]``  Writes ``bench/results/e2e.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    VAR,
    DaemonProcess,
    daemon_config,
    latency_summary,
    sportello_run,
    table,
    write_results,
)

from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator

AWAY_TARGET_P99_S = 1.0
WAIT_S = 5.0
ALWAYS_CLOSED = """
[business_hours]
timezone = "Europe/Rome"
holidays = "IT"

[[away_messages]]
channels = ["telegram"]
when = "closed"
cooldown = "12h"
text.it = "Ciao {name}, siamo chiusi: ti rispondiamo da {next_open}."
text.en = "Hi {name}, we are closed: we will answer from {next_open}."
"""


class ArrivalClock:
    """ASGI middleware for the emulator: the monotonic instant each sendMessage arrives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrived: dict[int, list[float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/sendMessage"):
            await self.app(scope, receive, send)
            return
        at = time.monotonic()
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        chat_id = _chat_id(body)
        if chat_id is not None:
            with self._lock:
                self.arrived.setdefault(chat_id, []).append(at)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def wait(self, chat_id: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.arrived.get(chat_id)
            if found:
                return found[0]
            time.sleep(0.001)
        return None


def _chat_id(body: bytes) -> int | None:
    try:
        value = json.loads(body).get("chat_id")
    except (ValueError, AttributeError):
        from urllib.parse import parse_qs

        values = parse_qs(body.decode(errors="replace")).get("chat_id")
        value = values[0] if values else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def update(user_id: int, n: int, text: str) -> bytes:
    sender = {"id": user_id, "is_bot": False, "first_name": "Giulia", "language_code": "it"}
    message = {
        "message_id": n,
        "from": sender,
        "chat": {"id": user_id, "type": "private", "first_name": "Giulia"},
        "date": int(time.time()),
        "text": text,
    }
    return json.dumps({"update_id": n, "message": message}).encode()


def post_webhook(daemon: DaemonProcess, client: httpx.Client, body: bytes) -> None:
    response = client.post(
        f"{daemon.url}/webhooks/telegram",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
    )
    response.raise_for_status()


def healthz(client: httpx.Client, n: int) -> dict[str, Any]:
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        client.get("/healthz").raise_for_status()
        seconds.append(time.perf_counter() - started)
    return latency_summary(seconds)


def away_scenario(database_url: str, n: int) -> dict[str, Any]:
    emulator = TelegramEmulator(TELEGRAM_TOKEN, secret=TELEGRAM_SECRET)
    clock = ArrivalClock(emulator.app)
    platform = BackgroundServer(clock).start()
    config = daemon_config(database_url, telegram_api=platform.url, extra=ALWAYS_CLOSED)
    seconds: list[float] = []
    missed = 0
    try:
        with sportello_run(config, "e2e-away") as daemon, daemon.client() as client:
            baseline = healthz(client, 50)
            for i in range(n + 1):
                user_id = 810_000_000 + i  # a new customer each time: the cooldown is per customer
                started = time.monotonic()
                post_webhook(daemon, client, update(user_id, 1000 + i, "Ciao, siete aperti?"))
                arrived = clock.wait(user_id, WAIT_S)
                if i == 0:
                    continue  # warm-up: lazy imports and first connections
                if arrived is None:
                    missed += 1
                else:
                    seconds.append(arrived - started)
    finally:
        platform.stop()
    summary = latency_summary(seconds)
    return {
        "healthz": baseline,
        "webhook_to_away_message": summary,
        "missed_within_s": {"seconds": WAIT_S, "count": missed},
        "target_p99_under_1s": missed == 0 and (summary["p99_ms"] or 1e9) < 1000,
    }


def reply_scenario(database_url: str, n: int) -> dict[str, Any]:
    emulator = TelegramEmulator(TELEGRAM_TOKEN, secret=TELEGRAM_SECRET)
    clock = ArrivalClock(emulator.app)
    platform = BackgroundServer(clock).start()
    config = daemon_config(database_url, telegram_api=platform.url)
    visible, replied, total = [], [], []
    try:
        with sportello_run(config, "e2e-reply") as daemon, daemon.client() as client:
            baseline = healthz(client, 50)
            for i in range(n + 1):
                user_id = 820_000_000 + i
                started = time.monotonic()
                post_webhook(daemon, client, update(user_id, 2000 + i, "Il mio ordine?"))
                external_id = f"{user_id}:{2000 + i}"
                while not (
                    items := client.get(
                        "/api/v1/messages", params={"external_id": external_id}
                    ).json()["items"]
                ):
                    if time.monotonic() - started > WAIT_S:
                        raise RuntimeError(f"message {external_id} never became visible")
                    time.sleep(0.002)
                seen = time.monotonic()
                conversation = items[0]["conversation_id"]
                answered = time.monotonic()  # the sender may beat the 201 back to us
                client.post(
                    f"/api/v1/conversations/{conversation}/messages",
                    json={"text": "Controlliamo subito!"},
                ).raise_for_status()
                arrived = clock.wait(user_id, WAIT_S)
                if arrived is None:
                    raise RuntimeError(f"reply to {user_id} never reached the emulator")
                if i == 0:
                    continue
                visible.append(seen - started)
                replied.append(arrived - answered)
                total.append(arrived - started)
    finally:
        platform.stop()
    return {
        "healthz": baseline,
        "webhook_to_visible_in_api": latency_summary(visible),
        "reply_post_to_emulator": latency_summary(replied),
        "webhook_to_reply_at_emulator": latency_summary(total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--n", type=int, help="customer messages per scenario (default 200)")
    args = parser.parse_args()
    n = args.n or (3 if args.quick else 200)
    VAR.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"n": n, "database": "sqlite"}
    for name, scenario in (("away", away_scenario), ("reply", reply_scenario)):
        db = VAR / f"e2e-{name}.db"
        for stale in VAR.glob(db.name + "*"):
            stale.unlink()
        results[name] = scenario(f"sqlite:///{db}", n)

    rows = []
    away = results["away"]
    s = away["webhook_to_away_message"]
    rows.append(["webhook -> away message", s["p50_ms"], s["p99_ms"], s["n"]])
    for key in (
        "webhook_to_visible_in_api",
        "reply_post_to_emulator",
        "webhook_to_reply_at_emulator",
    ):
        s = results["reply"][key]
        rows.append([key.replace("_", " "), s["p50_ms"], s["p99_ms"], s["n"]])
    h = results["reply"]["healthz"]
    rows.append(["baseline /healthz", h["p50_ms"], h["p99_ms"], h["n"]])
    print("\nend to end (ms)")
    print(table(["path", "p50", "p99", "n"], rows))
    write_results("e2e", results, quick=args.quick)


if __name__ == "__main__":
    main()
