"""The resource-based policy attached to a resource ARN, read from moto's backends.

Covered: SQS queue policies, SNS topic policies, Lambda function policies (from
`lambda:AddPermission`) and S3 bucket policies. Other services' resource policies (KMS
key policies, DynamoDB resource policies, EventBridge bus policies) are not evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from emulator.program import ACCOUNT


def _sqs(parts: list[str]) -> str | None:
    _, _, _, region, account, name = parts[:6]
    queue = sqs_backends[account][region].queues.get(name)
    return None if queue is None else queue.policy


def _sns(parts: list[str]) -> str | None:
    _, _, _, region, account = parts[:5]
    topic = sns_backends[account][region].topics.get(":".join(parts[:6]))
    return None if topic is None else topic.policy


def _lambda(parts: list[str]) -> str | None:
    _, _, _, region, account, _, name = parts[:7]
    backend = lambda_backends[account][region]
    try:
        function = backend.get_function(name)
    except UnknownFunctionException:
        return None
    if not function.policy or not function.policy.statements:
        return None
    return json.dumps(function.policy.get_policy()["Policy"])


def _s3(parts: list[str]) -> str | None:
    bucket_name = parts[5].split("/")[0]
    bucket = s3_backends[ACCOUNT]["aws"].buckets.get(bucket_name)
    if bucket is None or not bucket.policy:
        return None
    policy: bytes = bucket.policy
    return policy.decode()


_FETCHERS: dict[str, Callable[[list[str]], str | None]] = {
    "sqs": _sqs,
    "sns": _sns,
    "lambda": _lambda,
    "s3": _s3,
}


def resource_policy(resource_arn: str) -> str | None:
    """The policy JSON attached to `resource_arn`, or None."""
    parts = resource_arn.split(":")
    if len(parts) < 6:
        return None
    fetch = _FETCHERS.get(parts[2])
    return fetch(parts) if fetch else None
