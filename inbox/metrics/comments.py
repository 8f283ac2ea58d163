"""What customers wrote when a survey asked them why they gave a low score."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from sportello.inbox.metrics.filters import survey_filters
from sportello.inbox.metrics.query import KpiQuery
from sportello.inbox.models import Customer
from sportello.inbox.survey_tables import Survey


def survey_comments(session: Session, query: KpiQuery, limit: int) -> list[dict[str, Any]]:
    """The comments of the surveys asked in the period (the report's filters), newest first."""
    rows = session.exec(
        select(Survey, Customer.display_name)
        .join(Customer, col(Customer.id) == col(Survey.customer_id))
        .where(*survey_filters(query), col(Survey.comment).is_not(None))
        .order_by(col(Survey.commented_at).desc(), col(Survey.id).desc())
        .limit(limit)
    ).all()
    return [
        {
            "survey_id": survey.id,
            "conversation_id": survey.conversation_id,
            "customer_id": survey.customer_id,
            "customer_name": name,
            "channel": survey.channel,
            "assignee": survey.assignee,
            "kind": survey.kind,
            "score": survey.score,
            "comment": survey.comment,
            "commented_at": survey.commented_at,
        }
        for survey, name in rows
    ]
