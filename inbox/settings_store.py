"""Business hours, away rules, SLA policies, the assignment rule and the triage rules as stored
in the database.

The daemon seeds each of them from the configuration file the first time (when the database
has none); from then on the API and the CLI edit the stored copy, and the file's section is
only a starting point. Values are kept in the shape of the TOML sections, as JSON.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from pydantic import TypeAdapter
from sqlmodel import Session, select

from sportello.config.settings import (
    AssignmentSettings,
    AwayMessageSettings,
    BusinessHoursSettings,
    Settings,
    SlaSettings,
    TriageRules,
)
from sportello.inbox.automation_tables import StoredSetting
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.upsert import insert_ignore

BUSINESS_HOURS: Final = "business_hours"
AWAY_MESSAGES: Final = "away_messages"
SLA: Final = "sla"
ASSIGNMENT: Final = "assignment"
TRIAGE_RULES: Final = "triage_rules"
KEYS: Final = (BUSINESS_HOURS, AWAY_MESSAGES, SLA, ASSIGNMENT, TRIAGE_RULES)

_AWAY = TypeAdapter(list[AwayMessageSettings])
_SLA = TypeAdapter(list[SlaSettings])
_RULES = TypeAdapter(TriageRules)


def seed(session: Session, settings: Settings, now: datetime) -> list[str]:
    """Store each configured section the database does not hold yet; returns the keys stored."""
    sections: dict[str, Any] = {
        BUSINESS_HOURS: settings.business_hours.model_dump() if settings.business_hours else None,
        AWAY_MESSAGES: _AWAY.dump_python(settings.away_messages) or None,
        SLA: _SLA.dump_python(settings.sla) or None,
        ASSIGNMENT: settings.assignment.model_dump() if settings.assignment else None,
        TRIAGE_RULES: _RULES.dump_python(settings.triage_rules) or None,
    }
    stored = []
    for key, value in sections.items():
        if value is not None and insert_ignore(
            session,
            StoredSetting,
            {"key": key, "value": value, "updated_at": now, "updated_by": "config"},
        ):
            stored.append(key)
    return stored


def read_all(session: Session) -> None:
    """Read every stored setting for this unit of work in one query.

    The journal worker calls it before it takes the write lock, so the hooks that ask for
    hours, away rules and SLA policies read nothing while it holds the lock.
    """
    rows = {row.key: row for row in session.exec(select(StoredSetting))}
    session.info["stored_settings"] = {key: rows.get(key) for key in KEYS} | rows


def _read(session: Session, key: str) -> StoredSetting | None:
    """The stored row, read once per unit of work (the ingest hooks ask per message)."""
    cache: dict[str, StoredSetting | None] = session.info.setdefault("stored_settings", {})
    if key not in cache:
        cache[key] = session.get(StoredSetting, key)
    return cache[key]


def _write(session: Session, key: str, value: Any, now: datetime, actor: str | None) -> None:
    session.info.get("stored_settings", {}).pop(key, None)
    session.info.get("parsed_settings", {}).pop(key, None)
    row = _read(session, key)
    if row is None:
        row = StoredSetting(key=key, value=value, updated_at=now, updated_by=actor)
        session.add(row)
        session.info["stored_settings"][key] = row  # read back in this unit of work as written
    else:
        row.value, row.updated_at, row.updated_by = value, now, actor
    session.flush()


def business_hours(
    session: Session, fallback: Settings | None = None
) -> BusinessHoursSettings | None:
    """The stored business hours, else ``fallback``'s section; None means always open."""
    row = _read(session, BUSINESS_HOURS)
    if row is not None:
        return BusinessHoursSettings.model_validate(row.value)
    return fallback.business_hours if fallback is not None else None


def calendar(session: Session, fallback: Settings | None = None) -> BusinessCalendar:
    """The calendar of the stored hours; built once per distinct definition."""
    hours = business_hours(session, fallback)
    return _calendar(None if hours is None else hours.model_dump_json())


def known_calendar(session: Session, fallback: Settings | None = None) -> BusinessCalendar | None:
    """The calendar of the stored hours; None when no business hours are set (a text then
    says "as soon as possible" rather than a time)."""
    hours = business_hours(session, fallback)
    return None if hours is None else _calendar(hours.model_dump_json())


@lru_cache(maxsize=8)
def _calendar(definition: str | None) -> BusinessCalendar:
    if definition is None:
        return BusinessCalendar.always_open()
    return BusinessCalendar(BusinessHoursSettings.model_validate_json(definition))


def away_rules(session: Session, fallback: Settings | None = None) -> list[AwayMessageSettings]:
    row = _read(session, AWAY_MESSAGES)
    if row is not None:
        return _AWAY.validate_python(row.value)
    return list(fallback.away_messages) if fallback is not None else []


def sla_policies(session: Session, fallback: Settings | None = None) -> list[SlaSettings]:
    row = _read(session, SLA)
    if row is not None:
        return _SLA.validate_python(row.value)
    return list(fallback.sla) if fallback is not None else []


def set_business_hours(
    session: Session, value: BusinessHoursSettings, now: datetime, actor: str | None
) -> None:
    _write(session, BUSINESS_HOURS, value.model_dump(), now, actor)


def set_away_rules(
    session: Session, rules: list[AwayMessageSettings], now: datetime, actor: str | None
) -> None:
    _write(session, AWAY_MESSAGES, _AWAY.dump_python(rules), now, actor)


def set_sla_policies(
    session: Session, policies: list[SlaSettings], now: datetime, actor: str | None
) -> None:
    _write(session, SLA, _SLA.dump_python(policies), now, actor)


def assignment(session: Session, fallback: Settings | None = None) -> AssignmentSettings:
    """The stored assignment rule, else ``fallback``'s; off when there is none."""
    row = _read(session, ASSIGNMENT)
    if row is not None:
        return AssignmentSettings.model_validate(row.value)
    configured = fallback.assignment if fallback is not None else None
    return configured or AssignmentSettings()


def set_assignment(
    session: Session, rule: AssignmentSettings, now: datetime, actor: str | None
) -> None:
    _write(session, ASSIGNMENT, rule.model_dump(), now, actor)


def triage_rules(session: Session) -> TriageRules:
    """The stored triage rules, in order (every matching rule applies); validated once per
    unit of work, as the journal worker's hook asks for every customer message."""
    parsed: dict[str, Any] = session.info.setdefault("parsed_settings", {})
    if TRIAGE_RULES not in parsed:
        row = _read(session, TRIAGE_RULES)
        parsed[TRIAGE_RULES] = _RULES.validate_python(row.value) if row is not None else []
    rules: TriageRules = parsed[TRIAGE_RULES]
    return rules


def set_triage_rules(
    session: Session, rules: TriageRules, now: datetime, actor: str | None
) -> None:
    _write(session, TRIAGE_RULES, _RULES.dump_python(rules), now, actor)
