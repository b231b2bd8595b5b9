"""Errors as Step Functions names them, and the rules for which Retry/Catch sees which.

Everything that can fail a state travels as a `TaskError(error, cause)`, whether a service
raised it through the dispatcher or the interpreter did, because ASL matches Retry and
Catch on the error *name* only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

ALL: Final = "States.ALL"
TASK_FAILED: Final = "States.TaskFailed"
TIMEOUT: Final = "States.Timeout"
RUNTIME: Final = "States.Runtime"
DATA_LIMIT_EXCEEDED: Final = "States.DataLimitExceeded"
ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
EXCEED_TOLERATED_FAILURE_THRESHOLD: Final = "States.ExceedToleratedFailureThreshold"
NO_CHOICE_MATCHED: Final = "States.NoChoiceMatched"
RESULT_PATH_MATCH_FAILURE: Final = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE: Final = "States.ParameterPathFailure"
INTRINSIC_FAILURE: Final = "States.IntrinsicFailure"
QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"

# AWS: "A States.Runtime error isn't retriable, and will always cause the execution to fail."
NEVER_CAUGHT: Final = frozenset({RUNTIME})
# AWS: States.ALL (and so States.TaskFailed) "can't catch the States.DataLimitExceeded
# terminal error type and runtime error types"; naming it explicitly still works here.
NOT_MATCHED_BY_WILDCARDS: Final = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class TaskError(Exception):
    """A named failure: raised by a dispatcher for a service error, or by the interpreter."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def as_output(self) -> dict[str, str]:
        """The error output a Catch places at its ResultPath."""
        return {"Error": self.error, "Cause": self.cause}


class ExecutionTimedOut(Exception):
    """The execution ran past its TimeoutSeconds (or Express's 5 minutes) in virtual time.

    Not a TaskError on purpose: no Retry or Catch can intercept an execution timeout.
    """

    def __init__(self, limit_seconds: float) -> None:
        super().__init__(f"the execution exceeded its timeout of {limit_seconds:g} seconds")
        self.limit_seconds = limit_seconds


def error_matches(error_equals: Sequence[str], error: str) -> bool:
    """Whether a retrier's or catcher's ErrorEquals list covers `error`.

    States.TaskFailed is the wildcard AWS documents as "any known error name except
    States.Timeout"; States.ALL matches everything; neither matches the terminal
    States.Runtime / States.DataLimitExceeded, and nothing matches States.Runtime.
    """
    if error in NEVER_CAUGHT:
        return False
    if error in error_equals:
        return True
    if error in NOT_MATCHED_BY_WILDCARDS:
        return False
    if ALL in error_equals:
        return True
    return TASK_FAILED in error_equals and error != TIMEOUT
