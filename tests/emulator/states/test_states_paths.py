"""JSONPath evaluation, ResultPath writes and the InputPath → ... → OutputPath order."""

from __future__ import annotations

import random
from typing import Any

import pytest
from states_support import FakeDispatcher, machine, run, single, task

from emulator.states import TaskError
from emulator.states.paths import PathMissing, PathSyntaxError, parse_path, query, set_at
from emulator.states.payload import Scope, evaluate_template

DOC: dict[str, Any] = {
    "a": {"b": [1, 2, 3], "c": {"d": "x"}},
    "items": [{"n": 1, "ok": True}, {"n": 5, "ok": False}, {"n": 9}],
    "odd key": 1,
    "dash-key": 2,
}


def q(path: str, data: Any = DOC, **variables: Any) -> Any:
    return query(path, data, context={"Execution": {"Name": "e"}}, variables=variables)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.a.c.d", "x"),
        ("$['a']['c']", {"d": "x"}),
        ('$["odd key"]', 1),
        ("$.dash-key", 2),
        ("$.a.b[0]", 1),
        ("$.a.b[-1]", 3),
        ("$.a.b[*]", [1, 2, 3]),
        ("$.a.b[0:2]", [1, 2]),
        ("$.a.b[::2]", [1, 3]),
        ("$.a.b[0,2]", [1, 3]),
        ("$.items[*].n", [1, 5, 9]),
        ("$..d", ["x"]),
        ("$.a.*", [[1, 2, 3], {"d": "x"}]),
        ("$.items[?(@.n > 2)].n", [5, 9]),
        ("$.items[?(@.ok == true)].n", [1]),
        ("$.items[?(@.ok)].n", [1, 5]),
        ("$.items[?(@.n < 2 || @.n == 9)].n", [1, 9]),
        ("$.items[*].missing", []),
    ],
)
def test_query_paths(path: str, expected: Any) -> None:
    assert q(path) == expected


def test_definite_path_that_matches_nothing_raises() -> None:
    with pytest.raises(PathMissing):
        q("$.a.nope")
    with pytest.raises(PathMissing):
        q("$.a.b[7]")


def test_context_and_variable_roots() -> None:
    assert q("$$.Execution.Name") == "e"
    assert q("$order.id", order={"id": 42}) == 42
    with pytest.raises(PathMissing):
        q("$unknown")


