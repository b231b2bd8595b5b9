"""Run the seed reference designs (`bench.seeds`) on the same workloads, metered alike.

The seed workflows run on the emulator's own ASL interpreter with `MeteringDispatcher`,
which performs each task in memory and counts it with the emulator's `Meter` (the same
item-size and 64 KiB-chunk rules the real dispatcher's calls are counted with). Nothing
is stored: only the bill is of interest, and it does not depend on storage.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bench import seeds
from bench.pricing import MILLION, Usage
from bench.usage import usage_from_meter
from bench.workloads import SalesWorkload, StreamWorkload
from emulator.metering import Meter
from emulator.states import ExecutionResult, StateMachineInterpreter, TaskContext, TaskError
from emulator.states.limits import MAX_PAYLOAD_BYTES, json_size
from orderflow.aws_facts import PIPES_BILLING_CHUNK_BYTES

Handler = Callable[[Any, Any], Any]
LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT: Final = "arn:aws:states:::aws-sdk:s3:getObject"
DYNAMODB_PUT: Final = "arn:aws:states:::dynamodb:putItem"
SQS_SEND: Final = "arn:aws:states:::sqs:sendMessage"
PIPES_CHUNK: Final = PIPES_BILLING_CHUNK_BYTES.value
SEED_ROLE: Final = f"arn:aws:iam::{seeds.ACCOUNT}:role/seed-reference"


@dataclass(frozen=True)
class SeedFunction:
    handler: Handler
    memory_mb: int


@dataclass
class ReferenceRun:
    """A seed design's bill for `records` records, plus what a reader needs to trust it."""

    records: int
    usage: Usage
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class _LogSink(io.StringIO):
    """Counts what a seed Lambda prints (its CloudWatch log volume) without keeping it."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


def get_object_result(body: str) -> dict[str, Any]:
    """What the `aws-sdk:s3:getObject` task returns (the body as text, as the SDK task does)."""
    return {"Body": body, "ContentLength": len(body.encode()), "ContentType": "application/json"}


class MeteringDispatcher:
    """A `TaskDispatcher` for the references: tasks run in memory, metered like the real one."""

    def __init__(
        self,
        meter: Meter,
        functions: Mapping[str, SeedFunction],
        objects: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self.meter = meter
        self.functions = functions
        self.objects = objects or {}
        self.log = _LogSink()
        self.s3_get_requests = 0

    def invoke(self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext) -> Any:
        self.meter.task_requests[resource] += 1
        if resource == LAMBDA_INVOKE:
            name = str(parameters["FunctionName"]).rsplit(":", 1)[-1]
            return {"Payload": self.run_lambda(name, parameters.get("Payload")), "StatusCode": 200}
        if resource == S3_GET_OBJECT:
            self.s3_get_requests += 1
            return get_object_result(self.objects[(parameters["Bucket"], parameters["Key"])])
        if resource == DYNAMODB_PUT:
            self.meter.observe_call("dynamodb", "PutItem", parameters, {})
            return {}
        if resource == SQS_SEND:
            body = parameters["MessageBody"]
            params = {
                **parameters,
                "MessageBody": body if isinstance(body, str) else json.dumps(body),
            }
            self.meter.observe_call("sqs", "SendMessage", params, {})
            return {"MessageId": str(uuid.uuid4())}
        raise NotImplementedError(f"the reference dispatcher has no {resource}")

    def run_lambda(self, name: str, event: Any) -> Any:
        """Call the seed handler, billing its measured duration (1 ms minimum) at its memory."""
        function = self.functions[name]
        started = time.perf_counter()
        error: BaseException | None = None
        result: Any = None
        with contextlib.redirect_stdout(self.log):
            try:
                result = function.handler(event, None)
            except Exception as exc:  # a function error, as Lambda reports it
                error = exc
        billed_ms = max(1, math.ceil((time.perf_counter() - started) * 1000))
        self.meter.lambda_invocation(name, function.memory_mb, billed_ms, error is not None)
        if error is not None:
            cause = {"errorType": type(error).__name__, "errorMessage": str(error)}
            raise TaskError(type(error).__name__, json.dumps(cause))
        return result


def _interpreter(definition: dict[str, Any], name: str, dispatcher: MeteringDispatcher) -> Any:
    return StateMachineInterpreter(
        definition,
        dispatcher=dispatcher,
        role_arn=SEED_ROLE,
        state_machine_arn=seeds.state_machine_arn(name),
    )


def _usage(
    meter: Meter, results: Sequence[ExecutionResult], dispatcher: MeteringDispatcher
) -> Usage:
    for result in results:  # transitions, and one per Distributed Map child started
        meter.execution(result.execution_arn.rsplit(":", 1)[0], "STANDARD", result)
    meter.cloudwatch_log_bytes["seed"] += dispatcher.log.bytes
    return usage_from_meter(
        meter.snapshot(),
        architectures={},  # priced at arm64, in the seeds' favour (see bench.seeds)
        unpriced={"s3_get_requests": float(dispatcher.s3_get_requests)},
    )


# -- seed 001 ----------------------------------------------------------------------------


def _s3_event(bucket: str, key: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


def _fits(records: Sequence[dict[str, Any]]) -> bool:
    """Whether a file of these records gets through ReadFile within 256 KiB payloads."""
    text = SalesWorkload(list(records), Counter()).file_bytes().decode()
    state = {**_s3_event("b", "k"), "file": {"Body": {"orders": list(records)}}}
    return max(json_size(get_object_result(text)), json_size(state)) <= MAX_PAYLOAD_BYTES


def largest_prefix(records: Sequence[dict[str, Any]], start: int) -> int:
    """How many records from `start` fit in one file the seed workflow can read."""
    low, high = 1, len(records) - start
    if _fits(records[start : start + high]):
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(records[start : start + middle]):
            low = middle
        else:
            high = middle - 1
    return low


def run_seed001(workload: SalesWorkload) -> ReferenceRun:
    """Seed 001 on the workload: first the whole file (it fails), then files that fit."""
    bucket, definition = "seed-sales", seeds.seed001_definition()
    functions = {
        seeds.SEED_001_FUNCTION: SeedFunction(seeds.seed001_validate, seeds.SEED_LAMBDA_MEMORY_MB)
    }
    whole = workload.file_bytes().decode()
    trial = MeteringDispatcher(Meter(), functions, {(bucket, "incoming/whole.json"): whole})
    outcome = _interpreter(definition, "seed-001", trial).execute(
        _s3_event(bucket, "incoming/whole.json"), "whole-file"
    )
    notes = [
        f"The whole {len(whole.encode()):,}-byte file fails in the seed design: "
        f"{outcome.status} {outcome.error} ({(outcome.cause or '')[:120]})."
    ]
    records = workload.records
    files: dict[tuple[str, str], str] = {}
    start = 0
    while start < len(records):
        size = largest_prefix(records, start)
        chunk = SalesWorkload(records[start : start + size], workload.kinds)
        files[(bucket, f"incoming/part-{len(files):04d}.json")] = chunk.file_bytes().decode()
        start += size
    meter = Meter()
    dispatcher = MeteringDispatcher(meter, functions, files)
    interpreter = _interpreter(definition, "seed-001", dispatcher)
    started = time.perf_counter()
    results = [
        interpreter.execute(_s3_event(b, key), key.rsplit("/", 1)[-1].split(".")[0])
        for (b, key) in files
    ]
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.status != "SUCCEEDED"]
    sizes = [len(text.encode()) for text in files.values()]
    notes.append(
        f"So the same {len(records):,} records were split into {len(files)} files of at most "
        f"{max(sizes):,} bytes (the largest that fit), run one execution each."
    )
    history = max(len(r.history) for r in results)
    notes.append(
        f"Largest execution history: {history:,} events (Standard's limit is "
        f"{seeds.STANDARD_HISTORY_LIMIT:,}); the inline Map runs at most "
        f"{seeds.INLINE_MAP_MAX_CONCURRENCY} records at a time."
    )
    return ReferenceRun(
        records=len(records),
        usage=_usage(meter, results, dispatcher),
        notes=notes,
        details={
            "files": len(files),
            "largest_file_bytes": max(sizes),
            "records_per_file": round(len(records) / len(files), 1),
            "executions_failed": len(failed),
            "whole_file_status": outcome.status,
            "whole_file_error": outcome.error,
            "interpreter_seconds": round(seconds, 2),
        },
    )


# -- seed 000 ----------------------------------------------------------------------------


def run_seed000(entries: Sequence[Mapping[str, Any]]) -> ReferenceRun:
    """Seed 000: one Standard execution (Pass + Lambda) per late event; ticks start nothing."""
    events = [entry["event"] for entry in entries if "event" in entry]
    meter = Meter()
    functions = {
        seeds.SEED_000_FUNCTION: SeedFunction(seeds.seed000_reconcile, seeds.SEED_LAMBDA_MEMORY_MB)
    }
    dispatcher = MeteringDispatcher(meter, functions)
    interpreter = _interpreter(seeds.seed000_definition(), "ps-reconcile-workflow", dispatcher)
    started = time.perf_counter()
    results = [interpreter.execute(event, f"late-{i}") for i, event in enumerate(events)]
    seconds = time.perf_counter() - started
    return ReferenceRun(
        records=len(events),
        usage=_usage(meter, results, dispatcher),
        notes=[
            "One Standard execution per event (start + Pass + Task = 3 transitions); the "
            "seed's Lambda only prints, so nothing is stored or corrected and a replayed "
            "event is reconciled again.",
        ],
        details={
            "executions": len(results),
            "executions_failed": sum(r.status != "SUCCEEDED" for r in results),
            "interpreter_seconds": round(seconds, 2),
        },
    )


# -- seed 003 ----------------------------------------------------------------------------


def _matcher(pattern: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    from moto.events.models import EventPattern  # noqa: PLC0415 (moto is heavy; only here)

    loaded = EventPattern.load(json.dumps(pattern))

    def matches(record: Mapping[str, Any]) -> bool:
        event: Any = dict(record)  # moto types it as an event; a stream record works alike
        return bool(loaded.matches_event(event))

    return matches


def pipe_requests(records: Sequence[Mapping[str, Any]]) -> int:
    """Pipes requests for records that passed the filter: one per 64 KiB chunk of each."""
    return sum(max(1, math.ceil(json_size(r) / PIPES_CHUNK)) for r in records)


def matching(records: Sequence[Mapping[str, Any]], pattern: Mapping[str, Any]) -> list[Any]:
    matches = _matcher(pattern)
    return [r for r in records if matches(r)]


def run_seed003(workload: StreamWorkload) -> ReferenceRun:
    """Seed 003: both pipes with the seed's filters, batches of 100, its two Lambdas."""
    meter = Meter()
    pipes = {
        "standard": (seeds.SEED_003_STANDARD_FILTER, "OrderProcessorLambda"),
        "premium": (seeds.SEED_003_PREMIUM_FILTER, "PremiumOrderLambda"),
    }
    functions = {
        "OrderProcessorLambda": SeedFunction(
            seeds.seed003_order_processor, seeds.SEED_LAMBDA_MEMORY_MB
        ),
        "PremiumOrderLambda": SeedFunction(
            seeds.seed003_premium_order, seeds.SEED_LAMBDA_MEMORY_MB
        ),
    }
    dispatcher = MeteringDispatcher(meter, functions)
    details: dict[str, Any] = {"stream_records": len(workload.stream_records)}
    bare_list_error = ""
    for pipe, (pattern, function) in pipes.items():
        passed = matching(workload.stream_records, pattern)
        intended = [r for r in passed if seeds.seed003_intended(r, pipe)]
        meter.pipes_requests[pipe] += pipe_requests(passed)
        batches = [
            passed[i : i + seeds.SEED_003_BATCH_SIZE]
            for i in range(0, len(passed), seeds.SEED_003_BATCH_SIZE)
        ]
        for batch in batches:
            dispatcher.run_lambda(function, {"Records": batch})
        if batches and not bare_list_error:
            try:
                functions[function].handler(batches[0], None)
            except Exception as exc:  # what the seed's code does with what Pipes send
                bare_list_error = f"{type(exc).__name__}: {exc}"
        details[pipe] = {
            "passed_filter": len(passed),
            "intended_by_seed": len(intended),
            "invocations": len(batches),
        }
    extra = {p: details[p]["passed_filter"] - details[p]["intended_by_seed"] for p in pipes}
    from bench.pipelines import premium_filter_check  # noqa: PLC0415 (imports the components)

    ours = premium_filter_check(workload)
    seed_total = sum(details[p]["passed_filter"] for p in pipes)
    return ReferenceRun(
        records=len(workload.stream_records),
        usage=_usage(meter, [], dispatcher),
        notes=[
            'The seed\'s `anything-but "*test.com*"` is a literal: test customers pass both '
            f"filters ({extra['standard']} standard records the seed meant to drop); amounts "
            f"cannot be compared in a filter ({extra['premium']} premium-pipe records at or "
            "below $1,000 or from test customers pass anyway).",
            'Priced as if the Lambdas worked: as written they read event["Records"], but '
            f"Pipes send a bare list ({bare_list_error}), so every batch fails and, with the "
            "default MaximumRetryAttempts -1, is retried until the records expire (24 h).",
            "Batches are full (100 records) in stream order: the fewest invocations possible.",
            f"For comparison, orderflow's filters pass {ours['matched_total']:,} records and the "
            f"seed's {seed_total:,}: the seed's extra conditions exclude nothing here, so both "
            "pay Pipes for the same records; orderflow checks test customers and amounts in "
            "its handlers instead (and the seed's handlers only print).",
        ],
        details=details,
    )


