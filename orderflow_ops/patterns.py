"""EventBridge Pipes filter matching, for the operators Pipes accepts.

A premium-order letter must go back only to the processors whose pipe would deliver the
record: both pipes read one stream, and a processor handed a record its filter excludes
would dead-letter or skip it under a rule that never applied. Pipes' operator set is
small (`prefix`, `suffix`, `anything-but`, `numeric`, `exists`, `equals-ignore-case`,
exact values), so matching is done here rather than with an AWS call per record.
An operator outside that set raises: a filter Pipes refuses cannot be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING = object()
_NUMERIC_OPS = {
    "<": float.__lt__,
    "<=": float.__le__,
    "=": float.__eq__,
    ">=": float.__ge__,
    ">": float.__gt__,
}


_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "prefix": str.startswith,
    "suffix": str.endswith,
    "equals-ignore-case": lambda value, wanted: value.casefold() == wanted.casefold(),
}


class UnsupportedPatternError(ValueError):
    """The pattern uses something Pipes filters do not support."""


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when `event` passes `pattern` (every field matches; lists are alternatives)."""
    if not isinstance(event, Mapping):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, Mapping):
            if not matches(rule, value if value is not _MISSING else {}):
                return False
        elif isinstance(rule, list):
            if not _field_matches(rule, value):
                return False
        else:
            raise UnsupportedPatternError(f"{key}: a pattern value must be an object or a list")
    return True


def _field_matches(alternatives: Sequence[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for alternative in alternatives:
        if isinstance(alternative, Mapping):
            if _operator_matches(alternative, value, values):
                return True
        elif value is not _MISSING and any(v == alternative for v in values):
            return True
    return False


def _operator_matches(rule: Mapping[str, Any], value: Any, values: list[Any]) -> bool:
    if len(rule) != 1:
        raise UnsupportedPatternError(f"one operator per object, not {sorted(rule)}")
    ((operator, argument),) = rule.items()
    if operator == "exists":
        return (value is not _MISSING) == bool(argument)
    present = [v for v in values if v is not _MISSING]
    if not present:
        return False
    text_test = _TEXT_TESTS.get(operator)
    if text_test is not None:
        return any(isinstance(v, str) and text_test(v, str(argument)) for v in present)
    if operator == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        if any(isinstance(e, Mapping) for e in excluded):
            raise UnsupportedPatternError("Pipes filters take anything-but with values only")
        return all(v not in excluded for v in present)
    if operator == "numeric":
        return any(_numeric(argument, v) for v in present)
    raise UnsupportedPatternError(f"operator {operator!r} is not supported by Pipes filters")


def _numeric(conditions: Sequence[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    number = float(value)
    pairs = list(zip(conditions[::2], conditions[1::2], strict=True))
    return all(_NUMERIC_OPS[str(op)](number, float(bound)) for op, bound in pairs)
