"""EventBridge Pipes from a DynamoDB stream to a Lambda function: the poller moto lacks.

moto stores pipes but moves no data. Here each pipe is a `PipeRunner`, and one
`PipesService` (an engine poller) asks them for work when the queue is empty. A runner
reads its stream with the pipe's role (DescribeStream, GetShardIterator, GetRecords:
IAM-checked) from the position `StartingPosition` gave it at creation, drops the records
no filter matches, gathers the rest into batches of `BatchSize` within
`MaximumBatchingWindowInSeconds` (virtual time) and invokes the target synchronously, as
the role, with a bare JSON list of records.

Failures, as AWS documents them for stream sources: a function error (or a response that
cannot be read as a partial batch response) fails the whole batch; `batchItemFailures`
checkpoint the records before the first failed `eventID` and retry from it. With
`AUTOMATIC_BISECT` a failing batch of more than one record is split in halves, first half
first (bisecting is not counted as a retry: assumed, AWS does not say); otherwise it is
retried up to `MaximumRetryAttempts` with backoff. Records older than
`MaximumRecordAgeInSeconds` are not retried. What is given up on goes to the pipe's
dead-letter queue, as the role, as one metadata message per batch (shard, first and
last sequence number, stream ARN, condition; not the records), in the shape Pipes send.

Shards: moto's stream has one shard; AWS's has several, and a pipe keeps one batch in
flight per shard (`PIPES_STREAM_BATCHES_IN_FLIGHT_PER_SHARD`). The runner reads moto's
shard and deals each record to one of `Emulator.stream_shards` virtual shards by a
stable hash of the item's key, so an item's records stay in one shard, in order
(`DYNAMODB_STREAMS_PER_ITEM_ORDER`). Each virtual shard has its own buffer, batch in
flight, retries, bisecting and dead letters (a failing batch blocks only its shard; a
letter names its virtual shard and that shard's first and last sequence number, so
other shards' records may lie between them). Batches of different shards are separate
jobs: under `--interleave` they run side by side. With one shard (the default without
interleaving) records are delivered in stream order, as before.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodbstreams.models import dynamodbstreams_backends

from emulator.arns import queue_url
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from emulator.services.pipe_filters import FilterSet
from orderflow.aws_facts import (
    DYNAMODB_STREAM_RETENTION_SECONDS,
    DYNAMODB_STREAMS_GET_RECORDS_MAX,
    LAMBDA_SYNC_PAYLOAD_BYTES,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator

STREAM_RETENTION_SECONDS = DYNAMODB_STREAM_RETENTION_SECONDS.value
MAX_INVOKE_PAYLOAD = LAMBDA_SYNC_PAYLOAD_BYTES.value  # a pipe invokes its target synchronously
MAX_BACKOFF_SECONDS = 60.0
READ_LIMIT = DYNAMODB_STREAMS_GET_RECORDS_MAX.value

SHARD_HASH_BYTES: Final = 8  # of the key's SHA-256 that pick its virtual shard

RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_TOO_OLD = "RecordAgeExceeded"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def stream_position(stream_arn: str, starting_position: str) -> int:
    """The sequence number a new reader starts at: the first record, or after the last."""
    table_name = stream_arn.split(":", 5)[5].split("/")[1]
    shard = dynamodb_backends[ACCOUNT][REGION].get_table(table_name).stream_shard
    if shard is None:
        raise ValueError(f"{stream_arn} is not an enabled DynamoDB stream")
    start = int(shard.starting_sequence_number)
    return start if starting_position == "TRIM_HORIZON" else start + len(shard.items)


def stream_records(stream_arn: str, first: int, end: int) -> list[dict[str, Any]]:
    """Records `first` <= sequence number < `end` of a stream, as moto holds them."""
    table_name = stream_arn.split(":", 5)[5].split("/")[1]
    shard = dynamodb_backends[ACCOUNT][REGION].get_table(table_name).stream_shard
    if shard is None:
        return []
    start = int(shard.starting_sequence_number)
    return [item.to_json() for item in shard.items[first - start : end - start]]


def virtual_shard(keys: Mapping[str, Any], count: int) -> int:
    """Which of `count` shards an item's records go to: a stable hash of its primary key.

    Stable across processes (not Python's salted `hash`), so a seed reproduces the run.
    """
    if count <= 1:
        return 0
    digest = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:SHARD_HASH_BYTES], "big") % count


def virtual_shard_ids(base: str, count: int) -> list[str]:
    """Shard ids shaped as DynamoDB's (`shardId-<digits>-<hex>`); moto's own id for one."""
    if count <= 1:
        return [base]
    prefix = base.rsplit("-", 1)[0]
    return [f"{prefix}-{index:08x}" for index in range(count)]


def _jsonable(value: Any) -> Any:
    """A GetRecords value as Pipes put it in JSON: binary as base64, times as epoch seconds."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class PipeConfig:
    """One deployed pipe, as the emulator runs it."""

    name: str
    arn: str
    role_arn: str
    source: str
    target: str
    filters: tuple[str, ...] = ()
    batch_size: int = 100
    batching_window_seconds: float = 0.0
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    bisect: bool = False
    dead_letter_arn: str | None = None
    invocation_type: str = "REQUEST_RESPONSE"
    running: bool = True


@dataclass(frozen=True)
class StreamItem:
    """A record that passed the filters, with when it reached the stream (virtual time)."""

    record: dict[str, Any]
    sequence: int
    arrival: float
    size: int

    @property
    def event_id(self) -> str:
        return str(self.record.get("eventID", ""))


@dataclass(frozen=True)
class Attempt:
    """Records to (re)deliver, and how many retries they have had."""

    items: tuple[StreamItem, ...]
    retries: int = 0


@dataclass(frozen=True)
class Fate:
    """What a pipe did with one stream record: `filtered`, `forwarded`, `dead_lettered`
    (with the DLQ condition) or `lost` (no DLQ, or the DLQ refused the message)."""

    pipe: str
    event_id: str
    sequence: int
    fate: str
    detail: str = ""


@dataclass(frozen=True)
class _Result:
    """A target invocation's verdict: None when everything succeeded."""

    first_failed: int | None
    bisectable: bool = True
    reason: str = ""


@dataclass(eq=False)
class Shard:
    """One (virtual) shard of a pipe's source: records waiting, the batch in flight."""

    shard_id: str
    idle_since: float
    buffer: deque[StreamItem] = field(default_factory=deque)
    work: deque[Attempt] = field(default_factory=deque)
    busy: bool = False


class PipeRunner:
    """One pipe: its read position and, per shard, the records waiting and the batch in flight."""

    def __init__(self, service: PipesService, config: PipeConfig, position: int | None) -> None:
        self.service = service
        self.emulator = service.emulator
        self.config = config
        self.filters = FilterSet(config.filters)
        self.position = position  # next sequence number to read; None: TRIM_HORIZON
        self.shards: list[Shard] = []  # known once the stream is described
        self.broken = False
        self._iterator: str | None = None
        self._reading = False
        self._shard_of: dict[int, str] = {}  # sequence number → shard id (several shards)

    @property
    def role(self) -> Principal:
        return Principal.role(self.config.role_arn)

    @property
    def busy(self) -> bool:
        """Some shard has a batch in flight (or waiting for its retry)."""
        return any(shard.busy for shard in self.shards)

    def shard_id_of(self, sequence: int) -> str:
        """The shard the record with this sequence number was read into."""
        return self._shard_of.get(sequence, self.shards[0].shard_id if self.shards else "")

    # reading -------------------------------------------------------------------------
    def _open(self) -> str:
        streams = self.service.streams
        with acting_as(self.role):
            description = streams.describe_stream(StreamArn=self.config.source)
            base = description["StreamDescription"]["Shards"][0]["ShardId"]
            if not self.shards:
                now = self.emulator.clock.now()
                self.shards = [
                    Shard(shard_id, now)
                    for shard_id in virtual_shard_ids(base, self.emulator.stream_shards)
                ]
            params: dict[str, Any] = {"StreamArn": self.config.source, "ShardId": base}
            if self.position is None:
                params["ShardIteratorType"] = "TRIM_HORIZON"
            else:
                params.update(
                    ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=str(self.position)
                )
            iterator: str = streams.get_shard_iterator(**params)["ShardIterator"]
        return iterator

    def read(self) -> None:
        """Take every new stream record: filter it, buffer what passes in its shard.

        Not re-entered: under interleaving another shard's job may call it while a read
        is switched out at an AWS call; that read takes the records, this one returns.
        """
        if self.broken or self._reading:
            return
        self._reading = True
        try:
            if self._iterator is None:
                self._iterator = self._open()
            while True:
                response = self._get_records(self._iterator)
                self._iterator = response["NextShardIterator"]
                for raw in response["Records"]:
                    self._accept(raw)
                if len(response["Records"]) < READ_LIMIT:
                    return
        except ClientError as exc:
            # AWS disables a pipe that cannot read its source; here it stops polling.
            self.broken = True
            self.emulator.error(
                "pipe",
                pipe=self.config.name,
                message=f"cannot read the source stream: {exc}",
                outcome="pipe stopped",
            )
        finally:
            self._reading = False

    def _get_records(self, iterator: str) -> dict[str, Any]:
        """GetRecords, authorised as the role, answered by moto's streams backend.

        Going through botocore would serialise and parse every record twice (seconds
        for a few thousand records); the permission check and moto's iterator semantics
        are the same.
        """
        params = {"ShardIterator": iterator, "Limit": READ_LIMIT}
        self.emulator.guard.authorize(self.role, "dynamodbstreams", "GetRecords", params, REGION)
        backend = dynamodbstreams_backends[ACCOUNT][REGION]
        response: dict[str, Any] = backend.get_records(iterator, READ_LIMIT)
        return response

    def _accept(self, raw: dict[str, Any]) -> None:
        record = _jsonable(raw)
        sequence = int(record["dynamodb"]["SequenceNumber"])
        created = raw["dynamodb"].get("ApproximateCreationDateTime")
        # moto stamps naive UTC wall-clock time; the emulator runs on the virtual clock.
        arrival = (
            created.replace(tzinfo=created.tzinfo or UTC).timestamp() + self.emulator.clock.offset
            if isinstance(created, datetime)
            else self.emulator.clock.now()
        )
        record["dynamodb"]["ApproximateCreationDateTime"] = int(arrival)
        record["eventSourceARN"] = self.config.source
        self.position = sequence + 1
        passed = self.filters.matches(record)
        size = len(json.dumps(record).encode())
        self.emulator.meter.pipe_record(self.config.name, size, forwarded=passed)
        self.service.note(self, record["eventID"], sequence, "forwarded" if passed else "filtered")
        if passed:
            keys = record["dynamodb"].get("Keys") or {}
            shard = self.shards[virtual_shard(keys, len(self.shards))]
            if len(self.shards) > 1:
                self._shard_of[sequence] = shard.shard_id
            shard.buffer.append(StreamItem(record, sequence, arrival, size))

    # batching ------------------------------------------------------------------------
    def poll(self) -> bool:
        """Read; for each shard with records waiting and no batch in flight, schedule one.

        With several shards, the shards waiting together are released together when the
        first of their batching windows closes (the window is a maximum wait), each as a
        job of its own submitted without delay: the engine runs such jobs as one wave, so
        under interleaving batches of different shards run side by side.
        """
        if self.broken or not self.config.running:
            return False
        if self.shards and all(shard.busy for shard in self.shards):
            return False
        self.read()
        waiting = [shard for shard in self.shards if not shard.busy and shard.buffer]
        if not waiting:
            return False
        for shard in waiting:
            shard.busy = True
        delay = max(0.0, min(self._due(shard) for shard in waiting) - self.emulator.clock.now())
        if len(self.shards) == 1:
            self._submit_dispatch(waiting[0], delay)
        elif delay > 0:
            self.emulator.submit(
                f"pipe {self.config.name}: batching window of {len(waiting)} shard(s) closes",
                functools.partial(self._release, waiting),
                delay=delay,
            )
        else:
            self._release(waiting)
        return True

    def _release(self, shards: Sequence[Shard]) -> None:
        for shard in shards:
            self._submit_dispatch(shard, 0.0)

    def _submit_dispatch(self, shard: Shard, delay: float) -> None:
        self.emulator.submit(
            f"pipe {self.config.name}: next batch of {shard.shard_id}",
            functools.partial(self._dispatch, shard),
            delay=delay,
        )

    def _due(self, shard: Shard) -> float:
        """Now if the shard's batch is full; else when its batching window closes.

        The window starts with the first waiting record, or when the shard's previous
        batch finished (a new window begins after each invocation).
        """
        buffer = shard.buffer
        full = len(buffer) >= self.config.batch_size or (
            sum(item.size for item in buffer) >= MAX_INVOKE_PAYLOAD
        )
        if full:
            return self.emulator.clock.now()
        start = max(buffer[0].arrival, shard.idle_since)
        return start + self.config.batching_window_seconds

    def _dispatch(self, shard: Shard) -> None:
        self.read()
        batch: list[StreamItem] = []
        size = 2  # the list's brackets
        while shard.buffer and len(batch) < self.config.batch_size:
            item = shard.buffer[0]
            if batch and size + item.size + 1 > MAX_INVOKE_PAYLOAD:
                break
            batch.append(shard.buffer.popleft())
            size += item.size + 1
        if not batch:
            self._finish(shard)
            return
        shard.work.append(Attempt(tuple(batch)))
        self._step(shard)

    def _step(self, shard: Shard) -> None:
        """Deliver the shard's next attempt; then schedule what follows it."""
        attempt = shard.work.popleft()
        delay = self._deliver(shard, attempt)
        if shard.work:
            self.emulator.submit(
                f"pipe {self.config.name}: retry {len(shard.work[0].items)} record(s) "
                f"of {shard.shard_id}",
                functools.partial(self._step, shard),
                delay=delay,
            )
        else:
            self._finish(shard)

    def _finish(self, shard: Shard) -> None:
        shard.busy = False
        shard.idle_since = self.emulator.clock.now()
        self.service.kick()

    # delivering ----------------------------------------------------------------------
    def _deliver(self, shard: Shard, attempt: Attempt) -> float:
        """One invocation; queue what must be retried; return the delay before it."""
        items = self._drop_expired(shard, attempt)
        if not items:
            return 0.0
        result = self._invoke(items)
        if result.first_failed is None:
            return 0.0
        remaining = items[result.first_failed :]
        limit = self.config.maximum_retry_attempts
        if self.config.bisect and result.bisectable and len(remaining) > 1:
            half = (len(remaining) + 1) // 2
            shard.work.extendleft(
                [
                    Attempt(remaining[half:], attempt.retries),
                    Attempt(remaining[:half], attempt.retries),
                ]
            )
            return 0.0
        if limit < 0 or attempt.retries < limit:
            shard.work.appendleft(Attempt(remaining, attempt.retries + 1))
            return min(2.0**attempt.retries, MAX_BACKOFF_SECONDS)
        self._dead_letter(shard, remaining, RETRIES_EXHAUSTED, result.reason)
        return 0.0

    def _drop_expired(self, shard: Shard, attempt: Attempt) -> tuple[StreamItem, ...]:
        """Records past the maximum age (or the stream's retention) are not delivered."""
        limit = self.config.maximum_record_age_seconds
        limit = STREAM_RETENTION_SECONDS if limit < 0 else limit
        now = self.emulator.clock.now()
        expired = tuple(i for i in attempt.items if now - i.arrival > limit)
        if not expired:
            return attempt.items
        self._dead_letter(shard, expired, RECORD_TOO_OLD, f"older than {limit} s")
        return tuple(i for i in attempt.items if now - i.arrival <= limit)

    def _invoke(self, items: Sequence[StreamItem]) -> _Result:
        payload = json.dumps([item.record for item in items]).encode()
        asynchronous = self.config.invocation_type == "FIRE_AND_FORGET"
        try:
            with acting_as(self.role):
                response = self.emulator.client("lambda").invoke(
                    FunctionName=self.config.target,
                    InvocationType="Event" if asynchronous else "RequestResponse",
                    Payload=payload,
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return _Result(0, bisectable=False, reason=f"target not invoked: {code}: {exc}")
        if asynchronous:
            return _Result(None)
        body = response["Payload"].read()
        if response.get("FunctionError"):
            try:
                error = json.loads(body)
            except ValueError:
                error = None
            kind = error.get("errorType", "") if isinstance(error, dict) else ""
            return _Result(0, reason=f"function error {kind}".strip())
        return _partial_failures(body, items)

    def _dead_letter(
        self, shard: Shard, items: Sequence[StreamItem], condition: str, why: str
    ) -> None:
        """One metadata message per given-up batch, sent to the DLQ as the pipe's role."""
        info = {
            "shardId": shard.shard_id,
            "startSequenceNumber": str(items[0].sequence),
            "endSequenceNumber": str(items[-1].sequence),
            "approximateArrivalOfFirstRecord": _iso(items[0].arrival),
            "approximateArrivalOfLastRecord": _iso(items[-1].arrival),
            "batchSize": len(items),
            "streamArn": self.config.source,
        }
        body = {
            "context": {"partnerResourceArn": self.config.arn, "condition": condition},
            "version": "1.0",
            "timestamp": _iso(self.emulator.clock.now()),
            "DDBStreamBatchInfo": info,
        }
        report = {
            "pipe": self.config.name,
            "condition": condition,
            "reason": why,
            "shardId": shard.shard_id,
            "records": len(items),
            "startSequenceNumber": info["startSequenceNumber"],
            "endSequenceNumber": info["endSequenceNumber"],
        }
        dlq = self.config.dead_letter_arn
        fate, outcome = "dead_lettered", "sent to the pipe's DLQ"
        if dlq is None:
            fate, outcome = "lost", "records discarded: the pipe has no DLQ"
        else:
            try:
                self._send(dlq, json.dumps(body))
            except ClientError as exc:
                fate, outcome = "lost", f"records lost: the DLQ refused them ({exc})"
        for item in items:
            self.service.note(self, item.event_id, item.sequence, fate, condition)
        self.emulator.error("pipe", **report, outcome=outcome)

    def _send(self, arn: str, body: str) -> None:
        with acting_as(self.role):
            if arn.split(":")[2] == "sqs":
                self.emulator.client("sqs").send_message(QueueUrl=queue_url(arn), MessageBody=body)
            else:
                self.emulator.client("sns").publish(TopicArn=arn, Message=body)

    # replaying -----------------------------------------------------------------------
    def rewind(self, sequence: int | None) -> None:
        """Read again from `sequence` (None: the oldest record); must be idle."""
        if self.busy or any(shard.buffer for shard in self.shards):
            raise RuntimeError(f"pipe {self.config.name} is busy: run until idle first")
        self.position = sequence
        self._iterator = None


def _partial_failures(body: bytes, items: Sequence[StreamItem]) -> _Result:
    """Read a partial batch response; what Pipes cannot read fails the whole batch.

    No `batchItemFailures` (or an empty/null list, or a non-object response) means
    success; an identifier that is missing, empty or not an eventID of the batch makes
    the whole batch fail.
    """
    try:
        response = json.loads(body) if body else None
    except ValueError:
        return _Result(0, reason="response is not JSON")
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return _Result(None)
    if not isinstance(failures, list):
        return _Result(0, reason="batchItemFailures is not a list")
    index = {item.event_id: n for n, item in enumerate(items)}
    positions: list[int] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in index:
            return _Result(0, reason=f"invalid itemIdentifier {identifier!r}")
        positions.append(index[identifier])
    return _Result(min(positions), reason=f"{len(positions)} record(s) reported failed")


class PipesService:
    """Every pipe of one emulator: the engine poller, the fates of records, the replay hook."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.runners: dict[str, PipeRunner] = {}
        self.fates: list[Fate] = []
        # DynamoDB Streams answers only on the regional endpoint (not the account one).
        self.streams: Any = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )

    @classmethod
    def of(cls, emulator: Emulator) -> PipesService:
        """The emulator's pipes service, registered as a poller on first use."""
        for poller in emulator.pollers:
            if isinstance(poller, cls):
                return poller
        service = cls(emulator)
        emulator.pollers.append(service)
        return service

    def add(self, config: PipeConfig, *, starting_position: str) -> PipeRunner:
        position = stream_position(config.source, starting_position)
        runner = PipeRunner(self, config, position)
        self.runners[config.name] = runner
        return runner

    def poll(self, emulator: Emulator) -> bool:
        return any([runner.poll() for runner in self.runners.values()])

    def kick(self) -> None:
        """A batch finished: let idle pipes start theirs (pipes run side by side in AWS)."""
        for runner in self.runners.values():
            runner.poll()

    def note(
        self, runner: PipeRunner, event_id: str, sequence: int, fate: str, detail: str = ""
    ) -> None:
        self.fates.append(Fate(runner.config.name, event_id, sequence, fate, detail))

    def replay(self, *, from_sequence: str | None = None, pipes: Sequence[str] = ()) -> None:
        """Redeliver: every pipe (or those named) reads again from `from_sequence`.

        None starts at the oldest record of the stream (TRIM_HORIZON).
        """
        for name, runner in self.runners.items():
            if not pipes or name in pipes:
                runner.rewind(None if from_sequence is None else int(from_sequence))
