"""Telegram Bot API objects shaped exactly as the Bot API documents them.

Used by the emulator to build updates and by the tests to post them.
"""

from __future__ import annotations

from typing import Any


def user(
    user_id: int, first_name: str, last_name: str | None = None, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name:
        data["last_name"] = last_name
    data.update(extra)
    return data


def private_chat(sender: dict[str, Any]) -> dict[str, Any]:
    chat = {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}
    for key in ("last_name", "username"):
        if key in sender:
            chat[key] = sender[key]
    return chat


def group_chat(chat_id: int, title: str, supergroup: bool = True) -> dict[str, Any]:
    return {"id": chat_id, "title": title, "type": "supergroup" if supergroup else "group"}


def message(
    message_id: int,
    sender: dict[str, Any],
    date: int,
    chat: dict[str, Any] | None = None,
    **content: Any,
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "from": sender,
        "chat": chat or private_chat(sender),
        "date": date,
        **content,
    }


def update(update_id: int, **body: Any) -> dict[str, Any]:
    return {"update_id": update_id, **body}


def photo(file_id: str = "AgACAgQAAxkBAAIBZ2VfY") -> list[dict[str, Any]]:
    return [
        {
            "file_id": file_id + "s",
            "file_unique_id": "AQADs",
            "file_size": 1432,
            "width": 90,
            "height": 67,
        },
        {
            "file_id": file_id + "m",
            "file_unique_id": "AQADm",
            "file_size": 18221,
            "width": 320,
            "height": 240,
        },
        {
            "file_id": file_id,
            "file_unique_id": "AQADx",
            "file_size": 88342,
            "width": 1280,
            "height": 960,
        },
    ]


def inline_keyboard(buttons: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "inline_keyboard": [[{"text": label, "callback_data": data}] for label, data in buttons]
    }


def callback_query(
    query_id: str, sender: dict[str, Any], bot_message: dict[str, Any], data: str
) -> dict[str, Any]:
    return {
        "id": query_id,
        "from": sender,
        "message": bot_message,
        "chat_instance": "-5712312312312312312",
        "data": data,
    }


BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Sportello",
    "username": "sportello_demo_bot",
}
