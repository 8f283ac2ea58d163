"""APScheduler set-up: the list of periodic jobs the daemon runs.

Each job is idempotent for its slot; misfires after downtime coalesce into one run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from sportello.inbox.polling import poll_once
from sportello.inbox.surveys import run_surveys

if TYPE_CHECKING:
    from sportello.daemon import Daemon

log = logging.getLogger(__name__)

SURVEY_INTERVAL_S = 5
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


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
    if daemon.settings.surveys.enabled:

        async def surveys() -> None:
            now = daemon.clock.now()
            try:
                if await asyncio.to_thread(run_surveys, daemon.engine, daemon.settings, now):
                    daemon.wake_sender()
            except Exception:
                log.exception("survey round failed")

        scheduler.add_job(surveys, "interval", seconds=SURVEY_INTERVAL_S, id="surveys")
    return scheduler
