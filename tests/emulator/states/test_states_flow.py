"""Every state type, history, transition counting, variables and construction checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from states_support import (
    FN,
    LAMBDA_INVOKE,
    MACHINE_ARN,
    ROLE_ARN,
    FakeDispatcher,
    flaky,
    machine,
    run,
    single,
    task,
    types,
)

from emulator.states import ExecutionResult, StateMachineInterpreter


def chain(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """States run in order: each gets Next to the following one, the last End."""
    built: dict[str, Any] = {}
    for position, (name, state) in enumerate(states):
        step = dict(state)
        if step["Type"] not in ("Choice", "Succeed", "Fail"):
            step.pop("End", None)
            if position + 1 < len(states):
                step["Next"] = states[position + 1][0]
            else:
                step["End"] = True
        built[name] = step
    return {"StartAt": states[0][0], "States": built}


# -- Pass, Task, Succeed, Fail ---------------------------------------------------------


def test_pass_result_parameters_and_result_path() -> None:
    definition = chain(
        ("Params", {"Type": "Pass", "Parameters": {"greeting.$": "$.name", "k": 1}}),
        ("Result", {"Type": "Pass", "Result": {"fixed": True}, "ResultPath": "$.extra"}),
        ("Plain", {"Type": "Pass"}),
    )
    result = run(definition, {"name": "Ada"})
    assert result.output == {"greeting": "Ada", "k": 1, "extra": {"fixed": True}}


def test_task_calls_dispatcher_with_context_and_role() -> None:
    dispatcher = FakeDispatcher().on(f"{FN}double", lambda p: p["x"] * 2)
    state = task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": f"{FN}double", "Payload": {"x.$": "$.x"}},
        ResultSelector={"value.$": "$.Payload"},
    )
    result = run(single(state, "Double"), {"x": 21}, dispatcher)
    assert result.output == {"value": 42}
    call = dispatcher.calls[0]
    assert call.role_arn == ROLE_ARN
    assert call.context.state_name == "Double"
    assert call.context.execution_name == "exec-1"
    assert call.context.execution_arn == result.execution_arn
    assert call.context.state_machine_arn == MACHINE_ARN
    assert call.context.workflow_type == "STANDARD"
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert [event.id for event in result.history] == list(range(1, 8))


def test_bare_lambda_arn_and_credentials_role() -> None:
    arn = f"{FN}echo"
    dispatcher = FakeDispatcher().on(arn, lambda params: {"got": params})
    state = task(arn, Credentials={"RoleArn.$": "$.role"})
    result = run(single(state), {"role": "arn:aws:iam::222222222222:role/x"}, dispatcher)
    assert result.output == {"got": {"role": "arn:aws:iam::222222222222:role/x"}}
    assert dispatcher.calls[0].role_arn == "arn:aws:iam::222222222222:role/x"


def test_resource_suffix_is_passed_through_and_gets_a_task_token() -> None:
    resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    dispatcher = FakeDispatcher().on(resource, lambda params: params)
    state = task(resource, Parameters={"token.$": "$$.Task.Token"})
    result = run(single(state), {}, dispatcher)
    assert dispatcher.calls[0].resource == resource
    assert len(result.output["token"]) == 32


def test_succeed_applies_input_and_output_path() -> None:
    state = {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}
    assert run(single(state), {"a": {"b": 7}}).output == 7


def test_fail_with_error_and_cause() -> None:
    result = run(single({"Type": "Fail", "Error": "Custom.Error", "Cause": "because"}))
    assert (result.status, result.error, result.cause) == ("FAILED", "Custom.Error", "because")
    assert result.output is None
    assert types(result)[-2:] == ["FailStateEntered", "ExecutionFailed"]


def test_fail_with_error_path_and_intrinsic_cause_path() -> None:
    state = {
        "Type": "Fail",
        "ErrorPath": "$.code",
        "CausePath": "States.Format('order {} failed', $.id)",
    }
    result = run(single(state), {"code": "Order.Bad", "id": 7})
    assert (result.error, result.cause) == ("Order.Bad", "order 7 failed")


def test_fail_without_error_or_cause() -> None:
    result = run(single({"Type": "Fail"}))
    assert (result.status, result.error, result.cause) == ("FAILED", None, None)


# -- Wait ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "payload", "seconds"),
    [
        ({"Seconds": 10}, {}, 10),
        ({"SecondsPath": "$.delay"}, {"delay": 90}, 90),
        ({"Timestamp": "2000-01-01T00:00:00Z"}, {}, 0),
        ({"TimestampPath": "$.when"}, {"when": "1999-12-31T23:59:59.5Z"}, 0),
    ],
)
def test_wait_adds_virtual_time(state: dict[str, Any], payload: Any, seconds: float) -> None:
    result = run(single({"Type": "Wait", "End": True, **state}), payload)
    assert result.status == "SUCCEEDED"
    assert result.virtual_seconds == seconds
    assert result.output == payload


def test_wait_until_a_future_timestamp() -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run(single({"Type": "Wait", "TimestampPath": "$.t", "End": True}), {"t": soon})
    assert 3500 < result.virtual_seconds <= 3600
    far = run(single({"Type": "Wait", "Timestamp": "2999-01-01T00:00:00Z", "End": True}))
    assert far.status == "TIMED_OUT"  # Standard executions last at most a year


@pytest.mark.parametrize("payload", [{"delay": -1}, {"delay": "10"}, {"delay": 1.5}])
def test_wait_seconds_path_must_be_a_non_negative_integer(payload: Any) -> None:
    result = run(single({"Type": "Wait", "SecondsPath": "$.delay", "End": True}), payload)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_wait_past_top_level_timeout_times_out() -> None:
    definition = {"TimeoutSeconds": 60, **single({"Type": "Wait", "Seconds": 61, "End": True})}
    result = run(definition)
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert result.virtual_seconds == 60
    assert types(result)[-1] == "ExecutionTimedOut"


def test_express_workflows_time_out_after_five_minutes() -> None:
    definition = single({"Type": "Wait", "Seconds": 301, "End": True})
    assert run(definition, workflow_type="EXPRESS").status == "TIMED_OUT"
    assert run(definition).status == "SUCCEEDED"


# -- Parallel and inline Map -----------------------------------------------------------


def _branch(name: str, seconds: int) -> dict[str, Any]:
    return chain(
        (f"{name}Wait", {"Type": "Wait", "Seconds": seconds}),
        (f"{name}Pass", {"Type": "Pass", "Parameters": {"branch": name, "in.$": "$.v"}}),
    )


def test_parallel_runs_branches_and_takes_the_longest_time() -> None:
    state = {
        "Type": "Parallel",
        "Branches": [_branch("A", 5), _branch("B", 30)],
        "ResultSelector": {"first.$": "$[0]", "second.$": "$[1].branch"},
        "End": True,
    }
    result = run(single(state, "Fork"), {"v": 1})
    assert result.output == {"first": {"branch": "A", "in": 1}, "second": "B"}
    assert result.virtual_seconds == 30
    assert result.state_transitions == 1 + 1 + 4
    assert "ParallelStateSucceeded" in types(result)


def test_parallel_branch_failure_fails_the_parallel_state_and_is_catchable() -> None:
    failing = single({"Type": "Fail", "Error": "Branch.Failed", "Cause": "no"}, "Boom")
    definition = {
        "StartAt": "Fork",
        "States": {
            "Fork": {
                "Type": "Parallel",
                "Branches": [_branch("A", 1), failing],
                "Catch": [
                    {"ErrorEquals": ["Branch.Failed"], "ResultPath": "$.err", "Next": "Done"}
                ],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = run(definition, {"v": 1})
    assert result.output == {"v": 1, "err": {"Error": "Branch.Failed", "Cause": "no"}}
    assert "ParallelStateFailed" in types(result)


def test_inline_map_with_items_path_item_selector_and_concurrency() -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.orders",
        "ItemSelector": {
            "index.$": "$$.Map.Item.Index",
            "order.$": "$$.Map.Item.Value",
            "customer.$": "$.customer",
        },
        "MaxConcurrency": 2,
        "ItemProcessor": chain(
            ("Delay", {"Type": "Wait", "Seconds": 10}),
            ("Shape", {"Type": "Pass", "Parameters": {"i.$": "$.index", "c.$": "$.customer"}}),
        ),
        "ResultPath": "$.results",
        "End": True,
    }
    result = run(single(state, "Each"), {"orders": ["a", "b", "c"], "customer": "ada"})
    assert result.output["results"] == [
        {"i": 0, "c": "ada"},
        {"i": 1, "c": "ada"},
        {"i": 2, "c": "ada"},
    ]
    assert result.virtual_seconds == 20  # three 10 s iterations on two slots
    assert result.state_transitions == 1 + 1 + 3 * 2
    assert types(result).count("MapIterationSucceeded") == 3


def test_inline_map_legacy_iterator_and_parameters() -> None:
    state = {
        "Type": "Map",
        "Parameters": {"v.$": "$$.Map.Item.Value"},
        "Iterator": single({"Type": "Pass", "End": True}, "Inner"),
        "End": True,
    }
    assert run(single(state), [1, 2]).output == [{"v": 1}, {"v": 2}]


def test_inline_map_needs_an_array() -> None:
    state = {
        "Type": "Map",
        "ItemProcessor": single({"Type": "Pass", "End": True}, "I"),
        "End": True,
    }
    result = run(single(state), {"not": "an array"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_inline_map_iteration_failure_fails_the_map() -> None:
    processor = single({"Type": "Fail", "Error": "Item.Bad"}, "Bad")
    state = {"Type": "Map", "ItemProcessor": processor, "End": True}
    result = run(single(state), [1])
    assert (result.status, result.error) == ("FAILED", "Item.Bad")
    assert {"MapIterationFailed", "MapStateFailed"} <= set(types(result))


# -- transitions, variables, Express ---------------------------------------------------


def test_state_transition_counting_for_a_known_workflow() -> None:
    dispatcher = FakeDispatcher().on(f"{FN}work", flaky(1, "Lambda.ServiceException", {"ok": 1}))
    definition = chain(
        ("Start", {"Type": "Pass"}),
        (
            "Work",
            task(
                LAMBDA_INVOKE,
                Parameters={"FunctionName": f"{FN}work"},
                Retry=[{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 3}],
            ),
        ),
        (
            "Check",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.Payload.ok", "NumericEquals": 1, "Next": "Done"}],
            },
        ),
        ("Done", {"Type": "Succeed"}),
    )
    result = run(definition, {}, dispatcher)
    assert result.status == "SUCCEEDED"
    # start + Start + Work + 1 retry + Check + Done
    assert result.state_transitions == 6
    assert result.virtual_seconds == 3


def test_assign_variables_in_jsonpath() -> None:
    definition = chain(
        ("Remember", {"Type": "Pass", "Assign": {"orderId.$": "$.id", "fixed": {"a": 1}}}),
        ("Use", {"Type": "Pass", "Parameters": {"id.$": "$orderId", "a.$": "$fixed.a"}}),
    )
    assert run(definition, {"id": "o-1"}).output == {"id": "o-1", "a": 1}


def test_express_records_workflow_type_and_arn() -> None:
    dispatcher = FakeDispatcher()
    result = run(single(task()), {}, dispatcher, workflow_type="EXPRESS")
    assert ":express:" in result.execution_arn
    assert dispatcher.calls[0].context.workflow_type == "EXPRESS"
    assert result.history[0].detail["workflowType"] == "EXPRESS"


def test_definition_may_be_a_json_string() -> None:
    interpreter = StateMachineInterpreter(
        json.dumps(single({"Type": "Pass", "Result": 1, "End": True})),
        dispatcher=FakeDispatcher(),
        role_arn=ROLE_ARN,
        state_machine_arn=MACHINE_ARN,
    )
    result: ExecutionResult = interpreter.execute({}, "n")
    assert (result.output, result.name, result.children) == (1, "n", [])


def test_input_is_copied_and_result_shape() -> None:
    payload = {"a": [1]}
    result = run(single({"Type": "Pass", "Result": 2, "ResultPath": "$.a", "End": True}), payload)
    assert payload == {"a": [1]}
    assert result.input == {"a": [1]}
    assert result.output == {"a": 2}


# -- construction-time validation ------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": True}}}, "'A'.*Teleport"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "'A'.*Next or End"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}, "'A'.*'B'"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}, "Extra": 1}, "Extra"),
        ({"StartAt": "Z", "States": {"A": {"Type": "Pass", "End": True}}}, "StartAt"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Bogus": 1}}},
            "'A'.*Bogus",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}, "'A'"),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Succeed"}},
            },
            "'B'.*unreachable",
        ),
        (
            single({"Type": "Pass", "ResultPath": "$.a[*]", "End": True}, "R"),
            "'R'.*reference path",
        ),
        (
            single(task(Retry=[{"ErrorEquals": ["States.ALL", "X"]}]), "T"),
            "'T'.*States.ALL",
        ),
        (
            {
                "StartAt": "P",
                "States": {
                    "P": {
                        "Type": "Parallel",
                        "Branches": [single({"Type": "Pass", "End": True}, "Dup")],
                        "Next": "Dup",
                    },
                    "Dup": {"Type": "Succeed"},
                },
            },
            "'Dup'.*unique",
        ),
        (single({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}, "W"), "'W'"),
    ],
)
def test_invalid_definitions(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        machine(definition)


def test_express_rejects_sync_integrations() -> None:
    definition = single(task("arn:aws:states:::states:startExecution.sync"), "Nested")
    with pytest.raises(ValueError, match=r"'Nested'.*Express"):
        machine(definition, workflow_type="EXPRESS")
    machine(definition)  # fine for Standard


def test_jsonata_needs_the_optional_package() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        **single({"Type": "Pass", "Output": "{% $states.input.a %}", "End": True}),
    }
    try:
        import jsonata  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        with pytest.raises(NotImplementedError, match="jsonata-python"):
            machine(definition)
    else:
        assert run(definition, {"a": 5}).output == 5
