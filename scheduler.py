"""APScheduler set-up: the list of periodic jobs the daemon runs.

Every job runs under a database lease (``inbox/leases.py``), so with several replicas on one
database each job runs on exactly one of them, and a replica that dies hands its jobs over
once its leases expire. Slotted jobs also claim their slot (the interval of the daemon's
clock they are for), so a restart or a hand-over never runs a slot twice. After downtime,
missed runs coalesce into one (``coalesce``) and the jobs simply sweep the present state:
nothing is replayed slot by slot, so there is no storm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import Session

from sportello.config.settings import parse_duration
from sportello.connectors.base import Connector
from sportello.inbox import (
    assignment,
    auto_resolve,
    housekeeping,
    kept_media,
    planner_statistics,
    settings_store,
    sla,
)
from sportello.inbox.conversations import wake_snoozed
from sportello.inbox.db import session_scope
from sportello.inbox.metrics import timeline_store
from sportello.inbox.polling import poll_once
from sportello.inbox.surveys import run_surveys
from sportello.listening.alerts import alert_sla_breaches, resolve_answered_sla_alerts

if TYPE_CHECKING:
    from sportello.daemon import Daemon

log = logging.getLogger(__name__)
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)  # a line per run

SURVEY_INTERVAL_S = 5
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
SLA_INTERVAL_S = 60.0
SLA_PART = 20  # conversations written per transaction of an SLA check (docs/benchmarks.md)
SNOOZE_INTERVAL_S = 30.0
RETENTION_INTERVAL_S = 3600.0
TIMELINES_INTERVAL_S = 30.0
QUIET_S = 0.1  # a background batch (timelines, retention) waits this long without webhooks,
QUIET_YIELD_S = 1.0  # but not longer: under steady webhooks, a batch a second
STATISTICS_INTERVAL_S = 60.0  # autovacuum's own naptime
MEDIA_INTERVAL_S = 15.0
ASSIGN_INTERVAL_S = 5.0
WEBHOOKS_INTERVAL_S = 2.0
AUTO_RESOLVE_INTERVAL_S = 600.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_s: float
    work: Callable[[], Awaitable[object]]
    slotted: bool = True  # False for pollers: every tick is useful, the cursor dedups

    @property
    def lease_ttl(self) -> timedelta:
        return timedelta(seconds=max(3 * self.interval_s, 30.0))


async def run_job(daemon: Daemon, job: PeriodicJob) -> bool:
    """Run ``job`` if this replica holds its lease and its slot is not done; True if it ran."""
    now = daemon.clock.now()
    slot = int(now.timestamp() // job.interval_s) if job.slotted else None
    taken = await asyncio.to_thread(daemon.leases.try_run_slot, job.name, now, job.lease_ttl, slot)
    if taken:
        try:
            await job.work()
        except Exception:
            log.exception("job %s failed", job.name)
    return taken


def periodic_jobs(daemon: Daemon) -> list[PeriodicJob]:
    jobs = [
        _poller(daemon, connector) for connector in daemon.connectors.values() if connector.polls
    ]

    def in_session(
        action: Callable[[Session, datetime], object],
    ) -> Callable[[], Awaitable[object]]:
        def unit() -> object:
            with session_scope(daemon.engine) as session:
                return action(session, daemon.clock.now())

        return lambda: asyncio.to_thread(unit)

    def check_sla() -> int:
        fired = check_service_levels(daemon, daemon.clock.now())
        if fired:
            daemon.wake_sender()
        return fired

    def quiet_moment() -> None:
        daemon.intake.wait_quiet(QUIET_S, QUIET_YIELD_S)

    def refresh_timelines() -> int:
        return timeline_store.refresh_all(
            daemon.engine, write_lock=daemon.write_lock.background, pause=quiet_moment
        )

    def trimming(trim: Callable[[Session, datetime], int]) -> Callable[[], Awaitable[int]]:
        def unit() -> int:
            now = daemon.clock.now()
            return housekeeping.trim_in_batches(
                daemon.engine,
                lambda session: trim(session, now),
                write_lock=daemon.write_lock.background,
                pause=quiet_moment,
            )

        return lambda: asyncio.to_thread(unit)

    retention, webhooks = daemon.settings.retention, daemon.settings.integrations

    def assign() -> int:
        return len(assign_waiting(daemon, daemon.clock.now()))

    jobs += [
        PeriodicJob("assign", ASSIGN_INTERVAL_S, lambda: asyncio.to_thread(assign)),
        PeriodicJob("sla:check", SLA_INTERVAL_S, lambda: asyncio.to_thread(check_sla)),
        PeriodicJob("snooze:wake", SNOOZE_INTERVAL_S, in_session(wake_snoozed)),
        PeriodicJob(
            "retention:deliveries",
            RETENTION_INTERVAL_S,
            trimming(lambda session, now: housekeeping.trim_deliveries(session, now, retention)),
        ),
        PeriodicJob(
            "retention:webhook-deliveries",
            RETENTION_INTERVAL_S,
            trimming(
                lambda session, now: housekeeping.trim_webhook_deliveries(session, now, webhooks)
            ),
        ),
        PeriodicJob(
            "retention:early-statuses",
            RETENTION_INTERVAL_S,
            in_session(housekeeping.trim_early_statuses),
        ),
        # The KPI report reads stored timelines where current and walks the rest.
        PeriodicJob(
            "kpis:timelines", TIMELINES_INTERVAL_S, lambda: asyncio.to_thread(refresh_timelines)
        ),
        PeriodicJob(
            "statistics:analyze",
            STATISTICS_INTERVAL_S,
            lambda: asyncio.to_thread(planner_statistics.analyze_stale, daemon.engine),
        ),
    ]
    if kept_media.expiring(daemon.connectors):

        def keep_media() -> Awaitable[int]:
            return kept_media.keep_new_files(
                daemon.engine,
                daemon.connectors,
                daemon.clock,
                write_lock=daemon.write_lock.background,
            )

        jobs.append(PeriodicJob("media:keep", MEDIA_INTERVAL_S, keep_media))
    if daemon.settings.auto_resolve.after is not None:
        after = timedelta(seconds=parse_duration(daemon.settings.auto_resolve.after))
        jobs.append(
            PeriodicJob(
                "triage:auto-resolve",
                AUTO_RESOLVE_INTERVAL_S,
                lambda: asyncio.to_thread(resolve_quiet, daemon, after),
            )
        )
    if daemon.settings.surveys.enabled:

        def surveys() -> object:
            queued = run_surveys(
                daemon.engine,
                daemon.settings,
                daemon.clock.now(),
                write_lock=daemon.write_lock.background,
            )
            if queued:
                daemon.wake_sender()
            return queued

        jobs.append(PeriodicJob("surveys", SURVEY_INTERVAL_S, lambda: asyncio.to_thread(surveys)))
    if daemon.settings.integrations.webhooks:
        jobs.append(
            PeriodicJob("integrations:webhooks", WEBHOOKS_INTERVAL_S, daemon.webhooks.run_once)
        )
    jobs += [
        PeriodicJob(name, interval_s, work, slotted=False)
        for name, interval_s, work in daemon.listening.periodic()
    ]
    return jobs


def check_service_levels(
    daemon: Daemon, now: datetime, pace: Callable[[float], object] = time.sleep
) -> int:
    """The SLA check: deadlines, warnings and breaches (their alerts), the 24-hour windows,
    and the breach alerts answered since. Returns how many records fired.

    Each step writes in short transactions of its own, after its reads, and the deadlines
    by parts of :data:`SLA_PART` conversations, each taking the daemon's write lock as a
    background writer: on SQLite, everything one transaction wrote holds back the journal's
    commits, and the webhooks' answers, until its end, and the worker goes first.

    After each part the check waits (``pace``) as long as the part took: a catch-up takes
    at most half of the interpreter, which the webhooks and the journal worker share. Without
    the wait, a catch-up over 14,700 overdue conversations left the worker 6-9 s behind the
    webhooks; with it, 0.1 s (docs/benchmarks.md, session 26).
    """
    engine = daemon.engine
    with session_scope(engine) as session:
        resolve_answered_sla_alerts(session, now)
    with session_scope(engine) as session:
        policies = settings_store.sla_policies(session)
        calendar = settings_store.calendar(session)
        everything = daemon.sla_sweeps.due(now, policies, calendar)
        planned = sla.plan_check(session, now, policies, calendar, everything=everything)
    fired = 0
    for part in planned.parts(SLA_PART):
        started = time.perf_counter()
        with daemon.write_lock.background, session_scope(engine) as session:
            breaches = sla.apply_check(session, part)
            alert_sla_breaches(session, breaches, now)
        fired += len(breaches)
        pace(time.perf_counter() - started)
    if everything:
        daemon.sla_sweeps.done(now, policies, calendar)
    with session_scope(engine) as session:
        breaches = sla.check_windows(
            session, now, daemon.settings.window_reminder, daemon.settings.brand.default_language
        )
        alert_sla_breaches(session, breaches, now)
    return fired + len(breaches)


def _poller(daemon: Daemon, connector: Connector) -> PeriodicJob:
    interval = getattr(getattr(connector, "settings", None), "poll_interval_s", 60)
    # A poll that asks to wait (rate limit, request budget) skips the runs until then.
    resume_at: list[datetime] = []

    async def poll() -> None:
        now = daemon.clock.now()
        if resume_at and now < resume_at[0]:
            return
        try:
            polled = await poll_once(daemon.engine, connector, daemon.clock)
        except Exception as exc:
            log.warning("polling %s failed: %s", connector.name, exc)
            return
        if polled.added:
            daemon.wake_worker()
        resume_at.clear()
        if polled.wait_s:
            resume_at.append(now + timedelta(seconds=polled.wait_s))
            log.info("%s polling resumes in %.0f s", connector.name, polled.wait_s)

    return PeriodicJob(f"poll:{connector.name}", interval, poll, slotted=False)


LIVE_POLL_S = 5


def build_scheduler(daemon: Daemon) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
    for job in periodic_jobs(daemon):

        async def tick(job: PeriodicJob = job) -> None:
            await run_job(daemon, job)

        scheduler.add_job(tick, "interval", seconds=job.interval_s, id=job.name, name=job.name)

    async def live_poll() -> None:  # changes made by other replicas reach this one's streams
        await asyncio.to_thread(daemon.live.poll_database, daemon.engine)

    # Not leased: every replica feeds its own event streams.
    scheduler.add_job(live_poll, "interval", seconds=LIVE_POLL_S, id="live:poll")
    return scheduler


def assign_waiting(daemon: Daemon, now: datetime) -> list[assignment.Assigned]:
    """The assignment rule's run (nothing when it is off), then the inbox told of each."""
    with session_scope(daemon.engine) as session:
        rule = settings_store.assignment(session, daemon.settings)
        idle = rule.mode == "off" or not assignment.present_agents(session, now)
    if idle:  # the common cases (off; nobody at the desk): no write lock every few seconds
        return []
    with daemon.write_lock.background, session_scope(daemon.engine) as session:
        done = assignment.assign_waiting(session, now, rule)
    for assigned in done:
        daemon.live.publish(
            "conversation.updated",
            conversation_id=assigned.conversation_id,
            actor=assignment.ACTOR,
            assignee=assigned.assignee,
        )
    return done


def resolve_quiet(daemon: Daemon, after: timedelta) -> int:
    """The auto-resolve run, in parts of ``auto_resolve.PART`` each under the background
    write lock; the inbox told of each. Returns how many were resolved."""
    resolved = 0
    while True:
        with daemon.write_lock.background, session_scope(daemon.engine) as session:
            ids = auto_resolve.resolve_quiet(session, daemon.clock.now(), after)
        for conversation_id in ids:
            daemon.live.publish(
                "conversation.updated", conversation_id=conversation_id, actor=auto_resolve.ACTOR
            )
        resolved += len(ids)
        if len(ids) < auto_resolve.PART:
            return resolved
