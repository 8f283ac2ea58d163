"""Telegram updates of every kind, parsed through python-telegram-bot into normalized events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from sportello.config.settings import TelegramSettings
from sportello.connectors.base import (
    Event,
    Ignored,
    InboundMessage,
    MessageEdited,
    OutboundMessage,
    ParseError,
    RawDelivery,
)
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.telegram import TelegramConnector

GIULIA = tg.user(5551001, "Giulia", "Rossi", username="giuliar", language_code="it-IT")
DATE = 1795000000
RECEIVED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def connector() -> TelegramConnector:
    return TelegramConnector(
        TelegramSettings(bot_token=SecretStr("1:x"), webhook_secret=SecretStr("s"))
    )


def parse(connector: TelegramConnector, update: dict[str, Any]) -> list[Event]:
    body = json.dumps(update).encode()
    return connector.parse(RawDelivery("telegram", body, received_at=RECEIVED))


def test_private_text(connector: TelegramConnector) -> None:
    [event] = parse(connector, tg.update(1, message=tg.message(7, GIULIA, DATE, text="Ciao")))
    assert isinstance(event, InboundMessage)
    assert event.external_id == "5551001:7"
    assert event.thread.external_id == "5551001" and not event.thread.is_group
    assert event.customer.external_id == "5551001"
    assert event.customer.display_name == "Giulia Rossi"
    assert event.customer.handle == "giuliar"
    assert event.customer.language == "it"
    assert event.sent_at == datetime.fromtimestamp(DATE, UTC)
    assert (event.text, event.kind, event.direction) == ("Ciao", "text", "in")


def test_group_message_belongs_to_the_group_and_its_sender(connector: TelegramConnector) -> None:
    chat = tg.group_chat(-1001234567890, "Clienti VIP")
    update = tg.update(2, message=tg.message(9, GIULIA, DATE, chat=chat, text="Buongiorno"))
    [event] = parse(connector, update)
    assert isinstance(event, InboundMessage)
    assert event.thread.external_id == "-1001234567890"
    assert event.thread.is_group and event.thread.title == "Clienti VIP"
    assert event.customer.external_id == "5551001"
    assert event.external_id == "-1001234567890:9"


def test_photo_with_caption_keeps_the_caption_and_the_largest_size(
    connector: TelegramConnector,
) -> None:
    update = tg.update(
        3, message=tg.message(10, GIULIA, DATE, photo=tg.photo("PH"), caption="Il pacco rotto")
    )
    [event] = parse(connector, update)
    assert isinstance(event, InboundMessage)
    assert event.kind == "media" and event.text == "Il pacco rotto"
    assert event.attachments[0].kind == "image"
    assert event.attachments[0].platform_id == "PH"


def test_media_without_caption_has_empty_text(connector: TelegramConnector) -> None:
    voice = {"file_id": "VO1", "file_unique_id": "u", "duration": 3, "mime_type": "audio/ogg"}
    [event] = parse(connector, tg.update(4, message=tg.message(11, GIULIA, DATE, voice=voice)))
    assert isinstance(event, InboundMessage)
    assert (event.kind, event.text, event.attachments[0].kind) == ("media", "", "audio")


def test_location_contact_and_sticker(connector: TelegramConnector) -> None:
    location = {"latitude": 45.4642, "longitude": 9.19}
    [loc] = parse(connector, tg.update(5, message=tg.message(12, GIULIA, DATE, location=location)))
    assert isinstance(loc, InboundMessage)
    assert loc.kind == "location" and loc.attachments[0].extra["latitude"] == 45.4642

    contact = {"phone_number": "393331234567", "first_name": "Giulia", "user_id": 5551001}
    [card] = parse(connector, tg.update(6, message=tg.message(13, GIULIA, DATE, contact=contact)))
    assert isinstance(card, InboundMessage)
    assert card.kind == "contact"
    assert card.shared_contacts[0].phone == "393331234567"
    assert card.shared_contacts[0].external_id == "5551001"

    sticker = {
        "file_id": "ST1",
        "file_unique_id": "s",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    [stk] = parse(connector, tg.update(7, message=tg.message(14, GIULIA, DATE, sticker=sticker)))
    assert isinstance(stk, InboundMessage)
    assert (stk.kind, stk.text) == ("sticker", "👍")


def test_unsupported_content_is_still_one_inbound_message(connector: TelegramConnector) -> None:
    dice = {"emoji": "🎲", "value": 4}
    [event] = parse(connector, tg.update(8, message=tg.message(15, GIULIA, DATE, dice=dice)))
    assert isinstance(event, InboundMessage) and event.kind == "unsupported"
    assert event.attachments[0].extra["type"] == "dice"


def test_edit_changes_text_and_keeps_the_id(connector: TelegramConnector) -> None:
    edited = tg.message(7, GIULIA, DATE, text="Ciao, ordine 4411", edit_date=DATE + 60)
    [event] = parse(connector, tg.update(9, edited_message=edited))
    assert isinstance(event, MessageEdited)
    assert event.external_id == "5551001:7" and event.text == "Ciao, ordine 4411"


def test_callback_press_uses_the_visible_label(connector: TelegramConnector) -> None:
    bot_message = tg.message(
        20,
        tg.BOT_USER,
        DATE,
        chat=tg.private_chat(GIULIA),
        text="Com'è andata?",
        reply_markup=tg.inline_keyboard([("😀 Ottimo", "survey:1:5"), ("😞 Male", "survey:1:1")]),
    )
    query = tg.callback_query("4382bfdwdsb323b2d9", GIULIA, bot_message, "survey:1:5")
    [event] = parse(connector, tg.update(10, callback_query=query))
    assert isinstance(event, InboundMessage)
    assert event.external_id == "callback:4382bfdwdsb323b2d9"
    assert event.text == "😀 Ottimo" and event.kind == "button"
    assert event.button_payload == "survey:1:5"
    assert event.sent_at == RECEIVED


@pytest.mark.parametrize(
    "update",
    [
        tg.update(
            11,
            message=tg.message(
                16, GIULIA, DATE, chat=tg.group_chat(-100, "G"), new_chat_members=[GIULIA]
            ),
        ),
        tg.update(
            12,
            message_reaction={
                "chat": tg.private_chat(GIULIA),
                "message_id": 7,
                "user": GIULIA,
                "date": DATE,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
        ),
        tg.update(
            13,
            channel_post={
                "message_id": 1,
                "chat": {"id": -1009, "type": "channel", "title": "News"},
                "date": DATE,
                "text": "Our news",
            },
        ),
        tg.update(14, some_future_update={"x": 1}),
    ],
    ids=["membership", "reaction", "own-channel-post", "unknown-type"],
)
def test_things_that_are_not_customer_messages_are_ignored(
    connector: TelegramConnector, update: dict[str, Any]
) -> None:
    events = parse(connector, update)
    assert events and all(isinstance(e, Ignored) for e in events)


@pytest.mark.parametrize("body", [b"{broken", b"[]", b'{"message": {}}', b'{"update_id": "7"}'])
def test_garbage_raises_parse_error(connector: TelegramConnector, body: bytes) -> None:
    with pytest.raises(ParseError):
        connector.parse(RawDelivery("telegram", body))


def test_secret_check_and_dedup_key(connector: TelegramConnector) -> None:
    assert connector.verify({"x-telegram-bot-api-secret-token": "s"}, b"{}")
    assert not connector.verify({"x-telegram-bot-api-secret-token": "S"}, b"{}")
    assert not connector.verify({}, b"{}")
    assert connector.dedup_key(b'{"update_id": 77}') == "update:77"
    assert connector.dedup_key(b"nope") is None


def test_long_texts_are_split_at_word_boundaries(connector: TelegramConnector) -> None:
    text = ("parola " * 1000).strip()
    chunks = connector.parts(OutboundMessage("telegram", "5551001", "5551001", text))
    assert len(chunks) == 2 and all(len(c) <= 4096 for c in chunks)
    assert " ".join(chunks) == text
