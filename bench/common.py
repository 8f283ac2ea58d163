"""What every benchmark shares: the machine, percentiles, results files, a daemon subprocess.

The daemon is started the way an operator starts it (``python -m sportello.cli run --config``)
in its own process, so its CPU, memory and event loop are measured apart from the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if "sportello" not in sys.modules:
    try:
        import sportello  # noqa: F401
    except ImportError:  # running from a checkout: the repo root is the package
        sys.path.insert(0, str(REPO.parent))

from sportello.connectors.emulators.server import free_port  # noqa: E402

RESULTS = REPO / "bench" / "results"
VAR = REPO / "var" / "bench"
API_TOKEN = "bench-token"
TELEGRAM_TOKEN = "123456:BENCH-token"
TELEGRAM_SECRET = "bench-telegram-secret"
WHATSAPP_SECRET = "bench-whatsapp-app-secret"
POSTGRES_ENV = "SPORTELLO_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/sportello_bench"


def postgres_url() -> str | None:
    """The PostgreSQL database for benchmarks, created on a server that lacks it, or None
    when no server answers."""
    url = os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)
    if url.lower() in ("", "none", "off"):
        return None
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return url
    except OperationalError as error:
        if "does not exist" not in str(error):
            return None
    finally:
        engine.dispose()
    name = make_url(url).database
    server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        return None
    finally:
        server.dispose()
    return url


SLA_POLICY = {"name": "standard", "first_response": "1h", "resolution": "24h"}
"""The SLA policy of the benchmarks that run the SLA check on a generated inbox's backlog."""


def add_inbox_size_options(parser: argparse.ArgumentParser) -> None:
    """The options of the scripts that measure generated inboxes of several sizes."""
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--full", action="store_true", help="add the 1M-message size")
    parser.add_argument("--sizes", help="comma-separated message counts")
    parser.add_argument("--no-postgres", action="store_true")


def inbox_sizes(args: argparse.Namespace) -> tuple[list[int], str | None]:
    """The sizes those options ask for (10k and 100k messages by default), and the PostgreSQL
    database to measure too (None: SQLite only)."""
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    elif args.quick:
        sizes = [2000]
    else:
        sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    return sizes, None if args.no_postgres or args.quick else postgres_url()


def copy_sqlite(url: str, target: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), through the backup API."""
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    copy.close()
    source.close()


def machine() -> dict[str, Any]:
    """nproc, CPU model and RAM, so every result says where it was measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(ram_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest-rank on sorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


def write_results(name: str, payload: dict[str, Any], *, quick: bool = False) -> Path:
    """``bench/results/<name>.json``; a ``--quick`` smoke run writes under var/bench/quick."""
    out = (VAR / "quick" if quick else RESULTS) / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": name, "machine": machine(), **payload}
    out.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width table; None prints as '-'."""
    cells = [[str(h) for h in headers]]
    for row in rows:
        cells.append(
            ["-" if v is None else f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row]
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def rss_kib(pid: int) -> dict[str, int]:
    """Resident size now (VmRSS) and at its peak (VmHWM) of process ``pid``, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def python_env(checkout: Path = REPO) -> dict[str, str]:
    """The environment for child processes: ``import sportello`` loads ``checkout`` (a
    directory named ``sportello``; by default this one)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(checkout.parent), env.get("PYTHONPATH", "")) if p
    )
    return env


def daemon_config(
    database_url: str,
    *,
    telegram_api: str | None = None,
    whatsapp_graph: str | None = None,
    extra: str = "",
) -> str:
    """A TOML configuration for a benchmark daemon."""
    lines = [
        "[database]",
        f'url = "{database_url}"',
        "[api]",
        f'tokens = ["{API_TOKEN}"]',
    ]
    if telegram_api is not None:
        lines += [
            "[channels.telegram]",
            f'bot_token = "{TELEGRAM_TOKEN}"',
            f'webhook_secret = "{TELEGRAM_SECRET}"',
            f'api_base_url = "{telegram_api}"',
        ]
    if whatsapp_graph is not None:
        lines += [
            "[channels.whatsapp]",
            f'app_secret = "{WHATSAPP_SECRET}"',
            'verify_token = "bench-verify"',
            'access_token = "bench-access-token"',
            'phone_number_id = "106540352242922"',
            f'graph_base_url = "{whatsapp_graph}"',
        ]
    return "\n".join(lines) + "\n" + extra


@dataclass
class DaemonProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer /healthz within {timeout}s; see {log}")


@contextmanager
def spawn(
    argv: Sequence[str], name: str, timeout: float = 120, checkout: Path = REPO
) -> Iterator[DaemonProcess]:
    """Run ``argv`` (a server taking ``--port``) on a free loopback port until the block ends."""
    port = free_port()
    VAR.mkdir(parents=True, exist_ok=True)
    log = VAR / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            env=python_env(checkout),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=checkout,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, log, timeout)
            yield DaemonProcess(process, url, log)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def sportello_run(
    config_text: str, name: str, timeout: float = 120, checkout: Path = REPO
) -> Iterator[DaemonProcess]:
    """``sportello run --config FILE`` in a subprocess, as an operator would start it (the
    code of ``checkout``, by default this one)."""
    with tempfile.TemporaryDirectory(prefix="sportello-bench-") as tmp:
        config = Path(tmp) / "sportello.toml"
        config.write_text(config_text, encoding="utf-8")
        argv = [sys.executable, "-m", "sportello.cli", "run", "--config", str(config)]
        with spawn(argv, name, timeout, checkout) as daemon:
            yield daemon
