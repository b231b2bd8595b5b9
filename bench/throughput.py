"""Handler throughput in process against moto, and each handler module's import time.

Throughput calls each Lambda handler function directly with realistic batches (the batch
sizes the dev stack configures) against moto, with no emulator in between: records per
second here is an upper bound set by the handler's own Python work plus botocore and
moto, with no network. Real DynamoDB/SQS calls add milliseconds of latency each; that is
what the consolidation scale model (`bench.scale`) accounts for.

Import time is measured in a fresh interpreter per module (the Lambda cold start's
import share), as the median of several runs, with `-X importtime`'s heaviest packages.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import workloads

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
HANDLER_MODULES: Final = (
    "runtime.validation.handler",
    "runtime.orders.handler",
    "runtime.consolidation.handler",
    "runtime.reconciliation.handler",
)
IMPORT_TARGET_MS: Final = 300.0

Handler = Callable[[Any, Any], Any]


class _Sink(io.StringIO):
    """Swallows handler logs (counting their bytes) so printing does not flood the bench."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


@dataclass
class FakeContext:
    """The parts of Lambda's context object the handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure(
    handler: Handler,
    events: Sequence[Any],
    records: Sequence[int],
    context: FakeContext,
    outputs: list[Any] | None = None,
) -> dict[str, Any]:
    """Call `handler` once per event; the first call (clients created) is reported apart.

    Call inside `quiet()`: the handlers' loggers write to the stream that was `sys.stdout`
    when they were imported, and the log volume per record is reported.
    """
    sink = sys.stdout if isinstance(sys.stdout, _Sink) else _Sink()
    logged = sink.bytes
    durations: list[float] = []
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        for event in events:
            started = time.perf_counter()
            output = handler(event, context)
            durations.append(time.perf_counter() - started)
            if outputs is not None:
                outputs.append(output)
    warm, warm_records = durations[1:] or durations, records[1:] or records
    return {
        "invocations": len(events),
        "records_per_invocation": round(statistics.fmean(records), 1),
        "first_call_ms": round(durations[0] * 1000, 1),
        "warm_ms_mean": round(statistics.fmean(warm) * 1000, 1),
        "warm_ms_p95": round(_percentile(warm, 0.95) * 1000, 1),
        "records_per_second": round(sum(warm_records) / sum(warm), 1),
        "log_bytes_per_record": round((sink.bytes - logged) / max(sum(records), 1), 1),
    }


@contextlib.contextmanager
def quiet() -> Iterator[_Sink]:
    """Route stdout (handler logs) into a counting sink, imports included."""
    sink = _Sink()
    with contextlib.redirect_stdout(sink):
        yield sink


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _queue(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url


def _table(dynamodb: Any, name: str, key: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _fresh_clients() -> None:
    from runtime.common import clients  # noqa: PLC0415

    clients.reset()


# -- families ----------------------------------------------------------------------------


def validation_handlers(batch_size: int = 1000, batches: int = 6) -> dict[str, Any]:
    """`validate_batch` on Distributed Map batches; `inspect_file` on a 20,000-record file."""
    import boto3  # noqa: PLC0415

    boto3.client("sqs", region_name=REGION)  # imported before timing
    sqs, dynamodb, s3 = (boto3.client(n, region_name=REGION) for n in ("sqs", "dynamodb", "s3"))
    _table(dynamodb, "bench-orders", "orderId")
    queue = _queue(sqs, "bench-validation-dlq")
    s3.create_bucket(Bucket="bench-uploads")
    sales = workloads.sales_records(batch_size * batches)
    s3.put_object(Bucket="bench-uploads", Key="incoming/sales.json", Body=sales.file_bytes())
    env = {
        "TABLE_NAME": "bench-orders",
        "DEAD_LETTER_QUEUE_URL": queue,
        "PIPELINE_NAME": "validation",
        "POWERTOOLS_SERVICE_NAME": "validation",
    }
    with environment(env):
        _fresh_clients()
        from runtime.validation import handler  # noqa: PLC0415

        source = {
            "bucket": "bench-uploads",
            "key": "incoming/sales.json",
            "ingestedAt": "2025-11-20T06:00:00Z",
            "format": "orders_object",
        }
        events = [
            {
                "Items": [
                    {"index": i, "value": sales.records[i]}
                    for i in range(n * batch_size, (n + 1) * batch_size)
                ],
                "BatchInput": source,
            }
            for n in range(batches)
        ]
        validate = measure(
            handler.validate_batch, events, [batch_size] * batches, FakeContext("validate", 512)
        )
        s3_event = {
            "time": "2025-11-20T06:00:00Z",
            "detail": {
                "bucket": {"name": "bench-uploads"},
                "object": {"key": "incoming/sales.json", "size": len(sales.file_bytes())},
            },
        }
        inspect = measure(
            handler.inspect_file, [s3_event] * 5, [1] * 5, FakeContext("inspect", 256)
        )
    return {
        "validation.validate_batch": {**validate, "unit": "sales records"},
        "validation.inspect_file": {**inspect, "unit": "files"},
    }


def orders_handlers(batch_size: int = 100, batches: int = 6) -> dict[str, Any]:
    """`process_standard`/`process_premium` on batches of the records their pipes pass."""
    import boto3  # noqa: PLC0415

    from bench.reference import matching  # noqa: PLC0415
    from components.premium_order_pipe import premium_filter, standard_filter  # noqa: PLC0415

    sqs, events, sns, dynamodb = (
        boto3.client(n, region_name=REGION) for n in ("sqs", "events", "sns", "dynamodb")
    )
    events.create_event_bus(Name="bench-orders-bus")
    topic = sns.create_topic(Name="bench-premium")["TopicArn"]
    _table(dynamodb, "bench-idempotency", "id")
    env = {
        "EVENT_BUS_NAME": "bench-orders-bus",
        "TOPIC_ARN": topic,
        "DEAD_LETTER_QUEUE_URL": _queue(sqs, "bench-orders-dlq"),
        "IDEMPOTENCY_TABLE_NAME": "bench-idempotency",
        "POWERTOOLS_SERVICE_NAME": "orders",
    }
    stream = workloads.order_changes(4_800)
    results: dict[str, Any] = {}
    with environment(env):
        _fresh_clients()
        from runtime.orders import handler  # noqa: PLC0415

        for flow, pattern, function in (
            ("standard", standard_filter(["pending", "shipped"]), handler.process_standard),
            ("premium", premium_filter("pending", "shipped"), handler.process_premium),
        ):
            passed = matching(stream.stream_records, pattern)[: batch_size * batches]
            chunks = [passed[i : i + batch_size] for i in range(0, len(passed), batch_size)]
            measured = measure(
                function, chunks, [len(c) for c in chunks], FakeContext(f"orders-{flow}", 256)
            )
            results[f"orders.process_{flow}"] = {**measured, "unit": "stream records"}
    return results


def consolidation_handlers(
    messages_per_batch: int = 100, batches: int = 2, rows: int = 500, row_batches: int = 3
) -> dict[str, Any]:
    """`consume` on Kafka batches of consolidation events; `apply_updates` on row batches."""
    import boto3  # noqa: PLC0415

    sqs, dynamodb, sfn = (
        boto3.client(n, region_name=REGION) for n in ("sqs", "dynamodb", "stepfunctions")
    )
    _table(dynamodb, "bench-chargebacks", "chargeback_id")
    _table(dynamodb, "bench-consolidations", "consolidation_id")
    machine = sfn.create_state_machine(
        name="bench-fanout",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/bench-fanout",
    )["stateMachineArn"]
    spare = 600  # chargebacks left for `updater_workers` (never updated before)
    data = workloads.consolidation_input(rows * row_batches + spare, files=1)
    _seed_chargebacks(dynamodb, "bench-chargebacks", data["chargebacks"])
    env = {
        "DYNAMODB_TABLE_NAME": "bench-chargebacks",
        "CONSOLIDATIONS_TABLE_NAME": "bench-consolidations",
        "FANOUT_STATE_MACHINE_ARN": machine,
        "DEAD_LETTER_QUEUE_URL": _queue(sqs, "bench-consolidation-dlq"),
        "ALLOWED_OUTPUT_PREFIXES": workloads.CONSOLIDATED_PREFIX.rsplit("/", 3)[0] + "/",
        "UPDATE_CONCURRENCY": "16",
        "POWERTOOLS_SERVICE_NAME": "consolidation",
    }
    with environment(env):
        _fresh_clients()
        from runtime.consolidation import handler  # noqa: PLC0415
        from runtime.consolidation.schema import (  # noqa: PLC0415
            ConsolidationAttributes,
            parse_event,
        )

        kafka = [
            _kafka_event(
                [
                    {
                        **data["messages"][0],
                        "partition_date": f"2025-{1 + b % 12:02d}-{1 + m % 28:02d}",
                        "execution_sequence": 1 + m // 28,
                    }
                    for m in range(messages_per_batch)
                ],
                first_offset=b * messages_per_batch,
            )
            for b in range(batches)
        ]
        consume = measure(
            handler.consume, kafka, [messages_per_batch] * batches, FakeContext("consume", 256)
        )
        parsed = parse_event(data["messages"][0])
        attributes = ConsolidationAttributes.from_event(parsed)  # type: ignore[arg-type]
        csv_rows = [
            {"chargeback_id": r["chargeback_id"], "amount": r["amount"]}
            for r in data["chargebacks"]
        ]
        updates = [
            {
                "Items": csv_rows[b * rows : (b + 1) * rows],
                "BatchInput": {"consolidation": attributes.to_dict(), "file": "part-0000.csv"},
            }
            for b in range(row_batches)
        ]
        apply = measure(
            handler.apply_updates, updates, [rows] * row_batches, FakeContext("updater", 512)
        )
        ids = [r["chargeback_id"] for r in data["chargebacks"]][rows * row_batches :]
        workers = updater_workers("bench-chargebacks", attributes, ids)
    return {
        "consolidation.consume": {**consume, "unit": "Kafka messages"},
        "consolidation.apply_updates": {**apply, "unit": "chargebacks", "threads": 16},
        "consolidation.updater_worker": workers,
    }


def updater_workers(
    table: str, attributes: Any, ids: Sequence[str], sequential: int = 200, threaded: int = 400
) -> dict[str, Any]:
    """Per-UpdateItem cost of the updater: on moto (one worker, then 16 threads) and with the
    call stubbed out (a lower bound on botocore's CPU per call)."""
    import boto3  # noqa: PLC0415
    from botocore.stub import Stubber  # noqa: PLC0415

    from runtime.consolidation.updates import ChargebackUpdater, update_request  # noqa: PLC0415

    client = boto3.client("dynamodb", region_name=REGION)
    started = time.perf_counter()
    ChargebackUpdater(table, dynamodb=client, concurrency=1).apply(
        ids[:sequential], attributes, "2025-11-20T07:00:00Z"
    )
    one = (time.perf_counter() - started) / sequential
    batch = ids[sequential : sequential + threaded]
    started = time.perf_counter()
    ChargebackUpdater(table, dynamodb=client, concurrency=16).apply(
        batch, attributes, "2025-11-20T07:00:01Z"
    )
    sixteen = (time.perf_counter() - started) / len(batch)
    stubbed = boto3.client("dynamodb", region_name=REGION)
    calls = 500
    with Stubber(stubbed) as stub:
        for _ in range(calls):
            stub.add_response("update_item", {})
        started = time.perf_counter()
        for identifier in ids[:calls]:
            stubbed.update_item(**update_request(table, identifier, attributes, "x"))
        client_cpu = (time.perf_counter() - started) / calls
    return {
        "moto_ms_per_update_one_worker": round(one * 1000, 2),
        "moto_updates_per_second_one_worker": round(1 / one, 1),
        "moto_updates_per_second_16_threads": round(1 / sixteen, 1),
        "client_cpu_ms_per_update": round(client_cpu * 1000, 3),
        "note": (
            "moto runs DynamoDB's work in this process (expression parsing and all), so its "
            "per-call time is an upper bound on the per-call overhead, not DynamoDB latency; "
            "the stubbed figure is botocore's CPU before the request is built (validation, "
            "hooks), a lower bound; http_client_cpu_ms_per_update is the whole client side"
        ),
    }


def _seed_chargebacks(dynamodb: Any, table: str, items: Sequence[Mapping[str, str]]) -> None:
    for start in range(0, len(items), 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {k: {"S": v} for k, v in item.items()}}}
                    for item in items[start : start + 25]
                ]
            }
        )


