"""SQS: queues and queue policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.program import ACCOUNT, REGION
from emulator.provision.registry import Provisioned, Request, provisioner

if TYPE_CHECKING:
    from emulator.engine import Emulator

# Pulumi input → SQS queue attribute.
_ATTRIBUTES = {
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "policy": "Policy",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "deduplicationScope": "DeduplicationScope",
    "fifoThroughputLimit": "FifoThroughputLimit",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@provisioner("aws:sqs/queue:Queue")
def queue(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    if request.get("fifoQueue") and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {
        attribute: _text(request.get(key))
        for key, attribute in _ATTRIBUTES.items()
        if request.get(key) not in (None, "")
    }
    url = emulator.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, {"name": name, "url": url, "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}


@provisioner("aws:sqs/queuePolicy:QueuePolicy")
def queue_policy(emulator: Emulator, request: Request) -> Provisioned:
    url = request.get("queueUrl")
    emulator.client("sqs").set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": request.get("policy")}
    )
    return url, {}


@provisioner("aws:sqs/redrivePolicy:RedrivePolicy")
def redrive_policy(emulator: Emulator, request: Request) -> Provisioned:
    url = request.get("queueUrl")
    emulator.client("sqs").set_queue_attributes(
        QueueUrl=url, Attributes={"RedrivePolicy": request.get("redrivePolicy")}
    )
    return url, {}
