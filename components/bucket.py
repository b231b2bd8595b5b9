"""A private S3 bucket: encrypted, versioned, TLS-only, owner-enforced, tidy lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .iam import deny_insecure_transport
from .settings import Common

NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7


@dataclass(frozen=True)
class BucketSpec:
    force_destroy: bool = False
    """Let `pulumi destroy` delete the bucket while it still holds objects."""
    eventbridge_notifications: bool = False
    """Send the bucket's object events to EventBridge."""
    expiration_days: int | None = None
    """Delete every object this many days after it was written (a bucket of work files)."""


@dataclass(frozen=True)
class PrivateBucket:
    resource: aws.s3.Bucket
    policy: aws.s3.BucketPolicy

    @property
    def bucket(self) -> pulumi.Output[str]:
        return self.resource.bucket

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.resource.arn


def build_private_bucket(
    name: str, spec: BucketSpec, common: Common, parent: pulumi.Resource
) -> PrivateBucket:
    """Create the bucket and every setting resource that makes it private and durable."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, force_destroy=spec.force_destroy, opts=child)
    kms_key_arn = common.kms_key_arn
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms" if kms_key_arn is not None else "AES256",
                    kms_master_key_id=kms_key_arn,
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=child,
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    rule: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {
        "id": "expire-old-versions-and-uploads",
        "status": "Enabled",
        "filter": {},
        "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
        "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS},
    }
    if spec.expiration_days is not None:
        rule["expiration"] = {"days": spec.expiration_days}
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=[rule],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]),
    )
    if spec.eventbridge_notifications:
        aws.s3.BucketNotification(
            f"{name}-notification", bucket=bucket.id, eventbridge=True, opts=child
        )
    policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    deny_insecure_transport(
                        "s3:*", [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")]
                    )
                ],
            }
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access]),
    )
    return PrivateBucket(bucket, policy)
