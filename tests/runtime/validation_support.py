"""Helpers shared by the runtime tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "validation"

BUCKET = "orderflow-uploads"
WORK_BUCKET = "orderflow-work"
TABLE = "orderflow-orders"
QUEUE = "orderflow-dead-letters"


@dataclass
class Aws:
    """Handles on the mocked resources the handlers use."""

    s3: Any
    dynamodb: Any
    sqs: Any
    bucket: str
    table: str
    queue_url: str

    def scan(self) -> list[dict[str, Any]]:
        """Every item, in a stable order (DynamoDB wire format)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items, key=lambda item: item["orderId"]["S"])

    def item_count(self) -> int:
        return len(self.scan())

    def count_items(self) -> int:
        """Item count via Select=COUNT (cheap even for thousands of items)."""
        total = 0
        kwargs: dict[str, Any] = {"TableName": self.table, "Select": "COUNT"}
        while True:
            page = self.dynamodb.scan(**kwargs)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def queue_depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """Receive (and delete) every queued message: parsed body plus attributes."""
        received: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = response.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(
                    {
                        "body": json.loads(message["Body"]),
                        "raw": message["Body"],
                        "attributes": {
                            name: value["StringValue"]
                            for name, value in message.get("MessageAttributes", {}).items()
                        },
                    }
                )
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' Logger reads from a real context."""

    function_name: str = "validation-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:validation-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def seed_records() -> list[Any]:
    """The two records of the seed's mock-data.json, as parsed."""
    records: list[Any] = json.loads((SAMPLES / "mock-data.json").read_text())["orders"]
    return records


def valid_record(n: int, **order_overrides: Any) -> dict[str, Any]:
    """A well-formed record whose orderId is str(n)."""
    order: dict[str, Any] = {
        "orderId": str(n),
        "item-id": f"item-{n}",
        "item-desc": f"Item number {n}",
        "qty": n % 7 + 1,
    }
    order.update(order_overrides)
    return {
        "order-info": order,
        "contact-info": {"name": f"Customer {n}", "email": f"customer{n}@example.com"},
    }


def batch_event(
    records: list[Any],
    *,
    key: str = "orders.json",
    start: int = 0,
    version_id: str | None = None,
    ingested_at: str = "2024-05-01T12:00:00Z",
    file_format: str = "json_array",
) -> dict[str, Any]:
    """The input one Distributed Map child receives."""
    return {
        "Items": [{"index": start + i, "value": value} for i, value in enumerate(records)],
        "BatchInput": {
            "bucket": BUCKET,
            "key": key,
            "versionId": version_id,
            "ingestedAt": ingested_at,
            "format": file_format,
        },
    }
