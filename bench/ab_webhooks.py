"""The daemon of an earlier revision against the checkout's, under the same fixed webhook load.

``python bench/ab_webhooks.py --before REV [--engine sqlite|postgres] [--kind whatsapp]
[--rate 2000] [--duration 8] [--rounds 3]`` checks ``REV`` out into a temporary git worktree,
then, round after round, runs ``sportello run`` of each revision in turn on a fresh database
(a SQLite file, or the PostgreSQL schema ``bench_ab``): a warm-up, then an open loop at
``--rate`` deliveries/s from the load process. For each run it prints the answer latency
(p50, p99), the visible p99 and how long the journal worker needed after the load to store
the rest, and checks that every delivery was stored exactly once; then the medians of each
revision and their ratio.

``--prefilled N`` (SQLite) runs each daemon on a fresh copy of the generated inbox of N
messages; ``--sla`` gives it an SLA policy (first response 1h, resolution 24h), whose first
check, 60 s after the start, catches up on the inbox's backlog: with ``--duration 80`` it
falls inside the load, and the answers show what the check holds the webhooks back for.

Why a fixed rate: ``bench_webhooks.py``'s best closed-loop rate moves by a third between two
runs of the same code on these machines, and its open loop runs at half of it, so two runs
of it compare different loads. Alternating runs at one rate compare the same one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_webhooks import running_daemon
from cached_data import sqlite_dataset
from common import REPO, SLA_POLICY, copy_sqlite, postgres_url, table
from pgschema import reset_schema

MEASURES = ("p50_ms", "p99_ms", "max_ms", "visible_p99_ms", "drain_s")
SLA_CONFIG = "[[sla]]\n" + "".join(f'{key} = "{value}"\n' for key, value in SLA_POLICY.items())


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out in a temporary directory named ``sportello``."""
    with tempfile.TemporaryDirectory(prefix="sportello-ab-") as tmp:
        path = Path(tmp) / "sportello"
        git = ["git", "-C", str(REPO)]
        subprocess.run([*git, "worktree", "add", "--detach", str(path), revision], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=True)


def fresh_database(args: argparse.Namespace, tmp: Path, run: int) -> str:
    if args.engine == "postgres":
        return reset_schema(postgres_url(), "bench_ab")
    path = tmp / f"ab-{run}.db"
    if args.prefilled:
        copy_sqlite(sqlite_dataset(args.prefilled), path)
    return f"sqlite:///{path}"


def one_run(checkout: Path, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    extra = SLA_CONFIG if args.sla else ""
    with running_daemon(database_url, args.kind, "ab", checkout=checkout, extra=extra) as loads:
        loads.measured({"mode": "closed", "concurrency": 4, "duration": 2})
        run = loads.measured(
            {"mode": "open", "rate": args.rate, "concurrency": 64, "duration": args.duration}
        )
    return {
        "p50_ms": run["p50_ms"],
        "p99_ms": run["p99_ms"],
        "max_ms": run["max_ms"],
        "visible_p99_ms": run["visible"]["p99_ms"],
        "drain_s": run["drain_after_load_s"],
        "accepted_per_s": run["accepted_per_s"],
        "exactly_once": run["exactly_once"],
    }


def _median(runs: list[dict[str, Any]], measure: str) -> float | None:
    values = [run[measure] for run in runs if run[measure] is not None]  # None: not drained
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="a git revision")
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--kind", choices=("telegram", "whatsapp"), default="whatsapp")
    parser.add_argument("--rate", type=float, default=2000.0, help="deliveries per second")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefilled", type=int, metavar="N", help="a copy of N messages")
    parser.add_argument("--sla", action="store_true", help="an SLA policy (checked after 60 s)")
    args = parser.parse_args()
    if args.prefilled and args.engine != "sqlite":
        parser.error("--prefilled: SQLite only (a PostgreSQL inbox takes minutes to generate)")
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    rows: list[list[Any]] = []
    with worktree(args.before) as before, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for label, checkout in (("before", before), ("after", REPO)):
                url = fresh_database(args, Path(tmp), len(rows))
                run = one_run(checkout, url, args)
                runs[label].append(run)
                once = "yes" if run["exactly_once"] else "NO"
                rows.append(
                    [round_ + 1, label, run["accepted_per_s"], *map(run.get, MEASURES), once]
                )
    setup = f", {args.prefilled:,} messages" if args.prefilled else ""
    setup += ", an SLA policy" if args.sla else ""
    print(
        f"\n{args.kind} on {args.engine}{setup}: open loop at {args.rate:g}/s, {args.duration:g} s"
    )
    print(table(["round", "revision", "accepted/s", *MEASURES, "once"], rows))
    medians = []
    for measure in MEASURES:
        before_median, after_median = (_median(runs[label], measure) for label in runs)
        ratio = round(after_median / before_median, 2) if before_median and after_median else None
        medians.append([measure, before_median, after_median, ratio])
    print(f"\nmedians, {args.before} (before) and the checkout (after)")
    print(table(["measure", "before", "after", "after/before"], medians))
    if not all(r["exactly_once"] for rs in runs.values() for r in rs):
        sys.exit("a run did not store every delivery exactly once")


if __name__ == "__main__":
    main()
