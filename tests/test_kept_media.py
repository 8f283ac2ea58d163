"""Customers' files that WhatsApp and Messenger let expire are copied into the inbox by
the ``media:keep`` job of a running daemon, so the case keeps its pictures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import (
    RunningDaemon,
    wait_for,
)
from customer_helpers import WA_ID, messenger_says, meta_daemon, whatsapp_says
from sqlalchemy import Engine
from sqlmodel import select

from sportello import scheduler
from sportello.connectors.base import Attachment, InboundMessage, Person, Thread
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.inbox import kept_media
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Message

PARCEL = png(48, 36, (180, 120, 60))


@pytest.fixture(autouse=True)
def frequent_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "MEDIA_INTERVAL_S", 0.2)


def _attachment(running: RunningDaemon, message_id: int, settled: str) -> dict[str, Any]:
    """The message's attachment once the job has settled it (``file_id`` or ``unavailable``)."""

    def found() -> dict[str, Any] | None:
        item = next(m for m in running.messages(direction="in") if m["id"] == message_id)
        attachment: dict[str, Any] = item["attachments"][0]
        return attachment if settled in attachment else None

    return wait_for(found, timeout=15)  # type: ignore[no-any-return]


def test_a_whatsapp_picture_outlives_metas_30_days(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator = whatsapp_emulator[0]
    running = meta_daemon(start_daemon, whatsapp_emulator, database_url)
    emulator.add_fault(500, endpoint="media", count=2)  # Meta is down for the first tries
    media_id = emulator.add_media(PARCEL, "image/png")
    picture = whatsapp_says(
        emulator, running, "image", mp.wa_media("image", media_id, "image/png", caption="Rotto")
    )
    lost = whatsapp_says(emulator, running, "image", mp.wa_media("image", "404404", "image/png"))

    kept = _attachment(running, picture["id"], "file_id")
    del emulator.media[media_id]  # 30 days later, Meta no longer has it
    answer = running.api.get(kept["content_url"])
    assert answer.status_code == 200 and answer.content == PARCEL
    assert answer.headers["content-type"] == "image/png"

    gone = _attachment(running, lost["id"], "unavailable")
    assert "does not exist" in gone["unavailable"]
    assert "file_id" not in gone


def test_a_messenger_picture_outlives_its_cdn_link(
    sqlite_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = messenger_emulator
    running = meta_daemon(start_daemon, messenger_emulator, sqlite_url)
    link = server.url + emulator.add_file(PARCEL, "image/png")
    message = messenger_says(emulator, running, attachments=[mp.media("image", link)])

    kept = _attachment(running, message["id"], "file_id")
    emulator.expired.update(emulator.files)  # the link expires
    answer = running.api.get(kept["content_url"])
    assert answer.status_code == 200 and answer.content == PARCEL


def _picture(external_id: str, at: datetime) -> InboundMessage:
    return InboundMessage(
        channel="whatsapp",
        external_id=external_id,
        thread=Thread(WA_ID),
        customer=Person(WA_ID, display_name="Giulia"),
        sent_at=at,
        kind="media",
        attachments=(Attachment("image", platform_id="1000000000000001", mime_type="image/png"),),
    )


def test_a_first_run_looks_back_30_days_and_no_further(engine: Engine) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    with session_scope(engine) as session:
        ingest(session, [_picture("wamid.old", old)], now=old)
    with session_scope(engine) as session:
        # Nothing to copy: the cursor still goes past the old history, so it is read once.
        assert kept_media.candidates(session, {"whatsapp"}, now) == (
            [],
            _id_of(engine, "wamid.old"),
        )

    with session_scope(engine) as session:
        ingest(session, [_picture("wamid.new", now)], now=now)
    recent = _id_of(engine, "wamid.new")
    with session_scope(engine) as session:
        found, upper = kept_media.candidates(session, {"whatsapp"}, now)
    assert [c.id for c in found] == [recent] and upper == recent


def _id_of(engine: Engine, external_id: str) -> int | None:
    with session_scope(engine) as session:
        return session.exec(select(Message.id).where(Message.external_id == external_id)).one()
