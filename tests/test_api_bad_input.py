"""Bad input to the REST API is a clear 4xx, never a server error.

Ids past what the database's keys hold, cursors made up or tampered with, instants and
durations past what the calendars reckon with: each used to fail deep inside (SQLite's
driver, ``datetime`` arithmetic) with a 500. The last test sends requests generated from
the API's own OpenAPI schema (schemathesis) to every operation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from agent_helpers import telegram_conversation
from conftest import API_TOKEN, RunningDaemon, make_settings
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import openapi
from schemathesis.core.result import Ok

HUGE = 2**64
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def running(sqlite_url: str, start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    daemon = start_daemon(make_settings(sqlite_url))
    telegram_conversation(daemon.daemon.engine, "5551001", datetime.now(UTC), "Ciao")
    return daemon


def test_an_id_past_64_bits_is_a_422_naming_it(running: RunningDaemon) -> None:
    for method, path, body in [
        ("GET", f"/api/v1/conversations/{HUGE}", None),
        ("GET", f"/api/v1/conversations/-{HUGE}/messages", None),
        ("GET", f"/api/v1/messages?conversation_id={HUGE}", None),
        ("POST", "/api/v1/conversations/bulk", {"ids": [1, HUGE], "status": "resolved"}),
        ("POST", "/api/v1/customers/1/merge", {"other_id": HUGE}),
        ("POST", "/api/v1/conversations/1/messages", {"canned_reply_id": HUGE}),
        ("GET", f"/api/v1/messages/1/attachments/{HUGE}", None),
    ]:
        answer = running.api.request(method, path, json=body)
        assert answer.status_code == 422, (path, answer.text)
        assert "9223372036854775807" in answer.text or "-9223372036854775808" in answer.text


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


LISTS = [
    "/api/v1/conversations",
    "/api/v1/conversations/1/messages",
    "/api/v1/conversations/1/events",
    "/api/v1/alerts",
    "/api/v1/sla/breaches",
    "/api/v1/customers",
    "/api/v1/customers/suggestions",
    "/api/v1/customers/1/audit",
    "/api/v1/audit",
    "/api/v1/customers/1/timeline",
    "/api/v1/deliveries",
    "/api/v1/search",
    "/api/v1/mentions",
    "/api/v1/messages",
]
FORGED = [
    "not base64 at all!",
    _cursor([1, 2]),
    _cursor({"offset": -1}),
    _cursor({"offset": "ten"}),
    _cursor({"offset": HUGE}),
    _cursor({"id": HUGE}),
    _cursor({"id": None}),
    _cursor({"t": "yesterday", "id": 1}),
    _cursor({"t": "0001-01-01T00:00:00+05:00", "id": 1}),
    _cursor({"offset": 0, "id": 1, "t": "2026-12-01T00:00:00Z"}),  # no list takes all three
]


def test_a_forged_cursor_is_a_400_on_every_list(running: RunningDaemon) -> None:
    for path in LISTS:
        query = {"q": "ciao"} if path.endswith("/search") else {}
        first = running.api.get(path, params={**query, "limit": 1})
        assert first.status_code == 200, (path, first.text)
        if first.json().get("next_cursor"):  # a genuine one still works
            genuine = {**query, "cursor": first.json()["next_cursor"]}
            assert running.api.get(path, params=genuine).is_success
        for cursor in FORGED:
            answer = running.api.get(path, params={**query, "cursor": cursor})
            assert (answer.status_code, answer.json()) == (400, {"detail": "invalid cursor"}), (
                path,
                cursor,
                answer.text,
            )


def test_an_instant_out_of_the_calendars_range_is_a_422(running: RunningDaemon) -> None:
    late, early = "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"
    for path, params in [
        ("/api/v1/reports/kpis", {"to": "9999-12-31"}),
        ("/api/v1/reports/kpis", {"from": "0001-01-01"}),
        ("/api/v1/reports/channels", {"from": early}),
        ("/api/v1/settings/business-hours/status", {"at": early}),
        ("/api/v1/sla/breaches", {"since": late}),
        ("/api/v1/mentions", {"to": early}),
    ]:
        answer = running.api.get(path, params=params)
        assert answer.status_code == 422 and "from 1900 to 2999" in answer.text, (path, answer.text)
    snoozed = running.api.patch(
        "/api/v1/conversations/1", json={"status": "snoozed", "snoozed_until": late}
    )
    assert snoozed.status_code == 422 and snoozed.json()["detail"][0]["loc"] == [
        "body",
        "snoozed_until",
    ]
    assert running.api.get("/api/v1/reports/kpis", params={"from": "1900-01-01"}).is_success


def test_a_duration_or_a_closure_past_what_the_calendars_reckon_with_is_refused(
    running: RunningDaemon,
) -> None:
    macro = running.api.post("/api/v1/macros", json={"name": "forever", "snooze_for": "36501d"})
    assert macro.status_code == 422 and "longer than 100 years" in macro.text
    hours = {"timezone": "Europe/Rome", "holidays": "IT", "mon": ["09:00-18:00"]}
    for closure in ("9999-12-31", "1899-12-31/1900-01-02"):
        refused = running.api.put(
            "/api/v1/settings/business-hours", json={**hours, "closures": [closure]}
        )
        assert refused.status_code == 422 and "out of range" in refused.text, refused.text
    stored = running.api.put("/api/v1/settings/business-hours", json=hours)
    assert stored.status_code == 200, stored.text


def test_a_body_past_its_limit_is_a_413_declared_or_streamed(running: RunningDaemon) -> None:
    big = json.dumps({"text": "a" * (3 * 2**20)}).encode()
    declared = running.api.post(
        "/api/v1/conversations/1/messages",
        content=big,
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413 and declared.json() == {"detail": "request body over 2 MiB"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(40):
            yield b"name=" + b"a" * 2**16 + b"&"

    for path in ("/login", "/api/v1/conversations/1/messages"):
        streamed = running.api.post(
            path, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert streamed.status_code == 413, (path, streamed.text)
    assert running.api.get("/healthz").status_code == 200
    upload = running.api.post(  # a file within its own 25 MiB passes the general limit
        "/api/v1/conversations/1/files", files={"file": ("a.txt", b"a" * (3 * 2**20))}
    )
    assert upload.status_code == 409  # refused for what it is (no channel here), not its size


def test_a_422_does_not_repeat_a_long_value(running: RunningDaemon) -> None:
    refused = running.api.post("/api/v1/conversations/1/messages", json={"text": "a" * 30_000})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "text"] and "at most 20000 characters" in error["msg"]
    assert error["input"] == "a" * 200
    assert len(refused.content) < 1000


# Streams and the platforms' webhooks are no request-and-answer operations to fuzz.
UNFUZZED = {"/api/v1/events", "/webhooks/{channel}"}


def test_no_request_the_schema_allows_makes_a_server_error(running: RunningDaemon) -> None:
    schema = openapi.from_url(f"{running.url}/openapi.json")
    errors: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the daemon's schema is valid
        operation = result.ok()
        if operation.path in UNFUZZED:
            continue

        @settings(
            max_examples=6,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def request(case: Any) -> None:
            answer = case.call(base_url=running.url, headers=AUTH, timeout=10)
            if answer.status_code >= 500:
                errors.append(f"{answer.status_code}: {case.as_curl_command()}")

        request()
    assert errors == []
