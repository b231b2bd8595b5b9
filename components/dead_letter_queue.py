"""A dead-letter queue: encrypted, 14-day retention, TLS-only, alarmed when not empty."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .alarms import metric_alarm
from .iam import deny_insecure_transport
from .settings import DEAD_LETTER_RETENTION_SECONDS, Common


@dataclass(frozen=True)
class ServiceSender:
    """An AWS service allowed to send to the queue on behalf of one source ARN only."""

    service: str
    source_arn: pulumi.Input[str]


@dataclass(frozen=True)
class DeadLetterQueue:
    queue: aws.sqs.Queue
    policy: aws.sqs.QueuePolicy
    alarm: aws.cloudwatch.MetricAlarm

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.queue.arn

    @property
    def url(self) -> pulumi.Output[str]:
        return self.queue.url


def build_dead_letter_queue(
    name: str,
    *,
    purpose: str,
    common: Common,
    parent: pulumi.Resource,
    senders: Sequence[ServiceSender] = (),
) -> DeadLetterQueue:
    """Create the queue, its TLS-only policy (plus scoped service senders) and its alarm."""
    child = pulumi.ResourceOptions(parent=parent)
    encryption: dict[str, Any] = (
        {"kms_master_key_id": common.kms_key_arn, "kms_data_key_reuse_period_seconds": 3600}
        if common.kms_key_arn is not None
        else {"sqs_managed_sse_enabled": True}
    )
    queue = aws.sqs.Queue(
        name,
        message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
        visibility_timeout_seconds=300,
        opts=child,
        **encryption,
    )
    statements: list[Any] = [deny_insecure_transport("sqs:*", [queue.arn])]
    statements += [
        {
            "Sid": f"Allow{_camel(sender.service)}",
            "Effect": "Allow",
            "Principal": {"Service": sender.service},
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sender.source_arn}},
        }
        for sender in senders
    ]
    policy = aws.sqs.QueuePolicy(
        f"{name}-policy",
        queue_url=queue.url,
        policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
        opts=child,
    )
    alarm = metric_alarm(
        f"{name}-depth-alarm",
        parent=parent,
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        statistic="Maximum",
        dimensions={"QueueName": queue.name},
        description=f"orderflow {name}: {purpose} waiting in the dead-letter queue",
        alarm_actions=common.alarm_actions,
    )
    return DeadLetterQueue(queue, policy, alarm)


def _camel(service: str) -> str:
    return "".join(part.capitalize() for part in service.split(".", maxsplit=1)[0].split("-"))