# -- seed 002 (a model: it cannot run) ----------------------------------------------------


@dataclass(frozen=True)
class SequentialUpdaterModel:
    """One Lambda invocation updating every chargeback of a consolidation, one at a time."""

    records: int = seeds.SEED_002_PARTITION_RECORDS
    latency_ms_low: float = 5.0
    latency_ms_high: float = 10.0
    memory_mb: int = seeds.SEED_002_LAMBDA_MEMORY_MB

    def seconds(self, latency_ms: float) -> float:
        return self.records * latency_ms / 1000

    def usage(self) -> Usage:
        """The bill if Lambda had no 15-minute limit, at the low (seed-favouring) latency."""
        seconds = self.seconds(self.latency_ms_low)
        return Usage(
            lambda_requests=1.0,
            lambda_gb_seconds_arm64=self.memory_mb / 1024 * seconds,
            dynamodb_write_units=float(self.records),  # items under 1 KB: 1 WRU each
        )

    def run(self) -> ReferenceRun:
        low, high = self.seconds(self.latency_ms_low), self.seconds(self.latency_ms_high)
        limit = seeds.LAMBDA_MAX_SECONDS
        return ReferenceRun(
            records=self.records,
            usage=self.usage(),
            notes=[
                f"One invocation updating {self.records:,} chargebacks one UpdateItem at a "
                f"time needs {low:,.0f}-{high:,.0f} s at {self.latency_ms_low:g}-"
                f"{self.latency_ms_high:g} ms per UpdateItem: {low / limit:.1f}-"
                f"{high / limit:.1f}x Lambda's 15-minute limit. It cannot finish; priced as "
                "if it could (the low latency), so the figure is a floor.",
            ],
            details={
                "completes": False,
                "seconds_low": round(low),
                "seconds_high": round(high),
                "lambda_limit_seconds": limit,
                "invocations_needed_at_15_min": math.ceil(high / limit),
                "per_million_scale": MILLION / self.records,
            },
        )
