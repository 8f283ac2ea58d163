"""The SQLite write lock: webhooks (urgent) go before the worker, which lets them in; the
other writers take turns in the order they asked."""

from __future__ import annotations

import threading

from conftest import wait_for

from sportello.inbox.write_lock import WriteLock

WAIT_S = 10.0


def _when_waiting(lock: WriteLock, urgent_waiters: int) -> None:
    """Block until ``urgent_waiters`` urgent writers queue for ``lock``."""
    wait_for(lambda: lock._urgent == urgent_waiters, timeout=WAIT_S, interval=0.001)


def _run(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_an_urgent_writer_goes_before_a_writer_that_queued_first():
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


def test_the_holder_lets_the_waiting_webhooks_in_and_takes_the_lock_back():
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


def test_a_writer_that_takes_the_lock_back_goes_behind_the_writers_waiting():
    """An SLA check's catch-up writes part after part; it took the lock back at once after
    each, and the journal worker waited for all of them (docs/benchmarks.md, session 26)."""
    lock = WriteLock()
    order: list[str] = []

    def worker() -> None:
        with lock:
            order.append("worker")

    with lock:
        order.append("first part")
        thread = _run(worker)
        wait_for(lambda: len(lock._queue) == 1, timeout=WAIT_S, interval=0.001)
    with lock:
        order.append("next part")
    thread.join(WAIT_S)
    assert order == ["first part", "worker", "next part"]


def test_a_disabled_lock_never_blocks_and_never_asks_to_yield():
    lock = WriteLock(enabled=False)
    with lock, lock.urgent(), lock:  # would deadlock if it locked
        with lock.released():
            pass
        assert not lock.wanted()
