"""DynamoDB's item rules, checked in code before a write, so one bad item never fails a batch.

DynamoDB refuses a whole BatchWriteItem (or transaction) when one of its items breaks a
rule: over 400 KB, nested deeper than 32 levels, a number outside its range or over 38
significant digits, an empty or oversize key. A handler that writes in batches checks
each item here first and dead-letters the one that cannot be stored, with the reason
this module gives, instead of letting it poison its neighbours.

Sizes follow AWS's "item sizes and formats" page: attribute names plus values, a number
1 byte per two significant digits plus 1, lists and maps 3 bytes plus 1 per element.
The limits come from `orderflow.aws_facts`, which ships in every Lambda archive.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from orderflow.aws_facts import (
    DYNAMODB_ITEM_SIZE_BYTES,
    DYNAMODB_MAX_ITEM_BYTES,
    DYNAMODB_MAX_NESTING_DEPTH,
    DYNAMODB_MAX_PARTITION_KEY_BYTES,
    DYNAMODB_MAX_SORT_KEY_BYTES,
    DYNAMODB_NUMBER_MAX_DIGITS,
    DYNAMODB_NUMBER_MAX_MAGNITUDE,
    DYNAMODB_NUMBER_MIN_MAGNITUDE,
)

MAX_ITEM_BYTES: Final = DYNAMODB_MAX_ITEM_BYTES.value
_SIZES: Final = DYNAMODB_ITEM_SIZE_BYTES.value
MAX_DEPTH: Final = DYNAMODB_MAX_NESTING_DEPTH.value
MAX_DIGITS: Final = DYNAMODB_NUMBER_MAX_DIGITS.value
MAX_MAGNITUDE: Final = Decimal(DYNAMODB_NUMBER_MAX_MAGNITUDE.value)
MIN_MAGNITUDE: Final = Decimal(DYNAMODB_NUMBER_MIN_MAGNITUDE.value)

# Machine-readable reasons (dead letters carry them).
ITEM_TOO_LARGE: Final = "item_too_large"
NESTING_TOO_DEEP: Final = "nesting_too_deep"
NUMBER_OUT_OF_RANGE: Final = "number_out_of_range"
NUMBER_TOO_PRECISE: Final = "number_too_precise"
EMPTY_KEY: Final = "empty_key"
KEY_TOO_LARGE: Final = "key_too_large"

Item = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class ItemProblem:
    """Why DynamoDB would refuse an item: a machine-readable `reason`, a human `message`."""

    reason: str
    message: str


def significant_digits(number: Decimal) -> int:
    """Digits left once leading and trailing zeros are trimmed (0 for zero)."""
    if number.is_zero():
        return 0
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))


def number_problem(number: Decimal) -> ItemProblem | None:
    """Whether DynamoDB can hold `number` (finite, 38 digits, 1E-130 <= |n| < 1E+126)."""
    if not number.is_finite():
        return ItemProblem(NUMBER_OUT_OF_RANGE, f"{number} is not a finite number")
    if number.is_zero():
        return None
    if significant_digits(number) > MAX_DIGITS:
        return ItemProblem(
            NUMBER_TOO_PRECISE, f"a number has more than {MAX_DIGITS} significant digits"
        )
    magnitude = number.copy_abs()  # exact: abs() would round to the context's precision
    if magnitude > MAX_MAGNITUDE or magnitude < MIN_MAGNITUDE:
        return ItemProblem(
            NUMBER_OUT_OF_RANGE,
            f"{number:.3E} is outside DynamoDB's range "
            f"({MIN_MAGNITUDE} to {DYNAMODB_NUMBER_MAX_MAGNITUDE.value} in magnitude)",
        )
    return None


def _number_size(text: Any) -> int:
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        return len(str(text).encode("utf-8"))
    if not number.is_finite():
        return len(str(text).encode("utf-8"))
    return math.ceil(significant_digits(number) / _SIZES["digits_per_byte"]) + _SIZES["number"]


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(str(value)))
    except (ValueError, binascii.Error):
        return len(str(value).encode("utf-8"))


def _strings_size(inner: Any) -> int:
    return sum(len(str(v).encode("utf-8")) for v in inner)


_SCALAR_SIZES: Final[Mapping[str, Callable[[Any], int]]] = {
    "S": lambda inner: len(str(inner).encode("utf-8")),
    "N": _number_size,
    "B": _binary_size,
    "BOOL": lambda inner: _SIZES["bool_or_null"],
    "NULL": lambda inner: _SIZES["bool_or_null"],
    "SS": _strings_size,
    "NS": lambda inner: sum(_number_size(v) for v in inner),
    "BS": lambda inner: sum(_binary_size(v) for v in inner),
}


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value (wire format, e.g. `{"S": "x"}`), without its name."""
    kind, inner = next(iter(value.items()))
    if kind == "L":
        return _SIZES["list_or_map"] + sum(value_size(v) + _SIZES["element"] for v in inner)
    if kind == "M":
        return _SIZES["list_or_map"] + sum(
            len(k.encode("utf-8")) + value_size(v) + _SIZES["element"] for k, v in inner.items()
        )
    measure = _SCALAR_SIZES.get(kind)
    return measure(inner) if measure is not None else len(str(inner).encode("utf-8"))


