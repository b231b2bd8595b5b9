"""Provisioners: how each Pulumi resource type is created in moto (see `registry`).

Importing this package registers every provisioner module.
"""

from emulator.provision import (
    awslambda,
    cloudwatch,
    dynamodb,
    iam,
    kafka,
    kms,
    pipes,
    s3,
    scheduler,
    sfn,
    sns,
    sqs,
)
from emulator.provision.registry import (
    PROVISIONERS,
    UnsupportedResourceError,
    provision,
    provisioner,
)

__all__ = [
    "PROVISIONERS",
    "UnsupportedResourceError",
    "awslambda",
    "cloudwatch",
    "dynamodb",
    "iam",
    "kafka",
    "kms",
    "pipes",
    "provision",
    "provisioner",
    "s3",
    "scheduler",
    "sfn",
    "sns",
    "sqs",
]
