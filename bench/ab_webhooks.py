"""The daemon of an earlier revision against the checkout's, under the same fixed webhook load.

``python bench/ab_webhooks.py --before REV [--engine sqlite|postgres] [--kind whatsapp]
[--rate 2000] [--duration 8] [--rounds 3]`` checks ``REV`` out into a temporary git worktree,
then, round after round, runs ``sportello run`` of each revision in turn on a fresh database
(a SQLite file, or the PostgreSQL schema ``bench_ab``): a warm-up, then an open loop at
``--rate`` deliveries/s from the load process. For each run it prints the answer latency
(p50, p99), the visible p99 and how long the journal worker needed after the load to store
the rest, and checks that every delivery was stored exactly once; then the medians of each
revision and their ratio.

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
from common import REPO, postgres_url, table
from pgschema import reset_schema

MEASURES = ("p50_ms", "p99_ms", "visible_p99_ms", "drain_s")


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


def fresh_database(engine: str, tmp: Path, run: int) -> str:
    if engine == "postgres":
        return reset_schema(postgres_url(), "bench_ab")
    return f"sqlite:///{tmp}/ab-{run}.db"


def one_run(checkout: Path, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with running_daemon(database_url, args.kind, "ab", checkout=checkout) as loads:
        loads.measured({"mode": "closed", "concurrency": 4, "duration": 2})
        run = loads.measured(
            {"mode": "open", "rate": args.rate, "concurrency": 64, "duration": args.duration}
        )
    return {
        "p50_ms": run["p50_ms"],
        "p99_ms": run["p99_ms"],
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
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    rows = []
    with worktree(args.before) as before, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for label, checkout in (("before", before), ("after", REPO)):
                url = fresh_database(args.engine, Path(tmp), len(rows))
                run = one_run(checkout, url, args)
                runs[label].append(run)
                once = "yes" if run["exactly_once"] else "NO"
                rows.append(
                    [round_ + 1, label, run["accepted_per_s"], *map(run.get, MEASURES), once]
                )
    print(f"\n{args.kind} on {args.engine}, open loop at {args.rate:g}/s for {args.duration:g} s")
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
