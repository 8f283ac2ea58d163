"""WhatsApp Business through the Cloud API: ``messages`` webhooks in, ``/messages`` out.

``external_id`` of a message is its ``wamid.…`` id; a conversation's thread and the
customer's identity are the ``wa_id``, and the identity's phone is ``+<wa_id>`` so the
same person is recognised on other channels by number.

Outside the 24-hour customer-service window only an approved template may be sent:
``channels.whatsapp.templates`` names one per purpose (``reply``, ``away``, ``rule``,
``survey``, ``follow_up``); each template has one body variable ``{{1}}`` that receives the
text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sportello.config.settings import Settings, WhatsAppSettings
from sportello.connectors import meta
from sportello.connectors.base import (
    MALFORMED,
    MAX_CAPTION,
    MAX_MEDIA_BYTES,
    Attachment,
    AttachmentKind,
    Button,
    Event,
    Ignored,
    InboundMessage,
    Media,
    MediaError,
    OutboundFile,
    OutboundMessage,
    ParseError,
    Person,
    RawDelivery,
    SendError,
    SendResult,
    StatusUpdate,
    Thread,
    WindowClosedError,
    file_by_platform_id,
    split_text,
    too_large,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
LIST_BUTTON = "Menu"
MEDIA: dict[str, AttachmentKind] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "file",
    "sticker": "sticker",
}
# What WhatsApp sends as a picture, video or recording, and each kind's limit (Cloud API,
# supported media types); anything else goes as a document.
FILE_TYPES = {
    "image": frozenset({"image/jpeg", "image/png"}),
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
}
FILE_LIMITS = {
    "image": 5 * 2**20,
    "video": 16 * 2**20,
    "audio": 16 * 2**20,
    "document": 100 * 2**20,
}
STATUSES = ("sent", "delivered", "read", "failed")
IGNORED_TYPES = {
    "reaction": "a reaction is not a message",
    "system": "a system notice (e.g. the customer changed number)",
    "request_welcome": "the customer opened the chat; nothing said yet",
}


class WhatsAppConnector(meta.MetaConnector):
    name = "whatsapp"
    max_text_length = MAX_TEXT
    platform = "WhatsApp"
    webhook_object = "whatsapp_business_account"
    files_expire = True  # media kept 30 days

    def __init__(self, settings: WhatsAppSettings) -> None:
        assert settings.access_token is not None and settings.phone_number_id is not None
        self.settings = settings
        self.phone_number_id = settings.phone_number_id
        graph = meta.GraphClient(
            "WhatsApp", settings.graph_base_url, settings.access_token.get_secret_value()
        )
        super().__init__(settings.app_secret, settings.verify_token, graph)

    @classmethod
    def from_settings(cls, settings: Settings) -> WhatsAppConnector | None:
        channel = settings.channels.whatsapp
        return cls(channel) if channel.enabled else None

    # inbound -------------------------------------------------------------------------

    def parse(self, delivery: RawDelivery) -> list[Event]:
        events: list[Event] = []
        for entry in self.entries(delivery.body):
            for change in meta.listed(entry, "changes"):
                try:
                    events.extend(self._change(change))
                except MALFORMED as exc:
                    raise ParseError(f"malformed change {change!r:.300}: {exc!r}") from None
        return events

    def _change(self, change: dict[str, Any]) -> list[Event]:
        field = change.get("field")
        if field != "messages":
            return [_ignored(str(field), "an account or template notice, not a conversation")]
        value = change["value"]
        number = (value.get("metadata") or {}).get("phone_number_id")
        if number is not None and str(number) != self.phone_number_id:
            return [_ignored("other_number", f"for phone number {number}, not ours")]
        names = {
            str(c["wa_id"]): (c.get("profile") or {}).get("name")
            for c in value.get("contacts") or []
        }
        events: list[Event] = [self._message(m, names) for m in value.get("messages") or []]
        events.extend(_status(s) for s in value.get("statuses") or [])
        for error in value.get("errors") or []:
            log.warning("WhatsApp reported an error: %s", _error_text([error]))
            events.append(_ignored("error", f"WhatsApp reported {_error_text([error])}"))
        return events

    def _message(self, message: dict[str, Any], names: Mapping[str, str | None]) -> Event:
        kind_name = str(message.get("type") or "unknown")
        if kind_name in IGNORED_TYPES:
            return _ignored(kind_name, IGNORED_TYPES[kind_name])
        wa_id = str(message["from"])
        kind, text, attachments, contacts, payload = _content(message, kind_name)
        context = message.get("context") or {}
        return InboundMessage(
            channel="whatsapp",
            external_id=str(message["id"]),
            thread=Thread(wa_id),
            customer=Person(wa_id, display_name=names.get(wa_id), phone=f"+{wa_id}"),
            sent_at=meta.from_seconds(message["timestamp"]),
            text=text,
            kind=kind,
            attachments=attachments,
            reply_to_external_id=str(context["id"]) if context.get("id") else None,
            button_payload=payload,
            shared_contacts=contacts,
        )

    # outbound ------------------------------------------------------------------------

    def can_send_free_form(
        self, last_customer_message_at: datetime | None, now: datetime, purpose: str
    ) -> str | None:
        if meta.window_open(last_customer_message_at, now) or self.settings.templates.get(purpose):
            return None
        since = meta.since_text(last_customer_message_at, now)
        return (
            "WhatsApp allows free-form messages only within 24 hours of the customer's last "
            f"message and {since}; configure an approved template as "
            f"channels.whatsapp.templates.{purpose} to send it anyway"
        )

    def parts(self, message: OutboundMessage) -> list[str]:
        """Within the 24-hour window the text's chunks (the last one holding the buttons);
        outside it one template message, whatever the text's length."""
        return [_shown(body, message) for body in self._bodies(message, self.now())]

    def _bodies(self, message: OutboundMessage, now: datetime) -> list[dict[str, Any]]:
        if meta.window_open(message.last_customer_message_at, now):
            return _free_form(message, split_text(message.text, MAX_TEXT))
        return [self._template(message)]

    async def send(self, message: OutboundMessage) -> SendResult:
        now, last = self.now(), message.last_customer_message_at
        if message.file is not None:
            refusal = self.can_send_file(message.file, last, now)
            if refusal is not None:
                raise SendError(refusal, retryable=False)
            bodies = await self._file_bodies(message, message.file)
        else:
            refusal = self.can_send_free_form(last, now, message.purpose)
            if refusal is not None:
                raise WindowClosedError(refusal)
            bodies = self._bodies(message, now)
        ids: list[str] = []
        for index, content in enumerate(bodies):
            body: dict[str, Any] = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": message.recipient_external_id,
                **content,
            }
            if index == 0 and message.reply_to_external_id:
                body["context"] = {"message_id": message.reply_to_external_id}
            answer = await self.graph.post(f"{self.phone_number_id}/messages", body)
            try:
                ids.append(str(answer["messages"][0]["id"]))
            except (KeyError, IndexError, TypeError):
                raise SendError(
                    f"WhatsApp answered without a message id: {answer}", retryable=False
                ) from None
        return SendResult(external_ids=tuple(ids), sent_at=now)

    # files ---------------------------------------------------------------------------

    @classmethod
    def fetches(cls, attachment: Mapping[str, Any]) -> bool:
        return file_by_platform_id(attachment)

    async def media(self, attachment: Mapping[str, Any]) -> Media:
        """``GET /{media-id}`` for the file's URL (it lasts five minutes, so it is asked for
        each time), then the file from that URL, both with the access token."""
        media_id = str(attachment["platform_id"])
        lookup, _ = await self.graph.fetch(
            f"{quote(media_id, safe='')}?phone_number_id={self.phone_number_id}"
        )
        try:
            found = json.loads(lookup)
            url, size = str(found["url"]), int(found.get("file_size") or 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MediaError(f"WhatsApp gave no URL for media {media_id}") from None
        if size > MAX_MEDIA_BYTES:
            raise too_large()
        content, content_type = await self.graph.fetch(url)
        mime = found.get("mime_type") or attachment.get("mime_type") or content_type
        return Media(content, str(mime or "application/octet-stream"))

    def can_send_file(
        self, file: OutboundFile, last_customer_message_at: datetime | None, now: datetime
    ) -> str | None:
        if not meta.window_open(last_customer_message_at, now):
            since = meta.since_text(last_customer_message_at, now)
            return (
                "WhatsApp sends files only within 24 hours of the customer's last message "
                f"(a template cannot carry one), and {since}"
            )
        kind = _file_kind(file)
        if len(file.content) > FILE_LIMITS[kind]:
            return f"WhatsApp takes a {kind} up to {FILE_LIMITS[kind] // 2**20} MB"
        return None

    async def _file_bodies(
        self, message: OutboundMessage, file: OutboundFile
    ) -> list[dict[str, Any]]:
        """The file (uploaded first: ``POST /{phone-number-id}/media``) with the text as its
        caption; a text too long for a caption, or beside audio (which takes none), after it."""
        uploaded = await self.graph.upload(
            f"{self.phone_number_id}/media",
            {"messaging_product": "whatsapp", "type": file.mime_type},
            (file.name, file.content, file.mime_type),
        )
        kind = _file_kind(file)
        media: dict[str, Any] = {"id": str(uploaded.get("id"))}
        captioned = kind != "audio" and len(message.text) <= MAX_CAPTION
        if captioned and message.text:
            media["caption"] = message.text
        if kind == "document":
            media["filename"] = file.name
        bodies: list[dict[str, Any]] = [{"type": kind, kind: media}]
        if message.text and not captioned:
            bodies += _free_form(message, split_text(message.text, MAX_TEXT))
        return bodies

    def _template(self, message: OutboundMessage) -> dict[str, Any]:
        name = self.settings.templates[message.purpose]
        # Template parameters may not hold new lines, tabs or runs of spaces.
        parameter = " ".join(message.text.split())
        return {
            "type": "template",
            "template": {
                "name": name,
                "language": {"code": self.settings.template_language},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": parameter}]}
                ],
            },
        }


