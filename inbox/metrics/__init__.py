"""Customer-care KPIs: volumes, backlog, response and resolution times, rates, surveys."""

from sportello.inbox.metrics.breakdowns import (
    compute_agent_kpis,
    compute_channel_kpis,
    compute_team_kpis,
)
from sportello.inbox.metrics.query import KpiQuery, parse_bound
from sportello.inbox.metrics.report import compute_kpis

__all__ = [
    "KpiQuery",
    "compute_agent_kpis",
    "compute_channel_kpis",
    "compute_kpis",
    "compute_team_kpis",
    "parse_bound",
]
