"""Inbox at scale, memory, and growth: API latency of a running daemon on generated data.

For each size (messages: 10k and 100k by default, 1M with ``--full``) and each database
(SQLite, and PostgreSQL when it answers), a ``sportello run`` daemon serves a cached dataset
from ``bench/cached_data.py`` and this script measures, one request at a time through HTTP:
``/healthz`` (the baseline: our server stack with no database work), the unified inbox's first
page, a customer's cross-channel view and timeline, full-text search and the 30-day KPI
report, whole and split by agent and by channel. Then the daemon's resident size idle and under a
concurrent mixed read load (RSS from /proc).

``python bench/bench_inbox.py [--quick] [--full] [--sizes 10000,100000] [--no-postgres]``
Writes ``bench/results/inbox.json``.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from cached_data import postgres_dataset, sqlite_dataset
from common import (
    DaemonProcess,
    add_inbox_size_options,
    daemon_config,
    inbox_sizes,
    latency_summary,
    rss_kib,
    sportello_run,
    table,
    write_results,
)
from sqlalchemy import create_engine, func, select

from sportello.inbox.models import Message

TARGETS_MS = {
    "inbox_page": 20.0,
    "customer": 20.0,
    "timeline": 20.0,
    "search": 100.0,
    "kpis_30d": 500.0,
    "agents_30d": 500.0,
    "channels_30d": 500.0,
}
SEARCH_WORDS = ["rimborso", "ordine", "refund", "consegna", "giacca", "pessimo", "tracking"]


def last_message_at(database_url: str) -> datetime:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(select(func.max(Message.sent_at))).scalar()
    engine.dispose()
    assert found is not None
    found = found if isinstance(found, datetime) else datetime.fromisoformat(str(found))
    return found if found.tzinfo else found.replace(tzinfo=UTC)  # stored in UTC


def requests_for(
    daemon: DaemonProcess, size: int, database_url: str, rng: random.Random
) -> dict[str, Any]:
    """For each measured endpoint: a function giving the next (path, params)."""
    customers = max(1, size // 10)

    def customer_id() -> int:
        return rng.randint(1, customers)

    end = last_message_at(database_url)
    start = end - timedelta(days=30)
    window = {"from": start.isoformat(), "to": end.isoformat()}
    return {
        "healthz": lambda: ("/healthz", {}),
        "inbox_page": lambda: ("/api/v1/conversations", {}),
        "customer": lambda: (f"/api/v1/customers/{customer_id()}", {}),
        "timeline": lambda: (f"/api/v1/customers/{customer_id()}/timeline", {}),
        "search": lambda: ("/api/v1/search", {"q": rng.choice(SEARCH_WORDS)}),
        "kpis_30d": lambda: ("/api/v1/reports/kpis", window),
        "agents_30d": lambda: ("/api/v1/reports/agents", window),
        "channels_30d": lambda: ("/api/v1/reports/channels", window),
    }


def measure(client: httpx.Client, make: Any, n: int) -> dict[str, Any]:
    path, params = make()
    client.get(path, params=params).raise_for_status()  # warm: first-use costs apart
    seconds = []
    for _ in range(n):
        path, params = make()
        started = time.perf_counter()
        response = client.get(path, params=params)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    return latency_summary(seconds)


def memory_under_load(
    daemon: DaemonProcess, makers: dict[str, Any], seconds: float, workers: int = 8
) -> dict[str, Any]:
    """Peak RSS while ``workers`` clients fire the measured requests for ``seconds``."""
    measured = [m for name, m in makers.items() if name != "healthz"]
    stop = threading.Event()
    peak = {"rss": 0}
    served = [0]

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], rss_kib(daemon.pid)["VmRSS"])
            time.sleep(0.05)

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        with daemon.client() as client:
            while not stop.is_set():
                path, params = rng.choice(measured)()
                client.get(path, params=params).raise_for_status()
                served[0] += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(client_loop, i) for i in range(workers)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    sampler.join()
    after = rss_kib(daemon.pid)
    return {
        "workers": workers,
        "seconds": seconds,
        "requests": served[0],
        "peak_rss_mib": round(peak["rss"] / 1024, 1),
        "hwm_rss_mib": round(after["VmHWM"] / 1024, 1),
    }


def run_one(database_url: str, size: int, n: int, load_s: float, label: str) -> dict[str, Any]:
    rng = random.Random(size)
    with sportello_run(daemon_config(database_url), f"inbox-{label}-{size}") as daemon:
        time.sleep(1.0)
        idle = rss_kib(daemon.pid)["VmRSS"]
        makers = requests_for(daemon, size, database_url, rng)
        latencies: dict[str, Any] = {}
        with daemon.client() as client:
            for name, make in makers.items():
                latencies[name] = measure(client, make, n)
        memory = {"idle_rss_mib": round(idle / 1024, 1)}
        memory.update(memory_under_load(daemon, makers, load_s))
    targets = {}
    for name, limit in TARGETS_MS.items():
        row = latencies[name]
        targets[name] = (row["p95_ms"] or 1e9) < limit
    return {"latency": latencies, "memory": memory, "targets_met": targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_inbox_size_options(parser)
    parser.add_argument("--requests", type=int, help="requests per endpoint (default 200)")
    args = parser.parse_args()
    sizes, pg = inbox_sizes(args)
    n = args.requests or (5 if args.quick else 200)
    load_s = 1.0 if args.quick else 10.0

    results: dict[str, Any] = {"requests_per_endpoint": n, "sizes": sizes, "runs": {}}
    for size in sizes:
        backends = {"sqlite": sqlite_dataset(size)}
        if pg is not None:
            backends["postgres"] = postgres_dataset(pg, size)
        for label, url in backends.items():
            results["runs"][f"{label}-{size}"] = run_one(url, size, n, load_s, label)
    if pg is None:
        results["postgres"] = "not measured: no PostgreSQL (or --no-postgres / --quick)"
    print_table(results["runs"])
    write_results("inbox", results, quick=args.quick)


def print_table(runs: dict[str, Any]) -> None:
    names = [
        "healthz", "inbox_page", "customer", "timeline", "search", "kpis_30d", "agents_30d",
        "channels_30d",
    ]  # fmt: skip
    rows = []
    for key, run in runs.items():
        row: list[Any] = [key]
        for name in names:
            cell = run["latency"][name]
            row.append(f"{cell['p50_ms']}/{cell['p95_ms']}")
        row += [run["memory"]["idle_rss_mib"], run["memory"]["peak_rss_mib"]]
        rows.append(row)
    print("\nAPI latency p50/p95 in ms, daemon RSS in MiB")
    print(table(["run", *names, "idle RSS", "load RSS"], rows))


if __name__ == "__main__":
    main()