def item_size(item: Item) -> int:
    """An item's size as DynamoDB counts it (names plus values)."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def json_depth(value: Any) -> int:
    """Levels of objects and arrays in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, Mapping):
            children: Any = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _depth_and_numbers(value: Mapping[str, Any]) -> Iterator[tuple[int, str | None]]:
    """(nesting level, number text or None) for every value inside one attribute value."""
    stack: list[tuple[Mapping[str, Any], int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        kind, inner = next(iter(current.items()))
        if kind in {"L", "M"}:
            yield depth + 1, None
            children = inner if kind == "L" else inner.values()
            stack.extend((child, depth + 1) for child in children)
        elif kind == "N":
            yield depth, str(inner)
        elif kind == "NS":
            yield from ((depth, str(member)) for member in inner)


def _key_problem(item: Item, name: str | None, limit: int) -> ItemProblem | None:
    if name is None or name not in item:
        return None
    size = value_size(item[name])
    if size == 0 and next(iter(item[name])) in {"S", "B"}:
        return ItemProblem(EMPTY_KEY, f"key attribute {name} is empty")
    if size > limit:
        return ItemProblem(
            KEY_TOO_LARGE, f"key attribute {name} is {size} bytes, over the {limit}-byte limit"
        )
    return None


def _value_problem(name: str, value: Mapping[str, Any]) -> ItemProblem | None:
    for depth, number in _depth_and_numbers(value):
        if depth > MAX_DEPTH:
            return ItemProblem(
                NESTING_TOO_DEEP,
                f"attribute {name} is nested more than DynamoDB's {MAX_DEPTH} levels",
            )
        if number is None:
            continue
        try:
            problem = number_problem(Decimal(number))
        except InvalidOperation:
            problem = ItemProblem(NUMBER_OUT_OF_RANGE, f"{number[:40]!r} is not a number")
        if problem is not None:
            return ItemProblem(problem.reason, f"attribute {name}: {problem.message}")
    return None


def item_problem(
    item: Item, *, partition_key: str | None = None, sort_key: str | None = None
) -> ItemProblem | None:
    """The first rule `item` (wire format) breaks, or None when DynamoDB would store it."""
    problem = _key_problem(item, partition_key, DYNAMODB_MAX_PARTITION_KEY_BYTES.value)
    problem = problem or _key_problem(item, sort_key, DYNAMODB_MAX_SORT_KEY_BYTES.value)
    for name, value in item.items():
        problem = problem or _value_problem(name, value)
    if problem is not None:
        return problem
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        return ItemProblem(
            ITEM_TOO_LARGE, f"item is {size} bytes, over DynamoDB's {MAX_ITEM_BYTES}-byte limit"
        )
    return None
