"""samples/premium/seed-writes.json through a real (moto) stream, the Pipes filters and both
handlers: what the emulator's `run premium` does, minus the emulator."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from moto.events.models import EventPattern
from orders_support import (
    PREMIUM_FILTER,
    SAMPLES,
    STANDARD_FILTER,
    STREAM_ARN,
    OrdersAws,
    stream_record,
)

from runtime.orders import handler

ORDERS_TABLE = "NewOrders"
SERIALIZER = TypeSerializer()


def typed(item: dict[str, Any]) -> dict[str, Any]:
    return {name: SERIALIZER.serialize(value) for name, value in item.items()}


def apply_writes(dynamodb: Any, writes: list[dict[str, Any]]) -> None:
    """The emulator's input format: {"put": item} | {"update": {key, set}} | {"delete": {key}}."""
    for write in writes:
        [(operation, body)] = write.items()
        if operation == "put":
            dynamodb.put_item(TableName=ORDERS_TABLE, Item=typed(body))
        elif operation == "update":
            names = {f"#a{i}": name for i, name in enumerate(body["set"])}
            values = {f":v{i}": value for i, value in enumerate(body["set"].values())}
            dynamodb.update_item(
                TableName=ORDERS_TABLE,
                Key=typed(body["key"]),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(names))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=typed(values),
            )
        else:
            assert operation == "delete"
            dynamodb.delete_item(TableName=ORDERS_TABLE, Key=typed(body["key"]))


def stream_records(stream_arn: str) -> list[dict[str, Any]]:
    """Everything on the table's stream, shaped as Pipes deliver it (JSON, with the ARN)."""
    streams = boto3.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            created = record["dynamodb"]["ApproximateCreationDateTime"]
            if isinstance(created, datetime):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            records.append({**record, "eventSourceARN": stream_arn})
    return records


def matching(pattern: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    compiled = EventPattern.load(json.dumps(pattern))
    return [record for record in records if compiled.matches_event(cast(Any, record))]


def test_pipe_filters_route_the_sample_stream_record() -> None:
    [record] = json.loads((SAMPLES / "seed-stream-record.json").read_text())
    assert record["eventSourceARN"] == STREAM_ARN
    assert matching(STANDARD_FILTER, [record]) == [record]
    assert matching(PREMIUM_FILTER, [record]) == [record]
    insert = stream_record(event_name="INSERT", new_status="pending", old_status=None)
    assert matching(PREMIUM_FILTER, [insert]) == []


def test_seed_writes_end_to_end(
    orders_aws: OrdersAws, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    writes = json.loads((SAMPLES / "seed-writes.json").read_text(), parse_float=Decimal)
    table = orders_aws.dynamodb.create_table(
        TableName=ORDERS_TABLE,
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    apply_writes(orders_aws.dynamodb, writes)
    records = stream_records(table["TableDescription"]["LatestStreamArn"])
    assert [r["eventName"] for r in records] == [
        "INSERT",
        "MODIFY",
        "INSERT",
        "MODIFY",
        "INSERT",
        "MODIFY",
        "REMOVE",
    ]

    standard_batch = matching(STANDARD_FILTER, records)
    premium_batch = matching(PREMIUM_FILTER, records)
    assert len(standard_batch) == 6  # the REMOVE never reaches a Lambda
    assert len(premium_batch) == 3  # the three pending -> shipped updates

    assert handler.process_standard(standard_batch, lambda_context) == {"batchItemFailures": []}
    accepted = orders_aws.published()
    assert [(e["detail"]["orderId"], e["detail"]["status"]) for e in accepted] == [
        ("ORD-1001", "pending"),
        ("ORD-1001", "shipped"),
    ]

    assert handler.process_premium(premium_batch, lambda_context) == {"batchItemFailures": []}
    [premium] = orders_aws.published()
    assert premium["detail-type"] == "PremiumOrderShipped"
    assert premium["detail"]["orderId"] == "ORD-1001"
    assert premium["detail"]["amount"] == "1500"
    [note] = orders_aws.notifications()
    assert note["attributes"]["orderId"] == "ORD-1001"
    assert orders_aws.dead_letters() == []
