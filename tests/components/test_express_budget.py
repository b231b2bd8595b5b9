"""Express workflows fit their 5 minutes, retries included, checked when a component is built.

The worst case is computed from the definitions the components register (under mocks) and
the timeouts of the functions they register, not from constants restated here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import pytest
from pulumi_harness import PulumiHarness, Stack

from components.asl import dead_letter_task, lambda_retry
from components.consolidation_consumer import ConsolidationConsumer, ConsolidationConsumerArgs
from components.express_budget import (
    backoff_seconds,
    check_express_budget,
    express_scopes,
    path_worst_case_seconds,
    retry_worst_case_seconds,
)
from components.late_data_reconciler import LateDataReconciler, LateDataReconcilerArgs
from components.validation_pipeline import ValidationPipeline, ValidationPipelineArgs
from orderflow.aws_facts import STEP_FUNCTIONS_EXPRESS_MAX_SECONDS

LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
CONSUMER_REQUIRED = {
    "cluster_arn": "arn:aws:kafka:us-east-1:123456789012:cluster/orders/abcd-1234",
    "subnet_ids": ["subnet-1"],
    "security_group_ids": ["sg-1"],
    "consolidated_data_prefixes": ["s3://consolidated/chargebacks/"],
}
FN = "aws:lambda/function:Function"
SM = "aws:sfn/stateMachine:StateMachine"
LIMIT = float(STEP_FUNCTIONS_EXPRESS_MAX_SECONDS.value)

Build = Callable[[dict[str, Any]], object]
BUILDERS: dict[str, Build] = {
    "validation": lambda args: ValidationPipeline(
        "vp", cast(ValidationPipelineArgs, {"powertools_layer_arn": LAYER, **args})
    ),
    "consolidation": lambda args: ConsolidationConsumer(
        "cc",
        cast(
            ConsolidationConsumerArgs,
            {"powertools_layer_arn": LAYER, **CONSUMER_REQUIRED, **args},
        ),
    ),
    "late-data": lambda args: LateDataReconciler(
        "ld", cast(LateDataReconcilerArgs, {"powertools_layer_arn": LAYER, **args})
    ),
}


# --- the formula ------------------------------------------------------------------------


def test_a_retrier_waits_interval_times_rate_to_the_n_capped_at_max_delay() -> None:
    assert backoff_seconds({"ErrorEquals": ["X"]}) == 1 + 2 + 4  # AWS's defaults
    assert backoff_seconds({"IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 3.0}) == (
        2 + 6 + 18 + 54
    )
    capped = {"IntervalSeconds": 1, "MaxAttempts": 6, "BackoffRate": 2.0, "MaxDelaySeconds": 10}
    assert backoff_seconds(capped) == 1 + 2 + 4 + 8 + 10 + 10
    assert backoff_seconds({"MaxAttempts": 0}) == 0


def test_each_retrier_counts_its_own_attempts() -> None:
    # lambda_retry(3, transient 6): 1 + 6 + 3 attempts; backoff 1+2+4+8+16+30 and 2+4+8.
    assert retry_worst_case_seconds(60, lambda_retry(3, transient_attempts=6)) == (
        60 * 10 + 61 + 14
    )
    assert retry_worst_case_seconds(5, []) == 5


def test_the_longest_path_follows_catches_after_the_whole_retry_budget() -> None:
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "fn"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "DeadLetter"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "DeadLetter": {
                **dead_letter_task("q", pipeline="p", reason="r", id_path="$.id", source={}),
                "Next": "Failed",
            },
            "Failed": {"Type": "Fail"},
        },
    }
    # Work: 10 s x 2 attempts + 1 s; the dead letter: 5 s x 4 attempts + 1 + 2 + 4.
    assert path_worst_case_seconds(definition, {"fn": 10}) == 21 + 27


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True},
            "cannot be bounded",
        ),
        ({"Type": "Wait", "SecondsPath": "$.s", "End": True}, "computed time"),
        (
            {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            },
            "unknown number of iterations",
        ),
    ],
)
def test_what_cannot_be_bounded_is_refused(state: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_express_budget("x", {"StartAt": "S", "States": {"S": state}}, "EXPRESS", {})


def test_a_loop_cannot_be_bounded() -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
    }
    with pytest.raises(ValueError, match="loop"):
        check_express_budget("x", definition, "EXPRESS", {})


# --- every shipped workflow ---------------------------------------------------------------


def _function_timeouts(stack: Stack) -> dict[str, float]:
    return {fn.state["arn"]: float(fn.inputs["timeout"]) for fn in stack.of_type(FN)}


@pytest.mark.parametrize(
    ("component", "machine", "scopes"),
    [
        ("validation", "vp-workflow", 3),  # one Express child per file format
        ("consolidation", "cc-fanout", 3),  # one Express child per row format
        ("late-data", "ld-workflow", 1),  # the workflow itself
    ],
)
def test_every_shipped_express_execution_fits_its_limit(
    pulumi_harness: PulumiHarness, component: str, machine: str, scopes: int
) -> None:
    stack = pulumi_harness.run(lambda: BUILDERS[component]({}))
    recorded = stack.one(SM, machine)
    definition = json.loads(recorded.inputs["definition"])
    found = express_scopes(definition, recorded.inputs["type"], _function_timeouts(stack))
    assert len(found) == scopes
    for scope in found:
        assert 0 < scope.worst_case_seconds <= scope.limit_seconds == LIMIT, scope


def _express_lambda_tasks(
    scope: dict[str, Any], express: bool, timeouts: dict[str, float]
) -> list[tuple[dict[str, Any], float]]:
    """(task, its function's timeout) for every Lambda task that runs as Express."""
    found: list[tuple[dict[str, Any], float]] = []
    for state in scope["States"].values():
        function = state.get("Parameters", {}).get("FunctionName")
        if express and state["Type"] == "Task" and function in timeouts:
            found.append((state, timeouts[function]))
        processor = state.get("ItemProcessor")
        if processor is not None:
            child = processor["ProcessorConfig"].get("ExecutionType") == "EXPRESS"
            found += _express_lambda_tasks(processor, express or child, timeouts)
    return found


@pytest.mark.parametrize(
    ("component", "machine", "tasks"),
    [
        ("validation", "vp-workflow", 3),
        ("consolidation", "cc-fanout", 3),
        ("late-data", "ld-workflow", 3),
    ],
)
def test_every_express_lambda_task_is_bounded_by_its_functions_timeout(
    pulumi_harness: PulumiHarness, component: str, machine: str, tasks: int
) -> None:
    """TimeoutSeconds of each task equals its function's timeout: the budget is the code's."""
    stack = pulumi_harness.run(lambda: BUILDERS[component]({}))
    recorded = stack.one(SM, machine)
    found = _express_lambda_tasks(
        json.loads(recorded.inputs["definition"]),
        recorded.inputs["type"] == "EXPRESS",
        _function_timeouts(stack),
    )
    assert len(found) == tasks
    for task, timeout in found:
        assert task["TimeoutSeconds"] == timeout


# --- settings that cannot fit are refused at construction ---------------------------------


@pytest.mark.parametrize(
    ("component", "args", "where"),
    [
        ("validation", {"batch_timeout_seconds": 120}, "Validate_json_array children"),
        ("validation", {"batch_retry_attempts": 6}, "children"),
        ("consolidation", {"update_timeout_seconds": 300}, "UpdateRows_csv children"),
        ("late-data", {"sweep_timeout_seconds": 300}, "the workflow"),
        ("late-data", {"retry_attempts": 5}, "the workflow"),
    ],
)
def test_a_setting_that_cannot_fit_express_is_refused_before_anything_exists(
    pulumi_harness: PulumiHarness, component: str, args: dict[str, Any], where: str
) -> None:
    raised: list[ValueError] = []

    def program() -> None:
        with pytest.raises(ValueError, match="Express") as info:
            BUILDERS[component](args)
        raised.append(info.value)

    assert list(pulumi_harness.run(program)) == []
    assert raised
    message = str(raised[0])
    assert where in message
    assert f"{LIMIT:g} s" in message


def test_a_standard_late_data_workflow_may_run_longer(pulumi_harness: PulumiHarness) -> None:
    stack = pulumi_harness.run(
        lambda: BUILDERS["late-data"]({"workflow_type": "STANDARD", "sweep_timeout_seconds": 300})
    )
    assert stack.one(FN, "ld-sweep").inputs["timeout"] == 300
    assert stack.one(SM, "ld-workflow").inputs["type"] == "STANDARD"


@pytest.mark.parametrize(
    ("component", "args", "message"),
    [
        ("validation", {"batch_timeout_seconds": 0}, "batch_timeout_seconds"),
        ("consolidation", {"update_timeout_seconds": 901}, "update_timeout_seconds"),
        ("late-data", {"retry_attempts": -1}, "retry_attempts"),
    ],
)
def test_timeouts_and_retries_outside_lambdas_range_are_refused(
    pulumi_harness: PulumiHarness, component: str, args: dict[str, Any], message: str
) -> None:
    def program() -> None:
        with pytest.raises(ValueError, match=message):
            BUILDERS[component](args)

    assert list(pulumi_harness.run(program)) == []


# --- the sweep's failure path ----------------------------------------------------------------


def test_a_failed_sweep_is_dead_lettered_and_fails_the_execution(
    pulumi_harness: PulumiHarness,
) -> None:
    stack = pulumi_harness.run(lambda: BUILDERS["late-data"]({}))
    states = json.loads(stack.one(SM, "ld-workflow").inputs["definition"])["States"]
    catch = states["Sweep"]["Catch"]
    assert [c["ErrorEquals"] for c in catch] == [["States.ALL"]]
    letter = states[catch[0]["Next"]]
    assert letter["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert letter["Parameters"]["QueueUrl"] == stack.output_of(
        "aws:sqs/queue:Queue", "ld-dlq", "url"
    )
    assert letter["Parameters"]["MessageBody"]["reason"] == "sweep_failed"
    assert states[letter["Next"]]["Type"] == "Fail"
