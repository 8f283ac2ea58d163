"""Messenger and WhatsApp Cloud API webhook payloads, shaped as Meta documents them.

Messenger: https://developers.facebook.com/docs/messenger-platform/webhooks (``object: page``,
``entry[].messaging[]``). WhatsApp: https://developers.facebook.com/docs/whatsapp/cloud-api/
webhooks/components (``object: whatsapp_business_account``, ``entry[].changes[].value``).
Timestamps: Messenger in milliseconds, WhatsApp in seconds (as a string).
"""

from __future__ import annotations

import secrets
from typing import Any

# Messenger ----------------------------------------------------------------------------


def new_mid() -> str:
    return "m_" + secrets.token_urlsafe(40)


def messenger_webhook(page_id: str, *events: dict[str, Any], time_ms: int) -> dict[str, Any]:
    """One page entry carrying ``events`` (Meta batches several events per entry)."""
    return {"object": "page", "entry": [messenger_entry(page_id, list(events), time_ms)]}


def messenger_entry(page_id: str, events: list[dict[str, Any]], time_ms: int) -> dict[str, Any]:
    return {"id": page_id, "time": time_ms, "messaging": events}


def messaging(sender: str, recipient: str, timestamp_ms: int, **body: Any) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": timestamp_ms,
        **body,
    }


def text_message(
    psid: str,
    page_id: str,
    timestamp_ms: int,
    text: str,
    mid: str | None = None,
    quick_reply_payload: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid or new_mid(), "text": text}
    if quick_reply_payload is not None:
        message["quick_reply"] = {"payload": quick_reply_payload}
    if reply_to is not None:
        message["reply_to"] = {"mid": reply_to}
    return messaging(psid, page_id, timestamp_ms, message=message)


def attachment_message(
    psid: str,
    page_id: str,
    timestamp_ms: int,
    attachments: list[dict[str, Any]],
    mid: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid or new_mid(), "attachments": attachments}
    if text is not None:
        message["text"] = text
    return messaging(psid, page_id, timestamp_ms, message=message)


def media(kind: str, url: str, sticker_id: int | None = None) -> dict[str, Any]:
    """An image, video, audio or file attachment (a sticker is an image with a sticker_id)."""
    payload: dict[str, Any] = {"url": url}
    if sticker_id is not None:
        payload["sticker_id"] = sticker_id
    return {"type": kind, "payload": payload}


def location(lat: float, long: float, title: str = "Pinned Location") -> dict[str, Any]:
    return {
        "type": "location",
        "title": title,
        "url": f"https://www.bing.com/maps/default.aspx?cp={lat}~{long}",
        "payload": {"coordinates": {"lat": lat, "long": long}},
    }


def fallback(url: str, title: str) -> dict[str, Any]:
    return {"type": "fallback", "title": title, "url": url, "payload": None}


def postback(
    psid: str,
    page_id: str,
    timestamp_ms: int,
    title: str,
    payload: str,
    mid: str | None = None,
) -> dict[str, Any]:
    return messaging(
        psid,
        page_id,
        timestamp_ms,
        postback={"mid": mid or new_mid(), "title": title, "payload": payload},
    )


def echo(
    page_id: str,
    psid: str,
    timestamp_ms: int,
    text: str,
    mid: str | None = None,
    app_id: int = 263902037430900,
    metadata: str | None = None,
) -> dict[str, Any]:
    """The page's own message coming back (sent from Business Suite, or by an app)."""
    message: dict[str, Any] = {"is_echo": True, "app_id": app_id, "mid": mid or new_mid()}
    if metadata is not None:
        message["metadata"] = metadata
    message["text"] = text
    return messaging(page_id, psid, timestamp_ms, message=message)


def delivery(
    psid: str, page_id: str, timestamp_ms: int, mids: list[str] | None, watermark: int
) -> dict[str, Any]:
    body: dict[str, Any] = {"watermark": watermark}
    if mids is not None:
        body["mids"] = mids
    return messaging(psid, page_id, timestamp_ms, delivery=body)


def read(psid: str, page_id: str, timestamp_ms: int, watermark: int) -> dict[str, Any]:
    return messaging(psid, page_id, timestamp_ms, read={"watermark": watermark})


