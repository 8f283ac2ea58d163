"""``/api/v1/reports``: the customer-care KPIs (definitions in ``docs/kpis.md``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from sportello.api.deps import Caller, DaemonDep, SessionDep
from sportello.config.settings import Settings, parse_duration
from sportello.inbox import settings_store
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.metrics import (
    KpiQuery,
    compute_agent_kpis,
    compute_channel_kpis,
    compute_kpis,
    compute_team_kpis,
    parse_bound,
)
from sportello.inbox.metrics.comments import survey_comments
from sportello.report_output import breakdown_csv, to_csv

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
    team: str | None = None,
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
        team=team,
        fcr_window=timedelta(seconds=parse_duration(settings.kpis.fcr_window)),
    )


def report_query(
    session: SessionDep,
    daemon: DaemonDep,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD or ISO")] = None,
    end: Annotated[str | None, Query(alias="to", description="inclusive date, or ISO")] = None,
    channel: str | None = None,
    agent: Annotated[str | None, Query(description="the conversations' assignee")] = None,
    tag: str | None = None,
    team: Annotated[str | None, Query(description="the conversations' team")] = None,
    business_time: bool = False,
) -> KpiQuery:
    """The period and filters of a report from its query string; 422 on bad bounds."""
    try:
        return build_query(
            daemon.settings,
            daemon.clock.now(),
            start,
            end,
            business_time=business_time,
            channel=channel,
            agent=agent,
            tag=tag,
            team=team,
            calendar=report_calendar(session, daemon.settings),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


ReportQuery = Annotated[KpiQuery, Depends(report_query)]
Format = Annotated[Literal["json", "csv"], Query(description="csv: a download (see each report)")]


@router.get("/kpis", response_model=None)
def kpis(
    session: SessionDep, query: ReportQuery, _: Caller, format: Format = "json"
) -> dict[str, Any] | Response:
    """The customer-care KPIs; as CSV, ``metric,value`` rows."""
    report = compute_kpis(session, query)
    if format == "json":
        return report
    return _download(to_csv(report), "kpis", query)


@router.get("/agents", response_model=None)
def agents(
    session: SessionDep, query: ReportQuery, _: Caller, format: Format = "json"
) -> dict[str, Any] | Response:
    """The KPIs per agent (``agents``: a row each, then the unassigned); as CSV, a line
    per agent."""
    report = compute_agent_kpis(session, query)
    if format == "json":
        return report
    return _download(breakdown_csv(report, "agents"), "agents", query)


@router.get("/channels", response_model=None)
def channels(
    session: SessionDep, query: ReportQuery, _: Caller, format: Format = "json"
) -> dict[str, Any] | Response:
    """The KPIs per channel (``channels``: a row each with anything in the period); as CSV,
    a line per channel."""
    report = compute_channel_kpis(session, query)
    if format == "json":
        return report
    return _download(breakdown_csv(report, "channels"), "channels", query)


@router.get("/teams", response_model=None)
def teams(
    session: SessionDep, query: ReportQuery, _: Caller, format: Format = "json"
) -> dict[str, Any] | Response:
    """The KPIs per team (``teams``: a row each, then the conversations given to none); as
    CSV, a line per team."""
    report = compute_team_kpis(session, query)
    if format == "json":
        return report
    return _download(breakdown_csv(report, "teams"), "teams", query)


@router.get("/comments")
def comments(
    session: SessionDep,
    query: ReportQuery,
    _: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Why customers gave a low score (the surveys' follow-up question), newest first: the
    surveys asked in the period, with the report's filters."""
    return {"comments": survey_comments(session, query, limit)}


def _download(content: str, name: str, query: KpiQuery) -> Response:
    tz = query.calendar.tz
    first = query.start.astimezone(tz).date()
    last = (query.end - timedelta(microseconds=1)).astimezone(tz).date()
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="sportello-{name}-{first}-{last}.csv"'
        },
    )
