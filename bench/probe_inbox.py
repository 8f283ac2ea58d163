"""A quick probe of the inbox endpoints on one existing database (e.g. a cached 1M dataset).

``python bench/probe_inbox.py sqlite:///var/bench/inbox-v3-1000000.db [--requests 40]``
starts ``sportello run`` on it, then times, one request at a time, the health check (the
baseline), the inbox page (all, and open only), a customer, a timeline, a search and the
KPI report (3 requests each) of the 30 days up to the newest message, in calendar and in
business time, and of the whole history; prints p50 / p95 per endpoint.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inbox import last_message_at

from sportello.connectors.emulators.server import free_port

Request = Callable[[], tuple[str, dict[str, Any]]]
WORDS = ("rimborso", "ordine", "refund", "consegna", "pacco")


def _start(url: str) -> tuple[subprocess.Popen[bytes], str]:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(f'[database]\nurl = "{url}"\n[api]\ntokens = ["probe"]\n')
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sportello.cli",
            "run",
            "--config",
            config.name,
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the daemon did not start")


def _time(client: httpx.Client, make: Request, n: int) -> tuple[float, float]:
    path, params = make()
    client.get(path, params=params)  # warm up
    times = []
    for _ in range(n):
        path, params = make()
        start = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(0.95 * len(times)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(1)
    end = last_message_at(args.url)
    month = {"from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat()}
    everything = {"from": (end - timedelta(days=366)).isoformat(), "to": end.isoformat()}
    process, base = _start(args.url)
    endpoints: list[tuple[str, Request, int]] = [
        ("healthz", lambda: ("/healthz", {}), args.requests),
        ("inbox page", lambda: ("/api/v1/conversations", {"limit": 50}), args.requests),
        (
            "inbox open",
            lambda: ("/api/v1/conversations", {"limit": 50, "status": "open"}),
            args.requests,
        ),
        (
            "customer",
            lambda: (f"/api/v1/customers/{rng.randint(1, args.customers)}", {}),
            args.requests,
        ),
        (
            "timeline",
            lambda: (f"/api/v1/customers/{rng.randint(1, args.customers)}/timeline", {}),
            args.requests,
        ),
        ("search", lambda: ("/api/v1/search", {"q": rng.choice(WORDS)}), args.requests),
        ("kpis 30d", lambda: ("/api/v1/reports/kpis", month), 3),
        (
            "kpis 30d bt",
            lambda: ("/api/v1/reports/kpis", {**month, "business_time": "true"}),
            3,
        ),
        ("kpis all", lambda: ("/api/v1/reports/kpis", everything), 3),
    ]
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": "Bearer probe"}, timeout=300
        ) as client:
            for name, make, n in endpoints:
                p50, p95 = _time(client, make, n)
                print(f"{name:12} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   ({n} requests)")
    finally:
        process.terminate()
        process.wait(timeout=15)


if __name__ == "__main__":
    main()
