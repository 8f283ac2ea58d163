"""Import every module that defines tables, so the metadata (and Alembic) sees them all."""

from sportello.inbox import automation_tables, desk_models, models, survey_tables  # noqa: F401
from sportello.listening import models as listening_models  # noqa: F401
