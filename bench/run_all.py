"""Run every benchmark in ``bench/`` one after the other (``make bench``).

``python bench/run_all.py [--quick] [--full] [--only webhooks,inbox]``: ``--quick`` is a smoke
run at tiny sizes, ``--full`` adds the 1M-message inbox size (to inbox and jobs). Each script
prints its table and writes ``bench/results/<name>.json``; see docs/benchmarks.md for what each
figure means.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "sentiment": "bench_sentiment.py",
    "webhooks": "bench_webhooks.py",
    "worker": "bench_worker.py",
    "e2e": "bench_e2e.py",
    "inbox": "bench_inbox.py",
    "jobs": "bench_jobs.py",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run of every script")
    parser.add_argument("--full", action="store_true", help="include the 1M-message inbox")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(SCRIPTS)}")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(SCRIPTS)
    unknown = set(chosen) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    failed = []
    for name in chosen:
        argv = [sys.executable, str(HERE / SCRIPTS[name])]
        if args.quick:
            argv.append("--quick")
        if args.full and name in ("inbox", "jobs"):
            argv.append("--full")
        print(f"\n=== {name}: {' '.join(argv[1:])}", flush=True)
        started = time.monotonic()
        if subprocess.run(argv, check=False).returncode != 0:
            failed.append(name)
        print(f"=== {name} took {time.monotonic() - started:.0f}s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
