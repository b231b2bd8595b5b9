"""Shared assertions about IAM and resource policies in a recorded stack."""

from __future__ import annotations

from typing import Any

from pulumi_harness import Recorded, Stack

from orderflow.aws_facts import actions_without_resource_arn

# Actions that take no resource ARN: "*" is the only valid resource (the facts table).
RESOURCE_STAR_ALLOWED = actions_without_resource_arn()


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(stack: Stack, role_name: str) -> dict[str, dict[str, Any]]:
    """Every Allow statement attached inline to a role, keyed by Sid."""
    role = stack.one("aws:iam/role:Role", role_name)
    found: dict[str, dict[str, Any]] = {}
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.inputs["role"] == role.state["name"]:
            for statement in statements(policy.policy()):
                assert statement["Sid"] not in found, (
                    f"duplicate Sid {statement['Sid']} on {role_name}"
                )
                found[statement["Sid"]] = statement
    assert found, f"role {role_name} has no inline policy"
    return found


def assert_least_privilege(policy_resource: Recorded) -> int:
    """No `*` action anywhere; `*` resources only for actions that cannot be scoped.

    Returns the number of statements checked so callers can assert the check ran.
    """
    checked = 0
    for statement in statements(policy_resource.policy()):
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), (policy_resource.name, statement)
        resources = as_list(statement["Resource"])
        if "*" in resources:
            assert set(actions) <= RESOURCE_STAR_ALLOWED, (policy_resource.name, statement)
        for resource in resources:
            assert resource == "*" or resource.startswith("arn:aws:"), (
                policy_resource.name,
                resource,
            )
        checked += 1
    return checked


def assert_tls_only(policy: dict[str, Any], resources: list[str]) -> None:
    deny = [s for s in statements(policy) if s.get("Sid") == "DenyInsecureTransport"]
    assert len(deny) == 1, policy
    assert deny[0]["Effect"] == "Deny"
    assert deny[0]["Principal"] == "*"
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(as_list(deny[0]["Resource"])) == sorted(resources)