def _file_kind(file: OutboundFile) -> str:
    """How WhatsApp sends ``file``: its own kinds take a few types each, a document any."""
    for kind, types in FILE_TYPES.items():
        if file.mime_type in types:
            return kind
    return "document"


def _free_form(message: OutboundMessage, chunks: list[str]) -> list[dict[str, Any]]:
    """Message bodies for a text's ``chunks``, the buttons (≤3 reply buttons, else a list)
    on the last."""
    if not message.buttons:
        return [{"type": "text", "text": {"preview_url": False, "body": c}} for c in chunks]
    if len(message.buttons) > MAX_LIST_ROWS:
        raise SendError(
            f"WhatsApp lists hold at most {MAX_LIST_ROWS} options, not {len(message.buttons)}",
            retryable=False,
        )
    chunks = chunks[:-1] + split_text(chunks[-1], MAX_INTERACTIVE_BODY)
    bodies = [{"type": "text", "text": {"preview_url": False, "body": c}} for c in chunks[:-1]]
    bodies.append({"type": "interactive", "interactive": _interactive(chunks[-1], message.buttons)})
    return bodies


def _shown(body: Mapping[str, Any], message: OutboundMessage) -> str:
    """The text a message body shows: its own, or the whole text a template carries."""
    if body["type"] == "text":
        return str(body["text"]["body"])
    if body["type"] == "interactive":
        return str(body["interactive"]["body"]["text"])
    return message.text


