"""The scheduler's periodic jobs on a grown inbox: what each run costs the daemon.

Every job of ``scheduler.periodic_jobs`` runs in the daemon's one process, in a thread that
shares the interpreter with the webhooks and the journal worker: a slow job is CPU taken from
them (and on SQLite, a long write transaction holds the journal's commits back). For each size
(messages: 10k and 100k by default, 1M with ``--full``) and database, on a copy of the
generated inbox (SQLite: a copy of the cached file; PostgreSQL: a schema built afresh, since
the jobs write; both removed after), with an SLA policy (first response in 1h, resolution in
24h) and surveys on, each job runs through a real ``Daemon``:

- **catch-up**: its first run, what a daemon does after an outage or once an SLA policy is set
  on an existing backlog (every deadline that passed is found at once);
- **steady**: the median and the maximum of the next runs (``--runs``, default 5).

Baseline, in the same run: an empty job (a session that runs ``SELECT 1``, from a thread as
the jobs are), the least a job costs; ``steady/base`` is the ratio of the medians.

Also the longest write transaction of each (from its first ``INSERT``, ``UPDATE`` or
``DELETE`` to its commit): on SQLite the journal's commits, which the webhooks' answers wait
for, cannot go in meanwhile.

``python bench/bench_jobs.py [--quick] [--full] [--sizes 10000,100000] [--no-postgres]``
Writes ``bench/results/jobs.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cached_data import scratch_postgres_dataset, sqlite_dataset
from common import (
    SLA_POLICY,
    VAR,
    add_inbox_size_options,
    copy_sqlite,
    inbox_sizes,
    ms,
    table,
    write_results,
)
from pgschema import drop_schema
from sqlalchemy import Connection, Engine, event, text

from sportello.config.settings import load_settings
from sportello.daemon import Daemon
from sportello.inbox.db import session_scope
from sportello.scheduler import periodic_jobs


def sqlite_copy(messages: int) -> str:
    """A copy of the cached SQLite dataset that the jobs may write to; its URL."""
    path = VAR / f"jobs-{messages}.db"
    for stale in VAR.glob(path.name + "*"):
        stale.unlink()
    copy_sqlite(sqlite_dataset(messages), path)
    return f"sqlite:///{path}"


class WriteHolds:
    """The longest write transaction on ``engine`` since the last :meth:`take`."""

    def __init__(self, engine: Engine) -> None:
        self._since: dict[int, float] = {}  # connection: when its first write went
        self._longest = 0.0
        event.listen(engine, "before_cursor_execute", self._write)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _write(self, connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip()[:6].upper() in WRITES:
            self._since.setdefault(id(connection), time.perf_counter())

    def _end(self, connection: Connection) -> None:
        started = self._since.pop(id(connection), None)
        if started is not None:
            self._longest = max(self._longest, time.perf_counter() - started)

    def take(self) -> float:
        longest, self._longest = self._longest, 0.0
        return longest


WRITES = ("INSERT", "UPDATE", "DELETE")


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


def run_one(database_url: str, runs: int) -> dict[str, Any]:
    settings = load_settings(
        None, database={"url": database_url}, sla=[SLA_POLICY], surveys={"enabled": True}
    )
    daemon = Daemon(settings)
    daemon.seed_settings()

    def empty() -> None:
        with session_scope(daemon.engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]

    async def measure() -> dict[str, Any]:
        base = [await _timed(lambda: asyncio.to_thread(empty)) for _ in range(runs + 1)]
        base_p50 = statistics.median(base[1:])
        jobs: dict[str, Any] = {}
        holds = WriteHolds(daemon.engine)
        for job in periodic_jobs(daemon):
            holds.take()
            first = await _timed(job.work)
            first_hold = holds.take()
            steady = [await _timed(job.work) for _ in range(runs)]
            p50 = statistics.median(steady)
            jobs[job.name] = {
                "catch_up_ms": ms(first),
                "steady_p50_ms": ms(p50),
                "steady_max_ms": ms(max(steady)),
                "steady_over_base": round(p50 / base_p50, 1),
                "catch_up_longest_write_ms": ms(first_hold),
                "steady_longest_write_ms": ms(holds.take()),
            }
        return {"base_p50_ms": ms(base_p50), "jobs": jobs}

    try:
        return asyncio.run(measure())
    finally:
        daemon.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_inbox_size_options(parser)
    parser.add_argument("--runs", type=int, help="steady runs of each job (default 5)")
    args = parser.parse_args()
    sizes, pg = inbox_sizes(args)
    runs = args.runs or (2 if args.quick else 5)
    results: dict[str, Any] = {"sla": SLA_POLICY, "steady_runs": runs, "runs": {}}
    for size in sizes:
        backends = {"sqlite": sqlite_copy(size)}
        if pg is not None:
            backends["postgres"] = scratch_postgres_dataset(pg, size, f"jobs_{size}")
        for label, url in backends.items():
            results["runs"][f"{label}-{size}"] = run_one(url, runs)
        if pg is not None:  # a scratch copy, like the SQLite one (1M: about 1 GB)
            drop_schema(pg, f"jobs_{size}")
    if pg is None:
        results["postgres"] = "not measured: no PostgreSQL (or --no-postgres / --quick)"
    print_table(results["runs"])
    write_results("jobs", results, quick=args.quick)
    for path in VAR.glob("jobs-*.db*"):
        path.unlink()


def print_table(runs: dict[str, Any]) -> None:
    rows = []
    for key, run in runs.items():
        for name, job in run["jobs"].items():
            rows.append([key, name, job["catch_up_ms"], job["steady_p50_ms"], job["steady_max_ms"]])
            rows[-1].append(job["steady_over_base"])
            rows[-1] += [job["catch_up_longest_write_ms"], job["steady_longest_write_ms"]]
        rows.append([key, "(empty job: base)", None, run["base_p50_ms"], None, 1.0, None, None])
    print("\nperiodic jobs, ms per run; longest write transaction, ms")
    columns = ["run", "job", "catch-up", "steady p50", "steady max", "steady/base"]
    print(table([*columns, "write: catch-up", "write: steady"], rows))


if __name__ == "__main__":
    main()
