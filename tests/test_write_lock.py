"""The SQLite write lock: webhooks (urgent) go before the worker, which lets them in, and the
worker before the periodic jobs (background)."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

from conftest import wait_for

from sportello.inbox.write_lock import BACKGROUND, NORMAL, URGENT, WriteLock

WAIT_S = 10.0


def _when_waiting(lock: WriteLock, urgent_waiters: int) -> None:
    """Block until ``urgent_waiters`` urgent writers queue for ``lock``."""
    _when_queued(lock, URGENT, urgent_waiters)


def _when_queued(lock: WriteLock, level: int, writers: int) -> None:
    """Block until ``writers`` writers queue for ``lock`` at ``level``."""
    wait_for(lambda: len(lock._waiting[level]) == writers, timeout=WAIT_S, interval=0.001)


def _run(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_an_urgent_writer_goes_before_a_writer_that_queued_first() -> None:
    lock = WriteLock()
    order: list[str] = []
    lock.__enter__()  # the worker holds it
    queued = threading.Event()

    def worker_again() -> None:
        queued.set()
        with lock:
            order.append("worker")

    def webhook() -> None:
        with lock.urgent():
            order.append("webhook")

    plain = _run(worker_again)
    queued.wait(WAIT_S)
    urgent = _run(webhook)
    _when_waiting(lock, 1)
    assert lock.wanted()
    lock.__exit__()
    plain.join(WAIT_S)
    urgent.join(WAIT_S)
    assert order == ["webhook", "worker"]
    assert not lock.wanted()


def test_the_holder_lets_the_waiting_webhooks_in_and_takes_the_lock_back() -> None:
    lock = WriteLock()
    order: list[str] = []

    def webhook(name: str) -> None:
        with lock.urgent():
            order.append(name)

    with lock:
        order.append("batch, first part")
        threads = [_run(lambda n=n: webhook(n)) for n in ("webhook 1", "webhook 2")]
        _when_waiting(lock, 2)
        with lock.released():
            pass
        order.append("batch, the rest")
        assert not lock.wanted()
    for thread in threads:
        thread.join(WAIT_S)
    assert order[0] == "batch, first part" and order[-1] == "batch, the rest"
    assert sorted(order[1:3]) == ["webhook 1", "webhook 2"]


def test_the_periodic_jobs_write_after_the_worker_even_taking_the_lock_back() -> None:
    """An SLA check's catch-up writes 735 parts at 1M messages: before, it took the lock back
    at once after each part, ahead of the journal worker waiting for it."""
    lock = WriteLock()
    order: list[str] = []

    def write(name: str, turn: AbstractContextManager[None]) -> None:
        with turn:
            order.append(name)

    with lock.background:
        order.append("part 1")
        worker = _run(lambda: write("worker", lock))
        _when_queued(lock, NORMAL, 1)
    with lock.background:  # the job's next part
        order.append("part 2")
    worker.join(WAIT_S)
    assert order == ["part 1", "worker", "part 2"]

    order.clear()
    with lock:  # the worker's batch; a job's part asks first, then the worker again
        job = _run(lambda: write("part", lock.background))
        _when_queued(lock, BACKGROUND, 1)
        worker = _run(lambda: write("next batch", lock))
        _when_queued(lock, NORMAL, 1)
    job.join(WAIT_S)
    worker.join(WAIT_S)
    assert order == ["next batch", "part"]


def test_a_disabled_lock_never_blocks_and_never_asks_to_yield() -> None:
    lock = WriteLock(enabled=False)
    with lock, lock.urgent(), lock:  # would deadlock if it locked
        with lock.released():
            pass
        assert not lock.wanted()
