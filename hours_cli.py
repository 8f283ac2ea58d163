"""``sportello hours ...`` and ``sportello away ...``: business hours, away rules, SLAs and
the assignment rule."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from sportello.config.settings import (
    AssignmentSettings,
    AwayMessageSettings,
    BusinessHoursSettings,
    ConfigError,
    Settings,
    SlaSettings,
    TriageRules,
    load_settings,
)
from sportello.inbox import settings_store
from sportello.inbox.away import decide
from sportello.inbox.clock import Clock, ensure_utc
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.named_in_rules import unknown_in_sla_policies, unknown_in_triage_rules

hours_app = typer.Typer(help="Business hours and SLA policies stored in the database.")
away_app = typer.Typer(help="Away messages: what would be sent, and why.")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML configuration file (default: $SPORTELLO_CONFIG)."),
]


def settings_or_exit(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"sportello: {exc}", err=True)
        raise typer.Exit(2) from None


def _engine(settings: Settings) -> Engine:
    """The database, migrated and seeded from the configuration as the daemon would."""
    engine = make_engine(settings.database.url)
    migrate(engine)
    with session_scope(engine) as session:
        settings_store.seed(session, settings, Clock().now())
    return engine


def _instant(text: str | None) -> datetime:
    if text is None:
        return Clock().now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date and time") from None
    if value.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset, e.g. 2026-12-25T10:00+01:00")
    return ensure_utc(value)


@hours_app.command("show")
def show(
    config: ConfigOption = None,
    at: Annotated[str | None, typer.Option(help="Instant for the status (default now).")] = None,
) -> None:
    """Print the stored business hours, away rules, SLA policies, assignment rule and triage
    rules, and the status at AT."""
    settings = settings_or_exit(config)
    instant = _instant(at)
    engine = _engine(settings)
    with session_scope(engine) as session:
        hours = settings_store.business_hours(session)
        calendar = settings_store.calendar(session)
        shown: dict[str, Any] = {
            "business_hours": hours.model_dump() if hours else None,
            "away_messages": [r.model_dump() for r in settings_store.away_rules(session)],
            "sla": [p.model_dump() for p in settings_store.sla_policies(session)],
            "assignment": settings_store.assignment(session).model_dump(),
            "triage_rules": [r.model_dump() for r in settings_store.triage_rules(session)],
            "status": {
                "at": _iso(instant, calendar.tz),
                "open": calendar.is_open(instant),
                "next_open": _iso(calendar.next_open(instant), calendar.tz),
                "next_close": _iso(calendar.next_close(instant), calendar.tz),
                "holiday": calendar.holiday(instant),
            },
        }
    engine.dispose()
    typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))


def _iso(value: datetime | None, tz: tzinfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


@hours_app.command("set")
def set_(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            exists=True,
            dir_okay=False,
            help="TOML with [business_hours], [[away_messages]], [[sla]], [assignment] and/or "
            "[[triage_rules]].",
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Replace the stored sections that FILE contains (the others stay as they are)."""
    settings = settings_or_exit(config)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        typer.echo(f"sportello: {file} is not valid TOML: {exc}", err=True)
        raise typer.Exit(2) from None
    known = ("business_hours", "away_messages", "sla", "assignment", "triage_rules")
    if not any(key in data for key in known) or set(data) - set(known):
        typer.echo(
            f"sportello: {file} must contain only [business_hours], [[away_messages]], [[sla]], "
            "[assignment], [[triage_rules]]",
            err=True,
        )
        raise typer.Exit(2)
    section = ""
    try:
        section = "business_hours"
        hours = BusinessHoursSettings.model_validate(data[section]) if section in data else None
        section = "away_messages"
        rules = TypeAdapter(list[AwayMessageSettings]).validate_python(data.get(section, []))
        section = "sla"
        policies = TypeAdapter(list[SlaSettings]).validate_python(data.get(section, []))
        section = "assignment"
        rule = AssignmentSettings.model_validate(data.get(section, {}))
        section = "triage_rules"
        triage = TypeAdapter(TriageRules).validate_python(data.get(section, []))
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, (section, *e['loc'])))}: {e['msg']}" for e in exc.errors()]
        typer.echo(f"sportello: invalid {file}:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None
    engine = _engine(settings)
    now = Clock().now()
    with session_scope(engine) as session:  # the users and teams the rules name exist
        unknown = [
            f"  {name}.{u.index}.{u.field}: {u.message}"
            for name, found in (
                ("triage_rules", unknown_in_triage_rules(session, triage)),
                ("sla", unknown_in_sla_policies(session, policies)),
            )
            for u in found
        ]
    if unknown:
        engine.dispose()
        typer.echo(f"sportello: invalid {file}:\n" + "\n".join(unknown), err=True)
        raise typer.Exit(2)
    with session_scope(engine) as session:
        if hours is not None:
            settings_store.set_business_hours(session, hours, now, "cli")
        if "away_messages" in data:
            settings_store.set_away_rules(session, rules, now, "cli")
        if "sla" in data:
            settings_store.set_sla_policies(session, policies, now, "cli")
        if "assignment" in data:
            settings_store.set_assignment(session, rule, now, "cli")
        if "triage_rules" in data:
            settings_store.set_triage_rules(session, triage, now, "cli")
    engine.dispose()
    typer.echo(f"stored: {', '.join(key for key in known if key in data)}")


@away_app.command("preview")
def preview(
    channel: Annotated[str, typer.Option(help="telegram, whatsapp, messenger or x.")],
    at: Annotated[
        str | None, typer.Option(help="When the customer writes, e.g. 2026-12-25T10:00+01:00.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="The customer's language (default: the brand's).")
    ] = None,
    name: Annotated[str, typer.Option(help="The customer's name for {name}.")] = "Maria",
    public: Annotated[bool, typer.Option(help="A public post (an X mention).")] = False,
    config: ConfigOption = None,
) -> None:
    """Show what away message a customer writing on CHANNEL at AT would get, and why."""
    if channel not in ("telegram", "whatsapp", "messenger", "x"):
        raise typer.BadParameter(f"unknown channel {channel!r}", param_hint="--channel")
    settings = settings_or_exit(config)
    instant = _instant(at)
    engine = _engine(settings)
    with session_scope(engine) as session:
        calendar = settings_store.calendar(session)
        rules = settings_store.away_rules(session)
    engine.dispose()
    decision = decide(
        calendar,
        rules,
        channel=channel,
        at=instant,
        languages=[language] if language else [],
        default_language=settings.brand.default_language,
        name=name,
        public=public,
    )
    local = instant.astimezone(calendar.tz)
    lines = [
        f"at:        {local.isoformat()} ({calendar.definition.timezone})",
        f"business:  {'open' if decision.is_open else 'closed'}",
    ]
    if decision.holiday:
        lines.append(f"holiday:   {decision.holiday}")
    if decision.closure:
        start, end = decision.closure
        lines.append(f"closure:   {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} local time")
    if decision.next_open is not None:
        lines.append(f"next open: {decision.next_open.astimezone(calendar.tz).isoformat()}")
    if decision.rule is not None:
        rule = decision.rule
        lines.append(
            f"rule:      #{rules.index(rule) + 1} when={rule.when} "
            f"channels={','.join(rule.channels)} cooldown={rule.cooldown}"
        )
    if decision.send:
        lines += [
            f"why:       {decision.reason}",
            f"language:  {decision.language}",
            f"would send: {decision.text}",
            "(at run time the message is skipped if this customer already got one within the "
            "cooldown, or an agent wrote within quiet_after_agent)",
        ]
    else:
        lines.append(f"nothing would be sent: {decision.reason}")
    typer.echo("\n".join(lines))