def _interactive(text: str, buttons: tuple[Button, ...]) -> dict[str, Any]:
    if len(buttons) <= MAX_REPLY_BUTTONS:
        return {
            "type": "button",
            "body": {"text": text},
            "action": {
                "buttons": [
                    {
                        "type": "reply",
                        "reply": {"id": b.payload, "title": meta.fit(b.label, MAX_BUTTON_TITLE)},
                    }
                    for b in buttons
                ]
            },
        }
    return {
        "type": "list",
        "body": {"text": text},
        "action": {
            "button": LIST_BUTTON,
            "sections": [
                {
                    "rows": [
                        {"id": b.payload, "title": meta.fit(b.label, MAX_ROW_TITLE)}
                        for b in buttons
                    ]
                }
            ],
        },
    }


def _ignored(kind: str, reason: str) -> Ignored:
    return Ignored(channel="whatsapp", kind=kind, reason=reason)


def _status(status: dict[str, Any]) -> Event:
    state = status.get("status")
    if state not in STATUSES:
        return _ignored(f"status:{state}", "a status sportello does not track")
    errors = status.get("errors") or []
    return StatusUpdate(
        channel="whatsapp",
        external_id=str(status["id"]),
        status=state,
        at=meta.from_seconds(status["timestamp"]),
        error=_error_text(errors) if errors else None,
        recipient_id=status.get("recipient_id"),
    )


