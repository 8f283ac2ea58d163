"""The daemon as a real process: SIGKILL loses nothing, SIGTERM exits cleanly in time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from conftest import API_TOKEN, TELEGRAM_SECRET, TELEGRAM_TOKEN, server_client, wait_for

from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer, free_port
from sportello.connectors.emulators.telegram import TelegramEmulator

CUSTOMER = tg.user(5552001, "Luca", "Verdi", language_code="it")
HEADERS = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


def _write_config(path: Path, database_url: str, telegram_url: str) -> Path:
    path.write_text(
        f"""
[database]
url = "{database_url}"
[api]
tokens = ["{API_TOKEN}"]
[channels.telegram]
bot_token = "{TELEGRAM_TOKEN}"
webhook_secret = "{TELEGRAM_SECRET}"
api_base_url = "{telegram_url}"
"""
    )
    return path


def _start(config: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sportello.cli",
            "run",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"daemon exited: {process.stderr.read().decode()[-2000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).json() == {"status": "ok"}
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=60, interval=0.1)
    return process


def _update(n: int) -> bytes:
    message = tg.message(n, CUSTOMER, int(time.time()), text=f"messaggio numero {n}")
    return json.dumps(tg.update(700000 + n, message=message)).encode()


def test_sigkill_right_after_200_loses_nothing(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    tmp_path: Path,
) -> None:
    _, emulator_server = telegram_emulator
    config = _write_config(tmp_path / "s.toml", database_url, emulator_server.url)
    port = free_port()
    process = _start(config, port)
    url = f"http://127.0.0.1:{port}"
    count = 60
    with server_client(url) as client:
        for n in range(1, count + 1):
            response = client.post("/webhooks/telegram", content=_update(n), headers=HEADERS)
            assert response.status_code == 200
    process.send_signal(signal.SIGKILL)  # right after the last 200: work is still in flight
    process.wait(timeout=10)

    process = _start(config, port)
    try:
        api = server_client(url, headers={"Authorization": f"Bearer {API_TOKEN}"})

        def all_there() -> list[dict[str, Any]] | None:
            items = api.get("/api/v1/messages", params={"limit": 200}).json()["items"]
            return items if len(items) >= count else None

        items = wait_for(all_there, timeout=30)
        external_ids = [m["external_id"] for m in items]
        assert sorted(external_ids) == sorted(f"5552001:{n}" for n in range(1, count + 1))
        # Telegram re-delivers what it believes unanswered: still exactly once.
        for n in (1, count):
            api.post(f"{url}/webhooks/telegram", content=_update(n), headers=HEADERS)
        time.sleep(0.5)
        assert len(api.get("/api/v1/messages", params={"limit": 200}).json()["items"]) == count
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_sigterm_exits_zero_within_ten_seconds(
    sqlite_url: str, telegram_emulator: tuple[TelegramEmulator, BackgroundServer], tmp_path: Path
) -> None:
    _, emulator_server = telegram_emulator
    config = _write_config(tmp_path / "s.toml", sqlite_url, emulator_server.url)
    port = free_port()
    process = _start(config, port)
    httpx.post(
        f"http://127.0.0.1:{port}/webhooks/telegram", content=_update(1), headers=HEADERS
    ).raise_for_status()
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
