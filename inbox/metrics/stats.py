"""Summaries of a list of durations: average, median and 90th percentile.

The median is the middle value (the mean of the two middle values for an even count); the
90th percentile uses the nearest-rank method: the value at rank ``ceil(0.9 * n)`` of the
values sorted ascending, so it is always one of the observed values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def nearest_rank(sorted_values: Sequence[float], percentile: float) -> float | None:
    """The ``percentile`` (0 < p <= 100) of ascending ``sorted_values`` by nearest rank."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percentile / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    avg_s: float | None
    median_s: float | None
    p90_s: float | None

    def as_json(self) -> dict[str, float | int | None]:
        return {
            "avg_s": self.avg_s,
            "median_s": self.median_s,
            "p90_s": self.p90_s,
            "count": self.count,
        }


def summarize(values: Sequence[float]) -> Summary:
    ordered = sorted(values)
    if not ordered:
        return Summary(0, None, None, None)
    return Summary(
        count=len(ordered),
        avg_s=sum(ordered) / len(ordered),
        median_s=float(statistics.median(ordered)),
        p90_s=nearest_rank(ordered, 90),
    )


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent; None when there is nothing to measure."""
    return None if whole == 0 else 100.0 * part / whole
