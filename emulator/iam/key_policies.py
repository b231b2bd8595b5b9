"""Use of a customer managed KMS key, authorized by its key policy as AWS does.

Why: moto stores key policies and never reads them, so a stack whose key policy forgets
CloudWatch Logs or EventBridge, or a role without `kms:GenerateDataKey`, would work here
and fail on AWS. AWS's rules for a key, same account:

- the key policy is the only source of permission; it either names the caller (a role ARN,
  or a service principal such as `logs.<region>.amazonaws.com`) or delegates to the
  account (`arn:aws:iam::<account>:root`), in which case the caller's IAM policies must
  allow the action on the key too;
- an AWS managed key (`alias/aws/sqs`, `alias/aws/sns`, ...) is usable by any principal
  of the account through its service: nothing is checked for it here.

Who needs which key action is the facts table's: a sender to an SSE-KMS queue and a
publisher to an SSE-KMS topic need `kms:GenerateDataKey` and `kms:Decrypt`
(`KMS_SQS_SENDER_ACTIONS`, `KMS_SNS_PUBLISHER_ACTIONS`); CloudWatch Logs needs its
principal allowed to create a log group with a key (`KMS_LOGS_KEY_POLICY`).
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.iam.access_control import PermissionResult
from moto.kms.models import kms_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from emulator.iam.actions import Need
from emulator.iam.policies import Decision, Principal, decide, resource_policy_result
from emulator.program import ACCOUNT
from orderflow.aws_facts import (
    KMS_LOGS_KEY_POLICY,
    KMS_SNS_CONTEXT_KEY,
    KMS_SNS_PUBLISHER_ACTIONS,
    KMS_SQS_CONTEXT_KEY,
    KMS_SQS_SENDER_ACTIONS,
)


def customer_key_arn(reference: str | None, region: str) -> str | None:
    """The ARN of the customer managed key `reference` names (None: none, or AWS managed)."""
    if not reference or reference.startswith("alias/aws/") or ":alias/aws/" in reference:
        return None
    backend = kms_backends[ACCOUNT][region]
    try:
        key = backend.describe_key(reference)
    except (KeyError, JsonRESTError, TypeError):
        return f"arn:aws:kms:{region}:{ACCOUNT}:key/{backend.get_key_id(reference)}"
    return str(key.arn)


def key_policy(key_arn: str) -> str | None:
    """The key's policy document, or None when the key does not exist."""
    region = key_arn.split(":")[3]
    try:
        return str(kms_backends[ACCOUNT][region].get_key_policy(key_arn))
    except (KeyError, JsonRESTError):
        return None


def encrypted_target_needs(resource_arn: str, region: str) -> list[Need]:
    """The key actions a sender needs for a queue or topic encrypted with a customer key."""
    service = resource_arn.split(":")[2]
    if service == "sqs":
        name = resource_arn.split(":")[5]
        queue = sqs_backends[ACCOUNT][region].queues.get(name)
        reference = getattr(queue, "kms_master_key_id", None)
        actions, context_key = KMS_SQS_SENDER_ACTIONS.value, KMS_SQS_CONTEXT_KEY.value.lower()
    elif service == "sns":
        topic = sns_backends[ACCOUNT][region].topics.get(resource_arn)
        reference = getattr(topic, "kms_master_key_id", None)
        actions, context_key = KMS_SNS_PUBLISHER_ACTIONS.value, KMS_SNS_CONTEXT_KEY.value.lower()
    else:
        return []
    key = customer_key_arn(reference, region)
    if key is None:
        return []
    context = ((context_key, resource_arn), ("kms:viaservice", f"{service}.{region}.amazonaws.com"))
    return [Need(action, key, context) for action in actions]


def key_use_decision(principal: Principal, need: Need, identity_policies: list[str]) -> Decision:
    """May `principal` perform `need.action` with the key `need.resource`? (key policy first)"""
    policy = key_policy(need.resource)
    if policy is None:
        return Decision.IMPLICIT_DENY  # a deleted or unknown key refuses everyone
    context = need.context
    direct = resource_policy_result(policy, principal, need.action, need.resource, context)
    if direct is PermissionResult.DENIED:
        return Decision.EXPLICIT_DENY
    if direct is PermissionResult.PERMITTED:
        return Decision.ALLOW
    if principal.service is not None:
        return Decision.IMPLICIT_DENY  # a service acting for itself needs the key policy
    root = Principal.role(f"arn:aws:iam::{principal.account}:root")
    delegated = resource_policy_result(policy, root, need.action, need.resource, context)
    if delegated is not PermissionResult.PERMITTED:
        return Decision.IMPLICIT_DENY
    return decide(
        need.action,
        need.resource,
        principal=principal,
        identity_policies=identity_policies,
        resource_policy=None,
        request_context=context,
    )


def logs_may_use_key(key_reference: str, log_group_arn: str, region: str) -> bool:
    """Whether CloudWatch Logs may encrypt `log_group_arn` with the key (its key policy)."""
    key = customer_key_arn(key_reference, region)
    if key is None:
        return True
    facts = KMS_LOGS_KEY_POLICY.value
    logs = Principal.for_service(
        str(facts["principal"]).format(region=region), f"{log_group_arn}:*"
    )
    context = ((str(facts["context_key"]).lower(), log_group_arn),)
    return all(
        key_use_decision(logs, Need(action, key, context), []) is Decision.ALLOW
        for action in ("kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt")
    )


def principal_may_use_key(
    principal: Principal,
    key_reference: str,
    actions: tuple[str, ...],
    context: tuple[tuple[str, str], ...],
    region: str,
) -> list[str]:
    """The `actions` the principal may not perform with the key (key policy, then IAM)."""
    key = customer_key_arn(key_reference, region)
    if key is None:
        return []
    from emulator.iam.guard import identity_policies  # noqa: PLC0415  (guard imports this module)

    policies = identity_policies(principal)
    return [
        action
        for action in actions
        if key_use_decision(principal, Need(action, key, context), policies) is not Decision.ALLOW
    ]
