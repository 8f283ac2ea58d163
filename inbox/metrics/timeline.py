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

from collections.abc import Sequence
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
_CLOSING = frozenset({"resolved", *PAUSED})


@dataclass(slots=True)
class Wait:
    """``end``: the human reply; ``cut``: the resolution that ended it unanswered."""

    start: float
    end: float | None = None
    cut: float | None = None


@dataclass(slots=True)
class Case:
    start: float
    end: float | None = None
    first_reply_at: float | None = None
    first_wait: Wait | None = None
    human_replies: int = 0
    reopened_at: float | None = None


@dataclass(slots=True)
class Timeline:
    conversation_id: int
    cases: list[Case] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)


# One item of a conversation's history, ``(at, rank, what)``: ``what`` is True for a
# customer message, False for a human reply, or a status event's kind. Plain tuples, because
# a report builds hundreds of thousands of them.
Item = tuple[float, int, "bool | str"]


def message_item(at: float, inbound: bool) -> Item:
    return (at, _RANK_MESSAGE, inbound)


def event_item(at: float, kind: str) -> Item:
    return (at, _RANK_LAST if _STATUS_OF.get(kind) in _CLOSING else _RANK_FIRST, kind)


class _Walker:
    def __init__(self, conversation_id: int) -> None:
        self.timeline = Timeline(conversation_id)
        self.status: str | None = None
        self.case: Case | None = None
        self.wait: Wait | None = None
        self.cut_wait: Wait | None = None  # ended unanswered by a resolution, within grace
        self.pause_start: float | None = None

    def event(self, at: float, kind: str) -> None:
        status = _STATUS_OF.get(kind)
        if status is None:
            return
        previous = self.status
        if previous == status:
            return
        self.cut_wait = None
        if previous in PAUSED and status not in PAUSED:
            assert self.pause_start is not None
            self.timeline.pauses.append((self.pause_start, at))
            self.pause_start = None
        if status in PAUSED and previous not in PAUSED:
            self.pause_start = at
        if status == "resolved":
            self._resolve(at)
        elif previous in (None, "resolved"):
            self._start_case(at)
        self.status = status

    def message(self, at: float, inbound: bool) -> None:
        if self.status == "resolved" and not inbound:
            self._late_reply(at)  # otherwise a follow-up: it reopens nothing
            return
        if self.case is None or self.status == "resolved":
            self._start_case(at)
            self.status = "open"
        self.cut_wait = None
        case = self.case
        assert case is not None
        if inbound:
            if self.wait is None:
                self.wait = Wait(at)
                self.timeline.waits.append(self.wait)
                if case.first_wait is None:
                    case.first_wait = self.wait
            return
        case.human_replies += 1
        if case.first_reply_at is None:
            case.first_reply_at = at
        if self.wait is not None:
            self.wait.end = at
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


def walk(conversation_id: int, messages: list[Item], events: Sequence[Item]) -> Timeline:
    """The timeline of one conversation from its messages and its status events, each list
    in time order (ties in the order they were recorded)."""
    items = messages
    if events:
        items = [*messages, *events]
        items.sort(key=_instant_and_rank)  # stable: ties keep the recorded order
    walker = _Walker(conversation_id)
    for at, rank, what in items:
        if rank == _RANK_MESSAGE:
            walker.message(at, bool(what))
        else:
            walker.event(at, str(what))
    return walker.finish()


def _instant_and_rank(item: Item) -> tuple[float, int]:
    return item[0], item[1]
