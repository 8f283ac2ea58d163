"""An agent's reply with a file: uploaded to the inbox, kept with its message, sent through
the outbox by each platform's client (python-telegram-bot's multipart upload; WhatsApp's
media upload, then the message; Messenger's attachment upload), against the emulators."""

from __future__ import annotations

import base64
from collections.abc import Callable

from conftest import (
    RunningDaemon,
    make_settings,
    telegram_channel,
)
from customer_helpers import (
    PSID,
    WA_ID,
    delivered,
    messenger_says,
    meta_daemon,
    send_file,
    telegram_says,
    whatsapp_says,
)
from sqlmodel import Session, func, select

from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox.models import MessageFile

LABEL = png(40, 30, (20, 160, 90))


def _telegram_conversation(
    start_daemon: Callable[..., RunningDaemon],
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    database_url: str,
) -> tuple[TelegramEmulator, RunningDaemon, int]:
    """A daemon against the emulator, and the conversation Giulia opened there."""
    emulator, server = telegram_emulator
    running = start_daemon(make_settings(database_url, channels=telegram_channel(server.url)))
    said = emulator.next_message_id(5551001)  # ids in a chat count both ways, as on Telegram
    inbound = telegram_says(running, said, text="Mi mandate l'etichetta per il reso?")
    return emulator, running, inbound["conversation_id"]


