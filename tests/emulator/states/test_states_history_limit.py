"""A Standard execution's history holds at most 25,000 events; the one that would exceed
it fails the execution (no Catch can intercept it). Express workflows keep no such history.
"""

from __future__ import annotations

from typing import Any

from states_support import run

from orderflow.aws_facts import STEP_FUNCTIONS_STANDARD_MAX_HISTORY_EVENTS

LIMIT = STEP_FUNCTIONS_STANDARD_MAX_HISTORY_EVENTS.value


def looping(times: int) -> dict[str, Any]:
    """A Pass/Choice loop: two states, four history events, per turn."""
    return {
        "StartAt": "Count",
        "States": {
            "Count": {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                "Next": "More?",
            },
            "More?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": times, "Next": "Count"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def test_a_standard_execution_fails_when_its_history_would_pass_25000_events() -> None:
    result = run(looping(LIMIT), {"n": 0})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert f"{LIMIT:,} events" in (result.cause or "")
    assert len(result.history) == LIMIT
    assert result.history[-1].type == "ExecutionFailed"


def test_a_long_standard_execution_within_the_limit_succeeds() -> None:
    result = run(looping(1000), {"n": 0})
    assert result.status == "SUCCEEDED"
    assert len(result.history) < LIMIT


def test_express_executions_are_not_held_to_the_standard_history_limit() -> None:
    result = run(looping(LIMIT), {"n": 0}, workflow_type="EXPRESS")
    assert result.status == "SUCCEEDED"
    assert len(result.history) > LIMIT
