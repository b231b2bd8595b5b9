"""Every intrinsic function, its argument parsing, and its failures."""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

import pytest
from states_support import machine, run, single

from emulator.states import TaskError
from emulator.states.intrinsics import Literal, PathArg, parse_intrinsic
from emulator.states.payload import Scope, resolve

DATA: dict[str, Any] = {
    "name": "Ada",
    "n": 3,
    "list": [1, 2, 2, {"a": 1}, {"a": 1}],
    "json": '{"k": [1, 2]}',
    "obj": {"a": 1, "b": {"c": 2}},
    "other": {"b": 3, "d": 4},
    "csv": "a,b;c",
}


def call(expression: str, data: Any = DATA, seed: int = 1) -> Any:
    scope = Scope({"Execution": {"Name": "exec"}}, {"var": "v"}, random.Random(seed))
    return resolve(expression, data, scope, error="States.ParameterPathFailure", field="x.$")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("States.Format('Hello, {}!', $.name)", "Hello, Ada!"),
        (
            "States.Format('{} has {} items, ok={} none={}', $.name, $.n, true, null)",
            "Ada has 3 items, ok=true none=null",
        ),
        (r"States.Format('literal \{\} and quote \' and {}', $.n)", "literal {} and quote ' and 3"),
        ("States.Format('{}', $$.Execution.Name)", "exec"),
        ("States.Format('{}', $var)", "v"),
        ("States.StringToJson($.json)", {"k": [1, 2]}),
        ("States.JsonToString($.obj)", '{"a":1,"b":{"c":2}}'),
        ("States.Array('a', 1, 2.5, $.n, States.Array())", ["a", 1, 2.5, 3, []]),
        ("States.ArrayPartition(States.ArrayRange(1, 5, 1), 2)", [[1, 2], [3, 4], [5]]),
        ("States.ArrayContains($.list, $.obj.b.c)", True),
        ("States.ArrayContains($.list, 9)", False),
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayGetItem($.list, 3)", {"a": 1}),
        ("States.ArrayLength($.list)", 5),
        ("States.ArrayUnique($.list)", [1, 2, {"a": 1}]),
        ("States.Base64Encode('Data to encode')", "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "Data to encode"),
        ("States.JsonMerge($.obj, $.other, false)", {"a": 1, "b": 3, "d": 4}),
        ("States.MathAdd($.n, -4)", -1),
        ("States.MathAdd(111, -1)", 110),
        ("States.StringSplit($.csv, ',;')", ["a", "b", "c"]),
        ("States.StringSplit('1,2,,3', ',')", ["1", "2", "3"]),
        ("States.Format('{}', States.ArrayLength(States.StringSplit('a b c', ' ')))", "3"),
    ],
)
def test_intrinsic_values(expression: str, expected: Any) -> None:
    assert call(expression) == expected


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash(algorithm: str) -> None:
    name = algorithm.replace("-", "").lower()
    expected = hashlib.new(name, b"input data", usedforsecurity=False).hexdigest()
    assert call(f"States.Hash('input data', '{algorithm}')") == expected


def test_math_random_is_in_range_and_seedable() -> None:
    values = {call("States.MathRandom(1, 10)", seed=s) for s in range(50)}
    assert values <= set(range(1, 10))
    assert len(values) > 3
    assert call("States.MathRandom(1, 1000, 42)") == call("States.MathRandom(1, 1000, 42)", seed=9)


def test_uuid_is_a_v4_uuid_from_the_rng() -> None:
    value = call("States.UUID()")
    assert uuid.UUID(value).version == 4
    assert value == call("States.UUID()")  # same seed, same id
    assert value != call("States.UUID()", seed=2)


@pytest.mark.parametrize(
    "expression",
    [
        "States.Format('{} {}', 'only one')",
        "States.Format('{}', $.obj)",
        "States.StringToJson('not json')",
        "States.ArrayPartition($.list, 0)",
        "States.ArrayRange(1, 2000, 1)",
        "States.ArrayRange(1, 2, 0)",
        "States.ArrayGetItem($.list, 5)",
        "States.ArrayLength($.name)",
        "States.Base64Decode('***')",
        "States.Hash('x', 'SHA-3')",
        "States.JsonMerge($.obj, $.other, true)",
        "States.MathAdd(1.5, 1)",
        "States.MathRandom(5, 5)",
        "States.UUID('extra')",
    ],
)
def test_intrinsic_runtime_errors(expression: str) -> None:
    with pytest.raises(TaskError) as caught:
        call(expression)
    assert caught.value.error == "States.Runtime"


def test_missing_path_argument_uses_the_fields_error() -> None:
    with pytest.raises(TaskError) as caught:
        call("States.Format('{}', $.missing)")
    assert caught.value.error == "States.ParameterPathFailure"


def test_parser_structure() -> None:
    parsed = parse_intrinsic("States.Format( 'a\\'b{}' , $.x['y,z'] , -1.5e2, States.UUID() )")
    assert parsed.name == "States.Format"
    first, second, third, fourth = parsed.args
    assert first == Literal("a'b{}", ("a'b", ""))
    assert second == PathArg("$.x['y,z']")
    assert third == Literal(-150.0)
    assert getattr(fourth, "name", None) == "States.UUID"


@pytest.mark.parametrize(
    "bad",
    [
        "States.Nope(1)",
        "States.Format('unterminated)",
        "States.Format('x' 'y')",
        "States.Format('x')trailing",
        "States.ArrayLength(@bad)",
    ],
)
def test_parse_errors(bad: str) -> None:
    with pytest.raises(ValueError, match="States"):
        parse_intrinsic(bad)


def test_bad_intrinsic_fails_construction_with_the_state_name() -> None:
    state = {"Type": "Pass", "Parameters": {"x.$": "States.Nope()"}, "End": True}
    with pytest.raises(ValueError, match="'Broken'"):
        machine(single(state, "Broken"))


def test_intrinsic_failure_at_runtime_fails_the_execution() -> None:
    state = {"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 3)"}, "End": True}
    result = run(single(state), {"a": [1]})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "out of bounds" in (result.cause or "")
