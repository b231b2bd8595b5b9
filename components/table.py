"""A DynamoDB table with orderflow's defaults: on-demand, encrypted, recoverable."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .settings import Common


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class TableSpec:
    hash_key: str
    range_key: str | None = None
    stream_view_type: str | None = None
    """`NEW_AND_OLD_IMAGES` etc. to enable the table's stream; None: no stream."""
    ttl_attribute: str | None = None
    deletion_protection: bool = True
    indexes: tuple[IndexSpec, ...] = ()
    """Global secondary indexes (projecting all attributes)."""


def build_table(
    name: str, spec: TableSpec, common: Common, parent: pulumi.Resource
) -> aws.dynamodb.Table:
    """On-demand billing, SSE (KMS; the stack's key when given), point-in-time recovery."""
    keys = [spec.hash_key] + ([spec.range_key] if spec.range_key else [])
    for index in spec.indexes:
        keys += [k for k in (index.hash_key, index.range_key) if k and k not in keys]
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
        global_secondary_indexes=[
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index.name,
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                        attribute_name=attribute, key_type=key_type
                    )
                    for attribute, key_type in (
                        (index.hash_key, "HASH"),
                        (index.range_key, "RANGE"),
                    )
                    if attribute
                ],
                projection_type="ALL",
            )
            for index in spec.indexes
        ]
        or None,
        stream_enabled=True if spec.stream_view_type else None,
        stream_view_type=spec.stream_view_type,
        ttl=(
            aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True)
            if spec.ttl_attribute
            else None
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
