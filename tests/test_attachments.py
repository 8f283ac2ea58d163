"""A customer's photo or document, fetched from the platform when an agent opens it:
Telegram (getFile and the file server, through python-telegram-bot), WhatsApp (the media
URL lookup and its download, through httpx) and Messenger (the webhook's CDN link),
against the emulators. X's DM pictures: tests/test_x.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import (
    RunningDaemon,
    make_settings,
    telegram_channel,
)
from customer_helpers import messenger_says, meta_daemon, telegram_says, whatsapp_says

from sportello import scheduler
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.daemon import MEDIA_FETCHES

PICTURE = png(32, 24)


@pytest.fixture(autouse=True)
def no_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files here are fetched when opened; the job copying WhatsApp's and Messenger's ahead
    of their expiry (tests/test_kept_media.py) would serve its copy instead."""
    monkeypatch.setattr(scheduler, "MEDIA_INTERVAL_S", 3600.0)


def _telegram(
    start_daemon: Callable[..., RunningDaemon],
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    database_url: str,
) -> tuple[TelegramEmulator, RunningDaemon]:
    emulator, server = telegram_emulator
    running = start_daemon(make_settings(database_url, channels=telegram_channel(server.url)))
    return emulator, running


def _file_of(running: RunningDaemon, message: dict[str, Any], index: int = 0) -> httpx.Response:
    url = message["attachments"][index]["content_url"]
    assert url == f"/api/v1/messages/{message['id']}/attachments/{index}"
    return running.api.get(url)


