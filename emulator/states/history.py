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


@dataclass
class HistoryRecorder:
    """Appends events with consecutive ids starting at 1, like AWS."""

    events: list[HistoryEvent] = field(default_factory=list)

    def add(self, type_: str, state: str | None = None, **detail: Any) -> HistoryEvent:
        event = HistoryEvent(id=len(self.events) + 1, type=type_, state=state, detail=detail)
        self.events.append(event)
        return event


def entered(state_type: str) -> str:
    """`TaskStateEntered`, `MapStateEntered`, ..."""
    return f"{state_type}StateEntered"


def exited(state_type: str) -> str:
    """`TaskStateExited`, `MapStateExited`, ..."""
    return f"{state_type}StateExited"
