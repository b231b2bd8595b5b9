"""Usage counters, kept in one place so a benchmark can price a run.

Units follow AWS billing: Lambda requests and GB-seconds (configured memory times billed
duration, init included), Standard state transitions, Express requests and GB-seconds,
DynamoDB on-demand write/read request units, SQS requests in 64 KiB chunks, EventBridge
events (custom events are billed; AWS service events such as S3's are free), Pipes
requests and Kafka records read by MSK event source mappings. SQS, DynamoDB and
EventBridge are counted from the AWS calls the workload makes (Lambda code, state machine
tasks); calls the emulator or a test makes are not counted.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.arns import queue_arn_from_url

SQS_CHUNK = 64 * 1024
SNS_CHUNK = 64 * 1024  # SNS bills each 64 KiB of a publish request as one request
PIPES_CHUNK = 64 * 1024  # Pipes bill each 64 KiB of an event as one request
_WRITE_UNIT = 1024
_READ_UNIT = 4096


_SCALAR_SIZES: dict[str, Callable[[Any], int]] = {
    "S": lambda v: len(str(v).encode()),
    "N": lambda v: len(str(v).strip("-").replace(".", "").lstrip("0")) // 2 + 2,
    "B": lambda v: len(v) if isinstance(v, bytes) else len(str(v)) * 3 // 4,
    "BOOL": lambda v: 1,
    "NULL": lambda v: 1,
}


def attribute_size(value: Mapping[str, Any]) -> int:
    """Approximate stored size of one DynamoDB attribute value (typed JSON)."""
    ((kind, inner),) = value.items()
    if kind in _SCALAR_SIZES:
        return _SCALAR_SIZES[kind](inner)
    if kind in ("SS", "NS", "BS"):
        return sum(_SCALAR_SIZES[kind[0]](v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + item_size(inner) + len(inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _table_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


@dataclass
class Meter:
    lambda_requests: Counter[str] = field(default_factory=Counter)
    lambda_gb_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    lambda_errors: Counter[str] = field(default_factory=Counter)
    state_transitions: Counter[str] = field(default_factory=Counter)
    express_requests: Counter[str] = field(default_factory=Counter)
    express_gb_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    task_requests: Counter[str] = field(default_factory=Counter)
    dynamodb_write_units: Counter[str] = field(default_factory=Counter)
    dynamodb_read_units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    sqs_requests: Counter[str] = field(default_factory=Counter)
    eventbridge_events: Counter[str] = field(default_factory=Counter)
    pipes_requests: Counter[str] = field(default_factory=Counter)
    scheduler_invocations: Counter[str] = field(default_factory=Counter)
    """EventBridge Scheduler target invocations (retries included), per schedule ARN."""
    pipes_filtered_out: Counter[str] = field(default_factory=Counter)
    """Stream records a pipe's filters dropped (free: Pipes bill after filtering)."""
    kafka_records_polled: Counter[str] = field(default_factory=Counter)
    """Records MSK event source mappings read, per mapping UUID."""
    put_events_entries: Counter[str] = field(default_factory=Counter)
    """PutEvents entries the workload sent (`custom` / `aws` by source): what EventBridge
    bills. `eventbridge_events` counts every event put on a bus once, the emulator's own
    inputs and S3's notifications included."""
    sns_requests: Counter[str] = field(default_factory=Counter)
    """SNS Publish/PublishBatch requests the workload made, in 64 KiB chunks, per topic."""

    def lambda_invocation(
        self, function: str, memory_mb: int, billed_ms: int, failed: bool
    ) -> None:
        self.lambda_requests[function] += 1
        self.lambda_gb_seconds[function] += memory_mb / 1024 * billed_ms / 1000
        if failed:
            self.lambda_errors[function] += 1

    def pipe_record(self, pipe: str, size: int, *, forwarded: bool) -> None:
        """One stream record a pipe read: billed in 64 KiB chunks if it passed the filters."""
        if forwarded:
            self.pipes_requests[pipe] += _units(size, PIPES_CHUNK)
        else:
            self.pipes_filtered_out[pipe] += 1

    def event(self, source: str) -> None:
        self.eventbridge_events["aws" if source.startswith("aws.") else "custom"] += 1

    def observe_call(
        self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        """Count what one workload AWS call costs (a `IamGuard` observer)."""
        if service == "sqs" and "QueueUrl" in params:
            queue = queue_arn_from_url(params["QueueUrl"]).split(":")[-1]
            self.sqs_requests[queue] += _units(len(json.dumps(params).encode()), SQS_CHUNK)
        elif service == "dynamodb":
            self._dynamodb(operation, params, response)
        elif service == "events" and operation == "PutEvents":
            for entry in params["Entries"]:
                # The bus counts the event itself (`event`) when it accepts it.
                kind = "aws" if str(entry.get("Source", "")).startswith("aws.") else "custom"
                self.put_events_entries[kind] += 1
        elif service == "sns" and operation in ("Publish", "PublishBatch"):
            topic = str(params.get("TopicArn") or params.get("TargetArn") or "").split(":")[-1]
            self.sns_requests[topic] += _units(len(json.dumps(params).encode()), SNS_CHUNK)

    def _dynamodb(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        writes, reads = self.dynamodb_write_units, self.dynamodb_read_units
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    item = (
                        request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                    )
                    writes[_table_name(table)] += _units(item_size(item), _WRITE_UNIT)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            item = params.get("Item") or response.get("Attributes") or params["Key"]
            writes[_table_name(params["TableName"])] += _units(item_size(item), _WRITE_UNIT)
        elif operation == "GetItem":
            size = item_size(response.get("Item", {}))
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            reads[_table_name(params["TableName"])] += _units(size, _READ_UNIT) * factor
        elif operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in response.get("Items", []))
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            reads[_table_name(params["TableName"])] += _units(size, _READ_UNIT) * factor
        else:
            self._dynamodb_multi(operation, params, response)

    def _dynamodb_multi(
        self, operation: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        """Transactions and BatchGetItem (counted since the late-data pipeline uses them)."""
        writes, reads = self.dynamodb_write_units, self.dynamodb_read_units
        if operation == "TransactWriteItems":
            # Transactions bill two write units per KB of each item (prepare and commit);
            # an Update/Delete/ConditionCheck is sized by its key (no item is returned).
            for entry in params["TransactItems"]:
                ((_, request),) = entry.items()
                item = request.get("Item") or request["Key"]
                writes[_table_name(request["TableName"])] += 2 * _units(
                    item_size(item), _WRITE_UNIT
                )
        elif operation == "TransactGetItems":
            for entry, got in zip(
                params["TransactItems"], response.get("Responses", []), strict=False
            ):
                table = _table_name(entry["Get"]["TableName"])
                reads[table] += 2 * _units(item_size(got.get("Item", {})), _READ_UNIT)
        elif operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                factor = 1.0 if params["RequestItems"][table].get("ConsistentRead") else 0.5
                for item in items:
                    reads[_table_name(table)] += _units(item_size(item), _READ_UNIT) * factor

    def snapshot(self) -> dict[str, dict[str, float]]:
        """All counters as plain dicts (for a benchmark or a report)."""
        return {name: dict(value) for name, value in vars(self).items()}
