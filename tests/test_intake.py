"""The count of webhooks in flight, which the journal worker waits on between deliveries."""

from __future__ import annotations

import threading
import time

from sportello.inbox.intake import Intake

WAIT_S = 10.0


def test_an_idle_intake_does_not_make_anyone_wait() -> None:
    intake = Intake()
    assert not intake.busy()
    assert intake.wait_idle(WAIT_S)


def test_waiting_ends_when_the_last_request_in_flight_is_answered() -> None:
    intake = Intake()
    idle = threading.Event()

    def waiter() -> None:
        if intake.wait_idle(WAIT_S):
            idle.set()

    with intake.receiving():
        with intake.receiving():
            assert intake.busy()
            thread = threading.Thread(target=waiter, daemon=True)
            thread.start()
        assert intake.busy()
        assert not idle.wait(0.05)  # one request is still in flight
    thread.join(WAIT_S)
    assert idle.is_set()
    assert not intake.busy()


def test_waiting_is_bounded_while_a_request_stays_in_flight() -> None:
    intake = Intake()
    with intake.receiving():
        assert intake.wait_idle(0.01) is False


def test_a_request_that_fails_is_no_longer_counted() -> None:
    intake = Intake()
    try:
        with intake.receiving():
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    assert not intake.busy()


def test_quiet_means_no_request_for_a_while() -> None:
    intake = Intake()
    assert intake.wait_quiet(0.2, WAIT_S)  # none ever: quiet at once
    with intake.receiving():
        pass
    started = time.monotonic()
    assert intake.wait_quiet(0.2, WAIT_S)
    assert time.monotonic() - started >= 0.2 - 0.01  # the quiet moment, after the last answer


def test_waiting_for_quiet_is_bounded_while_requests_keep_coming() -> None:
    intake = Intake()
    with intake.receiving():
        assert not intake.wait_quiet(0.01, 0.2)
    assert not intake.wait_quiet(5.0, 0.2)  # answered just now: not quiet for long enough
