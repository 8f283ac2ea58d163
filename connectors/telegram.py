"""Telegram through python-telegram-bot: ``Update.de_json`` to parse, ``Bot`` to send.

``external_id`` of a message is ``<chat id>:<message id>`` (message ids are unique
only within a chat); a button press is ``callback:<callback_query id>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import os
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
    User,
)
from telegram import Message as TgMessage
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from sportello.config.settings import Settings, TelegramSettings
from sportello.connectors.base import (
    MALFORMED,
    MAX_CAPTION,
    MAX_MEDIA_BYTES,
    Attachment,
    AttachmentKind,
    Connector,
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
    PollResult,
    RawDelivery,
    SendError,
    SendResult,
    Thread,
    file_by_platform_id,
    too_large,
)
from sportello.connectors.tls import tls_context

log = logging.getLogger(__name__)

# Opt in now to PTB's coming timedelta-typed retry_after (read at call time), which
# also silences its deprecation warning; _retry_after_s accepts both types.
os.environ.setdefault("PTB_TIMEDELTA", "1")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_TEXT = 4096
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_PHOTO_BYTES = 10 * 1024 * 1024
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/mp4"})  # sendAudio takes MP3 and M4A
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# A message's media fields (the photo aside: its largest size is taken) and their kind.
MEDIA_FIELDS: tuple[tuple[str, AttachmentKind], ...] = (
    ("video", "video"),
    ("animation", "video"),
    ("video_note", "video"),
    ("audio", "audio"),
    ("voice", "audio"),
    ("document", "file"),
)
# Message fields that are notices about the chat, not something a customer said.
SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "message_auto_delete_timer_changed",
    "video_chat_started",
    "video_chat_ended",
    "forum_topic_created",
    "write_access_allowed",
    "chat_shared",
    "users_shared",
)
IGNORED_UPDATES = (
    "message_reaction",
    "message_reaction_count",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "poll",
    "poll_answer",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "chat_boost",
    "removed_chat_boost",
    "business_connection",
    "deleted_business_messages",
    "purchased_paid_media",
)


class TelegramConnector(Connector):
    name = "telegram"
    max_text_length = MAX_TEXT

    def __init__(self, settings: TelegramSettings, public_url: str | None = None) -> None:
        assert settings.bot_token is not None
        self.settings = settings
        self.public_url = public_url
        self._token = settings.bot_token.get_secret_value()
        self._secret = (
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        )
        shared = {"verify": tls_context()}
        self.bot = Bot(
            self._token,
            base_url=settings.api_base_url.rstrip("/") + "/bot",
            base_file_url=settings.api_base_url.rstrip("/") + "/file/bot",
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15, httpx_kwargs=shared),
            get_updates_request=HTTPXRequest(read_timeout=40, httpx_kwargs=shared),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConnector | None:
        if not settings.channels.telegram.enabled:
            return None
        return cls(settings.channels.telegram, settings.server.public_url)

    # inbound -------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = headers.get(SECRET_HEADER)
        if self._secret is None or given is None:
            return False
        return hmac.compare_digest(given.encode(), self._secret.encode())

    def dedup_key(self, body: bytes) -> str | None:
        try:
            update_id = json.loads(body).get("update_id")
        except (ValueError, AttributeError):
            return None
        return f"update:{update_id}" if isinstance(update_id, int) else None

    def parse(self, delivery: RawDelivery) -> list[Event]:
        try:
            data = json.loads(delivery.body)
        except ValueError as exc:
            raise ParseError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ParseError("not a Telegram update: no integer update_id")
        received = delivery.received_at or datetime.now(UTC)
        try:
            return self._events(Update.de_json(data, None), data, received)
        except MALFORMED as exc:
            raise ParseError(f"malformed Telegram update: {exc!r}") from None

    def _events(self, update: Update, data: dict[str, Any], received: datetime) -> list[Event]:
        if update.message is not None:
            return [self._message(update.message)]
        if update.edited_message is not None:
            edited = update.edited_message
            return [
                MessageEdited(
                    channel="telegram",
                    external_id=_message_id(edited),
                    text=edited.text or edited.caption or "",
                    edited_at=edited.edit_date or edited.date,
                )
            ]
        if update.callback_query is not None:
            return [self._callback(update.callback_query, received)]
        if update.channel_post is not None or update.edited_channel_post is not None:
            return [_ignored("channel_post", "post in a channel: the business's own broadcast")]
        for kind in IGNORED_UPDATES:
            if kind in data:
                return [_ignored(kind, "not a customer message")]
        kinds = sorted(k for k in data if k != "update_id")
        return [_ignored(",".join(kinds) or "empty", "update type not handled")]

    def _message(self, message: TgMessage) -> Event:
        for field_name in SERVICE_FIELDS:
            if getattr(message, field_name, None):
                return _ignored(field_name, "membership or system notice")
        user = message.from_user
        if user is None or message.sender_chat is not None:
            return _ignored("anonymous", "sent on behalf of a chat, not a person")
        kind, text, attachments, contacts = _content(message)
        reply = message.reply_to_message
        return InboundMessage(
            channel="telegram",
            external_id=_message_id(message),
            thread=_thread(message.chat),
            customer=_person(user),
            sent_at=message.date,
            text=text,
            kind=kind,
            attachments=attachments,
            reply_to_external_id=_message_id(reply) if reply is not None else None,
            shared_contacts=contacts,
        )

    def _callback(self, query: CallbackQuery, received: datetime) -> Event:
        message = query.message
        if message is None:
            return _ignored("callback_query", "inline-mode button press: no chat to answer in")
        label = _button_label(message, query.data) or query.data or ""
        return InboundMessage(
            channel="telegram",
            external_id=f"callback:{query.id}",
            thread=_thread(message.chat),
            customer=_person(query.from_user),
            sent_at=received,
            text=label,
            kind="button",
            reply_to_external_id=f"{message.chat.id}:{message.message_id}",
            button_payload=query.data,
        )

    # outbound ------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """The text, cut where it is long; with a file, the file with the text as its
        caption, or first and the text after it where the text is too long for a caption
        (an upload is what fails most: failing first, it leaves nothing sent twice)."""
        file, text = message.file, message.text
        sent: list[TgMessage] = []
        try:
            if file is not None:
                caption = text if len(text) <= MAX_CAPTION else ""
                sent.append(await self._send_file(int(message.thread_external_id), file, caption))
            if file is None or len(text) > MAX_CAPTION:
                sent += await self._send_texts(message)
        except TelegramError as exc:
            raise _send_error(exc) from exc
        return SendResult(external_ids=tuple(_message_id(m) for m in sent), sent_at=sent[0].date)

    async def _send_texts(self, message: OutboundMessage) -> list[TgMessage]:
        chunks = self.parts(message)
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.payload)] for b in message.buttons]
            )
            if message.buttons
            else None
        )
        sent = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            sent.append(
                await self.bot.send_message(
                    chat_id=int(message.thread_external_id),
                    text=chunk,
                    reply_markup=markup if last else None,
                )
            )
        return sent

    async def _send_file(self, chat_id: int, file: OutboundFile, caption: str) -> TgMessage:
        """A picture Telegram shows as a photo (JPEG, PNG, WebP up to 10 MB) goes as one, an
        MP4 as a video, an OGG recording as a voice note, MP3 or M4A as audio (a player
        with its title), anything else as a document."""
        upload = InputFile(file.content, filename=file.name)
        text = caption or None
        if file.mime_type in PHOTO_TYPES and len(file.content) <= MAX_PHOTO_BYTES:
            return await self.bot.send_photo(chat_id, upload, caption=text)
        if file.mime_type == "video/mp4":
            return await self.bot.send_video(chat_id, upload, caption=text)
        if file.mime_type == "audio/ogg":
            return await self.bot.send_voice(chat_id, upload, caption=text)
        if file.mime_type in AUDIO_TYPES:
            return await self.bot.send_audio(chat_id, upload, caption=text)
        return await self.bot.send_document(chat_id, upload, caption=text)

    def can_send_file(
        self, file: OutboundFile, last_customer_message_at: datetime | None, now: datetime
    ) -> str | None:
        if len(file.content) > MAX_UPLOAD_BYTES:
            return "Telegram bots send files up to 50 MB"
        return None

    # files ---------------------------------------------------------------------------

    @classmethod
    def fetches(cls, attachment: Mapping[str, Any]) -> bool:
        return file_by_platform_id(attachment)

    async def media(self, attachment: Mapping[str, Any]) -> Media:
        """``getFile``, then the file from Telegram's file server (its link lasts an hour, so
        it is asked for each time)."""
        try:
            found = await self.bot.get_file(str(attachment["platform_id"]))
            if found.file_size is not None and found.file_size > MAX_MEDIA_BYTES:
                raise too_large()
            content = bytes(await found.download_as_bytearray())
        except TelegramError as exc:
            error = _send_error(exc)
            gone = isinstance(exc, BadRequest) and "too big" not in exc.message.lower()
            raise MediaError(error.reason, gone=gone, retryable=error.retryable) from exc
        guessed, _ = mimetypes.guess_type(found.file_path or "")
        return Media(content, attachment.get("mime_type") or guessed or "application/octet-stream")

    async def acknowledge(self, external_id: str) -> None:
        """A pressed inline button spins until answered: answer it once the press is stored."""
        if not external_id.startswith("callback:"):
            return
        try:
            await self.bot.answer_callback_query(external_id.removeprefix("callback:"))
        except TelegramError as exc:  # too late (over 15 s) or already answered: harmless
            log.info("answering %s: %s", external_id, exc)

    # polling -------------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        return self.settings.mode == "polling"

    async def poll(self, cursor: str | None) -> PollResult:
        kwargs: dict[str, Any] = {"timeout": 0, "limit": 100}
        if cursor is not None:
            kwargs["offset"] = int(cursor)
        try:
            with warnings.catch_warnings():
                # The raw JSON is what the journal keeps; Bot.get_updates would parse it first.
                warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'")
                updates = await self.bot.do_api_request("getUpdates", api_kwargs=kwargs)
        except RetryAfter as exc:
            return PollResult(bodies=(), cursor=cursor, wait_s=_retry_after_s(exc))
        except TelegramError as exc:
            raise _send_error(exc) from exc
        bodies = [json.dumps(update, separators=(",", ":")).encode() for update in updates]
        next_cursor = str(updates[-1]["update_id"] + 1) if updates else cursor
        return PollResult(bodies=bodies, cursor=next_cursor)

    async def start(self) -> None:
        """Connect; in polling mode drop any webhook (Telegram refuses getUpdates beside one),
        in webhook mode register ours when the daemon knows its public URL."""
        await self.bot.initialize()
        if self.polls:
            await self.bot.delete_webhook()
        elif self.public_url is not None and self._secret is not None:
            await self.bot.set_webhook(
                url=f"{self.public_url.rstrip('/')}/webhooks/telegram",
                secret_token=self._secret,
                allowed_updates=Update.ALL_TYPES,
            )

    async def aclose(self) -> None:
        await self.bot.shutdown()


def _message_id(message: TgMessage | Any) -> str:
    return f"{message.chat.id}:{message.message_id}"


def _thread(chat: Chat) -> Thread:
    is_group = chat.type in (Chat.GROUP, Chat.SUPERGROUP)
    return Thread(
        external_id=str(chat.id),
        is_group=is_group,
        title=chat.title if is_group else None,
    )


def _person(user: User) -> Person:
    return Person(
        external_id=str(user.id),
        display_name=user.full_name,
        handle=user.username,
        language=(user.language_code or "").split("-")[0] or None,
    )


def _ignored(kind: str, reason: str) -> Ignored:
    return Ignored(channel="telegram", kind=kind, reason=reason)


def _content(
    message: TgMessage,
) -> tuple[Any, str, tuple[Attachment, ...], tuple[Person, ...]]:
    """Kind, text, attachments and shared contacts of a customer's message."""
    caption = message.caption or ""
    if message.text is not None:
        return "text", message.text, (), ()
    if message.photo:
        largest = max(message.photo, key=lambda p: p.width * p.height)
        return "media", caption, (Attachment("image", platform_id=largest.file_id),), ()
    for field_name, kind in MEDIA_FIELDS:
        media = getattr(message, field_name)
        if media is not None:
            attachment = Attachment(
                kind,
                platform_id=media.file_id,
                mime_type=getattr(media, "mime_type", None),
                name=getattr(media, "file_name", None),
            )
            return "media", caption, (attachment,), ()
    if message.sticker is not None:
        sticker = Attachment("sticker", platform_id=message.sticker.file_id)
        return "sticker", message.sticker.emoji or "", (sticker,), ()
    if message.location is not None:
        where = message.venue.title if message.venue is not None else ""
        extra = {"latitude": message.location.latitude, "longitude": message.location.longitude}
        return "location", where, (Attachment("location", extra=extra),), ()
    if message.contact is not None:
        contact = message.contact
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        person = Person(
            external_id=str(contact.user_id)
            if contact.user_id
            else f"phone:{contact.phone_number}",
            display_name=name or None,
            phone=contact.phone_number,
        )
        card = Attachment("contact", name=name or None, extra={"phone": contact.phone_number})
        return "contact", "", (card,), (person,)
    return (
        "unsupported",
        caption,
        (Attachment("unsupported", extra={"type": _type_of(message)}),),
        (),
    )


