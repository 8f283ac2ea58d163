"""An agent's file on X: uploaded through X's v2 media upload (one request for a picture;
initialize, append, finalize and status for a video), then carried by the DM, or by the
first post of a public reply, through tweepy's client against the X emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import BRAND, BRAND_ID, EMMA_ID, RunningDaemon, make_settings, wait_for, x_channel
from customer_helpers import delivered, send_file
from pydantic import SecretStr

from sportello.config.settings import XSettings
from sportello.connectors.base import OutboundFile, SendError
from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.x import XEmulator
from sportello.connectors.x_api import build_client
from sportello.connectors.x_upload import CHUNK_BYTES, PROCESSING_WAIT_S, upload

LABEL = png(40, 30, (20, 160, 90))
# An MP4's first box is "ftyp"; the rest stands for the frames (over one chunk).
CLIP = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + bytes(CHUNK_BYTES + 1000)


def _dm_conversation(
    start_daemon: Callable[..., RunningDaemon],
    x_emulator: tuple[XEmulator, BackgroundServer],
    database_url: str,
) -> tuple[XEmulator, RunningDaemon, int]:
    """A daemon polling the emulator, and the DM conversation Emma opened there."""
    emulator, server = x_emulator
    dm = emulator.dm(EMMA_ID, BRAND_ID, "Can you send me the return label?")
    running = start_daemon(make_settings(database_url, channels=x_channel(server.url)))
    inbound = wait_for(lambda: running.messages(external_id=dm["id"]))[0]
    return emulator, running, inbound["conversation_id"]


def _failed(running: RunningDaemon, message_id: int) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        out = [m for m in running.messages(direction="out") if m["id"] == message_id]
        return out[0] if out and out[0]["delivery_status"] == "failed" else None

    return wait_for(found)  # type: ignore[no-any-return]


def test_a_picture_goes_in_the_dm_with_the_text(
    database_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _dm_conversation(start_daemon, x_emulator, database_url)
    answer = send_file(running, conversation_id, "label.png", LABEL, "image/png", "Here it is")
    assert answer.status_code == 201
    sent = delivered(running, answer.json()["id"])

    (dm,) = emulator.sent_dms
    assert dm["participant_id"] == EMMA_ID and dm["text"] == "Here it is"
    (attached,) = dm["attachments"]
    uploaded = emulator.uploads.uploads[attached["media_id"]]
    assert uploaded.category == "dm_image" and uploaded.content == LABEL
    assert sent["external_id"] == dm["id"]
    # Emma gets the very picture, on X's DM media host.
    (key,) = emulator.dm_events[dm["id"]]["attachments"]["media_keys"]
    url = emulator.media[key]["url"]
    assert emulator.dm_files[url.removeprefix("https://ton.twitter.com")] == LABEL
    # The next poll brings the DM back as ours: it stays one message, with its file.
    since = time.time()
    wait_for(lambda: [c for c in emulator.calls if c[0] == "dm_events" and c[2] > since])
    (ours,) = running.messages(external_id=dm["id"])
    assert ours["direction"] == "out" and ours["attachments"][0]["content_url"]


def test_a_video_is_uploaded_in_chunks_and_sent_once_processed(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _dm_conversation(start_daemon, x_emulator, sqlite_url)
    answer = send_file(running, conversation_id, "unboxing.mp4", CLIP, "video/mp4")
    delivered(running, answer.json()["id"])

    (dm,) = emulator.sent_dms
    assert "text" not in dm  # a file alone
    uploaded = emulator.uploads.uploads[dm["attachments"][0]["media_id"]]
    assert uploaded.category == "dm_video" and uploaded.content == CLIP
    calls = [status for endpoint, status, _ in emulator.calls if endpoint == "media_upload"]
    # initialize, two chunks, finalize, then one status until X has processed it
    assert calls == [200] * 5
    (key,) = emulator.dm_events[dm["id"]]["attachments"]["media_keys"]
    assert emulator.media[key]["type"] == "video"


def test_a_public_reply_carries_the_picture_on_its_first_post(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    mention = emulator.tweet(EMMA_ID, f"@{BRAND} my parcel arrived broken")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url)))
    inbound = wait_for(lambda: running.messages(external_id=mention["id"]))[0]

    text = " ".join(f"step{n}" for n in range(60))  # over one post: a thread of two
    answer = send_file(running, inbound["conversation_id"], "how.png", LABEL, "image/png", text)
    sent = delivered(running, answer.json()["id"])

    first, second = emulator.posted_tweets
    assert first["reply"]["in_reply_to_tweet_id"] == mention["id"]
    (media_id,) = first["media"]["media_ids"]
    assert emulator.uploads.uploads[media_id].category == "tweet_image"
    assert "media" not in second
    assert second["reply"]["in_reply_to_tweet_id"] == first["id"]
    assert sent["external_id"] == first["id"]
    (key,) = emulator.tweets[first["id"]]["attachments"]["media_keys"]
    assert emulator.media[key]["type"] == "photo"


def test_what_x_cannot_carry_is_refused_before_it_is_queued(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running, conversation_id = _dm_conversation(start_daemon, x_emulator, sqlite_url)
    pdf = send_file(running, conversation_id, "label.pdf", b"%PDF-1.7", "application/pdf")
    assert pdf.status_code == 409
    assert pdf.json()["detail"] == (
        "cannot send this file on x: "
        "X carries only pictures (JPEG, PNG, WebP, GIF) and MP4 or MOV videos"
    )
    big = LABEL + bytes(5 * 2**20)
    too_big = send_file(running, conversation_id, "big.png", big, "image/png")
    assert too_big.status_code == 409
    assert too_big.json()["detail"].endswith("X takes a picture up to 5 MB")
    assert running.messages(direction="out") == []


def test_a_file_x_cannot_process_fails_with_xs_reason(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _dm_conversation(start_daemon, x_emulator, sqlite_url)
    answer = send_file(running, conversation_id, "clip.mp4", b"not a video at all", "video/mp4")
    failed = _failed(running, answer.json()["id"])
    assert failed["delivery_error"] == (
        "X could not process the file: Invalid or Unsupported media, Reason: UnsupportedMedia."
    )
    assert emulator.sent_dms == []


def test_an_upload_outage_is_retried_and_the_dm_goes_once(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running, conversation_id = _dm_conversation(start_daemon, x_emulator, sqlite_url)
    emulator.add_fault("media_upload", 503)
    answer = send_file(running, conversation_id, "label.png", LABEL, "image/png", "Here")
    wait_for(lambda: emulator.sent_dms, timeout=20)  # retried after the 5xx
    delivered(running, answer.json()["id"])
    assert len(emulator.sent_dms) == 1
    statuses = [s for endpoint, s, _ in emulator.calls if endpoint == "media_upload"]
    assert statuses == [503, 200]


def test_a_video_still_processing_after_the_wait_is_a_retryable_failure(
    x_emulator: tuple[XEmulator, BackgroundServer],
) -> None:
    emulator, server = x_emulator
    emulator.uploads.processing_checks = 1_000
    client = build_client(
        XSettings(
            api_base_url=server.url,
            consumer_key=SecretStr(emulator.consumer_key or ""),
            consumer_secret=SecretStr(emulator.consumer_secret or ""),
            access_token=SecretStr(emulator.access_token or ""),
            access_token_secret=SecretStr(emulator.access_token_secret or ""),
        )
    )
    slept: list[float] = []
    clip = OutboundFile("clip.mp4", "video/mp4", CLIP)
    with pytest.raises(SendError) as raised:
        upload(client, clip, dm=True, sleep=slept.append)
    assert raised.value.retryable and "still processing" in raised.value.reason
    assert sum(slept) == PROCESSING_WAIT_S  # X's check_after_secs, one second at a time
