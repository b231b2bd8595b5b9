"""PremiumOrderPipe under Pulumi mocks: filters, pipe parameters, IAM scoping, alarms."""

from __future__ import annotations

import json
from typing import Any, cast

import pulumi
import pytest
from moto.events.models import EventPattern
from policy_checks import assert_least_privilege, assert_tls_only, role_statements
from pulumi_harness import PulumiHarness, Stack

from components.premium_order_pipe import (
    PremiumOrderPipe,
    PremiumOrderPipeArgs,
    premium_filter,
    standard_filter,
)
from components.stream_pipe import unsupported_filter_operators

LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
PIPE = "aws:pipes/pipe:Pipe"
FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
OUTPUTS = (
    "table_name",
    "stream_arn",
    "standard_pipe_arn",
    "premium_pipe_arn",
    "event_bus_name",
    "topic_arn",
    "dead_letter_queue_url",
    "dead_letter_queue_arn",
    "standard_pipe_dead_letter_queue_arn",
    "premium_pipe_dead_letter_queue_arn",
)


def build(
    harness: PulumiHarness, args: PremiumOrderPipeArgs | None = None
) -> tuple[Stack, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> None:
        pipe = PremiumOrderPipe(
            "po", {"powertools_layer_arn": LAYER, "alarm_topic_arn": TOPIC, **(args or {})}
        )
        pulumi.Output.all(*(getattr(pipe, n) for n in OUTPUTS)).apply(
            lambda values: outputs.update(zip(OUTPUTS, values, strict=True))
        )

    return harness.run(program), outputs


@pytest.fixture(scope="module")
def built(pulumi_harness: PulumiHarness) -> tuple[Stack, dict[str, Any]]:
    return build(pulumi_harness)


@pytest.fixture(scope="module")
def stack(built: tuple[Stack, dict[str, Any]]) -> Stack:
    return built[0]


def stream_record(
    event_name: str, new: dict[str, Any] | None, old: dict[str, Any] | None
) -> dict[str, Any]:
    """A DynamoDB stream record as Pipes filters see it (attribute values typed)."""

    def image(values: dict[str, Any]) -> dict[str, Any]:
        return {
            k: {"N": str(v)} if isinstance(v, int | float) else {"S": v} for k, v in values.items()
        }

    dynamodb: dict[str, Any] = {"Keys": {"orderId": {"S": "ORD-1001"}}}
    if new is not None:
        dynamodb["NewImage"] = image(new)
    if old is not None:
        dynamodb["OldImage"] = image(old)
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": dynamodb,
    }


def pipe_filter(stack: Stack, name: str) -> EventPattern:
    (entry,) = stack.one(PIPE, name).inputs["sourceParameters"]["filterCriteria"]["filters"]
    return EventPattern.load(entry["pattern"])


def matches(pattern: EventPattern, record: dict[str, Any]) -> bool:
    return bool(pattern.matches_event(cast(Any, record)))


def test_outputs_resolve(built: tuple[Stack, dict[str, Any]]) -> None:
    stack, outputs = built
    table = stack.one("aws:dynamodb/table:Table", "po-orders")
    assert outputs["table_name"] == table.state["name"]
    assert outputs["stream_arn"] == table.state["streamArn"]
    assert outputs["standard_pipe_arn"] == stack.output_of(PIPE, "po-standard-pipe", "arn")
    assert outputs["premium_pipe_arn"] == stack.output_of(PIPE, "po-premium-pipe", "arn")
    assert outputs["event_bus_name"] == stack.output_of(
        "aws:cloudwatch/eventBus:EventBus", "po-bus", "name"
    )
    assert outputs["topic_arn"] == stack.output_of("aws:sns/topic:Topic", "po-notifications", "arn")
    assert outputs["dead_letter_queue_url"] == stack.output_of(QUEUE, "po-dlq", "url")
    assert outputs["standard_pipe_dead_letter_queue_arn"] == stack.output_of(
        QUEUE, "po-standard-pipe-dlq", "arn"
    )
    assert outputs["premium_pipe_dead_letter_queue_arn"] == stack.output_of(
        QUEUE, "po-premium-pipe-dlq", "arn"
    )


