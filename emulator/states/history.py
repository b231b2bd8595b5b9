"""Execution history: AWS-named events so tests and the console can replay what happened.

Event types follow GetExecutionHistory (`ExecutionStarted`, `TaskStateEntered`,
`TaskScheduled`, `MapRunStarted`, ...). Inner states of Parallel branches and inline
Map iterations are recorded in the same history, as AWS does; Distributed Map children
have their own histories (`ExecutionResult.children`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class HistoryEvent:
    """One event; `detail` holds what the AWS event's `...EventDetails` would."""

    id: int
    type: str
    state: str | None
    detail: dict[str, Any]


class HistoryLimitReached(Exception):
    """A Standard execution's history is full: AWS fails the execution (no Catch applies)."""


@dataclass
class HistoryRecorder:
    """Appends events with consecutive ids starting at 1, like AWS.

    With a `limit` (Standard workflows: 25,000), the event that would go over it raises
    HistoryLimitReached instead of being recorded; `add(..., final=True)` records the
    execution's closing event regardless.
    """

    events: list[HistoryEvent] = field(default_factory=list)
    limit: int | None = None

    def add(
        self, type_: str, state: str | None = None, *, final: bool = False, **detail: Any
    ) -> HistoryEvent:
        if self.limit is not None and not final and len(self.events) >= self.limit - 1:
            raise HistoryLimitReached(
                f"The execution history reached the limit of {self.limit:,} events"
            )
        event = HistoryEvent(id=len(self.events) + 1, type=type_, state=state, detail=detail)
        self.events.append(event)
        return event


def entered(state_type: str) -> str:
    """`TaskStateEntered`, `MapStateEntered`, ..."""
    return f"{state_type}StateEntered"


def exited(state_type: str) -> str:
    """`TaskStateExited`, `MapStateExited`, ..."""
    return f"{state_type}StateExited"
