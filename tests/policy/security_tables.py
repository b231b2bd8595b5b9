"""The generated parts of SECURITY.md: every role and resource-policy grant of the stack.

Rendered from the recorded stack, with physical names (`validation-dlq-a47109b`) and
account/region prefixes replaced by logical names (`sqs:validation-dlq`), so the tables
read like the program and change only when a permission does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from orderflow_policy import tokens as t
from orderflow_policy.documents import DOCUMENT_PROPS, actions, parse, resources, statement_id
from orderflow_policy.model import as_list

from emulator.program import Recorded, Stack

ROLES_BLOCK = (
    "<!-- roles:begin (generated, see tests/policy/test_security_doc.py) -->",
    "<!-- roles:end -->",
)
GRANTS_BLOCK = (
    "<!-- grants:begin (generated, see tests/policy/test_security_doc.py) -->",
    "<!-- grants:end -->",
)
SIDS_BLOCK = ("<!-- sids:begin -->", "<!-- sids:end -->")
ARN_PREFIX = re.compile(r"arn:aws[\w-]*:([\w-]+):[\w-]*:(?:\d{12})?:")


class Namer:
    """Turns physical names and ARNs of the recorded stack into readable logical ones."""

    def __init__(self, stack: Stack) -> None:
        pairs: dict[str, str] = {}
        for resource in stack:
            # Only a resource's own name: children hold their parent's (a policy's `bucket`).
            key = "bucket" if resource.type in t.BUCKETS else "name"
            physical = resource.state.get(key)
            if isinstance(physical, str) and physical != resource.name:
                pairs.setdefault(physical, resource.name)
        self.pairs = sorted(pairs.items(), key=lambda p: -len(p[0]))

    def __call__(self, text: str) -> str:
        if re.fullmatch(r"\d{12}", text):
            return "(this account)"
        for physical, logical in self.pairs:
            text = text.replace(physical, logical)
        return ARN_PREFIX.sub(r"\1:", text)


def code(items: Iterable[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def conditions(statement: Mapping[str, Any], name: Namer) -> str:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return ""
    parts = [
        f"{operator} `{key}` = {code(name(str(v)) for v in as_list(value))}"
        for operator, block in condition.items()
        for key, value in block.items()
    ]
    return "; ".join(parts)


def principal_text(principal: Any, name: Namer) -> str:
    """`*`, or `Service: events.amazonaws.com`, `AWS: iam:root`, …"""
    if not isinstance(principal, Mapping):
        return f"`{principal}`"
    return "; ".join(
        f"{kind}: {code(name(str(v)) for v in as_list(values))}"
        for kind, values in principal.items()
    )


def trusted(role: Recorded, name: Namer) -> str:
    """Who may assume the role, and on which conditions."""
    document = parse("assumeRolePolicy", "trust", role.inputs["assumeRolePolicy"])
    return "; ".join(
        " when ".join(
            part for part in (principal_text(s.get("Principal"), name), conditions(s, name)) if part
        )
        for s in document.statements
    )


def role_policies(stack: Stack, role: Recorded) -> list[Recorded]:
    return sorted(
        (p for p in stack.of_type(t.ROLE_POLICY) if p.inputs.get("role") == role.state["name"]),
        key=lambda p: p.name,
    )


def roles_table(stack: Stack) -> str:
    """| role | assumed by | Sid | may | on | when |, one row per statement."""
    name = Namer(stack)
    rows = [
        "| role | assumed by | Sid | may | on | when |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for role in sorted(stack.of_type(t.ROLE), key=lambda r: r.name):
        first = True
        for policy in role_policies(stack, role):
            document = parse("policy", "identity", policy.inputs["policy"])
            for index, statement in enumerate(document.statements):
                label = (f"`{role.name}`", trusted(role, name)) if first else ("", "")
                first = False
                rows.append(
                    f"| {label[0]} | {label[1]} | {statement_id(statement, index)} "
                    f"| {code(actions(statement))} | {code(name(r) for r in resources(statement))} "
                    f"| {conditions(statement, name)} |"
                )
    return "\n".join(rows)


def grants_table(stack: Stack) -> str:
    """Every statement of every resource and key policy: who else may do what to it."""
    name = Namer(stack)
    rows = [
        "| policy | Sid | effect | principal | may | on | when |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    resource_types = {
        typ for typ, props in DOCUMENT_PROPS.items() if props[0][1] in ("resource", "key")
    }
    for holder in sorted((r for r in stack if r.type in resource_types), key=lambda r: r.name):
        if not isinstance(holder.inputs.get("policy"), str):
            continue
        document = parse("policy", "resource", holder.inputs["policy"])
        for index, statement in enumerate(document.statements):
            who = principal_text(statement.get("Principal"), name)
            rows.append(
                f"| `{holder.name}` | {statement_id(statement, index)} | {statement.get('Effect')} "
                f"| {who} | {code(actions(statement))} "
                f"| {code(name(r) for r in resources(statement))} | {conditions(statement, name)} |"
            )
    return "\n".join(rows)


def statement_ids(stack: Stack) -> set[str]:
    """Every Sid of every identity, resource and key policy in the stack."""
    found: set[str] = set()
    for resource in stack:
        for prop, kind in DOCUMENT_PROPS.get(resource.type, ()):
            if isinstance(resource.inputs.get(prop), str) and kind != "trust":
                document = parse(prop, kind, resource.inputs[prop])
                found |= {str(s["Sid"]) for s in document.statements if s.get("Sid")}
    return found


def block(text: str, markers: tuple[str, str]) -> str:
    begin, end = markers
    assert begin in text, f"SECURITY.md lacks the marker {begin}"
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(text: str, markers: tuple[str, str], content: str) -> str:
    begin, end = markers
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{begin}\n{content}\n{end}{tail}"


def justifications(text: str) -> dict[str, str]:
    """The hand-written `| Sid | why |` table: Sid → why."""
    found: dict[str, str] = {}
    for line in block(text, SIDS_BLOCK).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] not in ("Sid", "---") and not set(cells[0]) <= {"-", " "}:
            found[cells[0].strip("`")] = cells[1]
    return found
