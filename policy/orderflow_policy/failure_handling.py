"""Failure handling: every asynchronous edge ends somewhere, after a bounded number of tries.

An event nobody could deliver, a stream record nobody could process, an async invocation
that kept failing: each must land in a dead-letter queue or on-failure destination, and
stream sources must give up on a poison record instead of blocking their shard for a day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from orderflow.aws_facts import DYNAMODB_STREAM_RETENTION_SECONDS, LAMBDA_ESM_MAX_RETRY_ATTEMPTS

from . import tokens
from .model import (
    Props,
    ResourceRule,
    StackResource,
    StackRule,
    Violation,
    as_list,
    as_number,
    dig,
    has_text,
    of_type,
    show_number,
)

STREAM_RETENTION_SECONDS = DYNAMODB_STREAM_RETENTION_SECONDS.value
# Event source mappings and pipes alike take at most this many retries.
MAX_RETRY_ATTEMPTS = LAMBDA_ESM_MAX_RETRY_ATTEMPTS.value.high
# Event source mapping sources that support (and need) an on-failure destination.
ON_FAILURE_SOURCES = frozenset({"dynamodb", "kinesis", "kafka"})
# Services that invoke Lambda asynchronously through a resource-based permission.
ASYNC_PRINCIPALS = frozenset(
    {
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "events.amazonaws.com",
        "iot.amazonaws.com",
        "logs.amazonaws.com",
        "ses.amazonaws.com",
        "config.amazonaws.com",
        "codecommit.amazonaws.com",
    }
)


def check_event_target(resource_type: str, props: Props) -> list[str]:
    if has_text(dig(props, "deadLetterConfig", "arn")):
        return []
    return [
        "rule target has no dead_letter_config: events EventBridge fails to deliver after its "
        "retries are dropped; add an SQS dead-letter queue"
    ]


def check_schedule(resource_type: str, props: Props) -> list[str]:
    if has_text(dig(props, "target", "deadLetterConfig", "arn")):
        return []
    return [
        "schedule target has no dead_letter_config: ticks Scheduler fails to deliver are "
        "dropped; add target.dead_letter_config with an SQS queue"
    ]


def stream_source(props: Props) -> tuple[str, str, Mapping[str, Any]] | None:
    """A pipe's stream source: (kind, where its parameters live, the parameters)."""
    for kind, key in (
        ("dynamodb", "dynamodbStreamParameters"),
        ("kinesis", "kinesisStreamParameters"),
    ):
        params = dig(props, "sourceParameters", key)
        if isinstance(params, Mapping):
            return kind, f"sourceParameters.{key}", params
    source = str(props.get("source") or "")
    service = source.split(":")[2] if source.startswith("arn:") and source.count(":") >= 2 else ""
    if service in ("dynamodb", "kinesis"):
        return service, f"sourceParameters.{service}StreamParameters", {}
    return None  # SQS, MQ and Kafka sources keep failures in their own redrive/DLQ settings


def mapping_source(props: Props) -> str:
    """What an event source mapping reads: dynamodb, kinesis, kafka, sqs, mq, …"""
    if props.get("selfManagedEventSource"):
        return "kafka"
    arn = str(props.get("eventSourceArn") or "")
    service = arn.split(":")[2] if arn.startswith("arn:") and arn.count(":") >= 2 else ""
    return {"dynamodb": "dynamodb", "kinesis": "kinesis", "kafka": "kafka"}.get(service, service)


def check_pipe(resource_type: str, props: Props) -> list[str]:
    source = stream_source(props)
    if source is None:
        return []
    kind, where, params = source
    if has_text(dig(params, "deadLetterConfig", "arn")):
        return []
    return [
        f"pipe reads a {kind} stream without {where}.deadLetterConfig: records it gives up on "
        "vanish; add an SQS dead-letter queue (and sqs:SendMessage on it for the pipe's role)"
    ]