def test_a_picture_with_a_caption_goes_out_as_one_telegram_photo(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _telegram_conversation(
        start_daemon, telegram_emulator, database_url
    )
    answer = send_file(running, conversation_id, "etichetta.png", LABEL, "image/png", "Eccola!")
    assert answer.status_code == 201
    queued = answer.json()
    assert queued["text"] == "Eccola!"
    (attachment,) = queued["attachments"]
    assert (attachment["kind"], attachment["name"]) == ("image", "etichetta.png")

    sent = delivered(running, queued["id"])
    (photo,) = [s for s in emulator.sent if "photo" in s]
    assert photo["caption"] == "Eccola!" and photo["photo"]["size"] == len(LABEL)
    assert sent["external_id"] == f"5551001:{photo['message_id']}"
    assert not [s for s in emulator.sent if "text" in s]  # one message, not two

    # The inbox shows what went out, from the copy kept with the message; a file sent
    # without a text shows in the conversation list as what it is.
    bare = send_file(running, conversation_id, "etichetta2.png", LABEL, "image/png")
    delivered(running, bare.json()["id"])
    listed = running.api.get(f"/api/v1/conversations/{conversation_id}").json()
    assert listed["last_message"] == "[image]"
    shown = running.api.get(attachment["content_url"])
    assert shown.status_code == 200 and shown.content == LABEL
    assert shown.headers["content-type"] == "image/png"


def test_a_document_goes_before_a_long_text_and_once_after_an_outage(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _telegram_conversation(
        start_daemon, telegram_emulator, sqlite_url
    )
    emulator.add_fault("sendDocument", 500, count=1)
    text = "Istruzioni per il reso. " * 60  # over Telegram's 1,024 characters of caption
    pdf = b"%PDF-1.7 reso"
    answer = send_file(running, conversation_id, "reso.pdf", pdf, "application/pdf", text)
    assert answer.status_code == 201
    sent = delivered(running, answer.json()["id"])

    # The upload failed first and nothing else went; the retry sent the same bytes, then
    # the text, each once.
    (document,) = [s for s in emulator.sent if "document" in s]
    assert document["document"] == {"file_name": "reso.pdf", "size": len(pdf)}
    assert "caption" not in document
    texts = [s for s in emulator.sent if "text" in s]
    assert " ".join(s["text"] for s in texts).split() == text.split()
    assert all(s["message_id"] > document["message_id"] for s in texts)
    assert sent["external_id"] == f"5551001:{document['message_id']}"


def test_an_mp4_goes_to_telegram_as_a_video(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _telegram_conversation(
        start_daemon, telegram_emulator, sqlite_url
    )
    clip = b"\0\0\0\x18ftypmp42 video"
    answer = send_file(running, conversation_id, "unboxing.mp4", clip, "video/mp4", "Guarda")
    delivered(running, answer.json()["id"])
    (video,) = [s for s in emulator.sent if "video" in s]
    assert video["caption"] == "Guarda" and video["video"]["size"] == len(clip)
    assert not [s for s in emulator.sent if "document" in s or "photo" in s]


def test_a_recording_goes_to_telegram_as_a_voice_note_and_a_song_as_audio(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _telegram_conversation(
        start_daemon, telegram_emulator, sqlite_url
    )
    recording = b"OggS\0\2 opus voice"
    voice = send_file(running, conversation_id, "nota.ogg", recording, "audio/ogg", "Ascolta")
    delivered(running, voice.json()["id"])
    song = b"ID3\3\0 jingle"
    audio = send_file(running, conversation_id, "jingle.mp3", song, "audio/mpeg")
    delivered(running, audio.json()["id"])

    (note,) = [s for s in emulator.sent if "voice" in s]
    assert note["caption"] == "Ascolta" and note["voice"]["size"] == len(recording)
    (track,) = [s for s in emulator.sent if "audio" in s]
    assert track["audio"] == {"file_name": "jingle.mp3", "size": len(song)}
    assert not [s for s in emulator.sent if "document" in s]


def test_what_cannot_be_sent_is_refused_before_it_is_queued(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running, conversation_id = _telegram_conversation(
        start_daemon, telegram_emulator, sqlite_url
    )
    huge = send_file(running, conversation_id, "big.bin", b"\0" * (25 * 2**20 + 1), "x/y")
    assert huge.status_code == 413
    empty = send_file(running, conversation_id, "empty.txt", b"", "text/plain")
    assert empty.status_code == 422
    missing = running.api.post(f"/api/v1/conversations/{conversation_id}/files", data={})
    assert missing.status_code == 422
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(MessageFile)).one() == 0


def test_a_customers_export_holds_the_files_sent_to_them_and_erasure_takes_them(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running, conversation_id = _telegram_conversation(
        start_daemon, telegram_emulator, sqlite_url
    )
    answer = send_file(running, conversation_id, "etichetta.png", LABEL, "image/png")
    delivered(running, answer.json()["id"])
    customer_id = answer.json()["customer_id"]
    exported = running.api.get(f"/api/v1/customers/{customer_id}/export").json()
    (kept,) = exported["files"]
    assert (kept["name"], kept["mime_type"], kept["size"]) == (
        "etichetta.png",
        "image/png",
        len(LABEL),
    )
    assert base64.b64decode(kept["content_base64"]) == LABEL
    erased = running.api.delete(f"/api/v1/customers/{customer_id}")
    assert erased.status_code == 200 and erased.json()["deleted"]["files"] == 1
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(MessageFile)).one() == 0


def _whatsapp_conversation(
    start_daemon: Callable[..., RunningDaemon],
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    database_url: str,
    hours_ago: float = 0,
) -> tuple[GraphEmulator, RunningDaemon, int]:
    emulator = whatsapp_emulator[0]
    running = meta_daemon(start_daemon, whatsapp_emulator, database_url)
    said = {"body": "L'etichetta?"}
    inbound = whatsapp_says(emulator, running, "text", said, hours_ago=hours_ago)
    return emulator, running, inbound["conversation_id"]


def test_a_whatsapp_document_is_uploaded_then_sent_with_its_caption(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _whatsapp_conversation(
        start_daemon, whatsapp_emulator, database_url
    )
    pdf = b"%PDF-1.7 etichetta"
    answer = send_file(running, conversation_id, "reso.pdf", pdf, "application/pdf", "Eccola")
    assert answer.status_code == 201
    sent = delivered(running, answer.json()["id"])

    (message,) = emulator.sent
    body = message["body"]
    assert body["type"] == "document" and body["to"] == WA_ID
    document = body["document"]
    assert (document["caption"], document["filename"]) == ("Eccola", "reso.pdf")
    assert emulator.media[document["id"]] == ("application/pdf", pdf)  # the bytes uploaded
    assert sent["external_id"] == message["message_id"]


def test_a_whatsapp_voice_note_takes_no_caption_so_the_text_follows(
    sqlite_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _whatsapp_conversation(
        start_daemon, whatsapp_emulator, sqlite_url
    )
    voice = b"OggS voice"
    answer = send_file(running, conversation_id, "nota.ogg", voice, "audio/ogg", "Ascolta")
    delivered(running, answer.json()["id"])
    kinds = [(m["body"]["type"], m["body"].get("text", {}).get("body")) for m in emulator.sent]
    assert kinds == [("audio", None), ("text", "Ascolta")]
    assert "caption" not in emulator.sent[0]["body"]["audio"]


def test_outside_the_window_a_whatsapp_file_is_refused_before_it_is_queued(
    sqlite_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _whatsapp_conversation(
        start_daemon, whatsapp_emulator, sqlite_url, hours_ago=30
    )
    refused = send_file(running, conversation_id, "etichetta.png", LABEL, "image/png")
    assert refused.status_code == 409
    assert "a template cannot carry one" in refused.json()["detail"]
    big = send_file(running, conversation_id, "x.png", b"\0" * (5 * 2**20 + 1), "image/png")
    assert big.status_code == 409
    assert emulator.sent == []


def test_a_messenger_picture_is_uploaded_with_the_message_and_the_text_follows(
    sqlite_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator = messenger_emulator[0]
    running = meta_daemon(start_daemon, messenger_emulator, sqlite_url)
    said = messenger_says(emulator, running, text="Mi mandate l'etichetta?")
    conversation_id = said["conversation_id"]

    answer = send_file(running, conversation_id, "etichetta.png", LABEL, "image/png", "Eccola")
    sent = delivered(running, answer.json()["id"])

    picture, text = (m["body"] for m in emulator.sent)
    assert picture["recipient"] == {"id": PSID} and picture["messaging_type"] == "RESPONSE"
    assert picture["message"]["attachment"]["type"] == "image"
    assert picture["filedata"] == {
        "filename": "etichetta.png",
        "content_type": "image/png",
        "size": len(LABEL),
    }
    assert text["message"]["text"] == "Eccola"
    assert sent["external_id"] == emulator.sent[0]["message_id"]
