"""Payload templates (`Parameters`, `ItemSelector`, `ResultSelector`, ...) and path fields.

A key ending in `.$` takes its value from a path or an intrinsic call; everything else
is copied. Static parts are rebuilt, never shared with the definition, so a later
ResultPath write can never alter the definition.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from emulator.states.errors import PARAMETER_PATH_FAILURE, RUNTIME, TaskError
from emulator.states.intrinsics import evaluate_intrinsic, is_intrinsic, parse_intrinsic
from emulator.states.limits import json_text
from emulator.states.paths import PathMissing, PathSyntaxError, parse_path, query

_SHOWN_INPUT: Final = 200


@dataclass(frozen=True)
class Scope:
    """What an expression sees besides the state data: `$$`, variables, the random source."""

    context: Mapping[str, Any]
    variables: Mapping[str, Any]
    rng: random.Random

    def with_context(self, context: Mapping[str, Any]) -> Scope:
        return Scope(context, self.variables, self.rng)


def resolve(expression: str, data: Any, scope: Scope, *, error: str, field: str) -> Any:
    """Evaluate a path or intrinsic; a path that matches nothing raises `error`."""

    def lookup(path: str) -> Any:
        return query(path, data, context=scope.context, variables=scope.variables)

    try:
        if is_intrinsic(expression):
            return evaluate_intrinsic(parse_intrinsic(expression), lookup, scope.rng)
        return lookup(expression)
    except PathMissing as exc:
        shown = json_text(data)
        if len(shown) > _SHOWN_INPUT:
            shown = shown[:_SHOWN_INPUT] + "..."
        raise TaskError(
            error,
            f"The JSONPath {exc.path!r} specified for the field {field!r} could not be found "
            f"in the input {shown}",
        ) from None


def evaluate_template(
    template: Any, data: Any, scope: Scope, *, error: str = PARAMETER_PATH_FAILURE
) -> Any:
    """Expand a payload template against `data`."""
    if isinstance(template, dict):
        expanded: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                expanded[key[:-2]] = resolve(value, data, scope, error=error, field=key)
            else:
                expanded[key] = evaluate_template(value, data, scope, error=error)
        return expanded
    if isinstance(template, list):
        return [evaluate_template(item, data, scope, error=error) for item in template]
    return template


def select(path: str | None, data: Any, scope: Scope, *, field: str) -> Any:
    """InputPath / OutputPath / ItemsPath: `null` selects `{}`; no match is States.Runtime."""
    if path is None:
        return {}
    return resolve(path, data, scope, error=RUNTIME, field=field)


def check_expression(expression: object, where: str) -> None:
    """Construction-time check of a `.$` value (path or intrinsic syntax)."""
    if not isinstance(expression, str):
        raise ValueError(f"{where}: a '.$' field needs a string path, got {expression!r}")
    try:
        if is_intrinsic(expression):
            parse_intrinsic(expression)
        else:
            parse_path(expression)
    except (PathSyntaxError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def check_template(template: Any, where: str) -> None:
    """Construction-time check of every `.$` value in a payload template."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                check_expression(value, f"{where}.{key}")
            else:
                check_template(value, f"{where}.{key}")
    elif isinstance(template, list):
        for position, item in enumerate(template):
            check_template(item, f"{where}[{position}]")
