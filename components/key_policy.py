"""What a customer managed key's policy must allow for orderflow, and a key that allows it.

Why: with `kms_key_arn`, the stack encrypts log groups, queues, topics, tables, buckets,
the premium bus and pipes with that key. Roles get `kms:GenerateDataKey`/`kms:Decrypt`
in their own policies (`iam.kms_statements`), but IAM policies count only when the key
policy delegates to the account, and AWS services acting for themselves are authorized
by the key policy alone: CloudWatch Logs refuses to create a log group with a key whose
policy does not allow `logs.<region>.amazonaws.com`, and EventBridge (the encrypted bus,
rule dead-letter queues it sends to) needs `events.amazonaws.com`. A brought key must
carry `orderflow_key_policy_statements(...)` (the stack exports them); `build_stack_key`
creates a key that does.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from orderflow.aws_facts import (
    KMS_EVENTBRIDGE_KEY_POLICY,
    KMS_LOGS_KEY_POLICY,
)


def orderflow_key_policy_statements(
    account_id: str, region: str, partition: str = "aws"
) -> list[dict[str, Any]]:
    """The key-policy statements orderflow needs on a customer managed key.

    1. The account's IAM policies may use the key (KMS's default statement): every role
       orderflow creates carries its own `kms:GenerateDataKey`/`kms:Decrypt` grant, which
       counts only with this delegation.
    2. CloudWatch Logs may encrypt this account's log groups in this region.
    3. EventBridge may use the key for this account (the encrypted bus, and the rule
       dead-letter queues it sends to as `events.amazonaws.com`).
    """
    logs = KMS_LOGS_KEY_POLICY.value
    events = KMS_EVENTBRIDGE_KEY_POLICY.value
    return [
        {
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": str(logs["principal"]).format(region=region)},
            "Action": sorted(logs["actions"]),
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    str(logs["context_key"]): (
                        f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                    )
                }
            },
        },
        {
            "Sid": "EventBridgeUsesKey",
            "Effect": "Allow",
            "Principal": {"Service": str(events["principal"])},
            "Action": sorted(events["actions"]),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    ]


def key_policy_statements_output() -> pulumi.Output[list[dict[str, Any]]]:
    """The statements for the deploying account and region (a stack output)."""
    account = aws.get_caller_identity_output().account_id
    region = aws.get_region_output().region
    return pulumi.Output.all(account, region).apply(
        lambda v: orderflow_key_policy_statements(str(v[0]), str(v[1]))
    )


def build_stack_key(name: str, opts: pulumi.ResourceOptions | None = None) -> aws.kms.Key:
    """A rotated customer managed key whose policy is exactly the statements above."""
    return aws.kms.Key(
        name,
        description="orderflow data, logs and events",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=key_policy_statements_output().apply(
            lambda statements: json.dumps({"Version": "2012-10-17", "Statement": statements})
        ),
        opts=opts,
    )
