"""Helpers for the reconciliation runtime tests: events, a settable clock, moto handles."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from runtime.reconciliation import handler

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples" / "late-data"

LEDGER_TABLE = "orderflow-late-ledger"
PENDING_INDEX = "pending"
BUS = "orderflow-late-bus"
DEAD_LETTER_QUEUE = "orderflow-late-dead-letters"
EVENTS_QUEUE = "observed-reconciled"
SOURCE = "orderflow.reconciliation"
THRESHOLD = 900
ACCOUNT = "123456789012"

# The seed's event (000_*.txt, step 4) as EventBridge delivers it to the workflow.
SEED_DETAIL: dict[str, Any] = {
    "orderId": "A1080",
    "amount": 420.5,
    "reason": "arrived_after_cutoff",
}
SEED_TIME = "2025-01-15T10:00:00Z"
NOW = datetime(2025, 1, 15, 10, 5, 0, tzinfo=UTC)


def late_event(
    detail: Any = None,
    *,
    event_id: str = "0d9c8b7a-0000-4000-8000-000000000001",
    time: str | None = SEED_TIME,
) -> dict[str, Any]:
    """An EventBridge `late.record` event with its envelope; `detail` defaults to the seed's."""
    event: dict[str, Any] = {
        "version": "0",
        "id": event_id,
        "detail-type": "late.record",
        "source": "orders.data",
        "account": ACCOUNT,
        "region": "us-east-1",
        "resources": [],
        "detail": copy.deepcopy(SEED_DETAIL) if detail is None else detail,
    }
    if time is not None:
        event["time"] = time
    return event


class FakeClock:
    """A clock the test moves by hand (the sweep threshold is measured against it)."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeLambdaContext:
    """The attributes Powertools' Logger reads from a real context."""

    function_name: str = "late-data-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:late-data-test"
    aws_request_id: str = "22222222-2222-2222-2222-222222222222"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class LateAws:
    """Handles on the mocked resources of one test."""

    dynamodb: Any
    sqs: Any
    events: Any
    dead_letter_queue_url: str
    events_queue_url: str
    _seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def ledger(self) -> dict[str, dict[str, Any]]:
        """Every ledger item by pk, in DynamoDB JSON (compared byte for byte in tests)."""
        items: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {"TableName": LEDGER_TABLE, "ConsistentRead": True}
        while True:
            response = self.dynamodb.scan(**request)
            for item in response["Items"]:
                items[item["pk"]["S"]] = item
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def entry(self, order_id: str) -> dict[str, Any]:
        return self.ledger()[f"LATE#{order_id}"]

    def aggregate(self, day: str) -> dict[str, Any] | None:
        return self.ledger().get(f"DAY#{day}")

    def _drain(self, url: str) -> list[dict[str, Any]]:
        """Messages that arrived since the last call (each body parsed)."""
        seen = self._seen.setdefault(url, [])
        new: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                new.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        seen.extend(new)
        return new

    def reset(self) -> None:
        """An empty ledger and empty queues (hypothesis runs many examples per test)."""
        self.dynamodb.delete_table(TableName=LEDGER_TABLE)
        create_ledger_table(self.dynamodb)
        for url in (self.dead_letter_queue_url, self.events_queue_url):
            self._drain(url)  # PurgeQueue is limited to once a minute
        self._seen.clear()

    def dead_letters(self) -> list[dict[str, Any]]:
        """All dead letters so far."""
        self._drain(self.dead_letter_queue_url)
        return list(self._seen[self.dead_letter_queue_url])

    def reconciled_events(self) -> list[dict[str, Any]]:
        """All `OrderReconciled` events put on the bus so far."""
        self._drain(self.events_queue_url)
        return list(self._seen[self.events_queue_url])


def number(item: dict[str, Any], name: str) -> Decimal:
    return Decimal(item[name]["N"])


def client_error(code: str, operation: str, **extra: Any) -> Exception:
    """The ClientError botocore raises for `code` (extra fields land in `response`)."""
    error: Exception = ClientError(
        {"Error": {"Code": code, "Message": f"simulated {code}"}, **extra}, operation
    )
    return error


