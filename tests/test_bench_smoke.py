"""Every benchmark still runs: each script's ``--quick`` mode at tiny sizes (no timing asserted).

Speed belongs in ``bench/`` (``make bench``); this only keeps the scripts from rotting: they
start real daemons, post real deliveries and write their JSON with the expected shape.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "var" / "bench" / "quick"


# Two groups side by side, one per core: half the wait. ``inbox`` and ``jobs`` share the
# cached generated inbox, so they run one after the other.
GROUPS = ("webhooks,sentiment,worker", "e2e,inbox,jobs")


def _argv(script: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """How to run ``bench/script`` with this checkout importable as ``sportello``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO.parent), env.get("PYTHONPATH")) if p)
    return [sys.executable, str(REPO / "bench" / script), *args], env


def bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv, env = _argv(script, *args)
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=180)


@pytest.fixture(scope="module")
def quick_run() -> subprocess.CompletedProcess[str]:
    """``run_all.py --quick``: every script's smoke run, the groups at the same time."""
    for stale in QUICK.glob("*.json"):
        stale.unlink()
    started = []
    for group in GROUPS:
        argv, env = _argv("run_all.py", "--quick", "--only", group)
        started.append(
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
            )
        )
    outputs = [process.communicate(timeout=180) for process in started]
    return subprocess.CompletedProcess(
        [*GROUPS],
        max(process.returncode for process in started),
        "".join(out for out, _ in outputs),
        "".join(err for _, err in outputs),
    )


def test_the_groups_hold_every_script() -> None:
    spec = importlib.util.spec_from_file_location("run_all", REPO / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    assert sorted(",".join(GROUPS).split(",")) == sorted(run_all.SCRIPTS)


def result(name: str) -> dict[str, Any]:
    return json.loads((QUICK / f"{name}.json").read_text(encoding="utf-8"))


def test_every_script_runs(quick_run: subprocess.CompletedProcess[str]) -> None:
    assert quick_run.returncode == 0, quick_run.stdout[-3000:] + quick_run.stderr[-3000:]


def test_webhooks_counts_every_delivery_once(quick_run: subprocess.CompletedProcess[str]) -> None:
    run = result("webhooks")["kinds"]["telegram"]
    assert run["bare_max_per_s"] > 0
    for row in run["bare"].values():  # the ceiling answered every request, none was lost
        assert row["statuses"] == {"200": row["requests"]}
    sqlite = run["daemon"]["sqlite"]
    for row in [*sqlite["closed_loop"].values(), sqlite["half_max_open_loop"]]:
        assert row["statuses"] == {"200": row["requests"]}
        assert row["stored"]["messages"] == row["accepted_distinct"] > 0
    assert sqlite["targets"]["exactly_once"] is True


def test_worker_stores_every_journaled_delivery(
    quick_run: subprocess.CompletedProcess[str],
) -> None:
    runs = result("worker")["runs"]
    assert set(runs) == {"sqlite/known", "sqlite/new"}
    assert all(run["deliveries"] == 60 and run["worker_per_s"] > 0 for run in runs.values())


def test_e2e_measures_the_away_message_and_the_reply_path(
    quick_run: subprocess.CompletedProcess[str],
) -> None:
    data = result("e2e")
    assert data["reply"]["webhook_to_reply_at_emulator"]["n"] == data["n"]
    away = data["away"]
    assert away["webhook_to_away_message"]["n"] == data["n"]
    assert away["missed_within_s"]["count"] == 0


def test_inbox_measures_the_api_and_memory(quick_run: subprocess.CompletedProcess[str]) -> None:
    data = result("inbox")
    (run,) = data["runs"].values()
    assert run["latency"]["inbox_page"]["n"] == data["requests_per_endpoint"]
    assert run["memory"]["idle_rss_mib"] > 0 and run["memory"]["requests"] > 0
    for name in ("customer", "timeline", "search", "kpis_30d"):
        assert run["latency"][name]["n"] == data["requests_per_endpoint"]


def test_jobs_measures_every_periodic_job(quick_run: subprocess.CompletedProcess[str]) -> None:
    (run,) = result("jobs")["runs"].values()
    assert run["base_p50_ms"] > 0
    assert {"sla:check", "surveys", "retention:deliveries"} <= run["jobs"].keys()
    for job in run["jobs"].values():
        assert job["catch_up_ms"] > 0 and job["steady_p50_ms"] > 0


def test_sentiment_compares_with_vader(quick_run: subprocess.CompletedProcess[str]) -> None:
    data = result("sentiment")
    assert data["results"]["en"]["vader"] > 0


def test_ab_webhooks_compares_two_revisions_under_one_load() -> None:
    """Both revisions' daemons (here the same one) take the same fixed load, counted."""
    options = ["--kind", "telegram", "--rate", "100", "--duration", "1", "--rounds", "1"]
    done = bench("ab_webhooks.py", "--before", "HEAD", *options)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [line.split() for line in done.stdout.splitlines() if line.strip().startswith("1 ")]
    assert [(run[1], run[-1]) for run in runs] == [("before", "yes"), ("after", "yes")]
    assert "after/before" in done.stdout
