"""Whatever a platform (or an attacker with the secret) sends, a parser either returns
normalized events or raises ParseError — the delivery is then quarantined, never lost, and
never crashes the worker. Seeds are real-shaped payloads; hypothesis mutates them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import BRAND, BRAND_ID, EMMA_ID, PAGE_ID, PHONE_NUMBER_ID, make_x_emulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from sportello.config.settings import (
    MessengerSettings,
    TelegramSettings,
    WhatsAppSettings,
    XSettings,
)
from sportello.connectors.base import (
    Channel,
    Connector,
    Ignored,
    InboundMessage,
    ParseError,
    RawDelivery,
)
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.x import XEmulator
from sportello.connectors.messenger import MessengerConnector
from sportello.connectors.telegram import TelegramConnector
from sportello.connectors.whatsapp import WhatsAppConnector
from sportello.connectors.x import XConnector

NOW = int(time.time())
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _x_seeds() -> list[dict[str, Any]]:
    emulator = make_x_emulator()
    tweet = emulator.tweet(EMMA_ID, f"@{BRAND} the app logs me out")
    dm = emulator.dm(EMMA_ID, BRAND_ID, "ciao")
    pictured = emulator.tweet(EMMA_ID, f"@{BRAND} look", media=["photo", "video"])
    pictured_dm = emulator.dm(EMMA_ID, BRAND_ID, "here", media="animated_gif")
    return [
        emulator.activity_for_tweet(tweet),
        emulator.activity_for_dm(dm),
        emulator.activity_for_tweet(pictured),
        emulator.activity_for_dm(pictured_dm),
        *(_v2_document(emulator, item) for item in (pictured, pictured_dm)),
    ]


def _v2_document(emulator: XEmulator, item: dict[str, Any]) -> dict[str, Any]:
    """A tweet or DM event as polling journals it: with its users and media."""
    keys = item["attachments"]["media_keys"]
    return {
        "data": item,
        "includes": {
            "users": [emulator.users[EMMA_ID]],
            "media": [emulator.media[key] for key in keys],
        },
    }


USER = tg.user(5551001, "Giulia", "Rossi")
CONNECTORS: dict[Channel, tuple[Connector, list[dict[str, Any]]]] = {
    "telegram": (
        TelegramConnector(TelegramSettings(bot_token=SecretStr("1:x"))),
        [
            tg.update(1, message=tg.message(7, USER, NOW, text="Ciao")),
            tg.update(2, edited_message=tg.message(7, USER, NOW, text="Ciao!", edit_date=NOW)),
            tg.update(3, message=tg.message(8, USER, NOW, photo=tg.photo(), caption="rotto")),
        ],
    ),
    "whatsapp": (
        WhatsAppConnector(
            WhatsAppSettings(access_token=SecretStr("t"), phone_number_id=PHONE_NUMBER_ID)
        ),
        [
            mp.whatsapp_webhook(
                "102290129340398",
                mp.wa_value(
                    PHONE_NUMBER_ID,
                    contacts=[mp.wa_contact("393331234567", "Giulia")],
                    messages=[mp.wa_text("393331234567", NOW, "Ciao")],
                ),
            ),
            mp.whatsapp_webhook(
                "102290129340398",
                mp.wa_value(
                    PHONE_NUMBER_ID, statuses=[mp.wa_status("wamid.X", "read", NOW, "39333")]
                ),
            ),
        ],
    ),
    "messenger": (
        MessengerConnector(MessengerSettings(page_access_token=SecretStr("t"), page_id=PAGE_ID)),
        [
            mp.messenger_webhook(
                PAGE_ID,
                mp.text_message("6024301887612345", PAGE_ID, NOW * 1000, "Ciao"),
                time_ms=NOW * 1000,
            )
        ],
    ),
    "x": (XConnector(XSettings(bearer_token=SecretStr("b"), user_id=BRAND_ID)), _x_seeds()),
}


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """The seed with one subtree replaced by arbitrary JSON, or one key removed."""
    if isinstance(seed, dict) and seed and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(seed)))
        copy = dict(seed)
        if draw(st.booleans()):
            del copy[key]
        else:
            copy[key] = draw(mutated(seed[key]))
        return copy
    if isinstance(seed, list) and seed and draw(st.booleans()):
        index = draw(st.integers(0, len(seed) - 1))
        items = list(seed)
        items[index] = draw(mutated(seed[index]))
        return items
    return draw(JSON)


def _check(connector: Connector, payload: Any) -> None:
    body = json.dumps(payload).encode()
    try:
        events = connector.parse(RawDelivery(connector.name, body))
    except ParseError:
        return
    assert isinstance(events, list)
    for event in events:
        assert getattr(event, "channel", None) == connector.name
        if isinstance(event, InboundMessage):
            assert event.external_id and isinstance(event.text, str)
        assert not isinstance(event, Ignored) or event.reason


@pytest.mark.parametrize("channel", sorted(CONNECTORS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_payloads_parse_or_raise_parse_error(channel: Channel, data: st.DataObject) -> None:
    connector, seeds = CONNECTORS[channel]
    seed = data.draw(st.sampled_from(seeds))
    _check(connector, data.draw(mutated(seed)))


@pytest.mark.parametrize("channel", sorted(CONNECTORS))
@settings(max_examples=100, deadline=None)
@given(payload=JSON)
def test_arbitrary_json_parses_or_raises_parse_error(channel: Channel, payload: Any) -> None:
    _check(CONNECTORS[channel][0], payload)


@pytest.mark.parametrize(
    ("channel", "entry"),
    [
        ("whatsapp", {"id": PHONE_NUMBER_ID, "changes": True}),
        ("messenger", {"id": PAGE_ID, "messaging": 5}),
        ("messenger", {"id": PAGE_ID, "standby": {"sender": {"id": EMMA_ID}}}),
    ],
)
def test_an_entry_whose_events_are_not_a_list_is_a_parse_error(
    channel: Channel, entry: dict[str, Any]
) -> None:
    """Found by the mutation test above: the list was iterated outside the error handling."""
    obj = "whatsapp_business_account" if channel == "whatsapp" else "page"
    body = json.dumps({"object": obj, "entry": [entry]}).encode()
    with pytest.raises(ParseError, match="is not a list"):
        CONNECTORS[channel][0].parse(RawDelivery(channel, body))


HUGE = 9_223_372_036_854_775_807_000  # past any datetime, and past the system's time_t


def _with_huge_timestamp(channel: Channel) -> dict[str, Any]:
    """Each platform's real-shaped message with its timestamp out of range."""
    if channel == "telegram":
        return tg.update(9, message=tg.message(9, USER, HUGE, text="Ciao"))
    if channel == "whatsapp":
        message = mp.wa_text("393331234567", NOW, "Ciao")
        value = mp.wa_value(PHONE_NUMBER_ID, messages=[{**message, "timestamp": str(HUGE)}])
        return mp.whatsapp_webhook("102290129340398", value)
    if channel == "messenger":
        event = mp.text_message("6024301887612345", PAGE_ID, HUGE, "Ciao")
        return mp.messenger_webhook(PAGE_ID, event, time_ms=NOW * 1000)
    dm = _x_seeds()[1]
    dm["direct_message_events"][0]["created_timestamp"] = str(HUGE)
    return dm


@pytest.mark.parametrize("channel", sorted(CONNECTORS))
def test_a_timestamp_out_of_range_is_a_parse_error(channel: Channel) -> None:
    """Found by the mutation test on X (OSError from ``datetime.fromtimestamp``, which no
    parser caught); every platform's timestamp is checked the same way."""
    body = json.dumps(_with_huge_timestamp(channel)).encode()
    with pytest.raises(ParseError, match="malformed"):
        CONNECTORS[channel][0].parse(RawDelivery(channel, body))