class Wrapped:
    """A boto3 client whose chosen operations can be replaced; everything else passes through."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.overrides: dict[str, Callable[..., Any]] = {}
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = self.overrides.get(name) or getattr(self._inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return target(*args, **kwargs)

        return call

    def fail(self, operation: str, error: Exception) -> None:
        """Make `operation` raise `error` until `heal` is called."""

        def raise_it(*_: Any, **__: Any) -> Any:
            raise error

        self.overrides[operation] = raise_it

    def heal(self, operation: str) -> None:
        self.overrides.pop(operation, None)


class Serialized:
    """Makes each request atomic across threads, as it is in AWS.

    moto's backends are not thread-safe (a failed transaction restores a deep copy of the
    whole table); real DynamoDB applies each request atomically. Threads still interleave
    freely between requests, which is where the races of the handlers live.
    """

    def __init__(self, inner: Any, lock: threading.Lock) -> None:
        self._inner = inner
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return target(*args, **kwargs)

        return call


def make_clients() -> tuple[Any, Any, Any]:
    """dynamodb, events, sqs clients (create them inside mock_aws)."""
    return boto3.client("dynamodb"), boto3.client("events"), boto3.client("sqs")


def create_ledger_table(dynamodb: Any) -> None:
    """The ledger as the component builds it: key `pk`, sparse GSI `pending` projecting all."""
    dynamodb.create_table(
        TableName=LEDGER_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "pendingState", "AttributeType": "S"},
            {"AttributeName": "pendingSince", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": PENDING_INDEX,
                "KeySchema": [
                    {"AttributeName": "pendingState", "KeyType": "HASH"},
                    {"AttributeName": "pendingSince", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_resources(dynamodb: Any, sqs: Any, events: Any, bus: str = BUS) -> tuple[str, str]:
    """Ledger table with the pending GSI, DLQ, and a rule copying OrderReconciled to a queue.

    Returns (dead-letter queue URL, observed-events queue URL).
    """
    create_ledger_table(dynamodb)
    dead_letter_url: str = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    events_url: str = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    if bus != "default":
        events.create_event_bus(Name=bus)
    events.put_rule(
        Name="observe-reconciled",
        EventBusName=bus,
        EventPattern=json.dumps({"source": [SOURCE], "detail-type": ["OrderReconciled"]}),
    )
    events.put_targets(
        Rule="observe-reconciled", EventBusName=bus, Targets=[{"Id": "q", "Arn": events_arn}]
    )
    return dead_letter_url, events_url


def environment(dead_letter_url: str, *, bus: str = BUS, zone: str = "UTC") -> dict[str, str]:
    return {
        "LEDGER_TABLE_NAME": LEDGER_TABLE,
        "PENDING_INDEX_NAME": PENDING_INDEX,
        "EVENT_BUS_NAME": bus,
        "EVENT_SOURCE": SOURCE,
        "DEAD_LETTER_QUEUE_URL": dead_letter_url,
        "SWEEP_THRESHOLD_SECONDS": str(THRESHOLD),
        "BUSINESS_TIMEZONE": zone,
        "PIPELINE_NAME": "late-data",
    }


class Harness:
    """The three handlers wired to moto through wrappable clients and a settable clock."""

    def __init__(self, aws: LateAws, monkeypatch: pytest.MonkeyPatch, bus: str) -> None:
        self.aws = aws
        self.clock = FakeClock()
        self.context = FakeLambdaContext()
        self.dynamodb = Wrapped(aws.dynamodb)
        self.events = Wrapped(aws.events)
        self.bus = bus
        self._monkeypatch = monkeypatch
        self.rebuild()

    def rebuild(self, *, zone: str = "UTC", dynamodb: Any = None, events: Any = None) -> None:
        """(Re)wire the runtime the handlers use, e.g. with another business time zone."""
        self.runtime = handler.build_runtime(
            environment(self.aws.dead_letter_queue_url, bus=self.bus, zone=zone),
            clock=self.clock,
            dynamodb=dynamodb if dynamodb is not None else self.dynamodb,
            events=events if events is not None else self.events,
            sqs=self.aws.sqs,
        )
        built = self.runtime
        self._monkeypatch.setattr(handler, "runtime", lambda: built)

    def flag(self, event: Any) -> dict[str, Any]:
        result: dict[str, Any] = handler.flag_late_record(event, self.context)
        return result

    def reconcile(self, flagged: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = handler.reconcile(flagged, self.context)
        return result

    def sweep(self) -> dict[str, Any]:
        result: dict[str, Any] = handler.sweep({"mode": "sweep"}, self.context)
        return result

    def event_path(self, event: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """What the workflow does with one event: flag, then reconcile unless rejected."""
        flagged = self.flag(event)
        if flagged["status"] == "rejected":
            return flagged, None
        return flagged, self.reconcile(flagged)
