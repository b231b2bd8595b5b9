"""S3: buckets and the per-bucket settings resources of pulumi-aws v7."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.program import REGION
from emulator.provision.registry import Provisioned, Request, pascal, provisioner

if TYPE_CHECKING:
    from emulator.engine import Emulator


@provisioner("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
def bucket(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical("bucket", lower=True)
    emulator.client("s3").create_bucket(Bucket=name)
    return name, {
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        "region": REGION,
        "hostedZoneId": "Z3AQBSTGFYJSTF",
    }


@provisioner(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
def encryption(emulator: Emulator, request: Request) -> Provisioned:
    rules = pascal(
        request.get("rules"), {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"}
    )
    emulator.client("s3").put_bucket_encryption(
        Bucket=request.get("bucket"), ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return request.get("bucket"), {}


@provisioner("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def public_access_block(emulator: Emulator, request: Request) -> Provisioned:
    settings = {
        key: bool(request.get(key[:1].lower() + key[1:], False))
        for key in (
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        )
    }
    emulator.client("s3").put_public_access_block(
        Bucket=request.get("bucket"), PublicAccessBlockConfiguration=settings
    )
    return request.get("bucket"), {}


@provisioner("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
def ownership_controls(emulator: Emulator, request: Request) -> Provisioned:
    emulator.client("s3").put_bucket_ownership_controls(
        Bucket=request.get("bucket"), OwnershipControls={"Rules": [pascal(request.get("rule"))]}
    )
    return request.get("bucket"), {}


@provisioner(
    "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"
)
def versioning(emulator: Emulator, request: Request) -> Provisioned:
    configuration = pascal(request.get("versioningConfiguration"), {"mfaDelete": "MFADelete"})
    emulator.client("s3").put_bucket_versioning(
        Bucket=request.get("bucket"), VersioningConfiguration=configuration
    )
    return request.get("bucket"), {}


@provisioner("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
def lifecycle(emulator: Emulator, request: Request) -> Provisioned:
    emulator.client("s3").put_bucket_lifecycle_configuration(
        Bucket=request.get("bucket"), LifecycleConfiguration={"Rules": pascal(request.get("rules"))}
    )
    return request.get("bucket"), {}


def _filter(config: dict[str, Any]) -> dict[str, Any]:
    rules = [
        {"Name": name, "Value": config[key]}
        for name, key in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
        if config.get(key)
    ]
    return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}


@provisioner("aws:s3/bucketNotification:BucketNotification")
def notification(emulator: Emulator, request: Request) -> Provisioned:
    configuration: dict[str, Any] = {}
    if request.get("eventbridge"):
        configuration["EventBridgeConfiguration"] = {}
    for key, api_key, arn_key in (
        ("queues", "QueueConfigurations", "QueueArn"),
        ("topics", "TopicConfigurations", "TopicArn"),
        ("lambdaFunctions", "LambdaFunctionConfigurations", "LambdaFunctionArn"),
    ):
        entries = request.get(key) or []
        if entries:
            configuration[api_key] = [
                {
                    arn_key: entry[arn_key[:1].lower() + arn_key[1:]],
                    "Events": entry["events"],
                    **({"Id": entry["id"]} if entry.get("id") else {}),
                    **_filter(entry),
                }
                for entry in entries
            ]
    emulator.client("s3").put_bucket_notification_configuration(
        Bucket=request.get("bucket"), NotificationConfiguration=configuration
    )
    return request.get("bucket"), {}


@provisioner("aws:s3/bucketPolicy:BucketPolicy")
def bucket_policy(emulator: Emulator, request: Request) -> Provisioned:
    emulator.client("s3").put_bucket_policy(
        Bucket=request.get("bucket"), Policy=request.get("policy")
    )
    return request.get("bucket"), {}