def check_mapping(resource_type: str, props: Props) -> list[str]:
    source = mapping_source(props)
    if source not in ON_FAILURE_SOURCES:
        return []  # SQS sources dead-letter through the source queue's redrive policy
    if has_text(dig(props, "destinationConfig", "onFailure", "destinationArn")):
        return []
    return [
        f"event source mapping reads {source} without destination_config.on_failure: batches "
        "it gives up on vanish; add an SQS/SNS (metadata) or S3 (records) destination"
    ]


def retry_problems(where: str, kind: str, params: Mapping[str, Any]) -> list[str]:
    """`where` prefixes the setting's name (a pipe keeps it under sourceParameters)."""
    found: list[str] = []
    retries = as_number(params.get("maximumRetryAttempts"))
    if retries is None:
        found.append(
            f"{where}maximumRetryAttempts is not set: the default (-1) retries a failing batch "
            "until its records expire, blocking the shard"
        )
    elif not 0 <= retries <= MAX_RETRY_ATTEMPTS:
        found.append(
            f"{where}maximumRetryAttempts is {show_number(retries)}: set a finite value "
            f"from 0 to {MAX_RETRY_ATTEMPTS:,} (-1 retries forever)"
        )
    age = as_number(params.get("maximumRecordAgeInSeconds"))
    if age is None:
        found.append(
            f"{where}maximumRecordAgeInSeconds is not set: the default (-1) never gives up on "
            "an old record"
        )
    elif age < 0:
        found.append(
            f"{where}maximumRecordAgeInSeconds is {show_number(age)}: -1 never gives up on "
            "an old record; set a finite age"
        )
    elif kind == "dynamodb" and age >= STREAM_RETENTION_SECONDS:
        found.append(
            f"{where}maximumRecordAgeInSeconds is {show_number(age)}: keep it below "
            f"{STREAM_RETENTION_SECONDS:,} (the stream's 24-hour retention), or records expire "
            "unprocessed instead of reaching the dead-letter queue"
        )
    return found


def check_retries(resource_type: str, props: Props) -> list[str]:
    if resource_type == tokens.PIPE:
        source = stream_source(props)
        if source is None:
            return []
        kind, where, params = source
        return retry_problems(f"{where}.", kind, params)
    kind = mapping_source(props)
    if kind not in ON_FAILURE_SOURCES:
        return []
    return retry_problems("", kind, props)


Reference = Callable[[], Any]


def async_invocations(
    resources: Sequence[StackResource],
) -> list[tuple[StackResource, str, Reference]]:
    """(invoking resource, the input naming the function, how to read that name) per async edge.

    The name is read lazily: when the input's dependencies already tell which function it
    is (always in a preview), its possibly unknown value is never touched.
    """
    found: list[tuple[StackResource, str, Reference]] = []
    for r in resources:
        props = r.props
        if r.type == tokens.EVENT_TARGET:
            found.append((r, "arn", partial(dig, props, "arn")))
        elif r.type == tokens.SCHEDULE:
            found.append((r, "target", partial(dig, props, "target", "arn")))
        elif r.type == tokens.TOPIC_SUBSCRIPTION and props.get("protocol") == "lambda":
            found.append((r, "endpoint", partial(dig, props, "endpoint")))
        elif r.type == tokens.BUCKET_NOTIFICATION:
            found += [
                (r, "lambdaFunctions", partial(dig, f, "lambdaFunctionArn"))
                for f in as_list(props.get("lambdaFunctions"))
            ]
        elif r.type == tokens.PERMISSION and props.get("principal") in ASYNC_PRINCIPALS:
            found.append((r, "function", partial(dig, props, "function")))
        elif (
            r.type == tokens.PIPE
            and dig(props, "targetParameters", "lambdaFunctionParameters", "invocationType")
            == "FIRE_AND_FORGET"
        ):
            found.append((r, "target", partial(dig, props, "target")))
    return found