def test_orders_table_streams_new_and_old_images(stack: Stack) -> None:
    table = stack.one("aws:dynamodb/table:Table", "po-orders")
    assert table.inputs["hashKey"] == "orderId"
    assert table.inputs["streamEnabled"] is True
    assert table.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    idempotency = stack.one("aws:dynamodb/table:Table", "po-idempotency")
    assert idempotency.inputs["hashKey"] == "id"
    assert idempotency.inputs["ttl"] == {"attributeName": "expiration", "enabled": True}


def test_the_seed_filters_are_refused() -> None:
    seed_filter = {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {
            "NewImage": {"customerEmail": {"S": [{"anything-but": {"wildcard": "*test.com*"}}]}}
        },
    }
    assert unsupported_filter_operators(seed_filter) == ["anything-but/wildcard"]
    assert unsupported_filter_operators({"a": [{"wildcard": "*x"}]}) == ["wildcard"]
    assert unsupported_filter_operators({"a": [{"numeric": [">", 1000]}, {"prefix": "x"}]}) == []
    either = {"$or": [{"eventName": ["INSERT"]}, {"dynamodb": {"x": [{"wildcard": "*"}]}}]}
    assert unsupported_filter_operators(either) == ["wildcard"]


@pytest.mark.parametrize("name", ["po-standard-pipe", "po-premium-pipe"])
def test_pipe_parameters_bound_retries_age_and_batches(stack: Stack, name: str) -> None:
    pipe = stack.one(PIPE, name)
    table = stack.one("aws:dynamodb/table:Table", "po-orders")
    assert pipe.inputs["source"] == table.state["streamArn"]
    params = pipe.inputs["sourceParameters"]["dynamodbStreamParameters"]
    assert params == {
        "startingPosition": "LATEST",
        "batchSize": 100,
        "maximumBatchingWindowInSeconds": 5,
        "maximumRetryAttempts": 3,
        "maximumRecordAgeInSeconds": 3600,
        "onPartialBatchItemFailure": "AUTOMATIC_BISECT",
        "parallelizationFactor": 1,
        "deadLetterConfig": {"arn": stack.output_of(QUEUE, f"{name}-dlq", "arn")},
    }
    assert pipe.inputs["targetParameters"] == {
        "lambdaFunctionParameters": {"invocationType": "REQUEST_RESPONSE"}
    }
    log_group = stack.one("aws:cloudwatch/logGroup:LogGroup", f"{name}-logs")
    assert pipe.inputs["logConfiguration"] == {
        "level": "ERROR",
        "cloudwatchLogsLogDestination": {"logGroupArn": log_group.state["arn"]},
    }
    assert log_group.inputs["retentionInDays"] == 30
    for dependency in (f"{name}-policy", f"{name}-dlq-policy"):
        typ = (
            "aws:iam/rolePolicy:RolePolicy"
            if dependency.endswith("-pipe-policy")
            else "aws:sqs/queuePolicy:QueuePolicy"
        )
        assert stack.one(typ, dependency).urn in pipe.dependencies, dependency


