"""CloudWatch alarms and the optional SNS topic they notify.

Alarms exist whether or not a topic is wired: an operator can always see them in the
console, and wiring a topic later changes no alarm.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from .iam import deny_insecure_transport


def metric_alarm(
    name: str,
    *,
    parent: pulumi.Resource,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    description: str,
    alarm_actions: list[pulumi.Input[str]],
    threshold: float = 0,
    statistic: str = "Sum",
    period: int = 60,
    evaluation_periods: int = 1,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm that fires when `metric` exceeds `threshold`; missing data is healthy."""
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dict(dimensions),
        statistic=statistic,
        period=period,
        evaluation_periods=evaluation_periods,
        threshold=threshold,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=alarm_actions,
        ok_actions=alarm_actions,
        opts=pulumi.ResourceOptions(parent=parent),
    )


class AlarmTopic(pulumi.ComponentResource):
    """An encrypted, TLS-only SNS topic for alarms, with an optional email subscription.

    CloudWatch cannot publish to a topic encrypted with the AWS managed `aws/sns` key, so
    unless a key is brought the topic gets its own customer managed key (rotated) whose
    policy lets CloudWatch encrypt messages for it.
    """

    topic_arn: pulumi.Output[str]
    """ARN to pass as `alarm_topic_arn` to every component."""
    key_arn: pulumi.Output[str]
    """The KMS key encrypting the topic."""

    def __init__(
        self,
        name: str,
        email: pulumi.Input[str] | None = None,
        kms_key_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("orderflow:index:AlarmTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output().account_id
        if kms_key_arn is None:
            kms_key_arn = _alarm_topic_key(name, account_id, child).arn
        topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=kms_key_arn, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=topic.arn,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AllowCloudWatchAlarms",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": topic.arn,
                            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                        },
                        deny_insecure_transport("sns:Publish", [topic.arn]),
                    ],
                }
            ),
            opts=child,
        )
        if email is not None:
            aws.sns.TopicSubscription(
                f"{name}-email", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        self.topic_arn = topic.arn
        self.key_arn = pulumi.Output.from_input(kms_key_arn)
        self.register_outputs({"topic_arn": self.topic_arn, "key_arn": self.key_arn})


def _alarm_topic_key(
    name: str, account_id: pulumi.Output[str], opts: pulumi.ResourceOptions
) -> aws.kms.Key:
    """A rotated key that the account administers and CloudWatch may use to publish."""
    policy = pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")
                    },
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchPublishes",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ],
        }
    )
    return aws.kms.Key(
        f"{name}-key",
        description="orderflow alarm topic encryption",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy,
        opts=opts,
    )