def _type_of(message: TgMessage) -> str:
    data = message.to_dict()
    skip = {"message_id", "date", "chat", "from", "caption", "entities", "caption_entities"}
    kinds = [k for k, v in data.items() if k not in skip and v]
    return kinds[0] if kinds else "unknown"


def _button_label(message: Any, data: str | None) -> str | None:
    markup = getattr(message, "reply_markup", None)
    if markup is None or data is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def _retry_after_s(exc: RetryAfter) -> float:
    value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _send_error(exc: TelegramError) -> SendError:
    if isinstance(exc, RetryAfter):
        return SendError(
            f"Telegram rate limit: {exc.message}", retryable=True, retry_after=_retry_after_s(exc)
        )
    if isinstance(exc, TimedOut | NetworkError) and not isinstance(exc, BadRequest):
        return SendError(f"Telegram unreachable: {exc.message}", retryable=True)
    if isinstance(exc, Forbidden):
        return SendError(f"Telegram refused: {exc.message}", retryable=False)
    if isinstance(exc, InvalidToken):
        return SendError("Telegram rejected the bot token", retryable=False)
    if isinstance(exc, ChatMigrated):
        return SendError(f"chat moved to {exc.new_chat_id}", retryable=False)
    return SendError(f"Telegram error: {exc.message}", retryable=False)
