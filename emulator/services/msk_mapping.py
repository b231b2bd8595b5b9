"""A Lambda event source mapping reading an MSK topic: poll, invoke, retry, give up.

What AWS does, as modelled here (`emulator/README.md` lists the assumptions):

- The mapping reads each partition of its topic from its consumer group's committed
  offset (`TRIM_HORIZON`: the start of the log; `LATEST`: the end of the log when the
  mapping was created), at most `BatchSize` records and 6 MB of event per invocation,
  sharing the batch between partitions that have records.
- Reading uses the function's execution role: `kafka:DescribeClusterV2`,
  `kafka:GetBootstrapBrokers`, the VPC ENI actions and, for IAM authentication, every
  `kafka-cluster` action AWS lists for the mapping (`LAMBDA_MSK_IAM_AUTH_ACTIONS`:
  `Connect` and `DescribeClusterDynamicConfiguration` on the cluster, `DescribeTopic`/
  `ReadData` on the topic, `DescribeGroup`/`AlterGroup` on the group; ARNs derived from
  the cluster ARN). A missing permission stops the mapping
  ("PROBLEM"): nothing is read, the records stay on the topic, the denial and the error
  are reported.
- The event is `{"eventSource": "aws:kafka", "eventSourceArn", "bootstrapServers",
  "records": {"<topic>-<partition>": [...]}}` with base64 keys/values.
- A function error fails the whole batch: with `BisectBatchOnFunctionError` it is split
  in two (not counted as a retry) until single records fail; otherwise it is retried.
  `{"batchItemFailures": [...]}` (with `ReportBatchItemFailures`) commits each failed
  partition up to its lowest failed offset and retries from there. A malformed response
  fails the whole batch.
- After `MaximumRetryAttempts` retries, or when a record is older than
  `MaximumRecordAgeInSeconds` (virtual clock), the records are discarded: the S3
  on-failure destination gets one object with the documented invocation record
  (metadata plus the whole event as `payload`), written as the function's role
  (`s3:ListBucket` and `s3:PutObject`). Without a destination, or if it refuses, the
  records are lost and that is reported.
- The group's offset moves past a record once it succeeded or was discarded, never
  past one still to be retried, so per-partition order holds.
- One batch is in flight at a time, shared between partitions; when the emulator
  interleaves (`--interleave SEED`), each partition has its own batch in flight, so
  batches of different partitions run side by side and their invocations interleave
  (`LAMBDA_MSK_BATCHES_IN_FLIGHT_PER_PARTITION`: Lambda keeps one batch per partition
  in flight, so per-partition order holds).
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from emulator.iam.actions import Need
from emulator.iam.guard import Denial, acting_as
from emulator.iam.policies import Decision, Principal
from emulator.services.kafka import KafkaService, Message, bootstrap_servers
from orderflow.aws_facts import (
    LAMBDA_MSK_BOOTSTRAP_ACTION,
    LAMBDA_MSK_DESCRIBE_CLUSTER_ACTION,
    LAMBDA_MSK_IAM_AUTH_ACTIONS,
    LAMBDA_MSK_NETWORK_ACTIONS,
    LAMBDA_SYNC_PAYLOAD_BYTES,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator
    from emulator.lambdas.runtime import Invocation

MAX_PAYLOAD_BYTES: Final = LAMBDA_SYNC_PAYLOAD_BYTES.value  # the mapping invokes synchronously
RECORD_OVERHEAD_BYTES: Final = 160  # JSON around one record's key and value
MAX_BACKOFF_SECONDS: Final = 60.0
STUCK_AFTER_RETRIES: Final = 1000
"""With infinite retries and record age, a failing batch blocks its partitions for ever;
the emulator reports that after this many retries instead of looping."""

RETRIES_EXHAUSTED: Final = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED: Final = "RecordAgeExceeded"
PAYLOAD_TOO_LARGE: Final = "MaximumPayloadSizeExceeded"

ENI_ACTIONS: Final = LAMBDA_MSK_NETWORK_ACTIONS.value

RecordId = tuple[str, int, int]  # topic, partition, offset


def child_arn(cluster_arn: str, kind: str, name: str) -> str:
    """Topic or group ARN: `…:cluster/<name>/<uuid>` → `…:<kind>/<name>/<uuid>/<child>`."""
    return cluster_arn.replace(":cluster/", f":{kind}/", 1) + f"/{name}"


@dataclass(frozen=True)
class MappingConfig:
    """The mapping's settings, as CreateEventSourceMapping took them (-1: unlimited)."""

    uuid: str
    arn: str
    function_arn: str
    function_name: str
    role_arn: str
    cluster_arn: str
    topic: str
    group: str
    batch_size: int = 100
    starting_position: str = "LATEST"
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    on_failure: str | None = None
    enabled: bool = True


