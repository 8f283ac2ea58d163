"""Webhook ingestion: accepted deliveries/s, answer latency, time until visible, exactly once.

A separate load process (``bench/loadgen.py``) posts signed deliveries on loopback to a real
``sportello run`` daemon, at increasing concurrency, and to the ceiling of our server stack: a
bare ASGI endpoint on uvicorn with the same settings that only checks the secret and answers 200
(``bench/bare_app.py``). Then an open-loop run at half the daemon's best rate gives the p99 the
target speaks of. 5 % of requests re-send an earlier delivery; at the end the new messages and
journal rows must equal the distinct accepted deliveries.

``--prefilled N`` runs the daemon on a generated inbox of N messages, so ingestion is measured
against a grown database: on SQLite a copy of the cached file (``bench/cached_data.py``), on
PostgreSQL a schema generated afresh for each kind (a few minutes at 1M).

``python bench/bench_webhooks.py [--quick] [--duration S] [--no-postgres] [--kind telegram]
[--prefilled N]``. Writes ``bench/results/webhooks.json`` (``webhooks-prefilled-N.json``).
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cached_data import generate, sqlite_dataset
from common import (
    REPO,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    VAR,
    WHATSAPP_SECRET,
    copy_sqlite,
    daemon_config,
    latency_summary,
    postgres_url,
    python_env,
    spawn,
    sportello_run,
    table,
    write_results,
)
from pgschema import reset_schema
from sqlalchemy import create_engine, func, select
from sqlmodel import col

from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox.db import make_engine, migrate
from sportello.inbox.models import Delivery, Message

HERE = Path(__file__).resolve().parent
SECRETS = {"telegram": TELEGRAM_SECRET, "whatsapp": WHATSAPP_SECRET}
TARGET_RATIO = 0.60
TARGET_P99_MS = 25.0


def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one load process to completion and return its report."""
    with tempfile.TemporaryDirectory(prefix="sportello-load-") as tmp:
        out = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, str(HERE / "loadgen.py"), json.dumps({**spec, "out": str(out)})],
            env=python_env(),
            check=True,
            timeout=float(spec["duration"]) + 120,
        )
        return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def rate_row(report: dict[str, Any]) -> dict[str, Any]:
    ok = report["statuses"].get("200", 0)
    return {
        "requests": report["requests"],
        "statuses": report["statuses"],
        "accepted_per_s": round(ok / report["elapsed_s"], 1),
        **latency_summary(report["latencies_s"]),
    }


def bare_ceiling(kind: str, levels: list[int], duration: float) -> dict[int, dict[str, Any]]:
    argv = [sys.executable, str(HERE / "bare_app.py"), "--kind", kind, "--secret", SECRETS[kind]]
    rows = {}
    with spawn(argv, f"bare-{kind}") as server:
        base = {"url": f"{server.url}/webhooks/{kind}", "kind": kind, "secret": SECRETS[kind]}
        load({**base, "mode": "closed", "concurrency": 4, "duration": 0.3, "first_id": 1})
        for concurrency in levels:
            report = load(
                {
                    "url": f"{server.url}/webhooks/{kind}",
                    "kind": kind,
                    "secret": SECRETS[kind],
                    "mode": "closed",
                    "concurrency": concurrency,
                    "duration": duration,
                    "first_id": 1,
                }
            )
            rows[concurrency] = rate_row(report)
    return rows