def _error_text(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        details = (error.get("error_data") or {}).get("details")
        title = error.get("title") or error.get("message") or "error"
        parts.append(f"{error.get('code')} {title}" + (f": {details}" if details else ""))
    return "; ".join(parts)


def _content(
    message: dict[str, Any], kind_name: str
) -> tuple[Any, str, tuple[Attachment, ...], tuple[Person, ...], str | None]:
    """Kind, text, attachments, shared contacts and button payload of a customer's message."""
    body = message.get(kind_name) or {}
    if kind_name == "text":
        return "text", str(body.get("body") or ""), (), (), None
    if kind_name in MEDIA:
        attachment = Attachment(
            MEDIA[kind_name],
            platform_id=body.get("id"),
            mime_type=body.get("mime_type"),
            name=body.get("filename"),
        )
        kind = "sticker" if kind_name == "sticker" else "media"
        return kind, str(body.get("caption") or ""), (attachment,), (), None
    if kind_name == "location":
        place = {k: body[k] for k in ("latitude", "longitude", "name", "address") if k in body}
        text = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        return (
            "location",
            text,
            (Attachment("location", url=body.get("url"), extra=place),),
            (),
            None,
        )
    if kind_name == "contacts":
        return "contact", "", *_contacts(message.get("contacts") or []), None
    if kind_name == "interactive":
        reply = body.get("button_reply") or body.get("list_reply")
        if reply:
            return "button", str(reply.get("title") or ""), (), (), reply.get("id")
    if kind_name == "button":
        return "button", str(body.get("text") or ""), (), (), body.get("payload")
    errors = message.get("errors") or []
    extra: dict[str, Any] = {"type": kind_name}
    if errors:
        extra["error"] = _error_text(errors)
    return "unsupported", "", (Attachment("unsupported", extra=extra),), (), None


def _contacts(cards: list[dict[str, Any]]) -> tuple[tuple[Attachment, ...], tuple[Person, ...]]:
    attachments: list[Attachment] = []
    people: list[Person] = []
    for card in cards:
        name = (card.get("name") or {}).get("formatted_name")
        phones = [p for p in card.get("phones") or [] if p.get("phone") or p.get("wa_id")]
        attachments.append(
            Attachment("contact", name=name, extra={"phones": [p.get("phone") for p in phones]})
        )
        for phone in phones:
            wa_id = phone.get("wa_id")
            number = phone.get("phone") or f"+{wa_id}"
            people.append(
                Person(str(wa_id) if wa_id else f"phone:{number}", display_name=name, phone=number)
            )
    return tuple(attachments), tuple(people)
