"""TLS only: bucket and queue policies deny every request made without TLS.

Encryption in transit is not a default of S3 or SQS; only a Deny on
`aws:SecureTransport = false` covering the whole resource makes plain HTTP fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from . import tokens
from .documents import actions, glob_matches, parse, resources
from .model import (
    Props,
    ResourceRule,
    StackResource,
    StackRule,
    Violation,
    as_list,
    has_text,
    of_type,
    owner,
)

SERVICES = {tokens.BUCKET_POLICY: "s3", tokens.QUEUE_POLICY: "sqs"}


def partition_of(statements: Sequence[Mapping[str, Any]]) -> str:
    """The ARN partition the policy itself uses (aws, aws-cn, aws-us-gov)."""
    for statement in statements:
        for resource in resources(statement):
            parts = resource.split(":")
            if len(parts) > 1 and parts[0] == "arn" and parts[1]:
                return parts[1]
    return "aws"


def queue_arn(queue_url: str, partition: str) -> str | None:
    """`https://sqs.<region>.amazonaws.com/<account>/<name>` → the queue's ARN."""
    parsed = urlparse(queue_url)
    path = [p for p in parsed.path.split("/") if p]
    host = (parsed.hostname or "").split(".")
    if len(path) != 2 or len(host) < 3:
        return None
    region = host[1] if host[0] == "sqs" else host[0]  # sqs.<region>… or legacy <region>.queue…
    return f"arn:{partition}:sqs:{region}:{path[0]}:{path[1]}"


def is_tls_deny(statement: Mapping[str, Any], service: str) -> bool:
    """A Deny of every `service` action, for anyone, when the request is not over TLS."""
    if statement.get("Effect") != "Deny" or "NotAction" in statement:
        return False
    principal = statement.get("Principal")
    everyone = principal == "*" or (
        isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))
    )
    covers_service = any(a == "*" or a.lower() == f"{service}:*" for a in actions(statement))
    condition = statement.get("Condition")
    bool_block = condition.get("Bool") if isinstance(condition, Mapping) else None
    insecure = [
        str(v).lower()
        for key, value in (bool_block.items() if isinstance(bool_block, Mapping) else ())
        if str(key).lower() == "aws:securetransport"  # condition keys ignore case
        for v in as_list(value)
    ]
    return everyone and covers_service and insecure == ["false"]


def tls_problem(resource_type: str, props: Props) -> str | None:
    """Why a bucket or queue policy lets plain HTTP through, or None."""
    service = SERVICES[resource_type]
    document = parse("policy", "resource", props.get("policy"))
    if document.error is not None:
        return f"policy {document.error}"
    partition = partition_of(document.statements)
    if resource_type == tokens.BUCKET_POLICY:
        bucket = props.get("bucket")
        if not has_text(bucket):
            return "policy names no bucket"
        targets = [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]
    else:
        arn = queue_arn(str(props.get("queueUrl")), partition)
        if arn is None:
            return f"cannot tell the queue from queueUrl {props.get('queueUrl')!r}"
        targets = [arn]
    denies = [s for s in document.statements if is_tls_deny(s, service)]
    uncovered = [
        t for t in targets if not any(glob_matches(r, t) for s in denies for r in resources(s))
    ]
    if not uncovered:
        return None
    return (
        f"policy does not deny {service}:* without TLS on {', '.join(uncovered)}: add a Deny "
        "for Principal * with Condition Bool aws:SecureTransport = false"
    )


def check_policy(resource_type: str, props: Props) -> list[str]:
    problem = tls_problem(resource_type, props)
    return [problem] if problem else []


def has_tls_only_inline_policy(target: StackResource) -> bool:
    """A queue may carry its policy inline (`policy` on the Queue itself)."""
    if target.type != tokens.QUEUE or not target.props.get("policy"):
        return False
    props = {"policy": target.props.get("policy"), "queueUrl": target.props.get("url")}
    return tls_problem(tokens.QUEUE_POLICY, props) is None


def check_coverage(resources_: Sequence[StackResource]) -> list[Violation]:
    """Every bucket and queue has a TLS-only policy (its own resource, or inline on a queue)."""
    found: list[Violation] = []
    subjects = [
        (tokens.BUCKETS, tokens.BUCKET_POLICY, "bucket", ("bucket", "id"), "BucketPolicy"),
        (frozenset({tokens.QUEUE}), tokens.QUEUE_POLICY, "queueUrl", ("url", "id"), "QueuePolicy"),
    ]
    for types, policy_type, prop, keys, label in subjects:
        targets = of_type(resources_, types)
        covered: set[str] = set()
        for policy in of_type(resources_, frozenset({policy_type})):
            target = owner(policy, prop, targets, keys)
            if target is not None and tls_problem(policy_type, policy.props) is None:
                covered.add(target.urn)
        for target in targets:
            if target.urn not in covered and not has_tls_only_inline_policy(target):
                found.append(
                    Violation(
                        f"{target.name} has no TLS-only {label}: add one denying requests "
                        "without aws:SecureTransport",
                        target.urn,
                    )
                )
    return found


TLS_ONLY_POLICIES = ResourceRule(
    name="tls-only-resource-policies",
    description=(
        "Bucket and queue policies deny every request without TLS (a Deny on "
        "aws:SecureTransport=false covering the whole resource)."
    ),
    resource_types=frozenset(SERVICES),
    check=check_policy,
)

TLS_ONLY_EVERYWHERE = StackRule(
    name="tls-only-buckets-and-queues",
    description="Every S3 bucket and SQS queue has a TLS-only resource policy.",
    subject_types=tokens.BUCKETS | {tokens.QUEUE},
    check=check_coverage,
)
