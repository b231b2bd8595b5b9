"""EventBridge Pipes filter criteria: checked as Pipes checks them, matched as EventBridge does.

Pipes accept fewer operators than event-bus rules (both lists are facts in
`orderflow.aws_facts`): no `wildcard`, and `anything-but` only with plain values (not with
`prefix`, `suffix`, `equals-ignore-case` or `wildcard`).
moto's `EventPattern` matches every operator, and matches a misspelt one as "anything",
so each pattern is checked here first and a pipe using one is refused at deploy, the way
CreatePipe refuses it. Matching itself is moto's implementation of the pattern language.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from moto.events.models import EventPattern

from orderflow.aws_facts import (
    EVENT_BUS_FILTER_OPERATORS,
    FILTER_CASE_FOLDING_OPERATORS,
    PIPES_ANYTHING_BUT_FORMS,
    PIPES_MAX_FILTERS,
    pipes_filter_operators,
)

MAX_FILTERS = PIPES_MAX_FILTERS.value
# `cidr` is not confirmed for pipes: refused unless the table says pipes accept it.
PIPES_OPERATORS = pipes_filter_operators()
_EVENT_BUS_ONLY = EVENT_BUS_FILTER_OPERATORS.value - PIPES_OPERATORS
_CASE_FOLDING = FILTER_CASE_FOLDING_OPERATORS.value  # may take {"equals-ignore-case": "..."}


class InvalidFilterCriteriaError(ValueError):
    """CreatePipe would refuse this filter (ValidationException)."""


def _operator_problems(operator: str, argument: Any, where: str) -> Iterator[str]:
    if operator in _EVENT_BUS_ONLY:
        yield f"{where}: {operator!r} is an event-bus operator; Pipes do not support it"
    elif operator not in PIPES_OPERATORS:
        yield f"{where}: unknown operator {operator!r}"
    elif (
        operator == "anything-but"
        and isinstance(argument, Mapping)
        and not set(argument) <= PIPES_ANYTHING_BUT_FORMS.value
    ):
        yield (
            f"{where}: anything-but with {sorted(argument)} is not supported by Pipes "
            "(only plain values)"
        )
    elif (
        operator in _CASE_FOLDING
        and isinstance(argument, Mapping)
        and set(argument) != {"equals-ignore-case"}
    ):
        yield f"{where}: {operator} takes a string or {{'equals-ignore-case': ...}}"


def _problems(node: Mapping[str, Any], path: str) -> Iterator[str]:
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                yield f"{where}: $or takes a list of at least two patterns"
                continue
            for alternative in value:
                if isinstance(alternative, Mapping):
                    yield from _problems(alternative, path)
                else:
                    yield f"{where}: each $or alternative must be an object"
        elif isinstance(value, Mapping):
            yield from _problems(value, where)
        elif isinstance(value, list):
            for item in value:
                if not isinstance(item, Mapping):
                    continue  # a literal value to equal
                if len(item) != 1:
                    yield f"{where}: a matcher object holds exactly one operator, not {item}"
                    continue
                ((operator, argument),) = item.items()
                yield from _operator_problems(operator, argument, where)
        else:
            yield f"{where}: values in a pattern must be arrays or objects, not {value!r}"


def check_filter_pattern(pattern: str) -> None:
    """Raise `InvalidFilterCriteriaError` for a pattern CreatePipe would refuse."""
    try:
        parsed = json.loads(pattern)
    except ValueError as exc:
        raise InvalidFilterCriteriaError(f"filter pattern is not JSON ({exc}): {pattern}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise InvalidFilterCriteriaError(f"a filter pattern is a non-empty object: {pattern}")
    problems = list(_problems(parsed, ""))
    if problems:
        raise InvalidFilterCriteriaError(
            f"filter pattern refused: {'; '.join(problems)}: {pattern}"
        )


class FilterSet:
    """A pipe's filters: a record passes if any pattern matches (no filters: all pass)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        if len(patterns) > MAX_FILTERS:
            raise InvalidFilterCriteriaError(
                f"a pipe takes at most {MAX_FILTERS} filters, not {len(patterns)}"
            )
        for pattern in patterns:
            check_filter_pattern(pattern)
        self.patterns = tuple(patterns)
        self._compiled = [EventPattern.load(pattern) for pattern in patterns]

    def matches(self, record: Mapping[str, Any]) -> bool:
        if not self._compiled:
            return True
        return any(p.matches_event(record) for p in self._compiled)  # type: ignore[arg-type]
