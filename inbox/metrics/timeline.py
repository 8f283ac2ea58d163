"""One conversation's history walked once: its cases, its waits and its paused intervals.

A *case* runs from the conversation's opening (or its reopening after a resolution) to its
next resolution. A *wait* starts at a customer message when no wait is running and ends at
the next human reply (author ``agent``, including the business's own messages sent outside
sportello). Automatic (``bot``) messages and survey replies are not fed in at all. A
resolution ends a running wait unanswered, except that a human reply arriving within
:data:`RESOLVE_GRACE` after the resolution (before anything else happens) still answers it:
the platform stamps a reply when it delivers it, which can be just after the agent pressed
"resolve".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sportello.inbox.metrics.timing import Pause

RESOLVE_GRACE = timedelta(minutes=5).total_seconds()
PAUSED = frozenset({"pending", "snoozed"})
_STATUS_OF = {
    "opened": "open",
    "reopened": "open",
    "open": "open",
    "pending": "pending",
    "snoozed": "snoozed",
    "resolved": "resolved",
}
# Ties at one instant: a (re)opening comes before the message that caused it, and a
# message before a resolution or pause stamped at the same instant.
_RANK_FIRST, _RANK_MESSAGE, _RANK_LAST = 0, 1, 2


@dataclass
class Wait:
    """``end``: the human reply; ``cut``: the resolution that ended it unanswered."""

    start: float
    end: float | None = None
    cut: float | None = None


@dataclass
class Case:
    start: float
    end: float | None = None
    first_customer_at: float | None = None
    first_reply_at: float | None = None
    first_wait: Wait | None = None
    human_replies: int = 0
    reopened_at: float | None = None


@dataclass
class Timeline:
    conversation_id: int
    cases: list[Case] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)


@dataclass(frozen=True)
class MessageRow:
    at: float
    inbound: bool


@dataclass(frozen=True)
class EventRow:
    at: float
    kind: str


class _Walker:
    def __init__(self, conversation_id: int) -> None:
        self.timeline = Timeline(conversation_id)
        self.status: str | None = None
        self.case: Case | None = None
        self.wait: Wait | None = None
        self.cut_wait: Wait | None = None  # ended unanswered by a resolution, within grace
        self.pause_start: float | None = None

    def event(self, row: EventRow) -> None:
        status = _STATUS_OF.get(row.kind)
        if status is None:
            return
        previous = self.status
        if previous == status:
            return
        self.cut_wait = None
        if previous in PAUSED and status not in PAUSED:
            assert self.pause_start is not None
            self.timeline.pauses.append((self.pause_start, row.at))
            self.pause_start = None
        if status in PAUSED and previous not in PAUSED:
            self.pause_start = row.at
        if status == "resolved":
            self._resolve(row.at)
        elif previous in (None, "resolved"):
            self._start_case(row.at)
        self.status = status

    def message(self, row: MessageRow) -> None:
        if self.status == "resolved" and not row.inbound:
            self._late_reply(row.at)  # otherwise a follow-up: it reopens nothing
            return
        if self.case is None or self.status == "resolved":
            self._start_case(row.at)
            self.status = "open"
        self.cut_wait = None
        case = self.case
        assert case is not None
        if row.inbound:
            if case.first_customer_at is None:
                case.first_customer_at = row.at
            if self.wait is None:
                self.wait = Wait(row.at)
                self.timeline.waits.append(self.wait)
                if case.first_wait is None:
                    case.first_wait = self.wait
            return
        case.human_replies += 1
        if case.first_reply_at is None:
            case.first_reply_at = row.at
        if self.wait is not None:
            self.wait.end = row.at
            self.wait = None

    def _late_reply(self, at: float) -> None:
        """A human reply just after a resolution belongs to the resolved case."""
        case = self.case
        if case is None or case.end is None or at - case.end > RESOLVE_GRACE:
            return
        case.human_replies += 1
        if case.first_reply_at is None:
            case.first_reply_at = at
        if self.cut_wait is not None:
            self.cut_wait.end = at
            self.cut_wait = None

    def _start_case(self, at: float) -> None:
        if self.case is not None and self.case.end is not None:
            self.case.reopened_at = at
        self.case = Case(start=at)
        self.timeline.cases.append(self.case)

    def _resolve(self, at: float) -> None:
        if self.case is None:
            self._start_case(at)
        assert self.case is not None
        self.case.end = at
        if self.wait is not None:
            self.wait.cut = at
        self.cut_wait, self.wait = self.wait, None

    def finish(self) -> Timeline:
        if self.pause_start is not None:
            self.timeline.pauses.append((self.pause_start, None))
        return self.timeline


def walk(
    conversation_id: int, messages: Iterable[MessageRow], events: Iterable[EventRow]
) -> Timeline:
    """The timeline of one conversation; ``messages`` and ``events`` each in time order."""
    items: list[tuple[float, int, int, MessageRow | EventRow]] = []
    for index, message in enumerate(messages):
        items.append((message.at, _RANK_MESSAGE, index, message))
    for index, event in enumerate(events):
        rank = _RANK_LAST if _STATUS_OF.get(event.kind) in ("resolved", *PAUSED) else _RANK_FIRST
        items.append((event.at, rank, index, event))
    items.sort(key=lambda item: item[:3])
    walker = _Walker(conversation_id)
    for _, _, _, item in items:
        if isinstance(item, MessageRow):
            walker.message(item)
        else:
            walker.event(item)
    return walker.finish()
