"""JSONata wiring: Arguments, Output, Assign, Condition, Items, Catch Output.

jsonata-python is optional and not installed here, so these tests put a tiny stand-in
`jsonata` module in place (paths on bound variables, `=`, literals). They check the
interpreter's plumbing, not JSONata itself; with the real package the same API is used.
"""

from __future__ import annotations

import json
import sys
import types as pytypes
from typing import Any

import pytest
from states_support import FN, LAMBDA_INVOKE, FakeDispatcher, always, machine, run, single


class FakeJsonata:
    """Evaluates `$name.path`, `a = b` and JSON literals against assigned bindings."""

    def __init__(self, source: str) -> None:
        self.source = source.strip()
        self.bindings: dict[str, Any] = {}

    def assign(self, name: str, value: Any) -> None:
        self.bindings[name] = value

    def evaluate(self, _input: Any) -> Any:
        return self._eval(self.source)

    def _eval(self, text: str) -> Any:
        if " = " in text:
            left, right = text.split(" = ", 1)
            return self._eval(left.strip()) == self._eval(right.strip())
        if text.startswith("$"):
            name, *path = text[1:].split(".")
            value = self.bindings[name]
            for key in path:
                value = value[key]
            return value
        return json.loads(text.replace("'", '"'))


@pytest.fixture(autouse=True)
def fake_jsonata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jsonata", pytypes.SimpleNamespace(Jsonata=FakeJsonata))


def jsonata(definition: dict[str, Any]) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", **definition}


def test_pass_output_template() -> None:
    state = {"Type": "Pass", "Output": {"v": "{% $states.input.a %}", "k": 1}, "End": True}
    assert run(jsonata(single(state)), {"a": 5}).output == {"v": 5, "k": 1}


def test_task_arguments_assign_output_and_variables() -> None:
    work = f"{FN}work"
    dispatcher = FakeDispatcher().on(work, lambda payload: {"total": payload["n"]})
    definition = jsonata(
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Arguments": {"FunctionName": work, "Payload": {"n": "{% $states.input.n %}"}},
                    "Assign": {"total": "{% $states.result.Payload.total %}"},
                    "Output": "{% $states.result.Payload %}",
                    "Next": "Use",
                },
                "Use": {
                    "Type": "Pass",
                    "Output": {"fromVariable": "{% $total %}", "input": "{% $states.input %}"},
                    "End": True,
                },
            },
        }
    )
    result = run(definition, {"n": 3}, dispatcher)
    assert dispatcher.calls[0].parameters == {"FunctionName": work, "Payload": {"n": 3}}
    assert result.output == {"fromVariable": 3, "input": {"total": 3}}


def test_choice_condition() -> None:
    definition = jsonata(
        {
            "StartAt": "Route",
            "States": {
                "Route": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.kind = 'a' %}", "Next": "A"}],
                    "Default": "B",
                },
                "A": {"Type": "Pass", "Output": "went a", "End": True},
                "B": {"Type": "Pass", "Output": "went b", "End": True},
            },
        }
    )
    assert run(definition, {"kind": "a"}).output == "went a"
    assert run(definition, {"kind": "z"}).output == "went b"


def test_map_items_and_item_selector() -> None:
    state = {
        "Type": "Map",
        "Items": "{% $states.input.list %}",
        "ItemSelector": {
            "i": "{% $states.context.Map.Item.Index %}",
            "v": "{% $states.context.Map.Item.Value %}",
        },
        "ItemProcessor": single({"Type": "Pass", "End": True}, "Inner"),
        "End": True,
    }
    result = run(jsonata(single(state)), {"list": ["x", "y"]})
    assert result.output == [{"i": 0, "v": "x"}, {"i": 1, "v": "y"}]


def test_catch_output_sees_the_error() -> None:
    dispatcher = FakeDispatcher().on(f"{FN}bad", always("Custom.Error", "why"))
    definition = jsonata(
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Arguments": {"FunctionName": f"{FN}bad"},
                    "Catch": [
                        {
                            "ErrorEquals": ["States.ALL"],
                            "Output": {"caught": "{% $states.errorOutput.Error %}"},
                            "Next": "Done",
                        }
                    ],
                    "Next": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        }
    )
    assert run(definition, {}, dispatcher).output == {"caught": "Custom.Error"}


def test_jsonpath_fields_are_rejected_in_jsonata_states() -> None:
    state = {"Type": "Pass", "InputPath": "$.a", "End": True}
    with pytest.raises(ValueError, match="InputPath"):
        machine(jsonata(single(state, "Mixed")))


def test_a_non_boolean_condition_is_a_query_evaluation_error() -> None:
    definition = jsonata(
        {
            "StartAt": "Route",
            "States": {
                "Route": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.kind %}", "Next": "A"}],
                },
                "A": {"Type": "Succeed"},
            },
        }
    )
    result = run(definition, {"kind": "text"})
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
