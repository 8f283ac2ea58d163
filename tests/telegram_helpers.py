"""A Telegram customer writing to the bot through a running daemon's webhook."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import TELEGRAM_SECRET, RunningDaemon, wait_for

from sportello.connectors.emulators import telegram_payloads as tg


def customer_writes(running: RunningDaemon, sender: dict[str, Any], text: str) -> int:
    """``sender`` (a ``tg.user``) writes ``text``: the id of their conversation, once the
    message is stored (a new update id each time)."""
    update_id = time.time_ns() // 1000 % 10**9
    message = tg.message(update_id % 1_000_000, sender, int(time.time()), text=text)
    update = json.dumps(tg.update(update_id, message=message)).encode()
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    assert running.post_webhook("telegram", update, headers).status_code == 200

    def stored() -> list[dict[str, Any]]:
        return [m for m in running.messages(direction="in") if m["text"] == text]

    return int(wait_for(stored)[0]["conversation_id"])
