"""Facebook Messenger through the Graph API: page webhooks in, the Send API out.

``external_id`` of a message is its ``mid``; a conversation's thread and the customer's
identity are the Page-scoped ID (PSID). The page's own messages come back as echoes:
those typed in Meta Business Suite are stored as outbound agent messages; those we sent
through the Send API carry our ``metadata`` marker and are ignored (the message is already
stored with the same ``mid`` from the Send API's answer, and the (channel, external_id)
dedup would drop them anyway).

Read receipts (and deliveries without ``mids``) are watermarks: every message the page
sent in the thread before that instant; they become :class:`StatusWatermark` events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sportello.config.settings import MessengerSettings, Settings
from sportello.connectors import meta
from sportello.connectors.base import (
    FILE_KINDS,
    MALFORMED,
    Attachment,
    AttachmentKind,
    Event,
    Ignored,
    InboundMessage,
    Media,
    MediaError,
    MessageEdited,
    OutboundFile,
    OutboundMessage,
    ParseError,
    Person,
    RawDelivery,
    SendError,
    SendResult,
    StatusUpdate,
    StatusWatermark,
    Thread,
    WindowClosedError,
)

log = logging.getLogger(__name__)

MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
HUMAN_AGENT = "HUMAN_AGENT"
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Sent as ``message.metadata`` and returned in the echo, so our own echoes are recognised.
ECHO_MARKER = "sportello"
MEDIA: dict[str, AttachmentKind] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "file",
}
# Where Meta keeps the files customers send (``scontent-*.xx.fbcdn.net``, ``cdn.fbsbx.com``):
# the daemon fetches a stored link only from there or from the Graph API's own host.
FILE_HOSTS = (".fbcdn.net", ".fbsbx.com")
MAX_FILE_BYTES = 25 * 2**20
IGNORED_EVENTS = {
    "reaction": "a reaction is not a message",
    "referral": "the customer arrived through a link or an ad; nothing said yet",
    "optin": "a plugin or notification opt-in, not a message",
    "account_linking": "account linking, not a message",
    "policy_enforcement": "a policy notice from Meta",
    "pass_thread_control": "handover protocol notice",
    "take_thread_control": "handover protocol notice",
    "request_thread_control": "handover protocol notice",
    "app_roles": "handover protocol notice",
    "game_play": "a game event, not a message",
}


class MessengerConnector(meta.MetaConnector):
    name = "messenger"
    max_text_length = MAX_TEXT
    platform = "Messenger"
    webhook_object = "page"
    files_expire = True  # CDN links expire after some days
    has_profiles = True

    def __init__(self, settings: MessengerSettings) -> None:
        assert settings.page_access_token is not None and settings.page_id is not None
        self.settings = settings
        self.page_id = settings.page_id
        graph = meta.GraphClient(
            "Messenger", settings.graph_base_url, settings.page_access_token.get_secret_value()
        )
        super().__init__(settings.app_secret, settings.verify_token, graph)

    @classmethod
    def from_settings(cls, settings: Settings) -> MessengerConnector | None:
        channel = settings.channels.messenger
        return cls(channel) if channel.enabled else None

    # inbound -------------------------------------------------------------------------

    def parse(self, delivery: RawDelivery) -> list[Event]:
        events: list[Event] = []
        for entry in self.entries(delivery.body):
            if entry.get("changes"):
                events.append(_ignored("changes", "a Page feed change, not a conversation"))
            # ``standby`` carries the same events while another app owns the thread.
            for item in [*meta.listed(entry, "messaging"), *meta.listed(entry, "standby")]:
                try:
                    events.extend(self._events(item))
                except MALFORMED as exc:
                    raise ParseError(f"malformed messaging event {item!r:.300}: {exc!r}") from None
        return events

    def _events(self, item: dict[str, Any]) -> list[Event]:
        sender = str(item["sender"]["id"])
        recipient = str(item["recipient"]["id"])
        at = meta.from_millis(item["timestamp"])
        if "message" in item:
            return [self._message(item["message"], sender, recipient, at)]
        if "postback" in item:
            return [_postback(item["postback"], sender, at)]
        if "message_edit" in item:
            edit = item["message_edit"]
            return [MessageEdited("messenger", str(edit["mid"]), str(edit.get("text") or ""), at)]
        if "delivery" in item:
            delivery = item["delivery"]
            events: list[Event] = [
                StatusUpdate("messenger", str(mid), "delivered", at, recipient_id=sender)
                for mid in delivery.get("mids") or []
            ]
            if delivery.get("watermark"):
                up_to = meta.from_millis(delivery["watermark"])
                events.append(StatusWatermark("messenger", sender, "delivered", up_to))
            return events or [_ignored("delivery", "a delivery receipt naming no message")]
        if "read" in item:
            up_to = meta.from_millis(item["read"]["watermark"])
            return [StatusWatermark("messenger", sender, "read", up_to)]
        for kind, reason in IGNORED_EVENTS.items():
            if kind in item:
                return [_ignored(kind, reason)]
        kinds = sorted(k for k in item if k not in ("sender", "recipient", "timestamp"))
        return [_ignored(",".join(kinds) or "empty", "Messenger event type not handled")]

    def _message(self, message: dict[str, Any], sender: str, recipient: str, at: datetime) -> Event:
        echo = bool(message.get("is_echo"))
        if echo and message.get("metadata") == ECHO_MARKER:
            return _ignored("echo", "echo of a message sportello sent; already stored")
        customer = recipient if echo else sender
        kind, text, attachments = _content(message)
        quick_reply = message.get("quick_reply") or {}
        if quick_reply and not echo:
            kind = "button"
        reply_to = (message.get("reply_to") or {}).get("mid")
        return InboundMessage(
            channel="messenger",
            external_id=str(message["mid"]),
            thread=Thread(customer),
            customer=Person(customer),
            sent_at=at,
            text=text,
            kind=kind,
            direction="out" if echo else "in",
            attachments=attachments,
            reply_to_external_id=str(reply_to) if reply_to else None,
            button_payload=quick_reply.get("payload") if quick_reply else None,
        )

    # outbound ------------------------------------------------------------------------

    def can_send_free_form(
        self, last_customer_message_at: datetime | None, now: datetime, purpose: str
    ) -> str | None:
        if meta.window_open(last_customer_message_at, now):
            return None
        since = meta.since_text(last_customer_message_at, now)
        tag = self.settings.message_tag
        if tag is None:
            return (
                "Messenger allows free-form messages only within 24 hours of the customer's "
                f"last message and {since}; set channels.messenger.message_tag "
                "(e.g. HUMAN_AGENT) to reply later"
            )
        if tag == HUMAN_AGENT:
            if purpose != "reply":
                return (
                    f"the HUMAN_AGENT tag covers only a person's reply, not an automatic "
                    f"{purpose} message, and {since}"
                )
            if last_customer_message_at is None or (
                now - last_customer_message_at >= HUMAN_AGENT_WINDOW
            ):
                return (
                    "Messenger's HUMAN_AGENT tag allows replies only within 7 days of the "
                    f"customer's last message and {since}"
                )
        return None

    async def send(self, message: OutboundMessage) -> SendResult:
        now = self.now()
        refusal = self.can_send_free_form(message.last_customer_message_at, now, message.purpose)
        if refusal is not None:
            raise WindowClosedError(refusal)
        if meta.window_open(message.last_customer_message_at, now):
            messaging: dict[str, Any] = {"messaging_type": "RESPONSE"}
        else:
            messaging = {"messaging_type": "MESSAGE_TAG", "tag": self.settings.message_tag}
        if len(message.buttons) > MAX_QUICK_REPLIES:
            raise SendError(
                f"Messenger shows at most {MAX_QUICK_REPLIES} quick replies, "
                f"not {len(message.buttons)}",
                retryable=False,
            )
        ids: list[str] = []
        if message.file is not None:
            ids.append(await self._send_file(message, message.file, messaging))
        if message.text or message.file is None:
            ids += await self._send_texts(message, messaging)
        return SendResult(external_ids=tuple(ids), sent_at=now)

    async def _send_texts(self, message: OutboundMessage, messaging: dict[str, Any]) -> list[str]:
        chunks = self.parts(message)
        ids: list[str] = []
        for index, chunk in enumerate(chunks):
            content: dict[str, Any] = {"text": chunk, "metadata": ECHO_MARKER}
            if index == len(chunks) - 1 and message.buttons:
                content["quick_replies"] = [
                    {
                        "content_type": "text",
                        "title": meta.fit(button.label, MAX_QUICK_REPLY_TITLE),
                        "payload": button.payload,
                    }
                    for button in message.buttons
                ]
            body = {"recipient": {"id": message.recipient_external_id}, **messaging}
            body["message"] = content
            ids.append(_message_id(await self.graph.post(f"{self.page_id}/messages", body)))
        return ids

    async def _send_file(
        self, message: OutboundMessage, file: OutboundFile, messaging: dict[str, Any]
    ) -> str:
        """The file as an attachment uploaded with the message (``filedata``); Messenger
        takes no caption, so the text follows it."""
        attachment = {
            "type": file.kind,  # Messenger's own: image, video, audio, file
            "payload": {"is_reusable": False},
        }
        fields = {
            "recipient": json.dumps({"id": message.recipient_external_id}),
            "message": json.dumps({"attachment": attachment, "metadata": ECHO_MARKER}),
            **messaging,
        }
        upload = (file.name, file.content, file.mime_type)
        answer = await self.graph.upload(f"{self.page_id}/messages", fields, upload, "filedata")
        return _message_id(answer)

    def can_send_file(
        self, file: OutboundFile, last_customer_message_at: datetime | None, now: datetime
    ) -> str | None:
        refusal = self.can_send_free_form(last_customer_message_at, now, "reply")
        if refusal is None and len(file.content) > MAX_FILE_BYTES:
            return f"Messenger takes files up to {MAX_FILE_BYTES // 2**20} MB"
        return refusal

    # files ---------------------------------------------------------------------------

    @classmethod
    def fetches(cls, attachment: Mapping[str, Any]) -> bool:
        return attachment.get("kind") in FILE_KINDS and isinstance(attachment.get("url"), str)

    async def media(self, attachment: Mapping[str, Any]) -> Media:
        """The file behind the webhook's CDN link, without the page token. The link is
        Meta's own signed one and expires after some days; then the file is gone here."""
        url = str(attachment["url"])
        if not self._meta_file_link(url):
            raise MediaError(f"not a link to Meta's file servers: {url:.100}", gone=True)
        content, content_type = await self.graph.fetch(url, signed=False)
        mime = attachment.get("mime_type") or content_type or "application/octet-stream"
        return Media(content, str(mime))

    def _meta_file_link(self, url: str) -> bool:
        link, graph = urlsplit(url), urlsplit(self.settings.graph_base_url)
        host = link.hostname or ""
        if link.scheme == "https" and host.endswith(FILE_HOSTS):
            return True
        return (link.scheme, link.netloc) == (graph.scheme, graph.netloc)

    async def profile(self, external_id: str) -> Person | None:
        """Messenger webhooks carry no names: ask the User Profile API for them."""
        try:
            data = await self.graph.get(external_id, {"fields": "first_name,last_name"})
        except SendError as exc:  # no permission, user gone: the inbox shows the PSID
            log.info("Messenger profile of %s: %s", external_id, exc.reason)
            return None
        name = " ".join(str(data[k]) for k in ("first_name", "last_name") if data.get(k))
        return Person(external_id=external_id, display_name=name or None)


