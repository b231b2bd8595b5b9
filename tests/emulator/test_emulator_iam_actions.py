"""Which IAM action on which ARN each AWS call needs (the guard's map)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.iam.actions import Need, UnmappedOperationError, needs_for

REGION = "us-east-1"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:dead-letters"


def test_head_object_needs_get_object_on_the_object() -> None:
    needs = needs_for("s3", "HeadObject", {"Bucket": "b", "Key": "incoming/a b.json"}, REGION)
    assert needs == [Need("s3:GetObject", "arn:aws:s3:::b/incoming/a b.json")]


def test_reading_a_version_needs_get_object_version() -> None:
    needs = needs_for("s3", "GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v1"}, REGION)
    assert needs == [Need("s3:GetObjectVersion", "arn:aws:s3:::b/k")]


def test_listing_needs_list_bucket_on_the_bucket() -> None:
    assert needs_for("s3", "ListObjectsV2", {"Bucket": "b"}, REGION) == [
        Need("s3:ListBucket", "arn:aws:s3:::b")
    ]


def test_copy_reads_the_source_and_writes_the_target() -> None:
    needs = needs_for(
        "s3", "CopyObject", {"Bucket": "t", "Key": "k2", "CopySource": "s/k1"}, REGION
    )
    assert needs == [
        Need("s3:GetObject", "arn:aws:s3:::s/k1"),
        Need("s3:PutObject", "arn:aws:s3:::t/k2"),
    ]


def test_send_message_batch_needs_send_message_on_the_queue_arn() -> None:
    needs = needs_for("sqs", "SendMessageBatch", {"QueueUrl": QUEUE_URL, "Entries": []}, REGION)
    assert needs == [Need("sqs:SendMessage", QUEUE_ARN)]


def test_batch_write_needs_the_action_on_every_table() -> None:
    params: dict[str, Any] = {
        "RequestItems": {"orders": [], "arn:aws:dynamodb:us-east-1:123456789012:table/ledger": []}
    }
    assert needs_for("dynamodb", "BatchWriteItem", params, REGION) == [
        Need("dynamodb:BatchWriteItem", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
        Need("dynamodb:BatchWriteItem", "arn:aws:dynamodb:us-east-1:123456789012:table/ledger"),
    ]


def test_queries_on_an_index_name_the_index() -> None:
    needs = needs_for("dynamodb", "Query", {"TableName": "orders", "IndexName": "byStatus"}, REGION)
    assert needs == [
        Need(
            "dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/byStatus"
        )
    ]


def test_transactions_need_each_item_action() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "orders"}},
            {"Update": {"TableName": "ledger"}},
            {"ConditionCheck": {"TableName": "orders"}},
        ]
    }
    assert [n.action for n in needs_for("dynamodb", "TransactWriteItems", params, REGION)] == [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    ]


@pytest.mark.parametrize(
    ("name", "arn"),
    [
        ("validate", "arn:aws:lambda:us-east-1:123456789012:function:validate"),
        ("validate:live", "arn:aws:lambda:us-east-1:123456789012:function:validate:live"),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:validate",
            "arn:aws:lambda:us-east-1:123456789012:function:validate",
        ),
    ],
)
def test_invoke_needs_invoke_function_on_the_function(name: str, arn: str) -> None:
    assert needs_for("lambda", "Invoke", {"FunctionName": name}, REGION) == [
        Need("lambda:InvokeFunction", arn)
    ]


def test_put_events_names_each_bus_once() -> None:
    params = {
        "Entries": [{"Source": "a"}, {"Source": "b", "EventBusName": "orders"}, {"Source": "c"}]
    }
    assert needs_for("events", "PutEvents", params, REGION) == [
        Need("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"),
        Need("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/orders"),
    ]


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("cloudwatch", "PutMetricData", "cloudwatch:PutMetricData"),
        ("xray", "PutTraceSegments", "xray:PutTraceSegments"),
    ],
)
def test_actions_without_resource_level_permissions_need_star(
    service: str, operation: str, action: str
) -> None:
    assert needs_for(service, operation, {}, REGION) == [Need(action, "*")]


def test_logs_name_the_log_stream() -> None:
    params = {"logGroupName": "/orderflow/x", "logStreamName": "s1"}
    assert needs_for("logs", "PutLogEvents", params, REGION) == [
        Need(
            "logs:PutLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/orderflow/x:log-stream:s1",
        )
    ]


def test_state_machine_calls_map_to_states_actions() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    assert needs_for("stepfunctions", "StartExecution", {"stateMachineArn": arn}, REGION) == [
        Need("states:StartExecution", arn)
    ]


def test_caller_identity_needs_no_permission() -> None:
    assert needs_for("sts", "GetCallerIdentity", {}, REGION) == []


def test_an_unmapped_operation_fails_loudly() -> None:
    with pytest.raises(UnmappedOperationError, match=r"dynamodb:RestoreTableFromBackup"):
        needs_for("dynamodb", "RestoreTableFromBackup", {"TableName": "t"}, REGION)
