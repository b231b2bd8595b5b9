"""Choice rules: every operator, the Path variants, type tests, And/Or/Not, Default."""

from __future__ import annotations

import random
from typing import Any

import pytest
from states_support import machine, run

from emulator.states import TaskError
from emulator.states.choice import evaluate_rule, wildcard_regex
from emulator.states.payload import Scope

DATA: dict[str, Any] = {
    "s": "banana",
    "n": 5,
    "f": 2.5,
    "b": True,
    "t": "2024-05-01T12:00:00Z",
    "null": None,
    "other": {"s": "apple", "n": 5, "b": True, "t": "2024-05-01T12:00:00.000+00:00"},
}


def matches(rule: dict[str, Any], data: Any = DATA) -> bool:
    return evaluate_rule(rule, data, Scope({}, {}, random.Random(0)))


@pytest.mark.parametrize(
    ("operator", "variable", "value", "expected"),
    [
        ("StringEquals", "$.s", "banana", True),
        ("StringEquals", "$.n", "5", False),
        ("StringLessThan", "$.s", "cherry", True),
        ("StringGreaterThan", "$.s", "cherry", False),
        ("StringLessThanEquals", "$.s", "banana", True),
        ("StringGreaterThanEquals", "$.s", "banana", True),
        ("StringMatches", "$.s", "b*n*", True),
        ("StringMatches", "$.s", "*x*", False),
        ("NumericEquals", "$.n", 5, True),
        ("NumericEquals", "$.n", 5.0, True),
        ("NumericEquals", "$.s", 5, False),
        ("NumericLessThan", "$.f", 3, True),
        ("NumericGreaterThan", "$.f", 3, False),
        ("NumericLessThanEquals", "$.n", 5, True),
        ("NumericGreaterThanEquals", "$.n", 6, False),
        ("NumericEquals", "$.b", 1, False),
        ("BooleanEquals", "$.b", True, True),
        ("BooleanEquals", "$.n", True, False),
        ("TimestampEquals", "$.t", "2024-05-01T14:00:00+02:00", True),
        ("TimestampLessThan", "$.t", "2024-05-02T00:00:00Z", True),
        ("TimestampGreaterThan", "$.t", "2024-05-02T00:00:00Z", False),
        ("TimestampLessThanEquals", "$.t", "2024-05-01T12:00:00Z", True),
        ("TimestampGreaterThanEquals", "$.s", "2024-05-01T12:00:00Z", False),
        ("IsNull", "$.null", True, True),
        ("IsNull", "$.s", True, False),
        ("IsPresent", "$.missing", False, True),
        ("IsPresent", "$.null", True, True),
        ("IsNumeric", "$.f", True, True),
        ("IsNumeric", "$.b", True, False),
        ("IsString", "$.s", True, True),
        ("IsBoolean", "$.b", True, True),
        ("IsTimestamp", "$.t", True, True),
        ("IsTimestamp", "$.s", False, True),
    ],
)
def test_comparison_operators(operator: str, variable: str, value: Any, expected: bool) -> None:
    assert matches({"Variable": variable, operator: value}) is expected


@pytest.mark.parametrize(
    ("operator", "variable", "path", "expected"),
    [
        ("StringEqualsPath", "$.s", "$.other.s", False),
        ("StringGreaterThanPath", "$.s", "$.other.s", True),
        ("StringLessThanPath", "$.s", "$.other.s", False),
        ("StringLessThanEqualsPath", "$.other.s", "$.s", True),
        ("StringGreaterThanEqualsPath", "$.s", "$.s", True),
        ("NumericEqualsPath", "$.n", "$.other.n", True),
        ("NumericLessThanPath", "$.f", "$.n", True),
        ("NumericGreaterThanPath", "$.f", "$.n", False),
        ("NumericLessThanEqualsPath", "$.n", "$.other.n", True),
        ("NumericGreaterThanEqualsPath", "$.n", "$.other.n", True),
        ("BooleanEqualsPath", "$.b", "$.other.b", True),
        ("TimestampEqualsPath", "$.t", "$.other.t", True),
        ("TimestampLessThanPath", "$.t", "$.other.t", False),
        ("TimestampGreaterThanPath", "$.t", "$.other.t", False),
        ("TimestampLessThanEqualsPath", "$.t", "$.other.t", True),
        ("TimestampGreaterThanEqualsPath", "$.t", "$.other.t", True),
    ],
)
def test_path_operators(operator: str, variable: str, path: str, expected: bool) -> None:
    assert matches({"Variable": variable, operator: path}) is expected


