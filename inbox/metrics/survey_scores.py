"""CSAT, NPS and CES figures from the surveys' answers (definitions in ``docs/kpis.md``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sportello.inbox.metrics.stats import percent


def survey_figures(answers: Iterable[tuple[str, int | None]]) -> dict[str, Any]:
    """``csat``, ``nps`` and ``ces`` from ``(kind, score)`` pairs, a score of None being a
    survey asked and not answered."""
    asked: dict[str, int] = defaultdict(int)
    scores: dict[str, list[int]] = defaultdict(list)
    for kind, score in answers:
        asked[kind] += 1
        if score is not None:
            scores[kind].append(score)

    def base(kind: str) -> dict[str, Any]:
        n = len(scores[kind])
        return {"responses": n, "asked": asked[kind], "response_rate": percent(n, asked[kind])}

    csat, nps, ces = scores["csat"], scores["nps"], scores["ces"]
    promoters = sum(1 for s in nps if s >= 9)
    detractors = sum(1 for s in nps if s <= 6)
    return {
        "csat": {
            "avg": sum(csat) / len(csat) if csat else None,
            "satisfied_pct": percent(sum(1 for s in csat if s >= 4), len(csat)),
            **base("csat"),
        },
        "nps": {
            "score": percent(promoters - detractors, len(nps)),
            "promoters": promoters,
            "passives": len(nps) - promoters - detractors,
            "detractors": detractors,
            **base("nps"),
        },
        "ces": {"avg": sum(ces) / len(ces) if ces else None, **base("ces")},
    }
