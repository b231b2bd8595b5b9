"""The runtime's own check of DynamoDB's item rules agrees with what the emulator refuses.

The emulator's rules (`emulator.services.dynamodb_limits`) are a second, independent
reading of the same AWS pages; each item here is put through both.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
from moto.dynamodb.models.table import Table

from emulator.services import dynamodb_limits
from orderflow.aws_facts import (
    DYNAMODB_MAX_ITEM_BYTES,
    DYNAMODB_MAX_NESTING_DEPTH,
    DYNAMODB_MAX_PARTITION_KEY_BYTES,
    DYNAMODB_NUMBER_MAX_MAGNITUDE,
)
from runtime.common import dynamodb_item as rules


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels):
        value = {"L": [value]}
    return value


GOOD: list[dict[str, Any]] = [
    {"pk": {"S": "a"}, "n": {"N": DYNAMODB_NUMBER_MAX_MAGNITUDE.value}},
    {"pk": {"S": "a"}, "n": {"N": "1E-130"}},
    {"pk": {"S": "a"}, "n": {"N": "1" * 38}},
    {"pk": {"S": "a"}, "doc": nested(DYNAMODB_MAX_NESTING_DEPTH.value)},
    {"pk": {"S": "a"}, "blob": {"S": "x" * (DYNAMODB_MAX_ITEM_BYTES.value - 7)}},
]
BAD: list[tuple[dict[str, Any], str]] = [
    ({"pk": {"S": "a"}, "n": {"N": "1E+126"}}, rules.NUMBER_OUT_OF_RANGE),
    ({"pk": {"S": "a"}, "n": {"N": "1E-131"}}, rules.NUMBER_OUT_OF_RANGE),
    ({"pk": {"S": "a"}, "n": {"NS": ["1", "1" * 39]}}, rules.NUMBER_TOO_PRECISE),
    ({"pk": {"S": "a"}, "doc": nested(33)}, rules.NESTING_TOO_DEEP),
    ({"pk": {"S": "a"}, "blob": {"S": "x" * DYNAMODB_MAX_ITEM_BYTES.value}}, rules.ITEM_TOO_LARGE),
    ({"pk": {"S": ""}}, rules.EMPTY_KEY),
    ({"pk": {"S": "k" * (DYNAMODB_MAX_PARTITION_KEY_BYTES.value + 1)}}, rules.KEY_TOO_LARGE),
]


@pytest.mark.parametrize("item", GOOD)
def test_items_dynamodb_stores_pass(item: dict[str, Any]) -> None:
    assert rules.item_problem(item, partition_key="pk") is None
    assert dynamodb_limits.item_problem(item) is None


@pytest.mark.parametrize(("item", "reason"), BAD)
def test_items_dynamodb_refuses_have_a_reason(item: dict[str, Any], reason: str) -> None:
    problem = rules.item_problem(item, partition_key="pk")
    assert problem is not None
    assert problem.reason == reason
    assert problem.message
    emulator_says = dynamodb_limits.item_problem(item) or (
        dynamodb_limits.key_problem(cast(Table, _Table()), item)
    )
    assert emulator_says is not None


class _Table:
    """The two attributes `key_problem` reads."""

    name = "t"
    hash_key_attr = "pk"
    range_key_attr = None


def test_sizes_agree_with_the_emulators_reading() -> None:
    item: dict[str, Any] = {
        "pk": {"S": "héllo"},
        "n": {"N": "-0012.3400"},
        "m": {"M": {"a": {"L": [{"BOOL": True}, {"NULL": True}]}, "b": {"SS": ["x", "yz"]}}},
        "b": {"B": "AAECAw=="},
    }
    assert rules.item_size(item) == dynamodb_limits.item_size(item)
    assert rules.value_size({"N": "-0012.3400"}) == 3  # 1234: two bytes, plus one


def test_json_depth_is_iterative() -> None:
    deep: Any = 1
    for _ in range(10_000):
        deep = {"x": deep}
    assert rules.json_depth(deep) == 10_000
    assert rules.json_depth([]) == 1
    assert rules.json_depth("x") == 0
    assert rules.number_problem(Decimal("9.9999999999999999999999999999999999999E+125")) is None
