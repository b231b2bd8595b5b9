"""Usage counters, kept in one place so a benchmark can price a run.

Units follow AWS billing (the rules are facts in `orderflow.aws_facts`, with their pages):
Lambda requests and GB-seconds (configured memory times billed duration, init included)
and the bytes its functions log; Standard state transitions, one more on the parent for
each child a Distributed Map starts; Express requests and GB-seconds, the duration
rounded up to 100 ms; DynamoDB on-demand write/read request units: a write by the larger
of the item before and after it, a failed conditional write too, transactions at twice
the units, and each secondary index entry a write adds, changes or removes; SQS, SNS and
Pipes requests in 64 KiB chunks; EventBridge events (custom events are billed; AWS
service events such as S3's are free); Kafka records read by MSK event source mappings.
SQS, SNS, DynamoDB and EventBridge are counted from the AWS calls the workload makes
(Lambda code, state machine tasks); calls the emulator or a test makes are not counted.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from emulator.arns import queue_arn_from_url
from emulator.services.dynamodb_images import ItemWrite, WriteCapture, capture
from emulator.services.dynamodb_limits import item_size
from emulator.states.model import ExecutionResult
from orderflow.aws_facts import (
    DYNAMODB_READ_UNIT_BYTES,
    DYNAMODB_TRANSACTION_UNIT_FACTOR,
    DYNAMODB_WRITE_UNIT_BYTES,
    PIPES_BILLING_CHUNK_BYTES,
    SNS_BILLING_CHUNK_BYTES,
    SQS_BILLING_CHUNK_BYTES,
    STEP_FUNCTIONS_EXPRESS_BILLING_INCREMENT_MS,
    STEP_FUNCTIONS_EXPRESS_MEMORY_CHUNK_MB,
    STEP_FUNCTIONS_TRANSITIONS_PER_DISTRIBUTED_MAP_CHILD,
)

SQS_CHUNK: Final = SQS_BILLING_CHUNK_BYTES.value
SNS_CHUNK: Final = SNS_BILLING_CHUNK_BYTES.value
PIPES_CHUNK: Final = PIPES_BILLING_CHUNK_BYTES.value
_WRITE_UNIT: Final = DYNAMODB_WRITE_UNIT_BYTES.value
_READ_UNIT: Final = DYNAMODB_READ_UNIT_BYTES.value
_TRANSACTIONAL: Final = DYNAMODB_TRANSACTION_UNIT_FACTOR.value
_FAILED_WRITE_ERRORS: Final = frozenset(
    {"ConditionalCheckFailedException", "TransactionCanceledException"}
)


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _table_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def write_units(write: ItemWrite, *, failed: bool) -> int:
    """Base-table write units of one item write (before any transactional factor).

    Sized by the larger of the item before and after the write; a failed conditional
    write, which changes nothing, by the larger of the existing item and the item a Put
    would have written. At least one unit either way.
    """
    sizes = [item_size(i) for i in (write.before, write.after) if i is not None]
    if failed and write.proposed is not None:
        sizes.append(item_size(write.proposed))
    return _units(max(sizes, default=0), _WRITE_UNIT)


def index_write_units(write: ItemWrite) -> dict[str, int]:
    """Write units each secondary index of the table takes for one successful item write."""
    units: dict[str, int] = {}
    keys = write.table.keys
    for index in write.table.indexes:
        old, new = index.entry(keys, write.before), index.entry(keys, write.after)
        if old is None and new is None:
            continue
        if old is None or new is None:  # the entry is added or removed
            units[index.name] = _units(item_size(old or new or {}), _WRITE_UNIT)
        elif any(old.get(k) != new.get(k) for k in index.keys):  # a key changed: two writes
            units[index.name] = _units(item_size(old), _WRITE_UNIT) + _units(
                item_size(new), _WRITE_UNIT
            )
        elif old != new:  # projected attributes changed
            units[index.name] = _units(max(item_size(old), item_size(new)), _WRITE_UNIT)
    return units


def express_billed_seconds(seconds: float) -> float:
    """Express duration as billed: rounded up to the next 100 ms (100 ms at least)."""
    step = STEP_FUNCTIONS_EXPRESS_BILLING_INCREMENT_MS.value
    return max(1, math.ceil(round(seconds * 1000, 6) / step)) * step / 1000


CallDone = Callable[[Mapping[str, Any] | None, BaseException | None], None]


@dataclass
class Meter:
    lambda_requests: Counter[str] = field(default_factory=Counter)
    lambda_gb_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    lambda_errors: Counter[str] = field(default_factory=Counter)
    state_transitions: Counter[str] = field(default_factory=Counter)
    """Billable Standard transitions per state machine ARN, Distributed Map child starts
    included (one on the parent per child started)."""
    express_requests: Counter[str] = field(default_factory=Counter)
    express_gb_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    task_requests: Counter[str] = field(default_factory=Counter)
    dynamodb_write_units: Counter[str] = field(default_factory=Counter)
    """Base-table write request units per table (failed conditional writes included)."""
    dynamodb_index_write_units: Counter[str] = field(default_factory=Counter)
    """Write request units secondary indexes took, per `table/index`."""
    dynamodb_failed_conditional_writes: Counter[str] = field(default_factory=Counter)
    """Writes refused by their condition, per table (their units are in the write units)."""
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
    cloudwatch_log_bytes: Counter[str] = field(default_factory=Counter)
    """Bytes Lambda functions wrote to their log groups (ingested), per log group."""

    def lambda_invocation(
        self,
        function: str,
        memory_mb: int,
        billed_ms: int,
        failed: bool,
        *,
        log_group: str = "",
        log_bytes: int = 0,
    ) -> None:
        self.lambda_requests[function] += 1
        self.lambda_gb_seconds[function] += memory_mb / 1024 * billed_ms / 1000
        if failed:
            self.lambda_errors[function] += 1
        if log_bytes:
            self.cloudwatch_log_bytes[log_group or f"/aws/lambda/{function}"] += log_bytes

    def execution(
        self,
        arn: str,
        workflow_type: str,
        result: ExecutionResult,
        busy_seconds: Callable[[str], float] = lambda _arn: 0.0,
    ) -> None:
        """Bill one finished execution and, recursively, the Distributed Map children it ran.

        Standard: its transitions plus one per child it started. Express: one request and
        its duration (time in tasks, `busy_seconds(execution ARN)`, plus virtual waiting)
        rounded up to 100 ms, in one 64 MB memory chunk.
        """
        busy = busy_seconds(result.execution_arn)  # asked for every execution (it may pop)
        if workflow_type == "EXPRESS":
            self.express_requests[arn] += 1
            seconds = express_billed_seconds(busy + result.virtual_seconds)
            memory_gb = STEP_FUNCTIONS_EXPRESS_MEMORY_CHUNK_MB.value / 1024
            self.express_gb_seconds[arn] += memory_gb * seconds
        else:
            per_child = STEP_FUNCTIONS_TRANSITIONS_PER_DISTRIBUTED_MAP_CHILD.value
            self.state_transitions[arn] += result.state_transitions + per_child * len(
                result.children
            )
        for child in result.children:
            child_type = "EXPRESS" if ":express:" in child.execution_arn else workflow_type
            self.execution(arn, child_type, child, busy_seconds)

    def pipe_record(self, pipe: str, size: int, *, forwarded: bool) -> None:
        """One stream record a pipe read: billed in 64 KiB chunks if it passed the filters."""
        if forwarded:
            self.pipes_requests[pipe] += _units(size, PIPES_CHUNK)
        else:
            self.pipes_filtered_out[pipe] += 1

    def event(self, source: str) -> None:
        self.eventbridge_events["aws" if source.startswith("aws.") else "custom"] += 1

    def watch_call(
        self, service: str, operation: str, params: dict[str, Any], region: str
    ) -> CallDone:
        """Before a workload AWS call (an `IamGuard` watcher): what to count once it ends.

        A DynamoDB write's items are read before and after the call (`WriteCapture`), so
        it is billed by its real images, and billed even when its condition fails.
        """
        images = capture(region, operation, params) if service == "dynamodb" else None

        def done(response: Mapping[str, Any] | None, error: BaseException | None) -> None:
            if images is not None:
                self._dynamodb_write_call(operation, images, error)
                if error is None and response is not None:
                    self._dynamodb_reads(operation, params, dict(response))
            elif error is None and response is not None:
                self.observe_call(service, operation, params, dict(response))

        return done

    def _dynamodb_write_call(
        self, operation: str, images: WriteCapture, error: BaseException | None
    ) -> None:
        code = _error_code(error)
        if error is not None and code not in _FAILED_WRITE_ERRORS:
            return  # refused before any work (validation, throttling): not billed
        transactional = operation == "TransactWriteItems"
        self.dynamodb_writes(images.finish(), transactional=transactional, failed=error is not None)

    def dynamodb_writes(
        self, writes: Sequence[ItemWrite], *, transactional: bool, failed: bool
    ) -> None:
        """Bill the items one write request touched (see `write_units`, `index_write_units`)."""
        factor = _TRANSACTIONAL if transactional else 1
        for write in writes:
            table = write.table.name
            self.dynamodb_write_units[table] += factor * write_units(write, failed=failed)
            if failed:
                self.dynamodb_failed_conditional_writes[table] += 1
                continue
            for index, units in index_write_units(write).items():
                self.dynamodb_index_write_units[f"{table}/{index}"] += units

    def observe_call(
        self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        """Count what one successful workload AWS call costs, from its request and response.

        DynamoDB writes seen only here (no images: the bench's in-memory references) are
        sized by the request's own item.
        """
        if service == "sqs" and "QueueUrl" in params:
            queue = queue_arn_from_url(params["QueueUrl"]).split(":")[-1]
            self.sqs_requests[queue] += _units(len(json.dumps(params).encode()), SQS_CHUNK)
        elif service == "dynamodb":
            self._dynamodb_request_writes(operation, params, response)
            self._dynamodb_reads(operation, params, response)
        elif service == "events" and operation == "PutEvents":
            for entry in params["Entries"]:
                # The bus counts the event itself (`event`) when it accepts it.
                kind = "aws" if str(entry.get("Source", "")).startswith("aws.") else "custom"
                self.put_events_entries[kind] += 1
        elif service == "sns" and operation in ("Publish", "PublishBatch"):
            topic = str(params.get("TopicArn") or params.get("TargetArn") or "").split(":")[-1]
            self.sns_requests[topic] += _units(len(json.dumps(params).encode()), SNS_CHUNK)

    def _dynamodb_request_writes(
        self, operation: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        writes = self.dynamodb_write_units
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
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((_, request),) = entry.items()
                item = request.get("Item") or request["Key"]
                writes[_table_name(request["TableName"])] += _TRANSACTIONAL * _units(
                    item_size(item), _WRITE_UNIT
                )

    def _dynamodb_reads(
        self, operation: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        reads = self.dynamodb_read_units
        if operation == "GetItem":
            size = item_size(response.get("Item", {}))
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            reads[_table_name(params["TableName"])] += _units(size, _READ_UNIT) * factor
        elif operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in response.get("Items", []))
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            reads[_table_name(params["TableName"])] += _units(size, _READ_UNIT) * factor
        elif operation == "TransactGetItems":
            for entry, got in zip(
                params["TransactItems"], response.get("Responses", []), strict=False
            ):
                table = _table_name(entry["Get"]["TableName"])
                reads[table] += _TRANSACTIONAL * _units(item_size(got.get("Item", {})), _READ_UNIT)
        elif operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                factor = 1.0 if params["RequestItems"][table].get("ConsistentRead") else 0.5
                for item in items:
                    reads[_table_name(table)] += _units(item_size(item), _READ_UNIT) * factor

    def snapshot(self) -> dict[str, dict[str, float]]:
        """All counters as plain dicts (for a benchmark or a report)."""
        return {name: dict(value) for name, value in vars(self).items()}


def _error_code(error: BaseException | None) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", "")) or None
    return None
