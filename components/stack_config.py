"""Stack settings (camelCase YAML objects) → component arguments (snake_case TypedDicts).

Derived from each Args TypedDict's own fields, so a new argument is settable from
`Pulumi.<stack>.yaml` without touching the program, and a misspelt key is an error
that names the known keys instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from .settings import CommonArgs

ArgsT = TypeVar("ArgsT")


def camel_case(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.capitalize() for word in rest)


def component_args(
    args_type: type[ArgsT], common: CommonArgs, settings: Mapping[str, Any] | None, section: str
) -> ArgsT:
    """Build `args_type` from the shared settings plus the stack's `section` object."""
    fields = _keys(args_type) - _keys(CommonArgs)
    by_camel = {camel_case(name): name for name in fields}
    unknown = sorted(set(settings or {}) - set(by_camel))
    if unknown:
        raise ValueError(
            f"orderflow:{section} has unknown settings {unknown}; known: {sorted(by_camel)}"
        )
    args: dict[str, Any] = dict(common)
    for key, value in (settings or {}).items():
        if not re.fullmatch(r"[a-z][A-Za-z0-9]*", key):
            raise ValueError(f"orderflow:{section}: setting names are camelCase, not {key!r}")
        args[by_camel[key]] = value
    return cast(ArgsT, args)


def _keys(typed_dict: type) -> set[str]:
    """A TypedDict's keys, inherited ones included (annotations are not evaluated)."""
    keys: frozenset[str] = typed_dict.__required_keys__ | typed_dict.__optional_keys__  # type: ignore[attr-defined]
    return set(keys)
