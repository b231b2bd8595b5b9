"""Express executions end after 5 minutes, every task attempt and backoff included.

The dispatcher reports how long each attempt took (`TaskContext.spend`, as the emulator's
Lambda integration does with a function's duration); the interpreter counts it on the
execution's virtual clock, applies the state's TimeoutSeconds, and times the execution
out as AWS does. The shipped workflows' worst cases are then run, not just computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from states_support import FN, LAMBDA_INVOKE, SQS_SEND, Call, FakeDispatcher, machine, single

from components.express_budget import path_worst_case_seconds
from components.reconciliation_workflow import reconciliation_definition
from emulator.states import TaskContext, TaskError

SLOW = f"{FN}slow"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters"


@dataclass
class TimingOut(FakeDispatcher):
    """Every Lambda attempt runs for `seconds[function]` and fails as a Lambda timeout."""

    seconds: dict[str, float] | None = None

    def invoke(self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext) -> Any:
        if resource != LAMBDA_INVOKE:
            return super().invoke(resource, parameters, role_arn=role_arn, context=context)
        self.calls.append(Call(resource, parameters, role_arn, context))
        function = parameters["FunctionName"]
        context.spend((self.seconds or {}).get(function, 0.0))
        raise TaskError("Sandbox.Timedout", "Task timed out")


def slow_task(timeout: int, attempts: int) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": SLOW, "Payload.$": "$"},
        "TimeoutSeconds": timeout,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": attempts}],
        "End": True,
    }


def test_retries_past_five_minutes_time_the_express_execution_out() -> None:
    # 60 s x (1 + 5) attempts + backoff: the sixth attempt would end past 300 s.
    dispatcher = TimingOut(seconds={SLOW: 60})
    result = machine(single(slow_task(60, 5)), dispatcher, workflow_type="EXPRESS").execute(
        {}, "slow"
    )
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert result.virtual_seconds == 300
    assert len(dispatcher.calls_to(SLOW)) == 5  # 60 + 1 + 60 + 2 + 60 + 4 + 60 + 8 + 60 > 300
    assert [e.type for e in result.history][-1] == "ExecutionTimedOut"


def test_the_same_retries_run_to_their_end_in_a_standard_execution() -> None:
    dispatcher = TimingOut(seconds={SLOW: 60})
    result = machine(single(slow_task(60, 5)), dispatcher).execute({}, "slow")
    assert (result.status, result.error) == ("FAILED", "Sandbox.Timedout")
    assert len(dispatcher.calls_to(SLOW)) == 6
    assert result.virtual_seconds == 6 * 60 + 1 + 2 + 4 + 8 + 16


def test_an_attempt_longer_than_timeout_seconds_fails_with_states_timeout() -> None:
    state = {
        **slow_task(10, 0),
        "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
        "Next": "TimedOut",
    }
    state.pop("End")
    definition = {
        "StartAt": "Slow",
        "States": {"Slow": state, "TimedOut": {"Type": "Pass", "End": True}},
    }
    result = machine(definition, TimingOut(seconds={SLOW: 100}), workflow_type="EXPRESS").execute(
        {}, "t"
    )
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "States.Timeout"
    assert result.virtual_seconds == 10


def _reconciliation() -> dict[str, Any]:
    return reconciliation_definition(
        flag_arn=f"{FN}flag",
        reconcile_arn=f"{FN}reconcile",
        sweep_arn=f"{FN}sweep",
        dead_letter_queue_url=QUEUE_URL,
    )


def _full_timeouts(definition: dict[str, Any]) -> dict[str, float]:
    return {
        state["Parameters"]["FunctionName"]: float(state["TimeoutSeconds"])
        for state in definition["States"].values()
        if state.get("Resource") == LAMBDA_INVOKE
    }


def test_a_sweep_that_always_times_out_is_dead_lettered_within_five_minutes() -> None:
    definition = _reconciliation()
    timeouts = _full_timeouts(definition)
    dispatcher = TimingOut(seconds=timeouts)
    dispatcher.on(SQS_SEND, lambda params: {"MessageId": "m"})
    result = machine(definition, dispatcher, workflow_type="EXPRESS").execute(
        {"mode": "sweep"}, "tick-1"
    )
    assert (result.status, result.error) == ("FAILED", "SweepFailed")
    letter = dispatcher.calls_to(SQS_SEND)[0].parameters["MessageBody"]
    assert letter["reason"] == "sweep_failed"
    assert letter["record"] == {"mode": "sweep"}
    assert letter["error"] == "Sandbox.Timedout"
    assert result.virtual_seconds <= path_worst_case_seconds(definition, timeouts) <= 300


def test_an_event_whose_steps_always_time_out_is_dead_lettered_within_five_minutes() -> None:
    definition = _reconciliation()
    timeouts = _full_timeouts(definition)
    dispatcher = TimingOut(seconds=timeouts)
    dispatcher.on(SQS_SEND, lambda params: {"MessageId": "m"})
    result = machine(definition, dispatcher, workflow_type="EXPRESS").execute(
        {"detail": {"orderId": "A1"}}, "event-1"
    )
    assert (result.status, result.error) == ("FAILED", "FlagFailed")
    assert dispatcher.calls_to(SQS_SEND)[0].parameters["MessageBody"]["reason"] == "flag_failed"
    assert result.virtual_seconds <= 300
