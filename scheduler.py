"""APScheduler set-up: the list of periodic jobs the daemon runs.

Each job is idempotent for its slot; misfires after downtime coalesce into one run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from sportello.inbox.polling import poll_once

if TYPE_CHECKING:
    from sportello.daemon import Daemon

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


def build_scheduler(daemon: Daemon) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
    for connector in daemon.connectors.values():
        if not connector.polls:
            continue
        interval = getattr(getattr(connector, "settings", None), "poll_interval_s", 60)

        # A poll that asks to wait (rate limit, request budget) skips the runs until then.
        resume_at: dict[str, datetime] = {}

        async def poll(connector=connector, resume_at=resume_at) -> None:  # type: ignore[no-untyped-def]
            now = daemon.clock.now()
            if connector.name in resume_at and now < resume_at[connector.name]:
                return
            try:
                polled = await poll_once(daemon.engine, connector, daemon.clock)
            except Exception as exc:
                log.warning("polling %s failed: %s", connector.name, exc)
                return
            if polled.added:
                daemon.wake_worker()
            if polled.wait_s:
                resume_at[connector.name] = now + timedelta(seconds=polled.wait_s)
                log.info("%s polling resumes in %.0f s", connector.name, polled.wait_s)

        scheduler.add_job(poll, "interval", seconds=interval, id=f"poll:{connector.name}")
    return scheduler
