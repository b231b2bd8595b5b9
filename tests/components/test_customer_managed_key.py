"""A customer managed key: every resource uses it, every role that needs it may, and the key
policy the stack exports (or gives the key it creates) lets AWS's services use it too."""

from __future__ import annotations

import json
import runpy
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from pulumi_harness import ACCOUNT, REGION, PulumiHarness, Stack

from components.key_policy import orderflow_key_policy_statements
from components.late_data_reconciler import LateDataReconciler
from emulator.settings import stack_settings

ROOT = Path(__file__).resolve().parents[2]
LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
KEY = "aws:kms/key:Key"
# A role that does one of these touches data encrypted with the stack's key.
TOUCHES_ENCRYPTED = (
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sns:Publish",
    "s3:GetObject",
    "s3:PutObject",
    "dynamodb:",
)


@pytest.fixture(scope="module")
def keyed_stack(pulumi_harness: PulumiHarness) -> Stack:
    """The dev stack with the emulator's settings (all four pipelines) and its own key."""
    settings = {**stack_settings(ROOT, "dev"), "orderflow:createKmsKey": "true"}
    return pulumi_harness.run(lambda: runpy.run_path(str(ROOT / "__main__.py")), settings)


def key_arn(stack: Stack) -> str:
    return str(stack.output_of(KEY, "orderflow-key", "arn"))


def role_grants(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every role's statements, from all of its inline policies, by role name."""
    names = {r.state.get("id", r.id): r.name for r in stack.of_type("aws:iam/role:Role")}
    grants: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = names.get(policy.inputs["role"], policy.inputs["role"])
        grants[role] += policy.policy()["Statement"]
    return grants


def test_the_created_key_carries_exactly_the_statements_the_stack_exports(
    keyed_stack: Stack,
) -> None:
    expected = orderflow_key_policy_statements(ACCOUNT, REGION)
    key = keyed_stack.one(KEY, "orderflow-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.policy()["Statement"] == expected
    assert keyed_stack.outputs["kmsKeyPolicyStatements"] == expected
    assert keyed_stack.outputs["kmsKeyArn"] == key_arn(keyed_stack)


def test_the_statements_allow_logs_and_eventbridge_for_this_account_only() -> None:
    by_sid = {s["Sid"]: s for s in orderflow_key_policy_statements("111122223333", "eu-west-1")}
    assert by_sid["EnableIamPolicies"]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    logs = by_sid["CloudWatchLogsEncryptsLogGroups"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"} <= set(logs["Action"])
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:*"
        }
    }
    events = by_sid["EventBridgeUsesKey"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= set(events["Action"])
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_every_encrypting_resource_uses_the_key(keyed_stack: Stack) -> None:
    key = key_arn(keyed_stack)
    checks = {
        "aws:cloudwatch/logGroup:LogGroup": ("kmsKeyId",),
        "aws:sqs/queue:Queue": ("kmsMasterKeyId",),
        "aws:cloudwatch/eventBus:EventBus": ("kmsKeyIdentifier",),
        "aws:pipes/pipe:Pipe": ("kmsKeyIdentifier",),
        "aws:scheduler/schedule:Schedule": ("kmsKeyArn",),
        "aws:dynamodb/table:Table": ("serverSideEncryption", "kmsKeyArn"),
        "aws:lambda/function:Function": ("kmsKeyArn",),
    }
    for typ, path in checks.items():
        resources = keyed_stack.of_type(typ)
        assert resources, typ
        for resource in resources:
            value: Any = resource.inputs
            for step in path:
                value = value[step]
            assert value == key, (typ, resource.name)
    premium_topic = keyed_stack.one("aws:sns/topic:Topic", "premium-notifications")
    assert premium_topic.inputs["kmsMasterKeyId"] == key


def test_every_role_touching_encrypted_data_may_use_the_key(keyed_stack: Stack) -> None:
    key = key_arn(keyed_stack)
    checked = []
    for role, statements in role_grants(keyed_stack).items():
        actions = [a for s in statements for a in s["Action"]]
        if not any(a.startswith(TOUCHES_ENCRYPTED) for a in actions):
            continue
        uses_key = [s for s in statements if key in s["Resource"]]
        granted = {a for s in uses_key for a in s["Action"]}
        assert {"kms:GenerateDataKey", "kms:Decrypt"} <= granted, role
        checked.append(role)
    # Functions, workflows, pipes and the schedule's role (it sends its own dead letters).
    assert any(role.endswith("-scheduler-role") for role in checked), checked
    assert any(role.endswith("-pipe-role") for role in checked), checked
    assert any(role.endswith("-workflow-role") or role.endswith("-fanout-role") for role in checked)
    assert len(checked) >= 10


def test_each_pipe_role_may_describe_the_key_pipes_uses_as_that_role(keyed_stack: Stack) -> None:
    key = key_arn(keyed_stack)
    pipe_roles = {
        role: statements
        for role, statements in role_grants(keyed_stack).items()
        if role.endswith("-pipe-role")
    }
    assert len(pipe_roles) == 2
    for role, statements in pipe_roles.items():
        granted = {a for s in statements if key in s["Resource"] for a in s["Action"]}
        assert {"kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"} <= granted, role


def test_without_a_key_nothing_is_exported_and_no_role_names_kms(
    pulumi_harness: PulumiHarness,
) -> None:
    # (set explicitly: the mocks keep config values of earlier runs)
    settings = {**stack_settings(ROOT, "dev"), "orderflow:createKmsKey": "false"}
    stack = pulumi_harness.run(lambda: runpy.run_path(str(ROOT / "__main__.py")), settings)
    assert "kmsKeyPolicyStatements" not in stack.outputs
    assert not [
        p for p in stack.of_type("aws:iam/rolePolicy:RolePolicy") if "kms:" in json.dumps(p.inputs)
    ]


@pytest.mark.parametrize(
    "reference",
    ["alias/orderflow", "arn:aws:kms:us-east-1:123456789012:alias/orderflow", "1234abcd-12ab"],
)
def test_a_key_reference_that_is_not_a_key_arn_is_refused(
    pulumi_harness: PulumiHarness, reference: str
) -> None:
    def program() -> None:
        with pytest.raises(ValueError, match="must be a KMS key ARN"):
            LateDataReconciler("ld", {"powertools_layer_arn": LAYER, "kms_key_arn": reference})

    assert list(pulumi_harness.run(program)) == []