@dataclass
class Batch:
    """Records handed to one invocation (and its retries)."""

    records: list[Message]
    retries: int = 0
    invokes: int = 0


@dataclass(frozen=True)
class Discarded:
    """Records the mapping gave up on: why, and the object holding them (None: lost)."""

    records: tuple[RecordId, ...]
    condition: str
    destination: str | None
    error: str | None = None


def record_id(message: Message) -> RecordId:
    return (message.topic, message.partition, message.offset)


def partition_key(message: Message) -> str:
    return f"{message.topic}-{message.partition}"


def event_record(message: Message) -> dict[str, Any]:
    """One record as the MSK event carries it (no key/value field when Kafka has none)."""
    shaped: dict[str, Any] = {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "timestamp": message.timestamp_ms,
        "timestampType": "CREATE_TIME",
    }
    if message.key is not None:
        shaped["key"] = base64.b64encode(message.key).decode()
    if message.value is not None:
        shaped["value"] = base64.b64encode(message.value).decode()
    shaped["headers"] = [{name: list(value)} for name, value in message.headers]
    return shaped


def _iso(timestamp_ms: float) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _approximate_size(message: Message) -> int:
    raw = len(message.key or b"") + len(message.value or b"")
    return raw * 4 // 3 + RECORD_OVERHEAD_BYTES + 4 * sum(len(v) for _, v in message.headers)


@dataclass
class _Lane:
    """Batches in flight for some partitions: all of them, or one when interleaving."""

    partitions: frozenset[int] | None  # None: every partition
    pending: deque[Batch] = field(default_factory=deque)
    busy: bool = False


