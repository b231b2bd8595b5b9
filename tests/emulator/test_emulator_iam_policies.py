"""Combining identity and resource policies, conditions and principals as AWS does."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_support import allow, policy

from emulator.iam.policies import (
    Decision,
    Principal,
    UnsupportedPolicyError,
    condition_holds,
    decide,
)

ROLE = Principal.role("arn:aws:iam::123456789012:role/validate")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:delivery-dlq"
RULE = "arn:aws:events:us-east-1:123456789012:rule/new-files"


def identity(
    *documents: str, action: str = "dynamodb:BatchWriteItem", resource: str = TABLE
) -> Decision:
    return decide(
        action, resource, principal=ROLE, identity_policies=documents, resource_policy=None
    )


def test_an_allow_on_the_resource_is_needed() -> None:
    assert identity(policy(allow("dynamodb:BatchWriteItem", TABLE))) is Decision.ALLOW
    assert identity(policy(allow("dynamodb:PutItem", TABLE))) is Decision.IMPLICIT_DENY
    assert (
        identity(policy(allow("dynamodb:BatchWriteItem", TABLE + "-other")))
        is Decision.IMPLICIT_DENY
    )
    assert identity() is Decision.IMPLICIT_DENY


def test_wildcards_and_case_insensitive_actions_match() -> None:
    assert identity(policy(allow("DynamoDB:batchwriteitem", TABLE))) is Decision.ALLOW
    assert (
        identity(policy(allow("dynamodb:*", "arn:aws:dynamodb:us-east-1:123456789012:table/*")))
        is Decision.ALLOW
    )


def test_an_explicit_deny_in_any_policy_wins() -> None:
    deny = policy({"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"})
    assert identity(policy(allow("dynamodb:BatchWriteItem", TABLE)), deny) is Decision.EXPLICIT_DENY


def test_a_tls_only_statement_does_not_deny_calls_over_tls() -> None:
    tls_only = policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": QUEUE,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    decision = decide(
        "sqs:SendMessage",
        QUEUE,
        principal=ROLE,
        identity_policies=[policy(allow("sqs:SendMessage", QUEUE))],
        resource_policy=tls_only,
    )
    assert decision is Decision.ALLOW


def _events_may_send(source_arn: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
    }


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (_events_may_send(RULE), Decision.ALLOW),
        (_events_may_send(RULE + "-other"), Decision.IMPLICIT_DENY),
        (
            {**_events_may_send(RULE), "Principal": {"Service": "sns.amazonaws.com"}},
            Decision.IMPLICIT_DENY,
        ),
    ],
)
def test_a_service_is_allowed_only_by_a_resource_policy_naming_it_and_its_source(
    statement: dict[str, Any], expected: Decision
) -> None:
    service = Principal.for_service("events.amazonaws.com", RULE)
    decision = decide(
        "sqs:SendMessage",
        QUEUE,
        principal=service,
        identity_policies=[],
        resource_policy=policy(statement),
    )
    assert decision is expected


def test_a_resource_policy_can_grant_a_role_it_names() -> None:
    grant = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE.arn},
            "Action": "sqs:SendMessage",
            "Resource": QUEUE,
        }
    )
    assert (
        decide(
            "sqs:SendMessage", QUEUE, principal=ROLE, identity_policies=[], resource_policy=grant
        )
        is Decision.ALLOW
    )


def test_an_allow_with_an_unmet_condition_does_not_apply() -> None:
    conditional = allow("dynamodb:BatchWriteItem", TABLE) | {
        "Condition": {
            "StringEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/someone-else"}
        }
    }
    assert identity(policy(conditional)) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"StringLike": {"aws:SourceArn": "arn:aws:events:*:rule/new-*"}}, True),
        ({"StringNotEquals": {"aws:SourceAccount": "123456789012"}}, False),
        ({"ArnLike": {"aws:SourceArn": ["arn:aws:events:*:rule/x", RULE]}}, True),
        ({"StringEqualsIfExists": {"aws:MissingKey": "x"}}, True),
        ({"StringEquals": {"aws:MissingKey": "x"}}, False),
    ],
)
def test_conditions(condition: dict[str, dict[str, Any]], holds: bool) -> None:
    context = Principal.for_service("events.amazonaws.com", RULE).context()
    assert condition_holds(condition, context) is holds


def test_an_operator_the_emulator_cannot_evaluate_fails_loudly() -> None:
    with pytest.raises(UnsupportedPolicyError, match="NumericLessThan"):
        condition_holds({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, {})
