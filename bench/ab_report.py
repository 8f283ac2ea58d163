"""The KPI report of an earlier revision against the checkout's, in one process, on one database.

``python bench/ab_report.py URL --before REV [--rounds 5]`` loads ``inbox/metrics/report.py``
as it was at ``REV`` (``git show``; it must import what the checkout still has) beside the
current one, checks that both give the same JSON for seven reports (30 days, in calendar and
business time, 7 days, a year, 90 days in business time, one channel, one agent), then times
the 30-day reports, alternating the two versions so that both see the same machine; prints
the medians and their ratio. It tunes the garbage collector as ``sportello run`` does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inbox import last_message_at
from sqlmodel import Session

from sportello.api.reports import build_query
from sportello.cli import tune_garbage_collector
from sportello.config.settings import Settings
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.db import make_engine
from sportello.inbox.metrics import KpiQuery
from sportello.inbox.metrics import report as current

ROOT = Path(__file__).resolve().parent.parent


def _revision(rev: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:inbox/metrics/report.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "report_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("report_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--before", required=True, help="a git revision")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    before = _revision(args.before)
    tune_garbage_collector()
    engine = make_engine(args.url)
    now = last_message_at(args.url)

    def query(
        days: int, business_time: bool = False, channel: str | None = None, agent: str | None = None
    ) -> KpiQuery:
        first = (now - timedelta(days=days - 1)).date().isoformat()
        last = now.date().isoformat()
        return build_query(
            Settings(), now, first, last, business_time=business_time, channel=channel,
            agent=agent, calendar=BusinessCalendar.always_open(),
        )  # fmt: skip

    queries = {
        "30d": query(30),
        "30d business": query(30, True),
        "7d": query(7),
        "365d": query(365),
        "90d business": query(90, True),
        "30d whatsapp": query(30, channel="whatsapp"),
        "30d anna": query(30, agent="anna"),
    }
    with Session(engine) as session:
        for name, q in queries.items():
            same = json.dumps(before.compute_kpis(session, q), sort_keys=True) == json.dumps(
                current.compute_kpis(session, q), sort_keys=True
            )
            print(f"{name:13} {'same JSON' if same else 'DIFFERENT JSON'}")
        for name in ("30d", "30d business"):
            times: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.rounds):
                for label, module in (("before", before), ("after", current)):
                    started = time.perf_counter()
                    module.compute_kpis(session, queries[name])
                    times[label].append((time.perf_counter() - started) * 1000)
            a, b = statistics.median(times["before"]), statistics.median(times["after"])
            print(f"{name:13} before {a:7.0f} ms   after {b:7.0f} ms   ratio {b / a:.2f}")
    engine.dispose()


if __name__ == "__main__":
    main()