@pytest.mark.parametrize("bad", ["a.b", "$.", "$[", "$.a[1:2:0]", "$.a[?(x)]", ""])
def test_syntax_errors(bad: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(bad)


def test_definite_and_reference() -> None:
    assert parse_path("$.a[0].b").is_reference
    assert not parse_path("$.a[*]").definite
    assert not parse_path("$$.Execution").is_reference


def test_set_at_creates_objects_and_copies() -> None:
    original = {"a": {"keep": 1}}
    updated = set_at(original, "$.a.b.c", 5)
    assert updated == {"a": {"keep": 1, "b": {"c": 5}}}
    assert original == {"a": {"keep": 1}}
    assert set_at({"x": [1, 2]}, "$.x[1]", "y") == {"x": [1, "y"]}
    assert set_at("anything", "$", 3) == 3


@pytest.mark.parametrize(("document", "path"), [("text", "$.a"), ({"a": 1}, "$.a.b"), ([], "$[0]")])
def test_set_at_failure(document: Any, path: str) -> None:
    with pytest.raises(TaskError) as caught:
        set_at(document, path, 1)
    assert caught.value.error == "States.ResultPathMatchFailure"


def test_template_expands_paths_intrinsics_and_copies_statics() -> None:
    template = {
        "static": {"nested": [1, {"k.$": "$.a.c.d"}]},
        "value.$": "$.a.b[1]",
        "name.$": "$$.Execution.Name",
        "joined.$": "States.Format('{}-{}', $.a.c.d, $.a.b[0])",
    }
    scope = Scope({"Execution": {"Name": "e"}}, {}, random.Random(1))
    out = evaluate_template(template, DOC, scope)
    assert out == {
        "static": {"nested": [1, {"k": "x"}]},
        "value": 2,
        "name": "e",
        "joined": "x-1",
    }
    out["static"]["nested"].append("mutated")
    assert template["static"] == {"nested": [1, {"k.$": "$.a.c.d"}]}


# -- processing order through real states ----------------------------------------------


def test_processing_order_input_parameters_selector_result_output() -> None:
    dispatcher = FakeDispatcher().on("arn:aws:states:::aws-sdk:s3:headObject", lambda p: p)
    state = task(
        "arn:aws:states:::aws-sdk:s3:headObject",
        InputPath="$.request",
        Parameters={"Key.$": "$.key", "Fixed": 1},
        ResultSelector={"got.$": "$.Key"},
        ResultPath="$.response",
        OutputPath="$.response",
    )
    result = run(single(state), {"request": {"key": "k"}, "other": 1}, dispatcher)
    assert result.status == "SUCCEEDED"
    assert dispatcher.calls[0].parameters == {"Key": "k", "Fixed": 1}
    # ResultPath writes into the *raw* input, OutputPath then selects from it.
    assert result.output == {"got": "k"}


def test_result_path_null_discards_result_and_keeps_raw_input() -> None:
    state = task(InputPath="$.a", ResultPath=None)
    result = run(single(state), {"a": {"x": 1}, "b": 2})
    assert result.output == {"a": {"x": 1}, "b": 2}


def test_null_input_and_output_paths_give_empty_objects() -> None:
    dispatcher = FakeDispatcher().on("arn:aws:states:::sqs:sendMessage", lambda p: p)
    result = run(single(task(InputPath=None)), {"a": 1}, dispatcher)
    assert dispatcher.calls[0].parameters == {}
    assert result.output == {}
    result = run(single(task(OutputPath=None)), {"a": 1})
    assert result.output == {}


def test_nested_result_path_creates_objects() -> None:
    state = {"Type": "Pass", "Result": {"v": 1}, "ResultPath": "$.x.y.z", "End": True}
    assert run(single(state), {"x": {"keep": True}}).output == {
        "x": {"keep": True, "y": {"z": {"v": 1}}}
    }


def test_result_path_into_a_string_fails_with_result_path_match_failure() -> None:
    state = {"Type": "Pass", "Result": 1, "ResultPath": "$.x.y", "End": True}
    result = run(single(state), {"x": "text"})
    assert (result.status, result.error) == ("FAILED", "States.ResultPathMatchFailure")


def test_missing_parameter_path_is_parameter_path_failure_and_catchable() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"v.$": "$.missing"},
                "Catch": catch,
                "Next": "Caught",
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = run(definition, {"present": 1})
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "States.ParameterPathFailure"
    assert "$.missing" in result.output["Cause"]


def test_missing_input_path_is_an_uncatchable_runtime_error() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(InputPath="$.missing", Catch=catch),
            "Done": {"Type": "Succeed"},
        },
    }
    result = run(definition, {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_context_object_fields() -> None:
    state = {
        "Type": "Pass",
        "Parameters": {
            "id.$": "$$.Execution.Id",
            "name.$": "$$.Execution.Name",
            "input.$": "$$.Execution.Input",
            "start.$": "$$.Execution.StartTime",
            "state.$": "$$.State.Name",
            "entered.$": "$$.State.EnteredTime",
            "retries.$": "$$.State.RetryCount",
            "machine.$": "$$.StateMachine.Id",
            "machineName.$": "$$.StateMachine.Name",
        },
        "End": True,
    }
    result = run(single(state, "Ctx"), {"in": 1})
    out = result.output
    assert out["id"] == result.execution_arn
    assert out["id"].endswith(":execution:test-machine:exec-1")
    assert (out["name"], out["input"], out["state"], out["retries"]) == (
        "exec-1",
        {"in": 1},
        "Ctx",
        0,
    )
    assert out["machineName"] == "test-machine"
    assert out["start"].endswith("Z")
    assert out["entered"] >= out["start"]


def test_current_node_paths_only_inside_filters() -> None:
    with pytest.raises(PathSyntaxError):
        parse_path("@.a")
    state = {"Type": "Pass", "Parameters": {"x.$": "@.a"}, "End": True}
    with pytest.raises(ValueError, match="'P'"):
        machine(single(state, "P"))
