"""The users and teams the stored rules name, checked before the rules are stored.

A triage rule that assigns to a typo, or a rule or SLA policy naming a team that does not
exist, would silently do nothing: the API (``422``) and ``sportello hours set`` (exit 2)
refuse them alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from sportello.config.settings import SlaSettings, TriageRules
from sportello.inbox.users import Team, User


@dataclass(frozen=True)
class Unknown:
    """A name that points to nobody: the rule's index, its field, and why."""

    index: int
    field: str
    message: str


def unknown_in_triage_rules(session: Session, rules: TriageRules) -> list[Unknown]:
    users = _existing(session, User, {rule.assign for rule in rules if rule.assign})
    teams = _existing(session, Team, {rule.team for rule in rules if rule.team})
    return [
        Unknown(index, "assign", f"no user named {rule.assign}")
        for index, rule in enumerate(rules)
        if rule.assign and rule.assign not in users
    ] + [
        Unknown(index, "team", f"no team named {rule.team}")
        for index, rule in enumerate(rules)
        if rule.team and rule.team not in teams
    ]


def unknown_in_sla_policies(session: Session, policies: Sequence[SlaSettings]) -> list[Unknown]:
    teams = _existing(session, Team, {name for policy in policies for name in policy.teams})
    return [
        Unknown(index, "teams", f"no team named {name}")
        for index, policy in enumerate(policies)
        for name in policy.teams
        if name not in teams
    ]


def _existing(session: Session, model: type[User] | type[Team], names: set[str]) -> set[str]:
    if not names:
        return set()
    return set(session.exec(select(model.name).where(col(model.name).in_(names))))
