"""SNS topics, topic policies and subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.program import ACCOUNT
from emulator.provision.registry import Provisioned, Request, provisioner, tags

if TYPE_CHECKING:
    from emulator.engine import Emulator

_TOPIC_ATTRIBUTES = {
    "kmsMasterKeyId": "KmsMasterKeyId",
    "fifoTopic": "FifoTopic",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "displayName": "DisplayName",
    "policy": "Policy",
}


@provisioner("aws:sns/topic:Topic")
def topic(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    if request.get("fifoTopic") and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {
        api_key: str(request.get(key)).lower()
        if isinstance(request.get(key), bool)
        else str(request.get(key))
        for key, api_key in _TOPIC_ATTRIBUTES.items()
        if request.get(key) not in (None, "")
    }
    arn = emulator.client("sns").create_topic(
        Name=name,
        Attributes=attributes,
        Tags=[{"Key": k, "Value": v} for k, v in tags(request).items()],
    )["TopicArn"]
    return arn, {"arn": arn, "name": name, "owner": ACCOUNT}


@provisioner("aws:sns/topicPolicy:TopicPolicy")
def topic_policy(emulator: Emulator, request: Request) -> Provisioned:
    arn = request.get("arn")
    emulator.client("sns").set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=request.get("policy")
    )
    return arn, {"owner": ACCOUNT}


@provisioner("aws:sns/topicSubscription:TopicSubscription")
def topic_subscription(emulator: Emulator, request: Request) -> Provisioned:
    attributes: dict[str, Any] = {}
    for key, api_key in (
        ("rawMessageDelivery", "RawMessageDelivery"),
        ("filterPolicy", "FilterPolicy"),
        ("redrivePolicy", "RedrivePolicy"),
        ("filterPolicyScope", "FilterPolicyScope"),
    ):
        value = request.get(key)
        if value not in (None, ""):
            attributes[api_key] = str(value).lower() if isinstance(value, bool) else str(value)
    arn = emulator.client("sns").subscribe(
        TopicArn=request.get("topic"),
        Protocol=request.get("protocol"),
        Endpoint=request.get("endpoint"),
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    pending = request.get("protocol") in ("email", "email-json", "http", "https")
    return arn, {"arn": arn, "pendingConfirmation": pending, "ownerId": ACCOUNT}