def _ignored(kind: str, reason: str) -> Ignored:
    return Ignored(channel="messenger", kind=kind, reason=reason)


def _postback(postback: dict[str, Any], sender: str, at: datetime) -> Event:
    mid = postback.get("mid") or f"postback:{sender}:{int(at.timestamp() * 1000)}"
    return InboundMessage(
        channel="messenger",
        external_id=str(mid),
        thread=Thread(sender),
        customer=Person(sender),
        sent_at=at,
        text=str(postback.get("title") or ""),
        kind="button",
        button_payload=postback.get("payload"),
    )


def _content(message: dict[str, Any]) -> tuple[Any, str, tuple[Attachment, ...]]:
    """Kind, text and attachments of a Messenger ``message`` object."""
    text = str(message.get("text") or "")
    attachments = tuple(_attachment(a) for a in message.get("attachments") or [])
    if not attachments:
        return "text", text, ()
    kinds = {a.kind for a in attachments}
    if kinds == {"location"}:
        return "location", text, attachments
    if kinds == {"sticker"}:
        return "sticker", text, attachments
    if kinds <= {"image", "video", "audio", "file", "link", "sticker"}:
        return "media", text, attachments
    return "unsupported", text, attachments


def _attachment(attachment: dict[str, Any]) -> Attachment:
    kind = attachment.get("type")
    payload = attachment.get("payload") or {}
    if kind in MEDIA:
        if kind == "image" and payload.get("sticker_id"):
            return Attachment(
                "sticker", url=payload.get("url"), platform_id=str(payload["sticker_id"])
            )
        return Attachment(MEDIA[kind], url=payload.get("url"))
    if kind == "location":
        point = payload.get("coordinates") or {}
        extra = {"latitude": point.get("lat"), "longitude": point.get("long")}
        return Attachment(
            "location", url=attachment.get("url"), name=attachment.get("title"), extra=extra
        )
    if kind == "fallback":
        url = attachment.get("url") or payload.get("url")
        return Attachment("link", url=url, name=attachment.get("title") or payload.get("title"))
    return Attachment("unsupported", url=payload.get("url"), extra={"type": str(kind)})


def _message_id(answer: dict[str, Any]) -> str:
    if not answer.get("message_id"):
        raise SendError(f"Messenger answered without a message_id: {answer}", retryable=False)
    return str(answer["message_id"])