class CountPoller:
    """Samples how many messages exist past a starting id, to see when deliveries land."""

    def __init__(self, database_url: str, interval: float = 0.01) -> None:
        self.engine = create_engine(database_url)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.base = self._max_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _max_id(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.max(Message.id))).scalar() or 0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._max_id() - self.base))
            time.sleep(self.interval)

    def start(self) -> CountPoller:
        self._thread.start()
        return self

    def wait_for(self, count: int, timeout: float) -> float | None:
        """Seconds until ``count`` messages are visible, from now; None on timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.samples and self.samples[-1][1] >= count:
                return time.monotonic() - start
            time.sleep(self.interval)
        return None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def visibility(self, accepted_at: list[float]) -> list[float]:
        """For the k-th accepted delivery, the time from its 200 to the k-th message visible.

        The journal is processed in id order, so the k-th accepted delivery is (to within
        the few that race on the wire) the k-th message stored. Resolution: the poll interval.
        """
        times = [t for t, _ in self.samples]
        counts = _running_max([c for _, c in self.samples])
        result = []
        for k, answered in enumerate(sorted(accepted_at), start=1):
            i = bisect.bisect_left(counts, k)  # the first sample showing k messages
            if i < len(times):
                result.append(max(0.0, times[i] - answered))
        return result


def _running_max(values: list[int]) -> list[int]:
    out, best = [], 0
    for v in values:
        best = max(best, v)
        out.append(best)
    return out


def exactly_once(database_url: str, base_message: int, base_delivery: int) -> dict[str, int]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        new = col(Message.id) > base_message
        messages = connection.execute(select(func.count()).where(new)).scalar() or 0
        distinct = connection.execute(
            select(func.count(func.distinct(col(Message.external_id)))).where(new)
        ).scalar()
        deliveries = (
            connection.execute(
                select(func.count()).where(col(Delivery.id) > base_delivery)
            ).scalar()
            or 0
        )
        pending = (
            connection.execute(
                select(func.count()).where(Delivery.state != "processed")  # type: ignore[arg-type]
            ).scalar()
            or 0
        )
    engine.dispose()
    return {
        "messages": int(messages),
        "distinct_external_ids": int(distinct or 0),
        "deliveries": int(deliveries),
        "not_processed": int(pending),
    }


def max_delivery_id(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(select(func.max(Delivery.id))).scalar()
    engine.dispose()
    return int(found or 0)


class Loads:
    """Load runs against one daemon, each counted: rates, latencies, visibility, exactly once."""

    def __init__(self, database_url: str, url: str, kind: str) -> None:
        self.database_url = database_url
        self.url = url
        self.kind = kind
        self.next_id = 1  # delivery numbers go on across runs: each run's are new

    def measured(self, spec: dict[str, Any]) -> dict[str, Any]:
        base_delivery = max_delivery_id(self.database_url)
        poller = CountPoller(self.database_url).start()
        report = load(
            {
                "url": self.url,
                "kind": self.kind,
                "secret": SECRETS[self.kind],
                **spec,
                "first_id": self.next_id,
                "duplicate_every": 20,
            }
        )
        self.next_id = (report["last_id"] or self.next_id) + 1
        drained = poller.wait_for(report["accepted_distinct"], timeout=120)
        poller.stop()
        visible = poller.visibility(report["accepted_at"])
        counts = exactly_once(self.database_url, poller.base, base_delivery)
        return {
            **rate_row(report),
            "accepted_distinct": report["accepted_distinct"],
            "drain_after_load_s": None if drained is None else round(drained, 3),
            "visible": latency_summary(visible),
            "stored": counts,
            "exactly_once": counts["messages"] == report["accepted_distinct"]
            and counts["distinct_external_ids"] == counts["messages"]
            and counts["deliveries"] == report["accepted_distinct"],
        }


@contextmanager
def running_daemon(
    database_url: str, kind: str, label: str, checkout: Path = REPO, extra: str = ""
) -> Iterator[Loads]:
    """``sportello run`` (of ``checkout``, by default this one) on ``database_url``, with an
    emulator of its platform for outbound calls; ``extra`` is added to its configuration."""
    emulator = TelegramEmulator(TELEGRAM_TOKEN, secret=TELEGRAM_SECRET)
    platform = BackgroundServer(emulator.app).start()
    config = daemon_config(
        database_url,
        telegram_api=platform.url if kind == "telegram" else None,
        whatsapp_graph=platform.url if kind == "whatsapp" else None,
        extra=extra,
    )
    try:
        name = f"webhooks-{label}-{kind}"
        with sportello_run(config, name, checkout=checkout) as daemon:
            yield Loads(database_url, f"{daemon.url}/webhooks/{kind}", kind)
    finally:
        platform.stop()


def daemon_run(
    database_url: str, kind: str, levels: list[int], duration: float, label: str
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with running_daemon(database_url, kind, label) as loads:
        warm = loads.measured({"mode": "closed", "concurrency": 4, "duration": min(duration, 2)})
        for concurrency in levels:
            rows[str(concurrency)] = loads.measured(
                {"mode": "closed", "concurrency": concurrency, "duration": duration}
            )
        best = max(r["accepted_per_s"] for r in rows.values())
        half = loads.measured(
            {"mode": "open", "rate": best / 2, "concurrency": 64, "duration": duration}
        )
        half["rate"] = round(best / 2, 1)
    return {
        "warm_up": warm,  # lazy imports, caches, first connections
        "closed_loop": rows,
        "half_max_open_loop": half,
        "max_accepted_per_s": best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--duration", type=float, help="seconds per level (default 5)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--kind", choices=("telegram", "whatsapp"), action="append")
    parser.add_argument("--prefilled", type=int, metavar="N", help="on a copy of N messages")
    args = parser.parse_args()
    duration = args.duration or (0.5 if args.quick else 5.0)
    levels = [1, 4] if args.quick else [1, 4, 16, 64]
    kinds = args.kind or (
        ["telegram", "whatsapp"]
        if importlib.util.find_spec("sportello.connectors.whatsapp") and not args.quick
        else ["telegram"]
    )
    backends: dict[str, str] = {}
    sqlite_file = VAR / "webhooks.db"
    pg = None if args.no_postgres or args.quick else postgres_url()

    results: dict[str, Any] = {"duration_s": duration, "levels": levels, "kinds": {}}
    for kind in kinds:
        ceiling = bare_ceiling(kind, levels, duration)
        bare_max = max(r["accepted_per_s"] for r in ceiling.values())
        per_backend: dict[str, Any] = {}
        for file in VAR.glob("webhooks.db*"):
            file.unlink()
        if args.prefilled:
            copy_sqlite(sqlite_dataset(args.prefilled), sqlite_file)
        backends = {"sqlite": f"sqlite:///{sqlite_file}"}
        if pg is not None:
            backends["postgres"] = reset_schema(pg, "bench_ingest")
            if args.prefilled:
                prefill(backends["postgres"], args.prefilled)
        for label, url in backends.items():
            run = daemon_run(url, kind, levels, duration, label)
            run["ratio_to_bare"] = round(run["max_accepted_per_s"] / bare_max, 3)
            half = run["half_max_open_loop"]
            run["targets"] = {
                "ratio_at_least_0.60": run["ratio_to_bare"] >= TARGET_RATIO,
                "p99_under_25ms_at_half_max": (half["p99_ms"] or 1e9) < TARGET_P99_MS,
                "exactly_once": all(r["exactly_once"] for r in run["closed_loop"].values())
                and half["exactly_once"]
                and run["warm_up"]["exactly_once"],
            }
            per_backend[label] = run
        results["kinds"][kind] = {
            "bare": ceiling,
            "bare_max_per_s": bare_max,
            "daemon": per_backend,
        }
        print_tables(kind, ceiling, per_backend)
    if pg is None:
        results["postgres"] = "not measured: no PostgreSQL (or --no-postgres / --quick)"
    if args.prefilled:
        results["prefilled_messages"] = args.prefilled
    name = f"webhooks-prefilled-{args.prefilled}" if args.prefilled else "webhooks"
    write_results(name, results, quick=args.quick)


def prefill(url: str, messages: int) -> None:
    """Generate an inbox of ``messages`` messages into the empty database at ``url``."""
    engine = make_engine(url)
    migrate(engine)
    generate(engine, messages)
    engine.dispose()


def print_tables(kind: str, ceiling: dict[int, Any], per_backend: dict[str, Any]) -> None:
    rows = []
    for concurrency, bare in ceiling.items():
        row: list[Any] = [concurrency, bare["accepted_per_s"], bare["p99_ms"]]
        for run in per_backend.values():
            r = run["closed_loop"][str(concurrency)]
            row += [
                r["accepted_per_s"],
                r["accepted_per_s"] / bare["accepted_per_s"],
                r["p50_ms"],
                r["p99_ms"],
                r["visible"]["p99_ms"],
                "yes" if r["exactly_once"] else "NO",
            ]
        rows.append(row)
    headers = ["conc", "bare/s", "bare p99"]
    for label in per_backend:
        headers += [f"{label}/s", "ratio", "p50", "p99", "vis p99", "once"]
    print(f"\n{kind} webhooks, closed loop (ms)")
    print(table(headers, rows))
    for label, run in per_backend.items():
        half = run["half_max_open_loop"]
        print(
            f"{label}: open loop at {half['rate']}/s (half max): p50 {half['p50_ms']} ms, "
            f"p99 {half['p99_ms']} ms, visible p99 {half['visible']['p99_ms']} ms; "
            f"targets {run['targets']}"
        )


if __name__ == "__main__":
    main()