def test_boolean_combinators() -> None:
    yes = {"Variable": "$.n", "NumericEquals": 5}
    no = {"Variable": "$.n", "NumericEquals": 6}
    assert matches({"And": [yes, yes]})
    assert not matches({"And": [yes, no]})
    assert matches({"Or": [no, yes]})
    assert matches({"Not": no})
    assert matches({"And": [{"Not": no}, {"Or": [no, {"Not": no}]}]})


def test_missing_variable_is_a_runtime_error_except_for_is_present() -> None:
    with pytest.raises(TaskError) as caught:
        matches({"Variable": "$.missing", "StringEquals": "x"})
    assert caught.value.error == "States.Runtime"
    with pytest.raises(TaskError):
        matches({"Variable": "$.s", "StringEqualsPath": "$.missing"})
    assert matches({"Variable": "$.missing", "IsPresent": False})


def test_string_matches_escapes() -> None:
    assert wildcard_regex(r"log-\*.txt").fullmatch("log-*.txt")
    assert not wildcard_regex(r"log-\*.txt").fullmatch("log-1.txt")
    assert wildcard_regex(r"a\\*").fullmatch("a\\anything")


def _router(default: bool = True) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.kind", "StringEquals": "a", "Next": "A"},
            {
                "And": [
                    {"Variable": "$.n", "IsPresent": True},
                    {"Variable": "$.n", "NumericGreaterThan": 10},
                ],
                "Next": "Big",
            },
        ],
        "OutputPath": "$.kind",
    }
    states: dict[str, Any] = {
        "Route": state,
        "A": {"Type": "Pass", "Result": "went A", "End": True},
        "Big": {"Type": "Pass", "Result": "went Big", "End": True},
    }
    if default:
        state["Default"] = "Other"
        states["Other"] = {"Type": "Succeed"}
    return {"StartAt": "Route", "States": states}


@pytest.mark.parametrize(
    ("payload", "output"),
    [
        ({"kind": "a"}, "went A"),
        ({"kind": "b", "n": 11}, "went Big"),
        ({"kind": "b", "n": 1}, "b"),
        ({"kind": "b"}, "b"),
    ],
)
def test_choice_state_routes(payload: Any, output: Any) -> None:
    result = run(_router(), payload)
    assert (result.status, result.output) == ("SUCCEEDED", output)


def test_no_choice_matched() -> None:
    result = run(_router(default=False), {"kind": "z"})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")
    assert "Route" in (result.cause or "")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"Variable": "$.a", "StringEquals": 1, "Next": "A"}, "StringEquals"),
        ({"Variable": "$.a", "Next": "A"}, "exactly one operator"),
        ({"Variable": "$.a", "StringEquals": "x", "Next": "Nowhere"}, "Nowhere"),
        ({"Not": {"Variable": "$.a", "IsNull": True, "Next": "A"}, "Next": "A"}, "only top-level"),
        ({"Variable": "$.a", "StringEquals": "x", "Bogus": 1, "Next": "A"}, "Bogus"),
    ],
)
def test_invalid_rules_fail_construction(rule: dict[str, Any], message: str) -> None:
    definition = {
        "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": [rule]}, "A": {"Type": "Succeed"}},
    }
    with pytest.raises(ValueError, match=message):
        machine(definition)
