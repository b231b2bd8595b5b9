"""Encryption at rest: buckets, queues, tables and topics hold order and customer data."""

from __future__ import annotations

from collections.abc import Sequence

from . import tokens
from .model import (
    Props,
    ResourceRule,
    StackResource,
    StackRule,
    Violation,
    as_list,
    dig,
    has_text,
    is_true,
    of_type,
    owner,
)

SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
BUCKET_NAME_KEYS = ("bucket", "id")


def check_queue(resource_type: str, props: Props) -> list[str]:
    if is_true(props.get("sqsManagedSseEnabled")) or has_text(props.get("kmsMasterKeyId")):
        return []
    return [
        "queue is not encrypted at rest: set sqs_managed_sse_enabled=True (SSE-SQS) or "
        "kms_master_key_id (SSE-KMS)"
    ]


def check_table(resource_type: str, props: Props) -> list[str]:
    if is_true(dig(props, "serverSideEncryption", "enabled")):
        return []
    return [
        "table is not encrypted with KMS: set server_side_encryption.enabled=True "
        "(AWS managed key, or kms_key_arn for a customer managed one)"
    ]


def check_topic(resource_type: str, props: Props) -> list[str]:
    if has_text(props.get("kmsMasterKeyId")):
        return []
    return ["topic is not encrypted at rest: set kms_master_key_id (alias/aws/sns or a CMK)"]


def encryption_rule_problem(props: Props) -> str | None:
    """Why a BucketServerSideEncryptionConfiguration encrypts nothing by default, if it does not."""
    algorithms = [
        dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        for rule in as_list(props.get("rules"))
    ]
    if any(a in SSE_ALGORITHMS for a in algorithms):
        return None
    return f"its default encryption rule names no algorithm of {sorted(SSE_ALGORITHMS)}"


def check_buckets(resources: Sequence[StackResource]) -> list[Violation]:
    """Every bucket has a BucketServerSideEncryptionConfiguration with a default algorithm.

    The bucket's own (deprecated, provider-computed) `serverSideEncryptionConfiguration`
    output does not count: it reports AWS's default whether or not anyone configured one.
    """
    buckets = of_type(resources, tokens.BUCKETS)
    configurations: dict[str, list[StackResource]] = {}
    for config in of_type(resources, tokens.BUCKET_ENCRYPTION):
        bucket = owner(config, "bucket", buckets, BUCKET_NAME_KEYS)
        if bucket is not None:
            configurations.setdefault(bucket.urn, []).append(config)
    found: list[Violation] = []
    for bucket in buckets:
        configs = configurations.get(bucket.urn, [])
        if not configs:
            found.append(
                Violation(
                    f"bucket {bucket.name} has no BucketServerSideEncryptionConfiguration: add one "
                    "(AES256, or aws:kms with the stack's key)",
                    bucket.urn,
                )
            )
            continue
        problems = [encryption_rule_problem(c.props) for c in configs]
        if all(problems):
            found.append(Violation(f"bucket {bucket.name}: {problems[0]}", bucket.urn))
    return found


QUEUE_ENCRYPTED = ResourceRule(
    name="sqs-queue-encrypted",
    description="SQS queues are encrypted at rest (SSE-SQS or KMS): dead letters carry order data.",
    resource_types=frozenset({tokens.QUEUE}),
    check=check_queue,
)

TABLE_ENCRYPTED = ResourceRule(
    name="dynamodb-table-encrypted",
    description="DynamoDB tables use KMS server-side encryption (serverSideEncryption.enabled).",
    resource_types=frozenset({tokens.TABLE}),
    check=check_table,
)

TOPIC_ENCRYPTED = ResourceRule(
    name="sns-topic-encrypted",
    description="SNS topics are encrypted at rest with a KMS key (kmsMasterKeyId).",
    resource_types=frozenset({tokens.TOPIC}),
    check=check_topic,
)

BUCKET_ENCRYPTED = StackRule(
    name="s3-bucket-encrypted",
    description=(
        "Every S3 bucket has a BucketServerSideEncryptionConfiguration with a default "
        "algorithm (AES256, aws:kms or aws:kms:dsse)."
    ),
    subject_types=tokens.BUCKETS,
    check=check_buckets,
)