class MskMapping:
    """One MSK event source mapping; `KafkaService.poll` drives it."""

    def __init__(self, emulator: Emulator, kafka: KafkaService, config: MappingConfig) -> None:
        self.emulator = emulator
        self.kafka = kafka
        self.config = config
        self.lanes: dict[int | None, _Lane] = {}
        self.blocked = False
        self.discarded: list[Discarded] = []
        self.state = "Enabled" if config.enabled else "Disabled"
        self.last_processing_result = "No records processed"
        self._done: set[RecordId] = set()
        self._rng = Random(emulator.seed)  # noqa: S311 - request ids, reproducible per seed
        self._problem: tuple[Need, int] | None = None
        self._start: dict[tuple[str, int], int] = {}
        if config.starting_position == "LATEST":
            topic = kafka.topics.get((config.cluster_arn, config.topic))
            for partition, log in enumerate(topic.partitions if topic else []):
                self._start[(config.topic, partition)] = len(log)

    @property
    def principal(self) -> Principal:
        return Principal.role(self.config.role_arn)

    # polling ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A batch is in flight (or waiting for its retry)."""
        return any(lane.busy for lane in self.lanes.values())

    def _idle_lanes(self) -> list[_Lane]:
        """One lane for the whole topic; one per partition when the emulator interleaves."""
        if self.emulator.interleaver is None:
            keys: list[int | None] = [None]
        else:
            topic = self.kafka.topics.get((self.config.cluster_arn, self.config.topic))
            keys = list(range(len(topic.partitions))) if topic is not None else []
        for key in keys:
            if key not in self.lanes:
                self.lanes[key] = _Lane(None if key is None else frozenset({key}))
        return [self.lanes[key] for key in keys if not self.lanes[key].busy]

    def poll(self) -> bool:
        """Queue the next batch of each idle lane; False when idle, blocked or not allowed."""
        if self.state != "Enabled" or self.blocked:
            return False
        found = False
        for lane in self._idle_lanes():
            if not lane.pending:
                batch = self._fetch(lane.partitions)
                if batch is None:
                    continue
                if not self._authorized(len(batch.records)):
                    return found
                self.emulator.meter.kafka_records_polled[self.config.uuid] += len(batch.records)
                lane.pending.append(batch)
            self._submit(lane, 0.0)
            found = True
        return found

    def position(self, partition: int) -> int:
        """The next offset the group reads in `partition`."""
        config = self.config
        committed = self.kafka.committed_offset(
            config.cluster_arn, config.group, config.topic, partition
        )
        return committed if committed is not None else self._start.get((config.topic, partition), 0)

    def lag(self) -> int:
        """Records on the topic not yet committed by the group (CloudWatch `OffsetLag`)."""
        topic = self.kafka.topics.get((self.config.cluster_arn, self.config.topic))
        if topic is None:
            return 0
        return sum(len(log) - self.position(p) for p, log in enumerate(topic.partitions))

    def _fetch(self, partitions: frozenset[int] | None = None) -> Batch | None:
        """Up to BatchSize records (and 6 MB), shared fairly between partitions with records
        (of `partitions` only, when given)."""
        config = self.config
        topic = self.kafka.topics.get((config.cluster_arn, config.topic))
        if topic is None:
            return None
        available = {
            p: log[self.position(p) : self.position(p) + config.batch_size]
            for p, log in enumerate(topic.partitions)
            if self.position(p) < len(log) and (partitions is None or p in partitions)
        }
        if not available:
            return None
        share = max(1, config.batch_size // len(available))
        taken = {p: min(share, len(records)) for p, records in available.items()}
        spare = config.batch_size - sum(taken.values())
        for p, records in available.items():
            extra = max(0, min(spare, len(records) - taken[p]))
            taken[p] += extra
            spare -= extra
        chosen: list[Message] = []
        size = 0
        for p in sorted(taken):
            for message in available[p][: taken[p]]:
                size += _approximate_size(message)
                if chosen and size > MAX_PAYLOAD_BYTES:
                    break
                chosen.append(message)
        return Batch(chosen)

    def needs(self) -> list[Need]:
        """What reading the topic asks of the function's role."""
        config = self.config
        cluster = config.cluster_arn
        topic = child_arn(cluster, "topic", config.topic)
        group = child_arn(cluster, "group", config.group)
        resources = {"cluster": cluster, "topic": topic, "group": group}
        return [
            Need(LAMBDA_MSK_DESCRIBE_CLUSTER_ACTION.value, cluster),
            Need(LAMBDA_MSK_BOOTSTRAP_ACTION.value, "*"),
            *(Need(action, "*") for action in ENI_ACTIONS),
            *(
                Need(action, resources[kind])
                for kind, actions in LAMBDA_MSK_IAM_AUTH_ACTIONS.value.items()
                for action in actions
            ),
        ]

    def _authorized(self, waiting: int) -> bool:
        """Check the role; a denial is reported once until it or the waiting records change."""
        guard = self.emulator.guard
        for need in self.needs():
            if guard.decide(self.principal, need) is Decision.ALLOW:
                continue
            problem = (need, self.lag())
            if problem == self._problem:
                return False
            self._problem = problem
            guard.denials.append(Denial(self.principal.arn, need.action, need.resource))
            self.last_processing_result = (
                f"PROBLEM: the execution role is not authorized to perform {need.action} "
                f"on {need.resource}"
            )
            self.emulator.error(
                "kafka",
                mapping=self.config.uuid,
                function=self.config.function_name,
                message=f"{self.last_processing_result}; {waiting} record(s) wait on the "
                f"topic (offset lag {self.lag()})",
            )
            return False
        self._problem = None
        return True

    # processing -----------------------------------------------------------------------
    def _submit(self, lane: _Lane, delay: float) -> None:
        lane.busy = True
        batch = lane.pending[0]
        self.emulator.submit(
            f"kafka batch of {len(batch.records)} for {self.config.function_name} "
            f"(attempt {batch.retries + 1})",
            functools.partial(self._run, lane),
            delay=delay,
        )

    def _run(self, lane: _Lane) -> None:
        lane.busy = False
        try:
            self._process(lane, lane.pending[0])
        except Exception:
            self.blocked = True  # an emulator fault: stop rather than resubmit it for ever
            raise

    def _process(self, lane: _Lane, batch: Batch) -> None:
        self._expire(batch)
        if not batch.records:
            self._finish(lane)
            return
        event = self.event(batch.records)
        if len(json.dumps(event)) > MAX_PAYLOAD_BYTES:
            self._discard(batch, batch.records, PAYLOAD_TOO_LARGE, None)
            self._finish(lane)
            return
        batch.invokes += 1
        invocation = self.emulator.lambdas.invoke(self.config.function_name, event)
        if invocation.failed:
            self._function_error(lane, batch, invocation)
            return
        self.last_processing_result = "OK"
        self._response(lane, batch, invocation.payload)

    def event(self, records: Iterable[Message]) -> dict[str, Any]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for message in records:
            grouped.setdefault(partition_key(message), []).append(event_record(message))
        return {
            "eventSource": "aws:kafka",
            "eventSourceArn": self.config.cluster_arn,
            "bootstrapServers": bootstrap_servers(self.config.cluster_arn),
            "records": grouped,
        }

    def _expire(self, batch: Batch) -> None:
        """Records older than MaximumRecordAgeInSeconds are discarded, not invoked."""
        max_age = self.config.maximum_record_age_seconds
        if max_age < 0:
            return
        now_ms = self.emulator.clock.now() * 1000
        expired = [m for m in batch.records if now_ms - m.timestamp_ms > max_age * 1000]
        if expired:
            self._discard(batch, expired, RECORD_AGE_EXCEEDED, None)
            gone = {record_id(m) for m in expired}
            batch.records = [m for m in batch.records if record_id(m) not in gone]

    def _function_error(self, lane: _Lane, batch: Batch, invocation: Invocation) -> None:
        error = invocation.error or {}
        self.last_processing_result = f"PROBLEM: Function call failed ({error.get('errorType')})"
        if self.config.bisect_on_error and len(batch.records) > 1:
            half = len(batch.records) // 2
            lane.pending.popleft()
            lane.pending.appendleft(Batch(batch.records[half:], batch.retries, batch.invokes))
            lane.pending.appendleft(Batch(batch.records[:half], batch.retries, batch.invokes))
            self._submit(lane, 0.0)
            return
        response = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
        self._retry(lane, batch, batch.records, response)

    def _response(self, lane: _Lane, batch: Batch, payload: Any) -> None:
        """Settle the batch from the function's answer (partial failures if enabled)."""
        if not self.config.report_batch_item_failures:
            self._complete(batch.records)
            self._finish(lane)
            return
        failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
        if not failures:
            self._complete(batch.records)
            self._finish(lane)
            return
        lowest = self._lowest_failed(batch, failures)
        response = {"statusCode": 200, "executedVersion": "$LATEST"}
        if lowest is None:
            self.emulator.error(
                "kafka",
                mapping=self.config.uuid,
                function=self.config.function_name,
                message="batchItemFailures names a record not in the batch (or is malformed): "
                "the whole batch is retried",
                response=payload,
            )
            self._retry(lane, batch, batch.records, response)
            return
        failed = [
            m
            for m in batch.records
            if partition_key(m) in lowest and m.offset >= lowest[partition_key(m)]
        ]
        kept = {record_id(m) for m in failed}
        self._complete([m for m in batch.records if record_id(m) not in kept])
        self._retry(lane, batch, failed, response)

    def _lowest_failed(self, batch: Batch, failures: Any) -> dict[str, int] | None:
        """Lowest failed offset per `<topic>-<partition>`, or None if the reply is invalid."""
        if not isinstance(failures, list):
            return None
        present = {(partition_key(m), m.offset) for m in batch.records}
        lowest: dict[str, int] = {}
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, dict):
                return None
            key, offset = identifier.get("partition"), identifier.get("offset")
            if isinstance(offset, str) and offset.isdigit():
                offset = int(offset)
            if (key, offset) not in present or not isinstance(offset, int):
                return None
            lowest[str(key)] = min(offset, lowest.get(str(key), offset))
        return lowest

    def _retry(
        self, lane: _Lane, batch: Batch, records: list[Message], response: dict[str, Any]
    ) -> None:
        """Retry `records` after a backoff, or discard them once retries are used up."""
        batch.records = records
        batch.retries += 1
        limit = self.config.maximum_retry_attempts
        if 0 <= limit < batch.retries:
            self._discard(batch, records, RETRIES_EXHAUSTED, response)
            self._finish(lane)
            return
        endless = limit < 0 and self.config.maximum_record_age_seconds < 0
        if endless and batch.retries >= STUCK_AFTER_RETRIES:
            self.blocked = True
            self.emulator.error(
                "kafka",
                mapping=self.config.uuid,
                function=self.config.function_name,
                message=f"a batch failed {batch.retries} times; with unlimited retries and "
                "record age AWS retries it for ever, blocking its partitions",
            )
            return
        self._submit(lane, min(2.0 ** (batch.retries - 1), MAX_BACKOFF_SECONDS))

    def _complete(self, records: Iterable[Message]) -> None:
        """Mark records settled and move the group's offsets over every settled prefix."""
        self._done.update(record_id(m) for m in records)
        config = self.config
        for topic, partition in sorted({(t, p) for t, p, _ in self._done}):
            offset = self.position(partition)
            while (topic, partition, offset) in self._done:
                self._done.discard((topic, partition, offset))
                offset += 1
            self.kafka.commit(config.cluster_arn, config.group, topic, partition, offset)

    def _finish(self, lane: _Lane) -> None:
        lane.pending.popleft()

    # giving up ----------------------------------------------------------------------
    def _discard(
        self,
        batch: Batch,
        records: list[Message],
        condition: str,
        response: dict[str, Any] | None,
    ) -> None:
        """Send the records to the on-failure destination (or report them lost); settle them."""
        ids = tuple(record_id(m) for m in records)
        destination = self.config.on_failure
        if destination is None:
            self.discarded.append(Discarded(ids, condition, None, "no on-failure destination"))
            self._report_loss(len(ids), condition, "the mapping has no on-failure destination")
        else:
            document = self.failure_record(batch, records, condition, response)
            try:
                where = self._write_s3(destination, records[0], document)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                self.discarded.append(Discarded(ids, condition, None, f"{code}: {exc}"))
                self._report_loss(len(ids), condition, f"the destination refused them ({code})")
            else:
                self.discarded.append(Discarded(ids, condition, where))
                self.emulator.error(
                    "kafka",
                    mapping=self.config.uuid,
                    function=self.config.function_name,
                    message=f"{len(ids)} record(s) discarded ({condition}), kept in {where}",
                )
        self._complete(records)

    def _report_loss(self, count: int, condition: str, why: str) -> None:
        self.emulator.error(
            "kafka",
            mapping=self.config.uuid,
            function=self.config.function_name,
            message=f"{count} record(s) LOST ({condition}): {why}",
        )

    def failure_record(
        self,
        batch: Batch,
        records: list[Message],
        condition: str,
        response: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The invocation record AWS documents for Kafka on-failure S3 destinations."""
        event = self.event(records)
        payload = json.dumps(event)
        info: dict[str, dict[str, str]] = {}
        for message in records:
            key = partition_key(message)
            entry = info.setdefault(
                key,
                {
                    "firstRecordOffset": str(message.offset),
                    "firstRecordTimestamp": _iso(message.timestamp_ms),
                },
            )
            entry["lastRecordOffset"] = str(message.offset)
            entry["lastRecordTimestamp"] = _iso(message.timestamp_ms)
        return {
            "requestContext": {
                "requestId": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "functionArn": self.config.function_arn,
                "condition": condition,
                "approximateInvokeCount": batch.invokes,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(self.emulator.clock.now() * 1000),
            "KafkaBatchInfo": {
                "batchSize": len(records),
                "eventSourceArn": self.config.cluster_arn,
                "bootstrapServers": bootstrap_servers(self.config.cluster_arn),
                "payloadSize": len(payload.encode()),
                "recordsInfo": info,
            },
            "payload": payload,
        }

    def _write_s3(self, destination: str, first: Message, document: dict[str, Any]) -> str:
        """One object per discarded batch, written as the function's role."""
        bucket = destination.split(":::", 1)[1]
        now = datetime.fromtimestamp(self.emulator.clock.now(), UTC)
        key = (
            f"aws/lambda/{self.config.uuid}/{partition_key(first)}/"
            f"{now:%Y/%m/%d}/{now:%Y-%m-%dT%H.%M.%S}-{document['requestContext']['requestId']}"
        )
        s3 = self.emulator.client("s3")
        with acting_as(self.principal):
            s3.head_bucket(Bucket=bucket)  # s3:ListBucket, which AWS requires too
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())
        return f"s3://{bucket}/{key}"