@pytest.mark.parametrize(
    ("name", "target"), [("po-standard-pipe", "po-standard"), ("po-premium-pipe", "po-premium")]
)
def test_pipe_role_reads_this_stream_invokes_its_target_and_sends_to_its_queue(
    stack: Stack, name: str, target: str
) -> None:
    grants = role_statements(stack, f"{name}-role")
    assert set(grants) == {
        "ReadStream",
        "ListStreams",
        "InvokeTarget",
        "SendDeadLetters",
        "WriteOwnLogs",
    }
    assert grants["ReadStream"]["Resource"] == [
        stack.output_of("aws:dynamodb/table:Table", "po-orders", "streamArn")
    ]
    assert grants["InvokeTarget"]["Resource"] == [stack.output_of(FN, target, "arn")]
    assert grants["SendDeadLetters"]["Resource"] == [stack.output_of(QUEUE, f"{name}-dlq", "arn")]
    trust = stack.one("aws:iam/role:Role", f"{name}-role").policy("assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "pipes.amazonaws.com"}


def test_processors_publish_only_to_their_bus_topic_queue_and_idempotency_table(
    stack: Stack,
) -> None:
    bus_arn = stack.output_of("aws:cloudwatch/eventBus:EventBus", "po-bus", "arn")
    topic_arn = stack.output_of("aws:sns/topic:Topic", "po-notifications", "arn")
    standard = role_statements(stack, "po-standard-role")
    premium = role_statements(stack, "po-premium-role")
    assert "NotifyPremium" not in standard
    assert premium["NotifyPremium"]["Resource"] == [topic_arn]
    for grants in (standard, premium):
        assert grants["PublishDomainEvents"]["Resource"] == [bus_arn]
        assert grants["SendDeadLetters"]["Resource"] == [stack.output_of(QUEUE, "po-dlq", "arn")]
        assert grants["RecordIdempotency"]["Resource"] == [
            stack.output_of("aws:dynamodb/table:Table", "po-idempotency", "arn")
        ]
    policies = stack.of_type("aws:iam/rolePolicy:RolePolicy")
    assert sum(assert_least_privilege(p) for p in policies) >= 16


def test_processor_environment_carries_the_business_rules(stack: Stack) -> None:
    env = stack.one(FN, "po-premium").inputs["environment"]["variables"]
    assert env["ACCEPTED_STATUSES"] == "pending,shipped"
    assert env["PREMIUM_FROM_STATUS"] == "pending"
    assert env["PREMIUM_TO_STATUS"] == "shipped"
    assert env["STANDARD_MIN_AMOUNT"] == "100"
    assert env["PREMIUM_MIN_AMOUNT"] == "1000"
    assert env["TEST_EMAIL_DOMAINS"] == "test.com"
    assert env["TOPIC_ARN"] == stack.output_of("aws:sns/topic:Topic", "po-notifications", "arn")
    assert env["EVENT_BUS_NAME"] == stack.output_of(
        "aws:cloudwatch/eventBus:EventBus", "po-bus", "name"
    )
    assert stack.one(FN, "po-premium").inputs["handler"] == "runtime.orders.handler.process_premium"
    assert (
        stack.one(FN, "po-standard").inputs["handler"] == "runtime.orders.handler.process_standard"
    )
    assert "TOPIC_ARN" not in stack.one(FN, "po-standard").inputs["environment"]["variables"]


def test_alarms_cover_queues_functions_and_pipes(stack: Stack) -> None:
    alarms = {a.name: a for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    expected = {
        "po-dlq-depth-alarm",
        "po-standard-pipe-dlq-depth-alarm",
        "po-premium-pipe-dlq-depth-alarm",
        "po-standard-errors-alarm",
        "po-standard-throttles-alarm",
        "po-premium-errors-alarm",
        "po-premium-throttles-alarm",
        "po-standard-pipe-failures-alarm",
        "po-premium-pipe-failures-alarm",
    }
    assert set(alarms) == expected
    pipe_alarm = alarms["po-premium-pipe-failures-alarm"]
    assert pipe_alarm.inputs["namespace"] == "AWS/EventBridge/Pipes"
    assert pipe_alarm.inputs["metricName"] == "ExecutionFailed"
    assert pipe_alarm.inputs["dimensions"] == {
        "PipeName": stack.output_of(PIPE, "po-premium-pipe", "name")
    }
    assert all(a.inputs["alarmActions"] == [TOPIC] for a in alarms.values())


def test_notification_topic_is_encrypted_and_tls_only(stack: Stack) -> None:
    topic = stack.one("aws:sns/topic:Topic", "po-notifications")
    assert topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    policy = stack.one("aws:sns/topicPolicy:TopicPolicy", "po-notifications-policy").policy()
    assert_tls_only(policy, [topic.state["arn"]])
    assert not stack.of_type("aws:sns/topicSubscription:TopicSubscription")


def test_custom_statuses_thresholds_and_email(pulumi_harness: PulumiHarness) -> None:
    stack, _ = build(
        pulumi_harness,
        {
            "accepted_statuses": ["placed"],
            "known_statuses": ["placed", "packed", "sent"],
            "premium_from_status": "packed",
            "premium_to_status": "sent",
            "premium_min_amount": "5000.50",
            "test_email_domains": ["QA.example"],
            "notification_email": "ops@example.com",
            "batch_size": 500,
        },
    )
    assert json.loads(
        stack.one(PIPE, "po-standard-pipe").inputs["sourceParameters"]["filterCriteria"]["filters"][
            0
        ]["pattern"]
    ) == standard_filter(["placed"])
    assert json.loads(
        stack.one(PIPE, "po-premium-pipe").inputs["sourceParameters"]["filterCriteria"]["filters"][
            0
        ]["pattern"]
    ) == premium_filter("packed", "sent")
    env = stack.one(FN, "po-premium").inputs["environment"]["variables"]
    assert env["PREMIUM_MIN_AMOUNT"] == "5000.50"
    assert env["TEST_EMAIL_DOMAINS"] == "qa.example"
    subscription = stack.one(
        "aws:sns/topicSubscription:TopicSubscription", "po-notifications-email"
    )
    assert subscription.inputs["endpoint"] == "ops@example.com"
    assert (
        stack.one(PIPE, "po-premium-pipe").inputs["sourceParameters"]["dynamodbStreamParameters"][
            "batchSize"
        ]
        == 500
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"maximum_retry_attempts": -1}, "finite"),
        ({"maximum_record_age_seconds": 86_400}, "24-hour"),
        ({"batch_size": 0}, "batch_size"),
        ({"batching_window_seconds": 301}, "batching_window_seconds"),
        ({"accepted_statuses": ["lost"]}, "not in known_statuses"),
        ({"premium_from_status": "shipped"}, "must differ"),
        ({"premium_min_amount": "lots"}, "decimal"),
        ({"standard_min_amount": "-1"}, "non-negative"),
        ({"table_name": "t", "deletion_protection": True}, "conflicts with table_name"),
    ],
)
def test_invalid_arguments_are_rejected(
    pulumi_harness: PulumiHarness, args: dict[str, Any], message: str
) -> None:
    """Rejected before anything is registered: a failed call leaves no half-built stack."""
    raised: list[ValueError] = []

    def program() -> None:
        with pytest.raises(ValueError, match=message) as info:
            PremiumOrderPipe("bad", {"powertools_layer_arn": LAYER, **args})  # type: ignore[arg-type]
        raised.append(info.value)

    stack = pulumi_harness.run(program)
    assert raised
    assert list(stack) == []


def test_brought_table_with_a_full_stream_feeds_both_pipes(pulumi_harness: PulumiHarness) -> None:
    stack, outputs = build(pulumi_harness, {"table_name": "NewOrders"})
    assert not [t for t in stack.of_type("aws:dynamodb/table:Table") if t.name == "po-orders"]
    stream = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/NewOrders/stream/2026-01-01T00:00:00.000"
    )
    assert outputs["stream_arn"] == stream
    for name in ("po-standard-pipe", "po-premium-pipe"):
        assert stack.one(PIPE, name).inputs["source"] == stream
        assert role_statements(stack, f"{name}-role")["ReadStream"]["Resource"] == [stream]


def test_brought_table_without_new_and_old_images_is_refused(pulumi_harness: PulumiHarness) -> None:
    with pytest.raises(ValueError, match="NEW_AND_OLD_IMAGES"):
        build(pulumi_harness, {"table_name": "orders-no-stream"})
