"""A DynamoDB table with orderflow's defaults: on-demand, encrypted, recoverable."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import Common


@dataclass(frozen=True)
class TableSpec:
    hash_key: str
    range_key: str | None = None
    stream_view_type: str | None = None
    """`NEW_AND_OLD_IMAGES` etc. to enable the table's stream; None: no stream."""
    ttl_attribute: str | None = None
    deletion_protection: bool = True


def build_table(
    name: str, spec: TableSpec, common: Common, parent: pulumi.Resource
) -> aws.dynamodb.Table:
    """On-demand billing, SSE (KMS; the stack's key when given), point-in-time recovery."""
    keys = [spec.hash_key] + ([spec.range_key] if spec.range_key else [])
    return aws.dynamodb.Table(
        name,
        hash_key=spec.hash_key,
        range_key=spec.range_key,
        attributes=[aws.dynamodb.TableAttributeArgs(name=key, type="S") for key in keys],
        billing_mode="PAY_PER_REQUEST",
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn=common.kms_key_arn
        ),
        deletion_protection_enabled=spec.deletion_protection,
        stream_enabled=True if spec.stream_view_type else None,
        stream_view_type=spec.stream_view_type,
        ttl=(
            aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True)
            if spec.ttl_attribute
            else None
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
