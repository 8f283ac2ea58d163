"""The KPI report for the terminal (rich tables) and for export (CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TIME_FIGURES = (
    ("first_response_time", "First response"),
    ("reply_time", "Reply"),
    ("handling_time", "Handling"),
    ("resolution_time", "Resolution"),
    ("backlog_age", "Backlog age"),
)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_tables(report: dict[str, Any], console: Console) -> None:
    mode = "business time" if report["business_time"] else "calendar time"
    title = f"KPIs {report['from']} → {report['to']} ({report['timezone']}, {mode})"
    summary = Table(title=title, show_header=False)
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    cases = report["cases"]
    retention = report["retention"]
    for label, value in (
        ("Conversations (active)", report["conversations"]),
        ("New conversations", report["new_conversations"]),
        ("Messages in", report["messages_in"]),
        ("Messages out (agent / bot)",
         f"{report['messages_out']} ({report['messages_out_agent']} / "
         f"{report['messages_out_bot']})"),
        ("Cases open at start / started / resolved",
         f"{cases['open_at_start']} / {cases['started']} / {cases['resolved']}"),
        ("Backlog at end", report["backlog"]),
        ("Waiting for a reply at end", report["waiting_for_reply"]),
        ("Resolution rate", _pct(report["resolution_rate"])),
        ("First contact resolution rate", _pct(report["first_contact_resolution_rate"])),
        ("Customer retention", _pct(retention["rate"])),
    ):  # fmt: skip
        summary.add_row(label, str(value))
    console.print(summary)

    times = Table(title="Times")
    for header in ("figure", "average", "median", "p90", "count"):
        times.add_column(header, justify="left" if header == "figure" else "right")
    for key, label in TIME_FIGURES:
        figure = report[key]
        times.add_row(
            label,
            duration(figure["avg_s"]),
            duration(figure["median_s"]),
            duration(figure["p90_s"]),
            str(figure["count"]),
        )
    console.print(times)

    surveys = Table(title="Surveys")
    for header in ("survey", "score", "responses", "asked", "response rate"):
        surveys.add_column(header, justify="left" if header == "survey" else "right")
    csat, nps, ces = report["csat"], report["nps"], report["ces"]
    for label, score, figure in (
        ("CSAT (1-5)", _num(csat["avg"]), csat),
        ("NPS (-100..100)", _num(nps["score"], 1), nps),
        ("CES (1-7)", _num(ces["avg"]), ces),
    ):
        surveys.add_row(
            label,
            score,
            str(figure["responses"]),
            str(figure["asked"]),
            _pct(figure["response_rate"]),
        )
    console.print(surveys)

    peaks = Table(title="Peak hours (messages in)")
    peaks.add_column("when")
    peaks.add_column("messages in", justify="right")
    for peak in report["peak_hours"]:
        peaks.add_row(
            f"{WEEKDAYS[peak['weekday']]} {peak['hour']:02d}:00", str(peak["messages_in"])
        )
    console.print(peaks)


def _flatten(value: Any, prefix: str, rows: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), rows)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            key = item.get("date", index) if isinstance(item, dict) else index
            _flatten(item, f"{prefix}.{key}", rows)
    else:
        rows.append((prefix, "" if value is None else value))


def to_csv(report: dict[str, Any]) -> str:
    """``metric,value`` rows with dotted names, e.g. ``reply_time.p90_s``; the per-day
    series as ``volume_by_day.<date>.<figure>``."""
    rows: list[tuple[str, Any]] = []
    _flatten({k: v for k, v in report.items() if k != "volume_by_hour"}, "", rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("metric", "value"))
    writer.writerows(rows)
    return out.getvalue()


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


# What a breakdown's row of nobody (``null``) is called.
NONE_ROW = {"agents": "(unassigned)", "teams": "(no team)"}


def print_breakdown(report: dict[str, Any], rows: str, console: Console) -> None:
    """A per-agent, per-channel or per-team report (``rows``: "agents", "channels" or
    "teams"): one line each, medians for the times."""
    mode = "business time" if report["business_time"] else "calendar time"
    title = f"{rows.capitalize()} {report['from']} → {report['to']} ({report['timezone']}, {mode})"
    key = rows.removesuffix("s")
    by_agent = rows == "agents"
    table = Table(title=title)
    headers = [
        key, "conv.", "in", *(["replies sent"] if by_agent else []),
        "first response", "reply", "resolution", "resolved", "rate", "FCR", "backlog", "CSAT",
    ]  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header == key else "right")
    for row in report[rows]:
        csat = row["csat"]
        name = row[key] if row[key] is not None else NONE_ROW[rows]
        sent = row.get("replies_sent")  # the agents' rows only
        table.add_row(
            name,
            str(row["conversations"]),
            str(row["messages_in"]),
            *([] if not by_agent else ["-" if sent is None else str(sent)]),
            duration(row["first_response_time"]["median_s"]),
            duration(row["reply_time"]["median_s"]),
            duration(row["resolution_time"]["median_s"]),
            str(row["cases"]["resolved"]),
            _pct(row["resolution_rate"]),
            _pct(row["first_contact_resolution_rate"]),
            str(row["backlog"]),
            f"{_num(csat['avg'])} ({csat['responses']})",
        )
    console.print(table)


def breakdown_csv(report: dict[str, Any], rows: str) -> str:
    """A line per agent (``agent`` empty for the unassigned ones), per channel or per team
    (``team`` empty for none), a column per figure named as in :func:`to_csv`, e.g.
    ``reply_time.median_s``."""
    lines: list[dict[str, Any]] = []
    for row in report[rows]:
        pairs: list[tuple[str, Any]] = []
        _flatten({k: v for k, v in row.items() if k != "reply_time_distribution"}, "", pairs)
        lines.append(dict(pairs))
    columns = list(dict.fromkeys(key for line in lines for key in line))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue()