def _kafka_event(values: Sequence[Mapping[str, Any]], first_offset: int) -> dict[str, Any]:
    import base64  # noqa: PLC0415

    topic = "chargeback-consolidation-events"
    records = [
        {
            "topic": topic,
            "partition": 0,
            "offset": first_offset + i,
            "timestamp": 1763620000000 + i,
            "timestampType": "CREATE_TIME",
            "key": "",
            "value": base64.b64encode(json.dumps(value).encode()).decode(),
            "headers": [],
        }
        for i, value in enumerate(values)
    ]
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/orderflow-dev/bench",
        "records": {f"{topic}-0": records},
    }


def reconciliation_handlers(events: int = 600) -> dict[str, Any]:
    """`flag_late_record` then `reconcile`, one event per invocation (as the workflow calls).

    Runs with the emulator's `fast_transactions`: moto's own TransactWriteItems
    deep-copies the ledger per call, which would make this moto's figure, not the handler's.
    """
    import boto3  # noqa: PLC0415

    sqs, dynamodb, bus = (
        boto3.client(n, region_name=REGION) for n in ("sqs", "dynamodb", "events")
    )
    dynamodb.create_table(
        TableName="bench-ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "pendingState", "AttributeType": "S"},
            {"AttributeName": "pendingSince", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "pending",
                "KeySchema": [
                    {"AttributeName": "pendingState", "KeyType": "HASH"},
                    {"AttributeName": "pendingSince", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    bus.create_event_bus(Name="bench-late-bus")
    env = {
        "LEDGER_TABLE_NAME": "bench-ledger",
        "PENDING_INDEX_NAME": "pending",
        "EVENT_BUS_NAME": "bench-late-bus",
        "DEAD_LETTER_QUEUE_URL": _queue(sqs, "bench-late-dlq"),
        "POWERTOOLS_SERVICE_NAME": "late-data",
    }
    late = [e["event"] for e in workloads.late_events(events) if "event" in e]
    with environment(env):
        _fresh_clients()
        from runtime.reconciliation import handler  # noqa: PLC0415

        flagged: list[Any] = []
        flag = measure(
            handler.flag_late_record, late, [1] * len(late), FakeContext("flag", 256), flagged
        )
        accepted = [f for f in flagged if f.get("status") != "rejected"]
        reconcile = measure(
            handler.reconcile, accepted, [1] * len(accepted), FakeContext("rec", 256)
        )
    return {
        "reconciliation.flag_late_record": {**flag, "unit": "late events"},
        "reconciliation.reconcile": {
            **reconcile,
            "unit": "late events",
        },
    }


FAMILIES: Final[dict[str, Callable[[], dict[str, Any]]]] = {
    "validation": validation_handlers,
    "orders": orders_handlers,
    "consolidation": consolidation_handlers,
    "reconciliation": reconciliation_handlers,
}


def run_family(family: str) -> dict[str, Any]:
    """One handler family against a fresh moto (call in its own process: modules cache)."""
    from moto import mock_aws  # noqa: PLC0415

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from emulator.services import sqs  # noqa: PLC0415
    from emulator.services.dynamodb_transactions import fast_transactions  # noqa: PLC0415

    with mock_aws(), fast_transactions(), contextlib.ExitStack() as patches, quiet():
        # The emulator's fix for moto's quadratic queue counters (see emulator/services/sqs.py):
        # without it, filling a dead-letter queue dominates the measurement.
        for patch in sqs.patches():
            patches.enter_context(patch)
        results = FAMILIES[family]()
    if family == "consolidation":  # outside moto: a real HTTP round trip to a local server
        results["consolidation.updater_worker"].update(client_cpu_per_update())
    return results


_EMPTY_DYNAMODB: Final = """
import http.server, sys
class Empty(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Empty)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def client_cpu_per_update(calls: int = 400) -> dict[str, Any]:
    """CPU the updater's process spends per UpdateItem: serialise, sign, send, parse.

    The calls go to a local server (another process) answering `{}`, so the client does
    all of its real work; `time.process_time` counts this process's CPU only, not the
    server's nor the wait. This is the per-call CPU a Lambda pays besides the latency.
    """
    import boto3  # noqa: PLC0415

    from runtime.consolidation.schema import ConsolidationAttributes, parse_event  # noqa: PLC0415
    from runtime.consolidation.updates import update_request  # noqa: PLC0415

    server = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _EMPTY_DYNAMODB], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int((server.stdout.readline() if server.stdout else "").strip())
        # Credentials: the dummy ones `run_family` puts in the environment.
        client = boto3.session.Session(region_name=REGION).client(
            "dynamodb", endpoint_url=f"http://127.0.0.1:{port}"
        )
        message = workloads.consolidation_input(1)["messages"][0]
        attributes = ConsolidationAttributes.from_event(parse_event(message))  # type: ignore[arg-type]
        requests = [update_request("t", f"CB-{i:07d}", attributes, "x") for i in range(calls)]
        client.update_item(**requests[0])  # connection and models warmed up
        cpu, wall = time.process_time(), time.perf_counter()
        for request in requests:
            client.update_item(**request)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        server.terminate()  # the server this function started
        server.wait()
    return {
        "http_client_cpu_ms_per_update": round(cpu / calls * 1000, 3),
        "http_round_trip_ms_local": round(wall / calls * 1000, 3),
    }


# -- import time ---------------------------------------------------------------------------

_IMPORT_PROBE: Final = """
import importlib, os, sys, time
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
importlib.import_module(sys.argv[2])
imported = time.perf_counter()
if len(sys.argv) > 3:  # the handlers import boto3 lazily: the first invocation pays it
    import boto3
    boto3.session.Session().client("dynamodb")
print((imported - started) * 1000, (time.perf_counter() - imported) * 1000)
"""


def import_time(module: str, runs: int = 5) -> dict[str, Any]:
    """Median wall time of `import module` in a fresh interpreter, its heaviest imports,
    and what the first invocation adds (boto3 imported and one client built)."""

    def probe(*extra: str) -> list[float]:
        done = subprocess.run(  # noqa: S603 - our own interpreter and probe
            [sys.executable, "-c", _IMPORT_PROBE, str(REPO_ROOT), module, *extra],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
        )
        return [float(v) for v in done.stdout.split()]

    times = [probe()[0] for _ in range(runs)]
    first_use = statistics.median(probe("boto3")[1] for _ in range(3))
    profile = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "importtime", "-c", _IMPORT_PROBE, str(REPO_ROOT), module],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    baseline = subprocess.run(  # what the interpreter imports at startup
        [sys.executable, "-X", "importtime", "-c", "pass"],
        capture_output=True,
        text=True,
        check=True,
    )
    median = statistics.median(times)
    return {
        "median_ms": round(median, 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
        "target_ms": IMPORT_TARGET_MS,
        "within_target": median < IMPORT_TARGET_MS,
        "first_invocation_boto3_ms": round(first_use, 1),
        "heaviest": heaviest_imports(profile.stderr, exclude=heaviest_imports(baseline.stderr, 99)),
    }


def heaviest_imports(
    importtime_output: str, top: int = 4, exclude: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Top-level packages by cumulative import time (ms) from `-X importtime` output.

    Lines read `import time: <self us> | <cumulative us> | <name>`, nested imports
    indented by two more spaces; only unindented (top-level) names are summed.
    """
    totals: dict[str, float] = {}
    for line in importtime_output.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        cumulative, name = parts[1].strip(), parts[2]
        if not cumulative.isdigit() or not name.startswith(" ") or name[1:2] == " ":
            continue
        package = name.strip().split(".")[0]
        if exclude and package in exclude:
            continue
        totals[package] = totals.get(package, 0.0) + int(cumulative) / 1000
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {name: round(ms, 1) for name, ms in ranked}


def import_times(runs: int = 5) -> dict[str, Any]:
    return {module: import_time(module, runs) for module in HANDLER_MODULES}
