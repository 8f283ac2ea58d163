"""``/api/v1/reports``: the customer-care KPIs (definitions in ``docs/kpis.md``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from sportello.api.deps import Caller, DaemonDep, SessionDep
from sportello.config.settings import Settings, parse_duration
from sportello.inbox import settings_store
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.metrics import KpiQuery, compute_kpis, parse_bound
from sportello.report_output import to_csv

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel import Session

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

DEFAULT_DAYS = 7


def report_calendar(session: Session, settings: Settings) -> BusinessCalendar:
    """The calendar business time is counted in: the one the away messages and the SLAs
    use, as operations last set it (the settings page), else the configuration file's."""
    return settings_store.calendar(session, settings)


def build_query(
    settings: Settings,
    now: datetime,
    start: str | None,
    end: str | None,
    *,
    business_time: bool = False,
    channel: str | None = None,
    agent: str | None = None,
    tag: str | None = None,
    calendar: BusinessCalendar,
) -> KpiQuery:
    """A query from textual bounds; without them, the last 7 local days including today.

    Raises ValueError with a readable message on bad bounds."""
    today = now.astimezone(calendar.tz).date()
    end_at = parse_bound(end or today.isoformat(), calendar.tz, end=True)
    default_start = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    start_at = parse_bound(start or default_start, calendar.tz, end=False)
    return KpiQuery(
        start=start_at,
        end=end_at,
        now=now,
        calendar=calendar,
        business_time=business_time,
        channel=channel,
        agent=agent,
        tag=tag,
        fcr_window=timedelta(seconds=parse_duration(settings.kpis.fcr_window)),
    )


@router.get("/kpis", response_model=None)
def kpis(
    session: SessionDep,
    daemon: DaemonDep,
    _: Caller,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD or ISO")] = None,
    end: Annotated[str | None, Query(alias="to", description="inclusive date, or ISO")] = None,
    channel: str | None = None,
    agent: Annotated[str | None, Query(description="the conversations' assignee")] = None,
    tag: str | None = None,
    business_time: bool = False,
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: metric,value rows as a download")
    ] = "json",
) -> dict[str, Any] | Response:
    try:
        query = build_query(
            daemon.settings,
            daemon.clock.now(),
            start,
            end,
            business_time=business_time,
            channel=channel,
            agent=agent,
            tag=tag,
            calendar=report_calendar(session, daemon.settings),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    report = compute_kpis(session, query)
    if format == "json":
        return report
    name = f"sportello-kpis-{query.start.date()}-{query.end.date()}.csv"
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
