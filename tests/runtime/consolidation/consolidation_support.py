"""Helpers for the consolidation runtime tests (kept out of conftest.py so tests import them)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples" / "consolidation"

CHARGEBACKS_TABLE = "orderflow-chargebacks"
CONSOLIDATIONS_TABLE = "orderflow-consolidations"
QUEUE = "orderflow-consolidation-dlq"
STATE_MACHINE = "orderflow-consolidation-fanout"
TOPIC = "chargeback-consolidation-events"
CLUSTER_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/orderflow/0b1e2c3d-4e5f"
ALLOWED_PREFIXES = "s3://bucket/consolidated/,s3://orderflow-consolidated/consolidated/chargebacks/"
JOB = "poc-chargeback-dev-chargebacks-consolidation"

# The seed's message, as decoded from its test_event.json.
SEED_MESSAGE: dict[str, Any] = {
    "event_type": "consolidation_completed",
    "partition_date": "2025-11-20",
    "execution_sequence": 2,
    "total_executions": 4,
    "records_processed": 1250000,
    "duplicates_removed": 150,
    "output_files": 10,
    "output_format": "csv",
    "output_path": "s3://bucket/consolidated/chargebacks/year=2025/month=11/day=20",
    "execution_time": "2025-11-20T06:30:00",
    "completed_at": "2025-11-20T06:45:32.123456+00:00",
    "job_name": JOB,
}

# The seed's attribute list (README "Output: DynamoDB Update") plus the ordering key.
SEED_ATTRIBUTES = (
    "consolidation_status",
    "consolidation_s3_path",
    "consolidation_date",
    "consolidation_execution",
    "consolidation_job_name",
    "output_format",
    "records_in_consolidation",
    "updated_at",
)


def message(**overrides: Any) -> dict[str, Any]:
    """The seed's message with some fields replaced (a value of ... removes the field)."""
    value = {**SEED_MESSAGE, **overrides}
    return {key: item for key, item in value.items() if item is not ...}


def encode(value: Any) -> str:
    """base64 of a JSON value (dict/list/number), of a str's UTF-8, or of raw bytes."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        data = json.dumps(value).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def kafka_record(
    value: Any, *, offset: int, partition: int = 0, topic: str = TOPIC, raw_value: bool = False
) -> dict[str, Any]:
    """An MSK record; `value` is encoded unless `raw_value` (then used as the value verbatim)."""
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": 1700639732123 + offset,
        "timestampType": "CREATE_TIME",
        "key": "",
        "value": value if raw_value else encode(value),
        "headers": [],
    }


def kafka_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An MSK event source mapping event grouping `records` by topic-partition."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(f"{record['topic']}-{record['partition']}", []).append(record)
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": CLUSTER_ARN,
        "bootstrapServers": "b-1.orderflow.kafka.us-east-1.amazonaws.com:9098",
        "records": groups,
    }


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"simulated {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@dataclass
class FlakyClient:
    """Wraps a boto3 client; `method` raises `error(kwargs)` while `should_fail(kwargs)` is true.

    `calls` records every call's kwargs (also the failing ones), for counting attempts.
    """

    real: Any
    method: str
    should_fail: Callable[[dict[str, Any]], bool]
    error: Callable[[dict[str, Any]], Exception]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if name != self.method:
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls.append(kwargs)
            if self.should_fail(kwargs):
                raise self.error(kwargs)
            return attribute(**kwargs)

        return call


class FakeLambdaContext:
    function_name = "orderflow-consolidation"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orderflow-consolidation"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: int = 120_000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def plain(attribute: Mapping[str, Any]) -> Any:
    """DynamoDB wire value → Python (S, N as int, M, BOOL, NULL): enough for these tables."""
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        return int(attribute["N"])
    if "M" in attribute:
        return {key: plain(value) for key, value in attribute["M"].items()}
    if "BOOL" in attribute:
        return attribute["BOOL"]
    return None


@dataclass
class ConsolidationAws:
    """Handles on the mocked resources, and readers for what the handlers wrote."""

    dynamodb: Any
    sqs: Any
    stepfunctions: Any
    queue_url: str
    state_machine_arn: str

    def scan(self, table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def ledger(self) -> list[dict[str, Any]]:
        return [{k: plain(v) for k, v in item.items()} for item in self.scan(CONSOLIDATIONS_TABLE)]

    def chargebacks_raw(self) -> dict[str, dict[str, Any]]:
        """Wire-format items by id (for byte-identical comparisons)."""
        return {item["chargeback_id"]["S"]: item for item in self.scan(CHARGEBACKS_TABLE)}

    def chargebacks(self) -> dict[str, dict[str, Any]]:
        return {
            key: {name: plain(value) for name, value in item.items()}
            for key, item in self.chargebacks_raw().items()
        }

    def put_chargebacks(self, ids: Iterable[str]) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "chargeback_id": {"S": cid},
                        "created_at": {"S": "2025-11-20T05:00:00Z"},
                    }
                }
            }
            for cid in ids
        ]
        for start in range(0, len(requests), 25):
            self.dynamodb.batch_write_item(
                RequestItems={CHARGEBACKS_TABLE: requests[start : start + 25]}
            )

    def executions(self) -> list[dict[str, Any]]:
        """Every execution started: name and parsed input, oldest first."""
        listed = self.stepfunctions.list_executions(stateMachineArn=self.state_machine_arn)
        found = []
        for execution in listed["executions"]:
            described = self.stepfunctions.describe_execution(
                executionArn=execution["executionArn"]
            )
            found.append(
                {
                    "name": execution["name"],
                    "input": json.loads(described["input"]),
                    "arn": execution["executionArn"],
                }
            )
        return found

    def dead_letters(self) -> list[dict[str, Any]]:
        """Receive (and delete) every queued message: parsed bodies with their attributes."""
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
            for sqs_message in messages:
                body = json.loads(sqs_message["Body"])
                body["_attributes"] = {
                    name: value["StringValue"]
                    for name, value in sqs_message.get("MessageAttributes", {}).items()
                }
                received.append(body)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=sqs_message["ReceiptHandle"]
                )


def emf_metrics(stdout: str) -> dict[str, float]:
    """Sum every EMF metric value printed to stdout, by metric name."""
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                values = document[name]
                for value in values if isinstance(values, list) else [values]:
                    totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def metrics_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("METRICS: ")]
