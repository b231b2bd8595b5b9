"""Helpers for the order runtime tests: stream records, moto handles, flaky clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples" / "premium"

BUS = "orderflow-orders-bus"
TOPIC = "orderflow-premium-orders"
DEAD_LETTER_QUEUE = "orderflow-orders-dead-letters"
EVENTS_QUEUE = "observed-events"
NOTIFICATIONS_QUEUE = "observed-notifications"
IDEMPOTENCY_TABLE = "orderflow-orders-idempotency"
SOURCE = "orderflow.orders"
STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/NewOrders/stream/2024-05-01T00:00:00.000"
)

# The Pipes filters of the contract (the PremiumOrderPipe component owns the real ones).
STANDARD_FILTER: dict[str, Any] = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"NewImage": {"status": {"S": ["pending", "shipped"]}}},
}
PREMIUM_FILTER: dict[str, Any] = {
    "eventName": ["MODIFY"],
    "dynamodb": {
        "OldImage": {"status": {"S": ["pending"]}},
        "NewImage": {"status": {"S": ["shipped"]}},
    },
}


def image(
    order_id: str | None,
    status: str | None,
    amount: str | None,
    email: str | None,
) -> dict[str, Any]:
    """A DynamoDB image; a None field is left out."""
    item: dict[str, Any] = {}
    if order_id is not None:
        item["orderId"] = {"S": order_id}
    if status is not None:
        item["status"] = {"S": status}
    if amount is not None:
        item["amount"] = {"N": amount}
    if email is not None:
        item["customerEmail"] = {"S": email}
    item["createdAt"] = {"S": "2024-05-01T12:00:00Z"}
    item["updatedAt"] = {"S": "2024-05-01T14:50:00Z"}
    return item


def stream_record(
    order_id: str = "ORD-1001",
    *,
    event_name: str = "MODIFY",
    new_status: str | None = "shipped",
    old_status: str | None = "pending",
    amount: str | None = "1500",
    email: str | None = "vip@example.com",
    event_id: str | None = None,
    sequence: int = 1,
) -> dict[str, Any]:
    """A stream record as Pipes deliver it; `old_status=None` means no OldImage."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1714575000 + sequence,
        "Keys": {"orderId": {"S": order_id}},
        "SequenceNumber": f"{4421584500000000017450439091 + sequence}",
        "SizeBytes": 358,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name != "REMOVE":
        dynamodb["NewImage"] = image(order_id, new_status, amount, email)
    if old_status is not None:
        dynamodb["OldImage"] = image(order_id, old_status, amount, email)
    return {
        "eventID": event_id if event_id is not None else f"evt-{order_id}-{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every message on a queue."""
    received: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return received
        received.extend(messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {
        name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()
    }


@dataclass
class OrdersAws:
    """Handles on the mocked bus, topic, queues and idempotency table."""

    sqs: Any
    events: Any
    sns: Any
    dynamodb: Any
    dead_letter_queue_url: str
    events_queue_url: str
    notifications_queue_url: str
    topic_arn: str

    def published(self) -> list[dict[str, Any]]:
        """EventBridge events delivered to the observer queue since the last call."""
        return [json.loads(m["Body"]) for m in drain(self.sqs, self.events_queue_url)]

    def notifications(self) -> list[dict[str, Any]]:
        """SNS messages (raw delivery) since the last call: subject-less body + attributes."""
        return [
            {"message": json.loads(m["Body"]), "attributes": attributes(m)}
            for m in drain(self.sqs, self.notifications_queue_url)
        ]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [
            {"body": json.loads(m["Body"]), "attributes": attributes(m)}
            for m in drain(self.sqs, self.dead_letter_queue_url)
        ]

    def idempotency_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.dynamodb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]
        return sorted(items, key=lambda item: str(item["id"]["S"]))


@dataclass
class FlakyEvents:
    """Wraps the events client: PutEvents entries for `failing` orders come back failed.

    `budget` limits how many entries fail per order (None: fail for ever).
    """

    real: Any
    failing: set[str] = field(default_factory=set)
    budget: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        entries = kwargs["Entries"]
        order_ids = [json.loads(entry["Detail"])["orderId"] for entry in entries]
        for order_id in order_ids:
            self.attempts[order_id] = self.attempts.get(order_id, 0) + 1
        if any(self._fails(order_id) for order_id in order_ids):
            return {
                "FailedEntryCount": len(entries),
                "Entries": [
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                    for _ in entries
                ],
            }
        response: dict[str, Any] = self.real.put_events(**kwargs)
        return response

    def _fails(self, order_id: str) -> bool:
        if order_id not in self.failing:
            return False
        return self.budget is None or self.attempts[order_id] <= self.budget


@dataclass
class FlakySns:
    """Wraps the SNS client: Publish raises for `failing` orders `budget` times."""

    real: Any
    failing: set[str] = field(default_factory=set)
    budget: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        order_id = kwargs["MessageAttributes"]["orderId"]["StringValue"]
        self.attempts[order_id] = self.attempts.get(order_id, 0) + 1
        if order_id in self.failing and (
            self.budget is None or self.attempts[order_id] <= self.budget
        ):
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "try again"}}, "Publish"
            )
        response: dict[str, Any] = self.real.publish(**kwargs)
        return response


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' Logger and Idempotency read from a real context."""

    function_name: str = "orders-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orders-test"
    aws_request_id: str = "11111111-1111-1111-1111-111111111111"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def event_ids(records: Iterable[dict[str, Any]]) -> list[str]:
    return [str(record["eventID"]) for record in records]


def failures(response: dict[str, Any]) -> list[str]:
    return [str(item["itemIdentifier"]) for item in response["batchItemFailures"]]


# boto3 clients cost ~0.1 s each to build (runtime.common.clients makes a new Session per
# client, which re-reads botocore's data files). Clients built inside one `mock_aws` keep
# working against the next one's fresh state, so the tests share one set of clients.
_SHARED_CLIENTS: dict[str, Any] = {}


def shared_client(service: str) -> Any:
    if service not in _SHARED_CLIENTS:
        _SHARED_CLIENTS[service] = boto3.client(service, region_name="us-east-1")
    return _SHARED_CLIENTS[service]


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, str(attributes["Attributes"]["QueueArn"])


def create_resources(client: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> OrdersAws:
    """Bus with an observer rule, topic with an observer queue, DLQ, idempotency table;
    call inside `mock_aws`. Sets the handler environment."""
    sqs, events, sns, dynamodb = (client(name) for name in ("sqs", "events", "sns", "dynamodb"))
    dead_letter_url, _ = _queue(sqs, DEAD_LETTER_QUEUE)
    events_url, events_arn = _queue(sqs, EVENTS_QUEUE)
    notifications_url, notifications_arn = _queue(sqs, NOTIFICATIONS_QUEUE)
    events.create_event_bus(Name=BUS)
    events.put_rule(
        Name="observe-orders", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]})
    )
    events.put_targets(
        Rule="observe-orders", EventBusName=BUS, Targets=[{"Id": "q", "Arn": events_arn}]
    )
    topic_arn: str = sns.create_topic(Name=TOPIC)["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=notifications_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dead_letter_url)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
    return OrdersAws(
        sqs=sqs,
        events=events,
        sns=sns,
        dynamodb=dynamodb,
        dead_letter_queue_url=dead_letter_url,
        events_queue_url=events_url,
        notifications_queue_url=notifications_url,
        topic_arn=topic_arn,
    )
