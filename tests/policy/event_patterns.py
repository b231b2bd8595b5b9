"""The grammar of EventBridge event patterns and Pipes filters, checked operator by operator.

moto's matcher (which the emulator uses too) reads an operator it does not know as "match
anything": a misspelt `prefx` would let every sample through and every test pass. AWS
itself rejects such a pattern only at deploy time. Pipes accept fewer operators than
event-bus rules (no `wildcard`, no `anything-but` with a nested operator): a filter
written for a rule can deploy and silently mean something else (AWS-FACTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderflow.aws_facts import (
    EVENT_BUS_ANYTHING_BUT_FORMS,
    EVENT_BUS_FILTER_OPERATORS,
    FILTER_CASE_FOLDING_OPERATORS,
    PIPES_ANYTHING_BUT_FORMS,
    pipes_filter_operators,
)

COMPARISONS = frozenset({"<", "<=", "=", ">", ">="})


@dataclass(frozen=True)
class Dialect:
    """Where a pattern is used decides which operators it may contain."""

    name: str
    operators: frozenset[str]
    anything_but_forms: frozenset[str]
    """Operators allowed inside `anything-but` (e.g. `{"anything-but": {"prefix": "x"}}`)."""
    ignore_case_affixes: bool
    """Whether `{"prefix": {"equals-ignore-case": "x"}}` is allowed."""


# Both dialects as AWS's operators table states them (orderflow.aws_facts).
RULE = Dialect(
    name="event bus rule",
    operators=EVENT_BUS_FILTER_OPERATORS.value,
    anything_but_forms=EVENT_BUS_ANYTHING_BUT_FORMS.value,
    ignore_case_affixes=True,
)
PIPE = Dialect(
    name="pipe filter",
    operators=pipes_filter_operators(),
    anything_but_forms=PIPES_ANYTHING_BUT_FORMS.value,
    ignore_case_affixes=bool(FILTER_CASE_FOLDING_OPERATORS.value),
)


def problems(pattern: Any, dialect: Dialect) -> list[str]:
    """What is wrong with `pattern` for `dialect`, each with its JSON path; [] when valid."""
    if not isinstance(pattern, Mapping) or not pattern:
        return ["$: a pattern is a non-empty JSON object"]
    return _object(pattern, "$", dialect)


def _object(pattern: Mapping[str, Any], path: str, dialect: Dialect) -> list[str]:
    found: list[str] = []
    for key, value in pattern.items():
        where = f"{path}.{key}"
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                found.append(f"{where}: $or takes a list of at least two patterns")
                continue
            for index, branch in enumerate(value):
                if isinstance(branch, Mapping) and branch:
                    found += _object(branch, f"{where}[{index}]", dialect)
                else:
                    found.append(f"{where}[{index}]: each $or branch is a non-empty pattern")
        elif isinstance(value, Mapping):
            found += _object(value, where, dialect) if value else [f"{where}: empty object"]
        elif isinstance(value, list):
            if not value:
                found.append(f"{where}: an empty list matches nothing")
            for index, matcher in enumerate(value):
                found += _matcher(matcher, f"{where}[{index}]", dialect)
        else:
            found.append(f"{where}: values must be a list, not {type(value).__name__}")
    return found


def _matcher(matcher: Any, where: str, dialect: Dialect) -> list[str]:
    if matcher is None or isinstance(matcher, str | int | float | bool):
        return []
    if not isinstance(matcher, Mapping) or len(matcher) != 1:
        return [f"{where}: a matcher is a value or an object holding one operator"]
    ((operator, argument),) = matcher.items()
    if operator not in dialect.operators:
        return [
            f"{where}: {operator!r} is not an operator a {dialect.name} knows "
            f"({', '.join(sorted(dialect.operators))})"
        ]
    return _argument(str(operator), argument, where, dialect)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _argument(operator: str, argument: Any, where: str, dialect: Dialect) -> list[str]:
    valid: bool
    if operator in ("prefix", "suffix"):
        ignore_case = (
            isinstance(argument, Mapping)
            and set(argument) == {"equals-ignore-case"}
            and _is_text(argument["equals-ignore-case"])
        )
        valid = _is_text(argument) or (dialect.ignore_case_affixes and ignore_case)
    elif operator == "wildcard":
        valid = _is_text(argument) and "**" not in argument
    elif operator in ("equals-ignore-case", "cidr"):
        valid = _is_text(argument)
    elif operator == "exists":
        valid = isinstance(argument, bool)
    elif operator == "numeric":
        valid = _numeric(argument)
    else:  # anything-but
        return _anything_but(argument, where, dialect)
    return [] if valid else [f"{where}: {operator} does not take {argument!r}"]


def _numeric(argument: Any) -> bool:
    """`[">", 0]`, or a range `[">", 0, "<=", 5]`."""
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        return False
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    if not all(op in COMPARISONS and _is_number(n) for op, n in pairs):
        return False
    if len(pairs) == 2:
        return pairs[0][0] in (">", ">=") and pairs[1][0] in ("<", "<=")
    return True


def _anything_but(argument: Any, where: str, dialect: Dialect) -> list[str]:
    """A value, a list of strings or of numbers, or (rules only) one nested operator."""
    if isinstance(argument, Mapping) and len(argument) == 1:
        return _anything_but_form(*next(iter(argument.items())), where, dialect)
    scalar = _is_text(argument) or _is_number(argument)
    uniform = (
        isinstance(argument, list)
        and bool(argument)
        and (all(_is_text(v) for v in argument) or all(_is_number(v) for v in argument))
    )
    return [] if scalar or uniform else [f"{where}: anything-but does not take {argument!r}"]


def _anything_but_form(form: str, value: Any, where: str, dialect: Dialect) -> list[str]:
    if form not in dialect.anything_but_forms:
        return [f"{where}: anything-but/{form} is not supported by a {dialect.name}"]
    texts = value if isinstance(value, list) else [value]
    single = form in ("prefix", "suffix")  # these take one string, not a list
    if texts and all(_is_text(v) for v in texts) and (not single or _is_text(value)):
        return []
    return [f"{where}: anything-but/{form} does not take {value!r}"]