def refers_to_function(
    source: StackResource, prop: str, reference: Reference, function: StackResource
) -> bool:
    """Whether the input names `function` (by name or ARN, maybe with a qualifier)."""
    dependencies = source.property_dependencies.get(prop) or ()
    if dependencies:
        return function.urn in dependencies
    names = {str(function.props.get(k)) for k in ("name", "arn") if function.props.get(k)}
    text = str(reference() or "")
    return text in names or any(text.startswith(f"{n}:") for n in names if n.startswith("arn:"))


def check_async_functions(resources: Sequence[StackResource]) -> list[Violation]:
    """A function invoked asynchronously has an on-failure destination or a DLQ."""
    functions = of_type(resources, frozenset({tokens.FUNCTION}))
    configs = of_type(resources, frozenset({tokens.FUNCTION_EVENT_INVOKE_CONFIG}))
    found: list[Violation] = []
    edges = async_invocations(resources)
    for function in functions:
        invokers = sorted(
            {s.name for s, prop, ref in edges if refers_to_function(s, prop, ref, function)}
        )
        if not invokers:
            continue
        kept = has_text(dig(function.props, "deadLetterConfig", "targetArn")) or any(
            refers_to_function(c, "functionName", partial(dig, c.props, "functionName"), function)
            and has_text(dig(c.props, "destinationConfig", "onFailure", "destination"))
            for c in configs
        )
        if not kept:
            found.append(
                Violation(
                    f"function {function.name} is invoked asynchronously by {', '.join(invokers)} "
                    "but keeps no failed events: add a FunctionEventInvokeConfig with "
                    "destination_config.on_failure (or a dead_letter_config)",
                    function.urn,
                )
            )
    return found


EVENT_TARGET_DEAD_LETTER = ResourceRule(
    name="event-target-dead-letter-queue",
    description="EventBridge rule targets have a dead-letter queue (deadLetterConfig).",
    resource_types=frozenset({tokens.EVENT_TARGET}),
    check=check_event_target,
)

SCHEDULE_DEAD_LETTER = ResourceRule(
    name="schedule-dead-letter-queue",
    description=(
        "EventBridge Scheduler schedules have a dead-letter queue (target.deadLetterConfig)."
    ),
    resource_types=frozenset({tokens.SCHEDULE}),
    check=check_schedule,
)

PIPE_DEAD_LETTER = ResourceRule(
    name="pipe-dead-letter-queue",
    description=(
        "Pipes reading a DynamoDB or Kinesis stream have a dead-letter queue "
        "(sourceParameters.<stream>Parameters.deadLetterConfig)."
    ),
    resource_types=frozenset({tokens.PIPE}),
    check=check_pipe,
)

MAPPING_ON_FAILURE = ResourceRule(
    name="event-source-mapping-on-failure-destination",
    description=(
        "Lambda event source mappings on DynamoDB, Kinesis and Kafka sources have an "
        "on-failure destination (destinationConfig.onFailure)."
    ),
    resource_types=frozenset({tokens.EVENT_SOURCE_MAPPING}),
    check=check_mapping,
)

BOUNDED_RETRIES = ResourceRule(
    name="stream-retries-bounded",
    description=(
        "Pipes and event source mappings on streams retry a finite number of times "
        "(maximumRetryAttempts 0..10,000) and give up on old records (maximumRecordAgeInSeconds "
        "set, below 86,400 for DynamoDB streams)."
    ),
    resource_types=frozenset({tokens.PIPE, tokens.EVENT_SOURCE_MAPPING}),
    check=check_retries,
)

ASYNC_FUNCTIONS_KEEP_FAILURES = StackRule(
    name="async-lambda-failure-destination",
    description=(
        "Lambda functions invoked asynchronously (rule/schedule targets, SNS, S3 notifications, "
        "service permissions, fire-and-forget pipes) have an on-failure destination or a DLQ."
    ),
    subject_types=frozenset({tokens.FUNCTION}),
    check=check_async_functions,
)