def test_a_telegram_photo_is_fetched_from_the_platform_and_shown_inline(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _telegram(start_daemon, telegram_emulator, database_url)
    file_id = emulator.add_file(PICTURE, ".png")
    message = telegram_says(running, 1, photo=tg.photo(file_id), caption="Il pacco rotto")

    assert message["attachments"][0]["platform_id"] == file_id  # the largest size
    answer = _file_of(running, message)
    assert answer.status_code == 200
    assert answer.content == PICTURE
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["content-disposition"].startswith('inline; filename="image-')
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "private, max-age=3600"

    anonymous = httpx.get(f"{running.url}{message['attachments'][0]['content_url']}")
    assert anonymous.status_code == 401


def test_a_document_downloads_under_its_name_and_never_runs_as_a_page(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _telegram(start_daemon, telegram_emulator, sqlite_url)
    page = b"<html><script>fetch('/api/v1/customers')</script></html>"
    file_id = emulator.add_file(page, ".html")
    document = {
        "file_id": file_id,
        "file_unique_id": "AgADdoc",
        "file_name": "fattura maggio.html",
        "mime_type": "text/html",
        "file_size": len(page),
    }
    message = telegram_says(running, 2, document=document)

    answer = _file_of(running, message)
    assert answer.status_code == 200 and answer.content == page
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"fattura maggio.html\"; filename*=UTF-8''fattura%20maggio.html"
    )

    hostile = {**document, "file_name": 'ricevuta "già"\r\nSet-Cookie: x=1.pdf'}
    answer = _file_of(running, telegram_says(running, 8, document=hostile))
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert answer.headers["content-disposition"] == (
        'attachment; filename="ricevuta _gi____Set-Cookie: x=1.pdf"; '
        "filename*=UTF-8''ricevuta%20%22gi%C3%A0%22%0D%0ASet-Cookie%3A%20x%3D1.pdf"
    )


def test_what_the_platform_cannot_give_is_a_clear_error(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _telegram(start_daemon, telegram_emulator, sqlite_url)
    lost = telegram_says(running, 3, photo=tg.photo("AgACAgQAAxkBAAInever-kept"))
    answer = _file_of(running, lost)
    assert answer.status_code == 404
    assert "invalid file_id" in answer.json()["detail"].lower()

    huge = emulator.add_file(b"\0" * (20 * 1024 * 1024 + 1), ".mp4")
    video = {"file_id": huge, "file_unique_id": "AgADbig", "width": 1, "height": 1, "duration": 1}
    too_big = telegram_says(running, 4, video=video)
    answer = _file_of(running, too_big)
    assert answer.status_code == 502
    assert "file is too big" in answer.json()["detail"].lower()

    fine = telegram_says(running, 5, photo=tg.photo(emulator.add_file(PICTURE, ".png")))
    emulator.add_fault("getFile", 429, retry_after=7)
    answer = _file_of(running, fine)
    assert answer.status_code == 503 and "rate limit" in answer.json()["detail"]
    emulator.add_fault("getFile", 500)
    assert _file_of(running, fine).status_code == 503
    assert _file_of(running, fine).content == PICTURE  # the platform is back

    text = telegram_says(running, 6, text="Grazie!")
    assert text["attachments"] == []
    for url in (
        f"/api/v1/messages/{text['id']}/attachments/0",
        f"/api/v1/messages/{fine['id']}/attachments/1",
        "/api/v1/messages/999999/attachments/0",
    ):
        assert running.api.get(url).status_code == 404


def test_a_telegram_location_has_no_file_to_fetch(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running = _telegram(start_daemon, telegram_emulator, sqlite_url)
    message = telegram_says(running, 7, location={"latitude": 45.4642, "longitude": 9.19})
    assert "content_url" not in message["attachments"][0]
    assert running.api.get(f"/api/v1/messages/{message['id']}/attachments/0").status_code == 404


def _whatsapp(
    start_daemon: Callable[..., RunningDaemon],
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    database_url: str,
) -> tuple[GraphEmulator, RunningDaemon]:
    emulator = whatsapp_emulator[0]
    running = meta_daemon(start_daemon, whatsapp_emulator, database_url)
    return emulator, running


def test_a_whatsapp_picture_is_fetched_through_its_media_url(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _whatsapp(start_daemon, whatsapp_emulator, database_url)
    media_id = emulator.add_media(PICTURE, "image/png")
    message = whatsapp_says(
        emulator, running, "image", mp.wa_media("image", media_id, "image/png", caption="Rotto")
    )

    answer = _file_of(running, message)
    assert answer.status_code == 200
    assert answer.content == PICTURE
    assert answer.headers["content-type"] == "image/png"

    # Meta deletes a customer's media after 30 days: the lookup no longer knows the id.
    del emulator.media[media_id]
    gone = _file_of(running, message)
    assert gone.status_code == 404
    assert "does not exist" in gone.json()["detail"]


def test_a_whatsapp_voice_note_plays_inline(
    sqlite_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _whatsapp(start_daemon, whatsapp_emulator, sqlite_url)
    voice = b"OggS\0\2" + bytes(200)
    media_id = emulator.add_media(voice, "audio/ogg; codecs=opus")
    content = mp.wa_media("audio", media_id, "audio/ogg; codecs=opus", voice=True)
    message = whatsapp_says(emulator, running, "audio", content)

    answer = _file_of(running, message)
    assert answer.status_code == 200 and answer.content == voice
    assert answer.headers["content-type"] == "audio/ogg"
    assert answer.headers["content-disposition"].startswith('inline; filename="audio-')


def test_a_messenger_picture_is_fetched_from_metas_cdn_until_its_link_expires(
    sqlite_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = messenger_emulator
    running = meta_daemon(start_daemon, messenger_emulator, sqlite_url)
    link = server.url + emulator.add_file(PICTURE, "image/png")
    elsewhere = "http://169.254.169.254/latest/meta-data/picture.png"  # not Meta's
    pictures = [mp.media("image", link), mp.media("image", elsewhere)]
    message = messenger_says(emulator, running, attachments=pictures)

    answer = _file_of(running, message)
    assert answer.status_code == 200 and answer.content == PICTURE
    assert answer.headers["content-type"] == "image/png"
    refused = _file_of(running, message, 1)
    assert refused.status_code == 404 and "not a link to Meta's file servers" in refused.text

    emulator.expired.add(urlsplit(link).path)
    expired = _file_of(running, message)
    assert expired.status_code == 404 and "expired" in expired.json()["detail"]


async def test_a_conversation_full_of_pictures_is_fetched_a_few_at_a_time(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """Each fetch may hold 20 MiB: the inbox asks the platform for at most
    ``MEDIA_FETCHES`` files at once, and every picture still comes."""
    emulator, running = _telegram(start_daemon, telegram_emulator, sqlite_url)
    emulator.file_delay_s = 0.3
    pictures = [png(8 + n, 8, (n * 20, 90, 90)) for n in range(3 * MEDIA_FETCHES)]
    messages = [
        telegram_says(running, n + 1, photo=tg.photo(emulator.add_file(picture, ".png")))
        for n, picture in enumerate(pictures)
    ]
    headers = dict(running.api.headers)
    async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.get(m["attachments"][0]["content_url"]) for m in messages)
        )
    assert [a.content for a in answers] == pictures
    assert emulator.most_downloads_at_once == MEDIA_FETCHES
