"""IAM policy documents built from small, explicit statements.

Every role in orderflow gets inline statements scoped to resource ARNs. Keeping the
statements as data (not JSON strings) lets tests and the policy pack inspect them, and
lets the emulator enforce exactly what a real deployment would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi


@dataclass(frozen=True)
class Statement:
    """One Allow (or Deny) statement; `resources` may hold unresolved Pulumi outputs."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    effect: str = "Allow"
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": self.effect,
            "Action": sorted(self.actions),
            "Resource": list(self.resources),
        }
        if self.conditions:
            rendered["Condition"] = {k: dict(v) for k, v in self.conditions.items()}
        return rendered


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """Render statements as an IAM policy JSON string (resolving any outputs)."""
    return pulumi.Output.json_dumps(
        {"Version": "2012-10-17", "Statement": [s.render() for s in statements]}
    )


def service_trust_policy(service: str, source_account: pulumi.Input[str] | None = None) -> Any:
    """Trust policy letting one AWS service principal assume a role.

    With `source_account` the trust is limited to this account (confused-deputy guard).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [statement]})


def deny_insecure_transport(actions: str, resources: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    """The TLS-only statement for resource policies (S3 bucket, SQS queue, SNS topic)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": list(resources),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def kms_statements(kms_key_arn: pulumi.Input[str] | None) -> list[Statement]:
    """Use of the stack's customer managed key, when there is one (AWS managed: nothing)."""
    if kms_key_arn is None:
        return []
    return [
        Statement(
            sid="UseDataKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[kms_key_arn],
        )
    ]
