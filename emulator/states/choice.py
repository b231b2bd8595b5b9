"""Choice rules (JSONPath mode): comparisons, type tests and And/Or/Not.

AWS semantics kept here: a comparison whose operand has the wrong type is simply false,
but a `Variable` (or a `...Path` operand) that matches nothing fails the execution with
States.Runtime; only `IsPresent` may look at a field that might not exist.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from emulator.states.errors import RUNTIME, TaskError
from emulator.states.paths import PathMissing, PathSyntaxError, parse_path, query
from emulator.states.payload import Scope
from emulator.states.timestamps import parse_timestamp

_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
_KINDS: Final = ("String", "Numeric", "Boolean", "Timestamp")
_TYPE_TESTS: Final = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
COMPARISONS: Final = frozenset(
    [f"{kind}{op}" for kind in _KINDS for op in _ORDER if kind != "Boolean" or op == "Equals"]
    + ["StringMatches"]
)
PATH_COMPARISONS: Final = frozenset(f"{name}Path" for name in COMPARISONS - {"StringMatches"})
OPERATORS: Final = COMPARISONS | PATH_COMPARISONS | frozenset(_TYPE_TESTS)
BOOLEAN_OPERATORS: Final = frozenset({"And", "Or", "Not"})
_RULE_EXTRAS: Final = frozenset({"Variable", "Next", "Comment", "Assign", "Output"})
_MISSING: Final = object()


def evaluate_rule(rule: Mapping[str, Any], data: Any, scope: Scope) -> bool:
    """Whether one (possibly compound) choice rule matches `data`."""
    if "And" in rule:
        return all(evaluate_rule(sub, data, scope) for sub in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(sub, data, scope) for sub in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, scope)
    name = _operator(rule)
    variable = _lookup(rule["Variable"], data, scope, allow_missing=name == "IsPresent")
    expected = rule[name]
    if name in _TYPE_TESTS:
        return _type_test(name, variable) is expected
    if name.endswith("Path"):
        name = name.removesuffix("Path")
        expected = _lookup(expected, data, scope, allow_missing=False)
    return _compare(name, variable, expected)


def _operator(rule: Mapping[str, Any]) -> str:
    found = [key for key in rule if key in OPERATORS]
    return found[0]


def _lookup(path: str, data: Any, scope: Scope, *, allow_missing: bool) -> Any:
    try:
        return query(path, data, context=scope.context, variables=scope.variables)
    except PathMissing:
        if allow_missing:
            return _MISSING
        raise TaskError(
            RUNTIME,
            f"Invalid path {path!r}: The choice state's condition path references an "
            "invalid value.",
        ) from None


def _type_test(name: str, value: Any) -> bool:
    tests: dict[str, Callable[[Any], bool]] = {
        "IsPresent": lambda v: v is not _MISSING,
        "IsNull": lambda v: v is None,
        "IsNumeric": _is_number,
        "IsString": lambda v: isinstance(v, str),
        "IsBoolean": lambda v: isinstance(v, bool),
        "IsTimestamp": lambda v: parse_timestamp(v) is not None,
    }
    return tests[name](value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(name: str, left: Any, right: Any) -> bool:
    if name == "StringMatches":
        return isinstance(left, str) and wildcard_regex(right).fullmatch(left) is not None
    kind = next(kind for kind in _KINDS if name.startswith(kind))
    compare = _ORDER[name.removeprefix(kind)]
    if kind == "String":
        return isinstance(left, str) and isinstance(right, str) and compare(left, right)
    if kind == "Numeric":
        return _is_number(left) and _is_number(right) and compare(left, right)
    if kind == "Boolean":
        return isinstance(left, bool) and isinstance(right, bool) and compare(left, right)
    left_time, right_time = parse_timestamp(left), parse_timestamp(right)
    return left_time is not None and right_time is not None and compare(left_time, right_time)


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """StringMatches: `*` is any run of characters; `\\*` and `\\\\` are literal."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def validate_rule(rule: Any, where: str, *, top_level: bool, known: Mapping[str, Any]) -> None:
    """Construction-time check of a JSONPath choice rule (ValueError says where)."""
    if not isinstance(rule, dict):
        raise ValueError(f"{where}: a choice rule must be an object")
    if top_level:
        if rule.get("Next") not in known:
            raise ValueError(f"{where}: Next {rule.get('Next')!r} is not a state in this scope")
    elif "Next" in rule:
        raise ValueError(f"{where}: only top-level choice rules may have Next")
    present = [key for key in rule if key in OPERATORS or key in BOOLEAN_OPERATORS]
    unknown = set(rule) - OPERATORS - BOOLEAN_OPERATORS - _RULE_EXTRAS
    if unknown or len(present) != 1:
        raise ValueError(
            f"{where}: a choice rule needs exactly one operator (found {present}; "
            f"unknown fields {sorted(unknown)})"
        )
    name = present[0]
    if name in BOOLEAN_OPERATORS:
        _validate_compound(rule, name, where, known)
        return
    _validate_comparison(rule, name, where)


def _validate_compound(rule: Mapping[str, Any], name: str, where: str, known: Any) -> None:
    if "Variable" in rule:
        raise ValueError(f"{where}: {name} takes no Variable")
    if name == "Not":
        validate_rule(rule["Not"], f"{where}.Not", top_level=False, known=known)
        return
    subrules = rule[name]
    if not isinstance(subrules, list) or not subrules:
        raise ValueError(f"{where}: {name} needs a non-empty list of rules")
    for position, sub in enumerate(subrules):
        validate_rule(sub, f"{where}.{name}[{position}]", top_level=False, known=known)


def _validate_comparison(rule: Mapping[str, Any], name: str, where: str) -> None:
    variable, value = rule.get("Variable"), rule[name]
    _check_path(variable, f"{where}.Variable")
    if name.endswith("Path") or name == "StringMatches" or name.startswith("String"):
        ok = isinstance(value, str)
    elif name.startswith("Numeric"):
        ok = _is_number(value)
    elif name.startswith("Timestamp"):
        ok = parse_timestamp(value) is not None
    else:  # BooleanEquals and the Is* tests
        ok = isinstance(value, bool)
    if not ok:
        raise ValueError(f"{where}: {name} cannot compare with {value!r}")
    if name.endswith("Path"):
        _check_path(value, f"{where}.{name}")


def _check_path(path: Any, where: str) -> None:
    if not isinstance(path, str):
        raise ValueError(f"{where}: expected a path string, got {path!r}")
    try:
        parse_path(path)
    except PathSyntaxError as exc:
        raise ValueError(f"{where}: {exc}") from None
