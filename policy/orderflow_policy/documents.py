"""IAM policy documents: where each resource type keeps them, and reading their statements.

The kind of a document decides which rules apply: identity policies (what a role may do)
are held to resource scoping, resource and key policies to naming the source of a service
principal, and every Allow anywhere to having no `*` in its actions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import tokens
from .model import Props, as_list, load_json

Kind = Literal["identity", "trust", "resource", "key"]

# Resource type → the props holding a policy document and what kind of document it is.
DOCUMENT_PROPS: dict[str, tuple[tuple[str, Kind], ...]] = {
    tokens.ROLE_POLICY: (("policy", "identity"),),
    tokens.USER_POLICY: (("policy", "identity"),),
    tokens.GROUP_POLICY: (("policy", "identity"),),
    tokens.MANAGED_POLICY: (("policy", "identity"),),
    tokens.ROLE: (("assumeRolePolicy", "trust"),),  # plus inlinePolicies, read below
    tokens.QUEUE_POLICY: (("policy", "resource"),),
    tokens.QUEUE: (("policy", "resource"),),
    tokens.BUCKET_POLICY: (("policy", "resource"),),
    tokens.TOPIC_POLICY: (("policy", "resource"),),
    tokens.TOPIC: (("policy", "resource"),),
    tokens.EVENT_BUS_POLICY: (("policy", "resource"),),
    tokens.KMS_KEY: (("policy", "key"),),
    tokens.KMS_KEY_POLICY: (("policy", "key"),),
}
DOCUMENT_TYPES = frozenset(DOCUMENT_PROPS)


@dataclass(frozen=True)
class Document:
    """One policy document of a resource; `error` says why it could not be read."""

    label: str
    kind: Kind
    statements: tuple[Mapping[str, Any], ...]
    error: str | None = None


def parse(label: str, kind: Kind, value: Any) -> Document:
    document, error = load_json(value)
    if error is not None:
        return Document(label, kind, (), error)
    if not isinstance(document, Mapping):
        return Document(label, kind, (), "is not a JSON object")
    statements = as_list(document.get("Statement"))
    if not all(isinstance(s, Mapping) for s in statements):
        return Document(label, kind, (), "has a Statement that is not an object")
    return Document(label, kind, tuple(statements))


def documents(resource_type: str, props: Props) -> list[Document]:
    """Every policy document the resource carries (absent ones are skipped)."""
    found = [
        parse(prop, kind, props.get(prop))
        for prop, kind in DOCUMENT_PROPS.get(resource_type, ())
        if props.get(prop) is not None
    ]
    if resource_type == tokens.ROLE:
        for index, inline in enumerate(as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping) and inline.get("policy") is not None:
                label = f"inlinePolicies[{inline.get('name') or index}]"
                found.append(parse(label, "identity", inline.get("policy")))
    return found


def statement_id(statement: Mapping[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return str(sid) if sid else f"#{index + 1}"


def is_allow(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def resources(statement: Mapping[str, Any]) -> list[str]:
    return [str(r) for r in as_list(statement.get("Resource"))]


def service_principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    return [str(s) for s in as_list(principal.get("Service"))]


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """Condition keys under any operator, lower-cased (IAM compares them case-insensitively)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {
        str(key).lower()
        for block in condition.values()
        if isinstance(block, Mapping)
        for key in block
    }


def glob_matches(pattern: str, value: str) -> bool:
    """IAM wildcard matching: `*` any run of characters, `?` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def is_every_resource(resource: str) -> bool:
    """`*`, or an ARN whose resource part is only a wildcard (`arn:aws:s3:::*`)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[5] in ("*", "*/*")
