"""An EventBridge Pipe from a DynamoDB stream to a Lambda function, failure-safe.

Finite retries, a record age below the stream's 24-hour retention, automatic bisection
of failing batches, partial batch responses by `eventID`, its own encrypted dead-letter
queue, ERROR logs with finite retention, and a role that may read this one stream,
invoke this one function and send to this one queue, attached before the pipe exists
(a pipe whose role lacks `sqs:SendMessage` on its DLQ never becomes healthy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from orderflow.aws_facts import (
    CLOUDWATCH_LOGS_VENDED_PREFIX,
    DYNAMODB_STREAM_RETENTION_SECONDS,
    PIPES_ANYTHING_BUT_FORMS,
    PIPES_DYNAMODB_SOURCE_ACTIONS,
    PIPES_STREAM_BATCH_SIZE,
    PIPES_STREAM_BATCHING_WINDOW_SECONDS,
    PIPES_STREAM_MAX_RETRY_ATTEMPTS,
    PIPES_STREAM_PARALLELIZATION_FACTOR,
    pipes_filter_operators,
)

from .alarms import metric_alarm
from .dead_letter_queue import DeadLetterQueue, build_dead_letter_queue
from .iam import Statement, kms_statements, policy_document, service_trust_policy
from .lambda_function import PythonFunction
from .settings import Common

STREAM_RETENTION_SECONDS = DYNAMODB_STREAM_RETENTION_SECONDS.value

# Filter operators EventBridge Pipes accepts. Event-bus rules accept more (`wildcard`, and
# `anything-but` with wildcard/prefix/suffix/equals-ignore-case); Pipes refuses those or,
# like the seed's `{"anything-but": "*test.com*"}`, reads them as a literal.
PIPES_OPERATORS = pipes_filter_operators()


@dataclass(frozen=True)
class StreamPipeSettings:
    batch_size: int = 100
    batching_window_seconds: int = 5
    maximum_retry_attempts: int = 3
    maximum_record_age_seconds: int = 3600
    parallelization_factor: int = 1
    starting_position: str = "LATEST"


@dataclass(frozen=True)
class StreamPipe:
    pipe: aws.pipes.Pipe
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    dead_letter_queue: DeadLetterQueue
    log_group: aws.cloudwatch.LogGroup
    alarms: list[aws.cloudwatch.MetricAlarm]

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.pipe.arn


def unsupported_filter_operators(pattern: Any) -> list[str]:
    """Operators in an event pattern that EventBridge Pipes would reject or mis-read."""
    found: list[str] = []
    if isinstance(pattern, Mapping):
        for key, value in pattern.items():
            if key == "$or" and isinstance(value, list):
                # A disjunction of whole sub-patterns, not a list of field values.
                for alternative in value:
                    found += unsupported_filter_operators(alternative)
            else:
                found += unsupported_filter_operators(value)
    elif isinstance(pattern, list):
        for value in pattern:
            if isinstance(value, Mapping):
                for operator, argument in value.items():
                    if operator not in PIPES_OPERATORS:
                        found.append(operator)
                    elif operator == "anything-but" and isinstance(argument, Mapping):
                        found += [
                            f"anything-but/{form}"
                            for form in argument
                            if form not in PIPES_ANYTHING_BUT_FORMS.value
                        ]
    return found


def check_settings(settings: StreamPipeSettings) -> None:
    """Reject values Pipes refuses, and unbounded retries that would block a shard."""
    if settings.batch_size not in (sizes := PIPES_STREAM_BATCH_SIZE.value):
        raise ValueError(f"batch_size must be {sizes}, not {settings.batch_size}")
    if settings.batching_window_seconds not in (
        window := PIPES_STREAM_BATCHING_WINDOW_SECONDS.value
    ):
        raise ValueError(
            f"batching_window_seconds must be {window}, not {settings.batching_window_seconds}"
        )
    most = PIPES_STREAM_MAX_RETRY_ATTEMPTS.value.high
    if not 0 <= settings.maximum_retry_attempts <= most:
        raise ValueError(
            f"maximum_retry_attempts must be 0..{most:,} (finite: an endless retry blocks the "
            f"shard for a day), not {settings.maximum_retry_attempts}"
        )
    if not 60 <= settings.maximum_record_age_seconds < STREAM_RETENTION_SECONDS:
        raise ValueError(
            "maximum_record_age_seconds must be at least 60 and below the stream's 24-hour "
            f"retention, not {settings.maximum_record_age_seconds}"
        )
    if settings.parallelization_factor not in (
        factors := PIPES_STREAM_PARALLELIZATION_FACTOR.value
    ):
        raise ValueError(
            f"parallelization_factor must be {factors}, not {settings.parallelization_factor}"
        )


def build_stream_pipe(
    name: str,
    *,
    stream_arn: pulumi.Input[str],
    target: PythonFunction,
    filters: Sequence[Mapping[str, Any]],
    settings: StreamPipeSettings,
    common: Common,
    parent: pulumi.Resource,
) -> StreamPipe:
    """Create the pipe with its role, dead-letter queue, log group and failure alarm."""
    for pattern in filters:
        bad = unsupported_filter_operators(pattern)
        if bad:
            raise ValueError(f"pipe {name}: filter uses operators Pipes does not support: {bad}")
    if not 1 <= len(filters) <= 5:
        raise ValueError(f"pipe {name}: a pipe takes 1 to 5 filters, not {len(filters)}")
    child = pulumi.ResourceOptions(parent=parent)
    dlq = build_dead_letter_queue(
        f"{name}-dlq",
        purpose="stream records the pipe gave up on (metadata: shard and sequence numbers)",
        common=common,
        parent=parent,
    )
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        # Under /aws/vendedlogs/: the service need not add the group to the account's
        # 5,120-character CloudWatch Logs resource policy (AWS's recommendation).
        name_prefix=f"{CLOUDWATCH_LOGS_VENDED_PREFIX.value}pipes/orderflow-{name}-",
        retention_in_days=common.log_retention_days,
        kms_key_id=common.kms_key_arn,
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-role",
        description=f"orderflow pipe {name}: read one stream, invoke one function",
        assume_role_policy=service_trust_policy("pipes.amazonaws.com", common.account_id),
        opts=child,
    )
    statements = [
        Statement(
            sid="ReadStream",
            actions=list(PIPES_DYNAMODB_SOURCE_ACTIONS.value["stream"]),
            resources=[stream_arn],
        ),
        Statement(
            # ListStreams takes no resource ARN: AWS requires "*".
            sid="ListStreams",
            actions=list(PIPES_DYNAMODB_SOURCE_ACTIONS.value["*"]),
            resources=["*"],
        ),
        Statement(
            sid="InvokeTarget",
            actions=["lambda:InvokeFunction"],
            resources=[target.arn],
        ),
        Statement(sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[dlq.arn]),
        Statement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(log_group.arn, ":*")],
        ),
    ]
    statements += kms_statements(common.kms_key_arn)
    if common.kms_key_arn is not None:
        # Pipes uses the pipe's key as this role, DescribeKey included (KMS_PIPES_KEY_POLICY).
        statements.append(
            Statement(
                sid="DescribePipeKey", actions=["kms:DescribeKey"], resources=[common.kms_key_arn]
            )
        )
    policy = aws.iam.RolePolicy(
        f"{name}-policy", role=role.id, policy=policy_document(statements), opts=child
    )
    pipe = aws.pipes.Pipe(
        name,
        role_arn=role.arn,
        source=stream_arn,
        target=target.arn,
        source_parameters={
            "filter_criteria": {"filters": [{"pattern": json.dumps(p)} for p in filters]},
            "dynamodb_stream_parameters": {
                "starting_position": settings.starting_position,
                "batch_size": settings.batch_size,
                "maximum_batching_window_in_seconds": settings.batching_window_seconds,
                "maximum_retry_attempts": settings.maximum_retry_attempts,
                "maximum_record_age_in_seconds": settings.maximum_record_age_seconds,
                "on_partial_batch_item_failure": "AUTOMATIC_BISECT",
                "parallelization_factor": settings.parallelization_factor,
                "dead_letter_config": {"arn": dlq.arn},
            },
        },
        target_parameters={"lambda_function_parameters": {"invocation_type": "REQUEST_RESPONSE"}},
        log_configuration={
            "level": "ERROR",
            "cloudwatch_logs_log_destination": {"log_group_arn": log_group.arn},
        },
        kms_key_identifier=common.kms_key_arn,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, dlq.policy]),
    )
    alarm = metric_alarm(
        f"{name}-failures-alarm",
        parent=parent,
        namespace="AWS/EventBridge/Pipes",
        metric_name="ExecutionFailed",
        dimensions={"PipeName": pipe.name},
        description=f"orderflow {name}: pipe executions failed",
        alarm_actions=common.alarm_actions,
    )
    return StreamPipe(pipe, role, policy, dlq, log_group, [alarm])
