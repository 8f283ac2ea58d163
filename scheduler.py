"""APScheduler set-up: the list of periodic jobs the daemon runs.

Each job is idempotent for its slot; misfires after downtime coalesce into one run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from sportello.inbox.polling import poll_once

if TYPE_CHECKING:
    from sportello.daemon import Daemon

log = logging.getLogger(__name__)
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)  # a line per run

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
LIVE_POLL_S = 5


def build_scheduler(daemon: Daemon) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
    for connector in daemon.connectors.values():
        if not connector.polls:
            continue
        interval = getattr(getattr(connector, "settings", None), "poll_interval_s", 60)

        async def poll(connector=connector) -> None:  # type: ignore[no-untyped-def]
            try:
                if await poll_once(daemon.engine, connector, daemon.clock):
                    daemon.wake_worker()
            except Exception as exc:
                log.warning("polling %s failed: %s", connector.name, exc)

        scheduler.add_job(poll, "interval", seconds=interval, id=f"poll:{connector.name}")

    async def live_poll() -> None:  # changes made by other replicas reach this one's streams
        await asyncio.to_thread(daemon.live.poll_database, daemon.engine)

    scheduler.add_job(live_poll, "interval", seconds=LIVE_POLL_S, id="live:poll")
    return scheduler
