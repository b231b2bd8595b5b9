"""What every orderflow rule is made of: rules, stack resources, violations and prop helpers.

Rules are pure functions over the property maps Pulumi hands to policies: camelCase keys,
numbers as floats, JSON documents as strings. Nothing here imports Pulumi, so tests feed
recorded resources straight in and `pack.py` wraps the same functions for the CLI.

During a preview some values are unknown. The CLI passes proxies that raise on reading an
unknown value, and pulumi-policy turns that into an advisory "can't run during preview";
the helpers below only read what a rule needs, so a rule stays decidable whenever its own
inputs are known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Props = Mapping[str, Any]
ResourceCheck = Callable[[str, Props], list[str]]


@dataclass(frozen=True)
class Violation:
    """One stack-level finding; `urn` names the offending resource (None: the stack)."""

    message: str
    urn: str | None = None


@dataclass(frozen=True)
class StackResource:
    """A resource as a stack rule sees it: its outputs, and which resources fed each input."""

    type: str
    urn: str
    name: str
    props: Props
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


StackCheck = Callable[[Sequence[StackResource]], list[Violation]]


@dataclass(frozen=True)
class ResourceRule:
    """A rule judging one resource at a time from its inputs."""

    name: str
    description: str
    resource_types: frozenset[str]
    check: ResourceCheck

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def validate(self, resource_type: str, props: Props) -> list[str]:
        """Violation messages; empty when compliant or when the rule does not apply."""
        return self.check(resource_type, props) if self.applies_to(resource_type) else []


@dataclass(frozen=True)
class StackRule:
    """A rule spanning resources (e.g. every bucket has a policy), judged on outputs."""

    name: str
    description: str
    subject_types: frozenset[str]
    """The resources the rule vouches for; tests count these to prove the rule ran."""
    check: StackCheck

    def subjects(self, resources: Iterable[StackResource]) -> list[StackResource]:
        return [r for r in resources if r.type in self.subject_types]

    def validate(self, resources: Sequence[StackResource]) -> list[Violation]:
        return self.check(resources)


def is_sequence(value: Any) -> bool:
    """A JSON array (list, tuple or Pulumi's list proxy), not a string."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_list(value: Any) -> list[Any]:
    """IAM and Pulumi accept one value or a list of them; always get a list."""
    if value is None:
        return []
    return list(value) if is_sequence(value) else [value]


def dig(props: Any, *path: str) -> Any:
    """`props[a][b]...`, or None as soon as a level is missing or not an object."""
    current = props
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def has_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def as_number(value: Any) -> float | None:
    """Pulumi passes numbers as floats (and config values may be strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def show_number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def load_json(value: Any) -> tuple[Any, str | None]:
    """A JSON document given as a string (or already parsed): (document, error)."""
    if isinstance(value, str):
        try:
            return json.loads(value), None
        except json.JSONDecodeError as error:
            return None, f"is not valid JSON ({error.msg})"
    return value, None


def of_type(resources: Iterable[StackResource], types: frozenset[str]) -> list[StackResource]:
    return [r for r in resources if r.type in types]


def owner(
    child: StackResource,
    prop: str,
    candidates: Sequence[StackResource],
    keys: Sequence[str],
) -> StackResource | None:
    """The candidate that `child.props[prop]` refers to (a policy's bucket, an alarm's queue).

    Dependencies decide first: when the input was computed from other resources, it refers
    to a candidate only if that candidate is among them (this works in previews, where ids
    are unknown). A literal input (no dependencies, e.g. a brought bucket's name) is
    compared with the candidates' `keys` outputs.
    """
    dependencies = child.property_dependencies.get(prop) or ()
    if dependencies:
        return next((c for c in candidates if c.urn in dependencies), None)
    value = child.props.get(prop)
    if value is None:
        return None
    return next((c for c in candidates if any(c.props.get(k) == value for k in keys)), None)
