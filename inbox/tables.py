"""Import every module that defines tables, so the metadata (and Alembic) sees them all."""

from sportello.inbox import (  # noqa: F401
    automation_tables,
    desk_models,
    integration_tables,
    models,
    survey_tables,
    users,
)
from sportello.inbox.metrics import timeline_tables  # noqa: F401
from sportello.listening import models as listening_models  # noqa: F401
