"""The public data types other emulator modules code against (re-exported by the package)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from emulator.states.history import HistoryEvent


@dataclass(frozen=True)
class TaskContext:
    """Who is calling: lets a dispatcher enforce IAM and attribute billable operations."""

    execution_arn: str
    execution_name: str
    state_machine_arn: str
    state_name: str
    role_arn: str
    workflow_type: str
    spend: Callable[[float], None] = field(default=lambda seconds: None, compare=False, repr=False)
    """Report how long the call took (a Lambda's duration, a timeout's full length): the
    interpreter advances the execution's virtual clock by it, checks the state's
    TimeoutSeconds and the execution's limit (Express: 5 minutes, retries included)."""


class TaskDispatcher(Protocol):
    """Performs every service call a workflow makes.

    `resource` is the Task's Resource exactly as written (suffixes such as `.sync` are left
    for the dispatcher to interpret); `parameters` is the evaluated Parameters/Arguments.
    Return the raw service result, or raise `TaskError(error, cause)`. Distributed Map
    ItemReaders call `invoke("arn:aws:states:::s3:getObject", {"Bucket", "Key",
    "VersionId"?}, ...)` and expect the object body as `str` (bytes are accepted too, and
    a list is taken as already-decoded rows, the way to feed a PARQUET reader); a
    `s3:listObjectsV2` reader expects `{"Contents": [...]}` (or the list itself).
    """

    def invoke(
        self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext
    ) -> Any: ...


@dataclass
class ExecutionResult:
    """One finished execution (a Distributed Map child is one too, listed in `children`).

    `status` is SUCCEEDED, FAILED or TIMED_OUT. `state_transitions` is the billable
    Standard-workflow count (see `StateMachineInterpreter`); `virtual_seconds` is how long
    Wait states and retry back-off would have taken, never actually slept.
    """

    name: str
    execution_arn: str
    status: str
    input: Any
    output: Any
    error: str | None
    cause: str | None
    history: list[HistoryEvent]
    state_transitions: int
    children: list[ExecutionResult]
    virtual_seconds: float
