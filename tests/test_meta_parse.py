"""Messenger and WhatsApp webhook payloads into normalized events, one documented kind at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import PAGE_ID, PHONE_NUMBER_ID, make_settings, messenger_channel, whatsapp_channel

from sportello.connectors.base import (
    Connector,
    Event,
    Ignored,
    InboundMessage,
    MessageEdited,
    ParseError,
    RawDelivery,
    StatusUpdate,
    StatusWatermark,
)
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.messenger import ECHO_MARKER, MessengerConnector
from sportello.connectors.whatsapp import WhatsAppConnector

PSID = "6024301887612345"
WA_ID = "393331234567"
TS_MS = 1_767_258_000_000  # 2026-01-01T09:00:00Z
TS = TS_MS // 1000
AT = datetime(2026, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
def messenger() -> MessengerConnector:
    settings = make_settings("sqlite://", channels=messenger_channel("http://127.0.0.1:9"))
    connector = MessengerConnector.from_settings(settings)
    assert connector is not None
    return connector


@pytest.fixture
def whatsapp() -> WhatsAppConnector:
    settings = make_settings("sqlite://", channels=whatsapp_channel("http://127.0.0.1:9"))
    connector = WhatsAppConnector.from_settings(settings)
    assert connector is not None
    return connector


def _parse(connector: Connector, payload: object) -> list[Event]:
    channel = connector.name
    return connector.parse(RawDelivery(channel=channel, body=json.dumps(payload).encode()))


def _one_messenger(connector: MessengerConnector, event: dict[str, Any]) -> object:
    events = _parse(connector, mp.messenger_webhook(PAGE_ID, event, time_ms=TS_MS))
    assert len(events) == 1
    return events[0]


# Messenger ------------------------------------------------------------------------------


def test_messenger_text_with_reply_to(messenger: MessengerConnector) -> None:
    event = _one_messenger(
        messenger, mp.text_message(PSID, PAGE_ID, TS_MS, "Ciao!", "m_1", reply_to="m_0")
    )
    assert isinstance(event, InboundMessage)
    assert (event.external_id, event.text, event.kind, event.direction) == (
        "m_1",
        "Ciao!",
        "text",
        "in",
    )
    assert event.thread.external_id == PSID and event.customer.external_id == PSID
    assert event.sent_at == AT and event.reply_to_external_id == "m_0"


@pytest.mark.parametrize(
    ("attachment", "kind", "attachment_kind"),
    [
        (mp.media("image", "https://cdn/x.jpg"), "media", "image"),
        (mp.media("video", "https://cdn/x.mp4"), "media", "video"),
        (mp.media("audio", "https://cdn/x.mp4"), "media", "audio"),
        (mp.media("file", "https://cdn/x.pdf"), "media", "file"),
        (
            mp.media("image", "https://cdn/like.png", sticker_id=369239263222822),
            "sticker",
            "sticker",
        ),
        (mp.location(45.46, 9.19), "location", "location"),
        (mp.fallback("https://example.com/a", "An article"), "media", "link"),
        ({"type": "ig_reel", "payload": {"url": "https://x"}}, "unsupported", "unsupported"),
    ],
)
def test_messenger_attachments(
    messenger: MessengerConnector, attachment: dict[str, Any], kind: str, attachment_kind: str
) -> None:
    event = _one_messenger(
        messenger, mp.attachment_message(PSID, PAGE_ID, TS_MS, [attachment], "m_2")
    )
    assert isinstance(event, InboundMessage)
    assert event.kind == kind and event.text == ""
    assert event.attachments[0].kind == attachment_kind
    if kind == "location":
        assert event.attachments[0].extra == {"latitude": 45.46, "longitude": 9.19}


def test_messenger_quick_reply_and_postback_use_the_visible_label(
    messenger: MessengerConnector,
) -> None:
    quick = _one_messenger(
        messenger,
        mp.text_message(PSID, PAGE_ID, TS_MS, "Sì, risolto", "m_3", quick_reply_payload="CSAT_5"),
    )
    assert isinstance(quick, InboundMessage)
    assert (quick.kind, quick.text, quick.button_payload) == ("button", "Sì, risolto", "CSAT_5")
    back = _one_messenger(
        messenger, mp.postback(PSID, PAGE_ID, TS_MS, "Get started", "GET_STARTED", "m_4")
    )
    assert isinstance(back, InboundMessage)
    assert (back.kind, back.text, back.button_payload, back.external_id) == (
        "button",
        "Get started",
        "GET_STARTED",
        "m_4",
    )


def test_messenger_echoes(messenger: MessengerConnector) -> None:
    agent = _one_messenger(messenger, mp.echo(PAGE_ID, PSID, TS_MS, "Risposta da Business Suite"))
    assert isinstance(agent, InboundMessage)
    assert agent.direction == "out" and agent.customer.external_id == PSID
    assert agent.thread.external_id == PSID
    ours = _one_messenger(messenger, mp.echo(PAGE_ID, PSID, TS_MS, "x", metadata=ECHO_MARKER))
    assert isinstance(ours, Ignored) and ours.kind == "echo"


def test_messenger_receipts_edits_and_ignored_events(messenger: MessengerConnector) -> None:
    events = _parse(
        messenger,
        mp.messenger_webhook(
            PAGE_ID,
            mp.delivery(PSID, PAGE_ID, TS_MS, ["m_a", "m_b"], TS_MS - 5),
            mp.read(PSID, PAGE_ID, TS_MS, TS_MS - 1),
            mp.message_edit(PSID, PAGE_ID, TS_MS, "m_1", "Ciao, corretto"),
            mp.reaction(PSID, PAGE_ID, TS_MS, "m_1"),
            mp.referral(PSID, PAGE_ID, TS_MS, "summer-ad"),
            mp.messaging(PSID, PAGE_ID, TS_MS, brand_new_event={"x": 1}),
            time_ms=TS_MS,
        ),
    )
    delivered = [e for e in events if isinstance(e, StatusUpdate)]
    assert [(e.external_id, e.status) for e in delivered] == [
        ("m_a", "delivered"),
        ("m_b", "delivered"),
    ]
    marks = [e for e in events if isinstance(e, StatusWatermark)]
    assert [(m.status, m.thread_external_id) for m in marks] == [
        ("delivered", PSID),
        ("read", PSID),
    ]
    assert marks[1].up_to == AT - timedelta(milliseconds=1)
    edits = [e for e in events if isinstance(e, MessageEdited)]
    assert [(e.external_id, e.text) for e in edits] == [("m_1", "Ciao, corretto")]
    ignored = {e.kind: e.reason for e in events if isinstance(e, Ignored)}
    assert set(ignored) == {"reaction", "referral", "brand_new_event"}
    assert all(ignored.values())


def test_messenger_batches_every_entry_and_standby(messenger: MessengerConnector) -> None:
    payload = {
        "object": "page",
        "entry": [
            mp.messenger_entry(
                PAGE_ID, [mp.text_message(PSID, PAGE_ID, TS_MS, f"m{i}") for i in range(3)], TS_MS
            ),
            {
                **mp.messenger_entry(PAGE_ID, [], TS_MS),
                "standby": [mp.text_message("777", PAGE_ID, TS_MS, "in standby")],
            },
        ],
    }
    events = _parse(messenger, payload)
    assert all(isinstance(e, InboundMessage) for e in events)
    assert [e.text for e in events if isinstance(e, InboundMessage)] == [
        "m0",
        "m1",
        "m2",
        "in standby",
    ]


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "instagram", "entry": []},
        {"object": "page"},
        [1, 2],
        {"object": "page", "entry": [{"messaging": [{"message": {"text": "no sender"}}]}]},
    ],
)
def test_messenger_unusable_payloads_raise(messenger: MessengerConnector, payload: object) -> None:
    with pytest.raises(ParseError):
        _parse(messenger, payload)


def test_messenger_window_rules(messenger: MessengerConnector) -> None:
    now = AT
    assert messenger.can_send_free_form(now - timedelta(hours=23), now, "reply") is None
    closed = messenger.can_send_free_form(now - timedelta(hours=30), now, "reply")
    assert closed is not None and "24 hours" in closed and "message_tag" in closed
    assert "never written" in (messenger.can_send_free_form(None, now, "reply") or "")
    messenger.settings.message_tag = "HUMAN_AGENT"
    assert messenger.can_send_free_form(now - timedelta(days=3), now, "reply") is None
    late = messenger.can_send_free_form(now - timedelta(days=8), now, "reply") or ""
    assert "within 7 days" in late and "wrote 8 days ago" in late
    assert "HUMAN_AGENT" in (
        messenger.can_send_free_form(now - timedelta(days=2), now, "survey") or ""
    )
    messenger.settings.message_tag = "ACCOUNT_UPDATE"
    assert messenger.can_send_free_form(now - timedelta(days=30), now, "survey") is None


# WhatsApp -------------------------------------------------------------------------------


def _one_whatsapp(
    connector: WhatsAppConnector, message: dict[str, Any], name: str = "Giulia Rossi"
) -> object:
    value = mp.wa_value(PHONE_NUMBER_ID, contacts=[mp.wa_contact(WA_ID, name)], messages=[message])
    events = _parse(connector, mp.whatsapp_webhook("1029", value))
    assert len(events) == 1
    return events[0]


def test_whatsapp_text_identity_and_phone(whatsapp: WhatsAppConnector) -> None:
    event = _one_whatsapp(whatsapp, mp.wa_text(WA_ID, TS, "Ciao!", "wamid.A1"))
    assert isinstance(event, InboundMessage)
    assert (event.external_id, event.text, event.kind, event.sent_at) == (
        "wamid.A1",
        "Ciao!",
        "text",
        AT,
    )
    assert event.thread.external_id == WA_ID
    assert event.customer.external_id == WA_ID
    assert event.customer.phone == "+393331234567"
    assert event.customer.display_name == "Giulia Rossi"


@pytest.mark.parametrize(
    ("kind", "content", "expected_kind", "attachment_kind"),
    [
        (
            "image",
            mp.wa_media("image", "111", "image/jpeg", caption="lo scontrino"),
            "media",
            "image",
        ),
        ("video", mp.wa_media("video", "112", "video/mp4"), "media", "video"),
        (
            "audio",
            mp.wa_media("audio", "113", "audio/ogg; codecs=opus", voice=True),
            "media",
            "audio",
        ),
        (
            "document",
            mp.wa_media(
                "document", "114", "application/pdf", filename="fattura.pdf", caption="ecco"
            ),
            "media",
            "file",
        ),
        (
            "sticker",
            mp.wa_media("sticker", "115", "image/webp", animated=False),
            "sticker",
            "sticker",
        ),
    ],
)
def test_whatsapp_media(
    whatsapp: WhatsAppConnector,
    kind: str,
    content: dict[str, Any],
    expected_kind: str,
    attachment_kind: str,
) -> None:
    event = _one_whatsapp(whatsapp, mp.wa_message(WA_ID, TS, kind, content))
    assert isinstance(event, InboundMessage)
    assert event.kind == expected_kind
    assert event.text == content.get("caption", "")
    assert event.attachments[0].kind == attachment_kind
    assert event.attachments[0].platform_id == content["id"]


def test_whatsapp_location_contacts_and_replies(whatsapp: WhatsAppConnector) -> None:
    where = _one_whatsapp(
        whatsapp,
        mp.wa_message(
            WA_ID,
            TS,
            "location",
            {"latitude": 45.46, "longitude": 9.19, "name": "Negozio", "address": "Via Roma 1"},
        ),
    )
    assert isinstance(where, InboundMessage)
    assert where.kind == "location" and where.text == "Negozio, Via Roma 1"
    card = _one_whatsapp(
        whatsapp,
        mp.wa_message(
            WA_ID,
            TS,
            "contacts",
            None,
            contacts=[mp.wa_contact_card("Marco Bianchi", "+39 333 7654321", "393337654321")],
        ),
    )
    assert isinstance(card, InboundMessage) and card.kind == "contact"
    assert card.shared_contacts[0].external_id == "393337654321"
    assert card.shared_contacts[0].display_name == "Marco Bianchi"
    for content, label, payload in (
        (mp.wa_button_reply("yes", "Sì, grazie"), "Sì, grazie", "yes"),
        (mp.wa_list_reply("r2", "Reso", "Voglio rendere"), "Reso", "r2"),
    ):
        pressed = _one_whatsapp(
            whatsapp, mp.wa_message(WA_ID, TS, "interactive", content, context_id="wamid.OUT")
        )
        assert isinstance(pressed, InboundMessage)
        assert (pressed.kind, pressed.text, pressed.button_payload) == ("button", label, payload)
        assert pressed.reply_to_external_id == "wamid.OUT"
    template_button = _one_whatsapp(
        whatsapp, mp.wa_message(WA_ID, TS, "button", {"payload": "STOP", "text": "Stop promozioni"})
    )
    assert isinstance(template_button, InboundMessage)
    assert (template_button.text, template_button.button_payload) == ("Stop promozioni", "STOP")


def test_whatsapp_unsupported_reactions_and_system(whatsapp: WhatsAppConnector) -> None:
    unknown = _one_whatsapp(whatsapp, mp.wa_unsupported(WA_ID, TS))
    assert isinstance(unknown, InboundMessage) and unknown.kind == "unsupported"
    assert "131051" in unknown.attachments[0].extra["error"]
    novel = _one_whatsapp(whatsapp, mp.wa_message(WA_ID, TS, "hologram", {"x": 1}))
    assert isinstance(novel, InboundMessage) and novel.kind == "unsupported"
    assert novel.attachments[0].extra["type"] == "hologram"
    reaction = _one_whatsapp(
        whatsapp, mp.wa_message(WA_ID, TS, "reaction", {"message_id": "wamid.X", "emoji": "👍"})
    )
    assert isinstance(reaction, Ignored)
    system = _one_whatsapp(whatsapp, mp.wa_system_number_change(WA_ID, "393339999999", TS))
    assert isinstance(system, Ignored) and "number" in system.reason


def test_whatsapp_statuses_errors_and_other_fields(whatsapp: WhatsAppConnector) -> None:
    failed = mp.wa_status(
        "wamid.F",
        "failed",
        TS,
        WA_ID,
        errors=[mp.wa_error(131047, "Re-engagement message", "More than 24 hours have passed")],
    )
    value = mp.wa_value(
        PHONE_NUMBER_ID,
        statuses=[mp.wa_status("wamid.S", "delivered", TS, WA_ID), failed],
        errors=[mp.wa_error(131000, "Something went wrong", "retry")],
    )
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            mp.whatsapp_entry("1029", [value]),
            mp.whatsapp_entry(
                "1029", [{"event": "APPROVED"}], field="message_template_status_update"
            ),
            mp.whatsapp_entry("1029", [mp.wa_value("999", messages=[mp.wa_text(WA_ID, TS, "x")])]),
        ],
    }
    events = _parse(whatsapp, payload)
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    assert [(s.external_id, s.status) for s in statuses] == [
        ("wamid.S", "delivered"),
        ("wamid.F", "failed"),
    ]
    assert statuses[1].error is not None and "131047" in statuses[1].error
    ignored = [e.kind for e in events if isinstance(e, Ignored)]
    assert ignored == ["error", "message_template_status_update", "other_number"]


def test_whatsapp_window_rules(whatsapp: WhatsAppConnector) -> None:
    now = AT
    assert whatsapp.can_send_free_form(now - timedelta(hours=2), now, "survey") is None
    refusal = whatsapp.can_send_free_form(now - timedelta(hours=25), now, "survey")
    assert refusal is not None and "channels.whatsapp.templates.survey" in refusal
    whatsapp.settings.templates["survey"] = "csat_survey"
    assert whatsapp.can_send_free_form(now - timedelta(hours=25), now, "survey") is None
    assert whatsapp.can_send_free_form(None, now, "reply") is not None
