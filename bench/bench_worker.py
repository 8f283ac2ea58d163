"""The journal worker alone: journaled deliveries per second from raw body to stored message.

N signed-shape Telegram or WhatsApp deliveries (``bench/loadgen.py`` builds them) are journaled
first, then the worker of a real ``Daemon`` (its connectors, sentiment scorer and automation
hooks) processes them batch by batch, with no HTTP in between. Two customer mixes: *known*
(100 customers, so nearly every delivery continues a conversation) and *new* (every delivery
from a customer never seen, the costliest path: customer, identity, look-alike check,
conversation). The baseline, measured in the same run on the same deliveries, is the
connector's parse alone: the worker cannot be faster than reading the bodies, so the ratio
says how much of its time is storage.

``--triage-rules``: with five triage rules of the usual kinds (keywords, sentiment, language),
three of them matching a quarter of the texts, to measure what the rules cost the worker.

``python bench/bench_worker.py [--quick] [--deliveries N] [--no-postgres] [--kind whatsapp]
[--triage-rules]``. Writes ``bench/results/worker.json`` (``worker_rules.json``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from common import (
    TELEGRAM_SECRET,
    WHATSAPP_SECRET,
    daemon_config,
    postgres_url,
    table,
    write_results,
)
from pgschema import reset_schema

from sportello.cli import tune_garbage_collector
from sportello.config.settings import ChannelName, load_settings
from sportello.connectors.base import RawDelivery
from sportello.daemon import Daemon
from sportello.inbox import journal
from sportello.inbox.db import migrate

MIXES = {"known": 100, "new": None}  # customers in the mix; None: one per delivery
BUILD = {"telegram": loadgen.telegram_delivery, "whatsapp": loadgen.whatsapp_delivery}
SECRETS = {"telegram": TELEGRAM_SECRET, "whatsapp": WHATSAPP_SECRET}


TRIAGE_RULES = """
[[triage_rules]]
name = "refunds"
keywords = ["rimbors*", "refund*", "money back"]
add_tags = ["refund"]
priority = 2
[[triage_rules]]
name = "damaged"
keywords = ["danneggiat*", "rott*", "broken"]
add_tags = ["damaged"]
[[triage_rules]]
name = "billing"
keywords = ["charged twice", "addebit*", "fattur*", "invoice"]
add_tags = ["billing"]
priority = 1
[[triage_rules]]
name = "unhappy"
sentiment = "negative"
channels = ["x"]
add_tags = ["unhappy"]
[[triage_rules]]
name = "english on whatsapp"
channels = ["whatsapp"]
languages = ["en"]
add_tags = ["english"]
"""


def daemon_on(url: str, workdir: Path, *, rules: bool = False) -> Daemon:
    config = workdir / "sportello.toml"
    config.write_text(
        daemon_config(
            url,
            telegram_api="http://127.0.0.1:9",
            whatsapp_graph="http://127.0.0.1:9",
            extra=TRIAGE_RULES if rules else "",
        ),
        encoding="utf-8",
    )
    daemon = Daemon(load_settings(config))
    migrate(daemon.engine)
    daemon.seed_settings()
    daemon.sentiment.preload()
    daemon.worker.on_change = None  # no event loop here: nothing to wake
    return daemon


def bodies(kind: str, count: int, customers: int | None) -> list[tuple[bytes, dict[str, str]]]:
    loadgen.USERS = customers or count
    return [BUILD[kind](n, SECRETS[kind]) for n in range(1, count + 1)]


def measure(
    url: str, kind: ChannelName, count: int, customers: int | None, *, rules: bool = False
) -> dict[str, Any]:
    deliveries = bodies(kind, count, customers)
    with tempfile.TemporaryDirectory(prefix="sportello-worker-") as tmp:
        daemon = daemon_on(url, Path(tmp), rules=rules)
        connector = daemon.connectors[kind]
        now = datetime.now(UTC)
        started = time.perf_counter()
        for body, headers in deliveries:
            connector.parse(RawDelivery(channel=kind, body=body, headers=headers, received_at=now))
        parse_s = time.perf_counter() - started
        for body, headers in deliveries:
            journal.append(daemon.engine, channel=kind, body=body, received_at=now, headers=headers)
        tune_garbage_collector()  # as ``sportello run`` does
        started = time.perf_counter()
        done = 0
        while processed := daemon.worker.process_pending():
            done += processed
        worker_s = time.perf_counter() - started
        daemon.engine.dispose()
    return {
        "deliveries": done,
        "parse_per_s": round(count / parse_s, 1),
        "worker_per_s": round(done / worker_s, 1),
        "ratio_to_parse": round(parse_s / worker_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--deliveries", type=int, help="deliveries per run (default 2000)")
    parser.add_argument("--kind", choices=sorted(BUILD), default="telegram")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--triage-rules", action="store_true", help="with five triage rules")
    args = parser.parse_args()
    count = args.deliveries or (60 if args.quick else 2000)
    pg = None if args.no_postgres or args.quick else postgres_url()
    results: dict[str, Any] = {"kind": args.kind, "triage_rules": args.triage_rules, "runs": {}}
    rows = []
    for mix, customers in MIXES.items():
        with tempfile.TemporaryDirectory(prefix="sportello-worker-db-") as tmp:
            engines = {"sqlite": f"sqlite:///{tmp}/worker.db"}
            if pg is not None:
                engines["postgres"] = reset_schema(pg, f"bench_worker_{mix}")
            for engine, url in engines.items():
                run = measure(url, args.kind, count, customers, rules=args.triage_rules)
                results["runs"][f"{engine}/{mix}"] = run
                ratio = f"{run['ratio_to_parse']:.3f}"  # 0.03 is not 0.0
                rows.append([engine, mix, run["parse_per_s"], run["worker_per_s"], ratio])
    if pg is None:
        results["postgres"] = "not measured: no PostgreSQL (or --no-postgres / --quick)"
    rules = ", five triage rules" if args.triage_rules else ""
    print(f"\n{args.kind} journal worker{rules}, {count} deliveries per run")
    print(table(["engine", "customers", "parse/s", "worker/s", "ratio"], rows))
    write_results("worker_rules" if args.triage_rules else "worker", results, quick=args.quick)


if __name__ == "__main__":
    main()
