"""Import every module that defines tables, so the metadata (and Alembic) sees them all."""

import sportello.inbox.users  # noqa: F401
from sportello.inbox import models  # noqa: F401
