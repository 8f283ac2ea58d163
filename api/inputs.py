"""What the API takes in paths, queries and bodies beyond plain types.

A row id is a number the database's 64-bit keys can hold, and an instant falls from 1900
to 2999: anything else is a clear ``422`` naming the field, where it used to fail deep in a
query (SQLite's driver) or in the calendars' date arithmetic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator

from sportello.inbox.clock import within_range

RowId = Annotated[int, Interval(ge=-(2**63), le=2**63 - 1)]
Instant = Annotated[datetime, AfterValidator(within_range)]