def reaction(
    psid: str, page_id: str, timestamp_ms: int, mid: str, emoji: str = "\u2764\ufe0f"
) -> dict[str, Any]:
    return messaging(
        psid,
        page_id,
        timestamp_ms,
        reaction={"reaction": "love", "emoji": emoji, "action": "react", "mid": mid},
    )


def referral(psid: str, page_id: str, timestamp_ms: int, ref: str) -> dict[str, Any]:
    return messaging(
        psid,
        page_id,
        timestamp_ms,
        referral={"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"},
    )


def message_edit(
    psid: str, page_id: str, timestamp_ms: int, mid: str, text: str, num_edit: int = 1
) -> dict[str, Any]:
    return messaging(
        psid, page_id, timestamp_ms, message_edit={"mid": mid, "text": text, "num_edit": num_edit}
    )


# WhatsApp -----------------------------------------------------------------------------


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def whatsapp_webhook(
    waba_id: str, *values: dict[str, Any], field: str = "messages"
) -> dict[str, Any]:
    """One WhatsApp Business Account entry with one change per value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [whatsapp_entry(waba_id, list(values), field)],
    }


def whatsapp_entry(
    waba_id: str, values: list[dict[str, Any]], field: str = "messages"
) -> dict[str, Any]:
    return {"id": waba_id, "changes": [{"value": v, "field": field} for v in values]}


def wa_value(
    phone_number_id: str,
    display_phone_number: str = "15550783881",
    *,
    contacts: list[dict[str, Any]] | None = None,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    for key, items in (
        ("contacts", contacts),
        ("messages", messages),
        ("statuses", statuses),
        ("errors", errors),
    ):
        if items is not None:
            value[key] = items
    return value


def wa_contact(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def wa_message(
    wa_id: str,
    timestamp: int,
    kind: str,
    content: Any = None,
    wamid: str | None = None,
    context_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": wa_id,
        "id": wamid or new_wamid(),
        "timestamp": str(timestamp),
        "type": kind,
    }
    if context_id is not None:
        message["context"] = {"from": "15550783881", "id": context_id}
    if content is not None:
        message[kind] = content
    message.update(extra)
    return message


def wa_text(wa_id: str, timestamp: int, body: str, wamid: str | None = None) -> dict[str, Any]:
    return wa_message(wa_id, timestamp, "text", {"body": body}, wamid)


def wa_media(kind: str, media_id: str, mime_type: str, **fields: Any) -> dict[str, Any]:
    """The object of an image, video, audio, document or sticker message."""
    return {"mime_type": mime_type, "sha256": "dGVzdA==", "id": media_id, **fields}


def wa_button_reply(reply_id: str, title: str) -> dict[str, Any]:
    return {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}


def wa_list_reply(reply_id: str, title: str, description: str = "") -> dict[str, Any]:
    return {
        "type": "list_reply",
        "list_reply": {"id": reply_id, "title": title, "description": description},
    }


def wa_contact_card(formatted_name: str, phone: str, wa_id: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"phone": phone, "type": "CELL"}
    if wa_id is not None:
        entry["wa_id"] = wa_id
    first, _, last = formatted_name.partition(" ")
    return {
        "name": {"formatted_name": formatted_name, "first_name": first, "last_name": last},
        "phones": [entry],
    }


def wa_unsupported(wa_id: str, timestamp: int, wamid: str | None = None) -> dict[str, Any]:
    return wa_message(
        wa_id,
        timestamp,
        "unsupported",
        wamid=wamid,
        errors=[
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
    )


def wa_system_number_change(wa_id: str, new_wa_id: str, timestamp: int) -> dict[str, Any]:
    return wa_message(
        wa_id,
        timestamp,
        "system",
        {
            "body": f"User {wa_id} changed from {wa_id} to {new_wa_id}",
            "wa_id": new_wa_id,
            "type": "user_changed_number",
        },
    )


def wa_status(
    wamid: str,
    status: str,
    timestamp: int,
    recipient_id: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient_id,
    }
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors is not None:
        item["errors"] = errors
    return item


def wa_error(code: int, title: str, details: str) -> dict[str, Any]:
    return {"code": code, "title": title, "message": title, "error_data": {"details": details}}
