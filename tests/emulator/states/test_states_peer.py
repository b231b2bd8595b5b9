"""Peer check: orderflow's workflows on our interpreter and on moto's, outcome for outcome.

moto 5.2 executes ASL itself (`execute_state_machine`, a port of LocalStack's
interpreter). Here each workflow definition the components generate runs on both, with the
same Lambda handlers (moto's Lambda invoke is answered in process, as the emulator does)
and the same moto SQS and S3, and the two runs are compared: status, error and cause,
output, the states entered in order, every task's parameters, the number of attempts,
and the dead letters sent. Where the histories differ by design, the difference is
pinned here and listed, with which side AWS documents, in `emulator/README.md`
("Peer check against moto's interpreter"); a new difference fails this test.

moto's retrier sleeps for real: its sleep is replaced by a recorder, so the run is fast
and the back-off each side chose can be compared.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import time
import types
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from components.consolidation_workflow import consolidation_definition
from components.reconciliation_workflow import reconciliation_definition
from components.validation_workflow import validation_definition
from emulator.services import s3_reader
from emulator.states import ExecutionResult, StateMachineInterpreter, TaskContext, TaskError

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS = ("flag", "reconcile", "sweep", "inspect", "validate", "update")
BUCKET = "peer-uploads"
Handler = Callable[[Any], Any]


class HandlerFailed(Exception):
    """A handler's error: `errorType` is the name the caller sees."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _cause(exc: HandlerFailed) -> str:
    """A Lambda function error's payload, as moto's Lambda and our dispatcher both give it."""
    return json.dumps(
        {"errorType": exc.error_type, "errorMessage": str(exc)}, separators=(",", ":")
    )


@dataclass
class Peer:
    """moto (executing ASL) with in-process Lambda handlers, and clients to it."""

    role: str
    queue_url: str
    arns: dict[str, str]
    handlers: dict[str, Handler] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def peer(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Peer]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch_module.setenv(key, "testing")
    holder: list[Peer] = []

    def invoke(function: LambdaFunction, body: str, _request: Any, response: Any) -> bytes:
        handler = holder[0].handlers[function.function_name]
        try:
            return json.dumps(handler(json.loads(body) if body else {})).encode()
        except HandlerFailed as exc:
            response["x-amz-function-error"] = "Unhandled"
            return _cause(exc).encode()

    def sleep(seconds: float) -> None:
        holder[0].sleeps.append(seconds)

    clock = types.SimpleNamespace(sleep=sleep)
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        mock.patch.object(LambdaFunction, "invoke", invoke),
        mock.patch.object(retrier_decl, "time", clock),
    ):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="peer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
        functions = boto3.client("lambda", region_name=REGION)
        arns = {
            name: functions.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="handler.handle",
                Code={"ZipFile": code.getvalue()},
            )["FunctionArn"]
            for name in FUNCTIONS
        }
        queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="peer-dlq")[
            "QueueUrl"
        ]
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        holder.append(Peer(role, queue_url, arns))
        yield holder[0]


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


class PeerDispatcher:
    """Our interpreter's tasks, performed against the same moto and the same handlers."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    def invoke(self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext) -> Any:
        if resource == "arn:aws:states:::lambda:invoke":
            name = str(parameters["FunctionName"]).rsplit(":", 1)[-1]
            try:
                payload = self.peer.handlers[name](parameters.get("Payload"))
            except HandlerFailed as exc:
                raise TaskError(exc.error_type, _cause(exc)) from None
            return {"StatusCode": 200, "Payload": payload}
        if resource == "arn:aws:states:::sqs:sendMessage":
            body = parameters["MessageBody"]
            sent = self.peer.client("sqs").send_message(
                **{**parameters, "MessageBody": body if isinstance(body, str) else json.dumps(body)}
            )
            return {k: v for k, v in sent.items() if k != "ResponseMetadata"}
        if resource == "arn:aws:states:::s3:listObjectsV2":
            return s3_reader.list_objects(self.peer.client("s3"), parameters)
        if resource == "arn:aws:states:::s3:getObject":
            got = self.peer.client("s3").get_object(
                Bucket=parameters["Bucket"], Key=parameters["Key"]
            )
            return got["Body"].read().decode()
        raise AssertionError(f"the peer check has no fake for {resource}")


@dataclass(frozen=True)
class Run:
    """One execution as both sides can report it."""

    status: str
    error: str | None
    cause: str | None
    output: Any
    entered: list[str]  # state names, in the order they were entered
    scheduled: list[tuple[str, Any]]  # (state, parameters) of every task attempt
    events: list[str]  # event types in order
    letters: list[dict[str, Any]]  # dead letters sent, without their timestamps
    backoff: float  # seconds of retry back-off


def _letters(peer: Peer) -> list[dict[str, Any]]:
    sqs = peer.client("sqs")
    letters: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=peer.queue_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return sorted(letters, key=json.dumps)
        for message in messages:
            body = json.loads(message["Body"])
            body.pop("timestamp", None)
            letters.append(body)
            sqs.delete_message(QueueUrl=peer.queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_on_moto(peer: Peer, definition: dict[str, Any], payload: Any, name: str) -> Run:
    sfn = peer.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"peer-{name}", definition=json.dumps(definition), roleArn=peer.role
    )["stateMachineArn"]
    peer.sleeps.clear()
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline, "moto's execution did not finish"
        time.sleep(0.005)
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    sfn.delete_state_machine(stateMachineArn=machine)
    return Run(
        status=described["status"],
        error=described.get("error"),
        cause=described.get("cause"),
        output=json.loads(described["output"]) if described.get("output") else None,
        entered=[
            e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("Entered")
        ],
        scheduled=[
            (state, json.loads(e["taskScheduledEventDetails"]["parameters"]))
            for state, e in _with_state(history)
            if e["type"] == "TaskScheduled"
        ],
        events=[e["type"] for e in history],
        letters=_letters(peer),
        backoff=sum(peer.sleeps),
    )


def _with_state(history: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    state = ""
    for event in history:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        yield state, event


def run_on_ours(peer: Peer, definition: dict[str, Any], payload: Any, name: str) -> Run:
    interpreter = StateMachineInterpreter(
        definition,
        dispatcher=PeerDispatcher(peer),
        role_arn=peer.role,
        state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:peer-{name}",
        rng=random.Random(7),
    )
    result: ExecutionResult = interpreter.execute(payload, name)
    body = [event for event in result.history]
    return Run(
        status=result.status,
        error=result.error,
        cause=result.cause,
        output=result.output,
        entered=[e.state or "" for e in body if e.type.endswith("StateEntered")],
        scheduled=[
            (e.state or "", e.detail["parameters"]) for e in body if e.type == "TaskScheduled"
        ],
        events=[e.type for e in body],
        letters=_letters(peer),
        backoff=result.virtual_seconds,
    )


def both(peer: Peer, definition: dict[str, Any], payload: Any, name: str) -> tuple[Run, Run]:
    return run_on_moto(peer, definition, payload, name), run_on_ours(
        peer, definition, payload, name
    )


# -- what moto cannot read ---------------------------------------------------------------

# Fields of orderflow's definitions moto 5.2's ASL parser refuses although AWS documents
# them (README, "Peer check against moto's interpreter"). `comparable` takes them out of
# the definition both sides then run; the Express/JSONL/PARQUET parts run on ours only.
MOTO_REFUSES = {
    "ItemBatcher": 'at "ItemBatcher", mismatched input',
    "ToleratedFailurePercentage": "no viable alternative at input '\"ToleratedFailurePercentage",
    "ExecutionType EXPRESS": 'at "EXPRESS", mismatched input',
    "InputType JSONL": "'JSONL' is not a valid InputTypeValue",
}


UNREADABLE = {"InputType JSONL", "InputType PARQUET", "ReaderConfig ItemsPointer"}


def comparable(definition: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """`definition` without what moto cannot parse, and which of `MOTO_REFUSES` it had.

    ToleratedFailurePercentage 0 is the default, so dropping it changes nothing; without
    ItemBatcher each child gets one item instead of a batch (on both sides); Express
    children run as Standard ones; a Choice branch to a reader moto cannot read (JSONL,
    PARQUET, or a ReaderConfig.ItemsPointer, which AWS's documentation does not confirm) is
    cut.
    """
    found: set[str] = set()
    copy = json.loads(json.dumps(definition))

    def visit(states: dict[str, Any]) -> None:
        for name in list(states):
            state = states[name]
            reader = state.get("ItemReader", {}).get("ReaderConfig", {})
            named = {f"InputType {reader.get('InputType')}", *(f"ReaderConfig {k}" for k in reader)}
            cut = named & UNREADABLE
            if cut:
                found.update(cut)
                del states[name]
                for other in states.values():
                    if other.get("Type") == "Choice":
                        other["Choices"] = [c for c in other["Choices"] if c["Next"] != name]
                continue
            for key in ("ItemBatcher", "ToleratedFailurePercentage"):
                if state.pop(key, None) is not None:
                    found.add(key)
            processor = state.get("ItemProcessor", {})
            config = processor.get("ProcessorConfig", {})
            if config.get("ExecutionType") == "EXPRESS":
                found.add("ExecutionType EXPRESS")
                config["ExecutionType"] = "STANDARD"
            if processor:
                visit(processor["States"])

    visit(copy["States"])
    return copy, found


# -- the workflows -----------------------------------------------------------------------


def fail(error_type: str) -> Handler:
    def handler(_event: Any) -> Any:
        raise HandlerFailed(error_type, f"{error_type} raised by the handler")

    return handler


def reconciliation(peer: Peer) -> dict[str, Any]:
    return reconciliation_definition(
        flag_arn=peer.arns["flag"],
        reconcile_arn=peer.arns["reconcile"],
        sweep_arn=peer.arns["sweep"],
        dead_letter_queue_url=peer.queue_url,
    )


def validation(peer: Peer) -> dict[str, Any]:
    return validation_definition(
        inspect_arn=peer.arns["inspect"],
        validate_arn=peer.arns["validate"],
        dead_letter_queue_url=peer.queue_url,
        batch_size=2,
        max_concurrency=2,
    )


def consolidation(peer: Peer) -> dict[str, Any]:
    return consolidation_definition(
        updater_arn=peer.arns["update"], batch_size=2, row_concurrency=2, file_concurrency=2
    )


ENTERED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def without_timestamps(run: Run) -> tuple[Any, ...]:
    """Everything compared, dead-letter timestamps (`$$.State.EnteredTime`) set aside."""
    scheduled = []
    for state, parameters in run.scheduled:
        body = parameters.get("MessageBody")
        if isinstance(body, dict):
            body = {**body, "timestamp": "<entered>"}
        scheduled.append((state, {**parameters, "MessageBody": body} if body else parameters))
    return (run.status, run.error, run.cause, run.output, run.entered, scheduled, run.letters)


def entered_times(run: Run) -> list[str]:
    return [
        p["MessageBody"]["timestamp"]
        for _, p in run.scheduled
        if isinstance(p.get("MessageBody"), dict) and "timestamp" in p["MessageBody"]
    ]


def max_backoff(definition: dict[str, Any], run: Run) -> float:
    """The most back-off the attempts in `run` may take (FULL jitter draws below it)."""
    total = 0.0
    attempts: dict[str, int] = {}
    for state, _ in run.scheduled:
        attempts[state] = attempts.get(state, 0) + 1
    for state, count in attempts.items():
        spec = _find_state(definition["States"], state)
        for retrier in spec.get("Retry", []):
            interval = float(retrier.get("IntervalSeconds", 1))
            rate = float(retrier.get("BackoffRate", 2.0))
            cap = float(retrier.get("MaxDelaySeconds", 1e9))
            total += sum(min(interval * rate**n, cap) for n in range(count - 1))
    return total


def _find_state(states: dict[str, Any], name: str) -> dict[str, Any]:
    for key, state in states.items():
        if key == name:
            return state  # type: ignore[no-any-return]
        inner = state.get("ItemProcessor", {}).get("States")
        if inner:
            try:
                return _find_state(inner, name)
            except KeyError:
                pass
    raise KeyError(name)


# -- the checks --------------------------------------------------------------------------


def _one_field(kind: str) -> dict[str, Any]:
    """A Distributed Map over an S3 object, with one field of `MOTO_REFUSES` in it."""
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL" if kind == "InputType JSONL" else "JSON"},
            "Parameters": {"Bucket": BUCKET, "Key": "items.json"},
        },
        "ItemProcessor": {
            "ProcessorConfig": {
                "Mode": "DISTRIBUTED",
                "ExecutionType": "EXPRESS" if kind == "ExecutionType EXPRESS" else "STANDARD",
            },
            "StartAt": "Each",
            "States": {"Each": {"Type": "Pass", "End": True}},
        },
        "End": True,
    }
    if kind == "ItemBatcher":
        state["ItemBatcher"] = {"MaxItemsPerBatch": 2}
    if kind == "ToleratedFailurePercentage":
        state["ToleratedFailurePercentage"] = 0
    return {"StartAt": "Fan", "States": {"Fan": state}}


@pytest.mark.parametrize("kind", sorted(MOTO_REFUSES))
def test_moto_refuses_documented_fields_that_ours_runs(peer: Peer, kind: str) -> None:
    definition = _one_field(kind)
    StateMachineInterpreter(  # ours accepts it (and validates it as AWS documents)
        definition,
        dispatcher=PeerDispatcher(peer),
        role_arn=peer.role,
        state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:one",
    )
    with pytest.raises(ClientError) as refused:
        peer.client("stepfunctions").create_state_machine(
            name=f"one-{kind.replace(' ', '-')}",
            definition=json.dumps(definition),
            roleArn=peer.role,
        )
    assert MOTO_REFUSES[kind] in refused.value.response["Error"]["Message"]
    assert comparable(definition)[1] == {kind}  # and `comparable` takes exactly that out


@pytest.mark.parametrize("workflow", ["validation", "consolidation"])
def test_orderflow_definitions_run_on_moto_only_without_those_fields(
    peer: Peer, workflow: str
) -> None:
    definition = validation(peer) if workflow == "validation" else consolidation(peer)
    whole, found = json.dumps(definition), comparable(definition)[1]
    assert found <= {*MOTO_REFUSES, *UNREADABLE}
    sfn = peer.client("stepfunctions")
    with pytest.raises(ClientError, match=r"ASLParserException|not a valid InputTypeValue"):
        sfn.create_state_machine(name=f"whole-{workflow}", definition=whole, roleArn=peer.role)
    created = sfn.create_state_machine(
        name=f"cut-{workflow}", definition=json.dumps(comparable(definition)[0]), roleArn=peer.role
    )
    sfn.delete_state_machine(stateMachineArn=created["stateMachineArn"])


ACCEPTED = {"status": "accepted", "ledgerKey": "2024-05-01#o-1", "orderId": "o-1"}
RECONCILIATION_CASES: dict[str, tuple[dict[str, Handler], Any]] = {
    "reconciled": (
        {"flag": lambda e: ACCEPTED, "reconcile": lambda e: {"corrected": 1}},
        {"id": "ev-1", "detail": {"orderId": "o-1"}},
    ),
    "rejected": (
        {"flag": lambda e: {"status": "rejected", "reason": "bad_date"}},
        {"id": "ev-2", "detail": {}},
    ),
    "reconcile-deferred": (
        {"flag": lambda e: ACCEPTED, "reconcile": fail("LedgerBusy")},
        {"id": "ev-3", "detail": {}},
    ),
    "swept": ({"sweep": lambda e: {"redriven": 2}}, {"mode": "sweep"}),
    "sweep-failed": ({"sweep": fail("SweepBroke")}, {"mode": "sweep"}),
}


@pytest.mark.parametrize("case", sorted(RECONCILIATION_CASES))
def test_reconciliation_runs_alike(peer: Peer, case: str) -> None:
    handlers, payload = RECONCILIATION_CASES[case]
    peer.handlers.update(handlers)
    definition = reconciliation(peer)
    theirs, ours = both(peer, definition, payload, f"r-{case}")
    assert without_timestamps(ours) == without_timestamps(theirs)
    assert ours.events == theirs.events
    assert theirs.backoff <= max_backoff(definition, theirs)
    assert ours.backoff <= max_backoff(definition, ours)
    # `$$.State.EnteredTime`: ours as AWS's example shows it (milliseconds, `Z`).
    assert all(ENTERED_TIME.fullmatch(t) for t in entered_times(ours))
    assert not any(ENTERED_TIME.fullmatch(t) for t in entered_times(theirs))


FLAG_FAILED_CASES = {
    "by-id": ({"id": "ev-4", "detail": {}}, "ev-4"),
    "by-original-id": ({"id": "ev-5", "detail": {"originalEvent": {"id": "first-5"}}}, "first-5"),
    "by-execution-name": ({"detail": {"n": 1}}, "r-flag-by-execution-name"),
}


@pytest.mark.parametrize("case", sorted(FLAG_FAILED_CASES))
def test_escaped_braces_in_states_format_differ(peer: Peer, case: str) -> None:
    """The flag_failed letter is named by `States.Format` over a template with `\\{`.

    AWS documents `\\{` `\\}` as the escapes of literal braces: ours formats the template
    and sends the letter; moto's lexer fails the state with States.Runtime (and then
    retries it, although States.Runtime is neither retried nor caught by States.ALL).
    """
    payload, event_id = FLAG_FAILED_CASES[case]
    peer.handlers["flag"] = fail("ValueError")
    definition = reconciliation(peer)
    theirs, ours = both(peer, definition, payload, f"r-flag-{case}")
    named = json.dumps(
        {"pipeline": "late-data", "source": {"eventId": event_id}}, separators=(",", ":")
    )
    assert (ours.status, ours.error) == ("FAILED", "FlagFailed")
    (letter,) = ours.letters
    assert letter["id"] == hashlib.sha256(named.encode()).hexdigest()
    assert letter["source"] == {"eventId": event_id}
    assert ours.entered[-2:] == ["DeadLetterEvent", "FlagFailed"]
    assert (theirs.status, theirs.error, theirs.letters) == ("FAILED", "States.Runtime", [])
    assert "DeadLetterEvent" in str(theirs.cause)
    assert theirs.entered == ours.entered[:-1]  # the same path up to the dead letter
    tail = theirs.events[theirs.events.index("TaskStateEntered", 4) :]
    assert tail == ["TaskStateEntered"] + ["TaskFailed"] * 4 + ["ExecutionFailed"]


DISTRIBUTED_MAP_EVENTS = ("MapStateStarted", "MapStateSucceeded", "MapStateFailed")


def _map_events_aside(events: list[str]) -> list[str]:
    """moto's history around a Distributed Map has these inline-Map events; ours has not."""
    return [e for e in events if e not in DISTRIBUTED_MAP_EVENTS]


def _put_file(peer: Peer, key: str, body: str) -> str:
    s3 = peer.client("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return str(s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())["VersionId"])


def _inspection(key: str, version: str, file_format: str) -> dict[str, Any]:
    return {
        "bucket": BUCKET,
        "key": key,
        "versionId": version,
        "readBucket": BUCKET,
        "readKey": key,
        "readVersionId": version,
        "ingestedAt": "2024-05-01T00:00:00Z",
        "format": file_format,
        "fileDeadLetterId": f"file-{key}",
    }


VALIDATION_CASES = ("stored", "orders-object", "inspect-fails", "rejected")


@pytest.mark.parametrize("case", VALIDATION_CASES)
def test_validation_runs_alike(peer: Peer, case: str) -> None:
    records = [{"orderId": str(i)} for i in range(5)]
    key = f"in/{case}.json"
    version = _put_file(peer, key, json.dumps(records))
    file_format = {"orders-object": "orders_object", "rejected": "xml"}.get(case, "json_array")
    peer.handlers["inspect"] = (
        fail("S3Unavailable")
        if case == "inspect-fails"
        else lambda e: _inspection(key, version, file_format)
    )
    peer.handlers["validate"] = (
        fail("StoreDown") if case == "batch-fails" else lambda item: {"stored": item["index"]}
    )
    definition, _ = comparable(validation(peer))
    theirs, ours = both(peer, definition, {"detail": {"object": {"key": key}}}, f"v-{case}")
    assert without_timestamps(ours) == without_timestamps(theirs)
    assert _map_events_aside(theirs.events) == ours.events
    assert ours.backoff <= max_backoff(definition, ours)


def test_consolidation_runs_alike(peer: Peer) -> None:
    for name, rows in (("a", ["c-1", "c-2", "c-3"]), ("b", ["c-4"])):
        body = "chargebackId,amount\n" + "".join(f"{row},1.50\n" for row in rows)
        peer.client("s3").put_object(Bucket=BUCKET, Key=f"cons/{name}.csv", Body=body.encode())
    peer.client("s3").put_object(Bucket=BUCKET, Key="cons/_SUCCESS", Body=b"")
    updated: list[Any] = []

    def update(row: Any) -> Any:
        updated.append(row)
        return {"updated": 1}

    peer.handlers["update"] = update
    definition, found = comparable(consolidation(peer))
    assert found == {
        "ItemBatcher",
        "ToleratedFailurePercentage",
        "ExecutionType EXPRESS",
        "InputType JSONL",
        "InputType PARQUET",
    }
    payload = {"bucket": BUCKET, "prefix": "cons/", "format": "csv", "consolidation": {"id": "k"}}
    theirs = run_on_moto(peer, definition, payload, "c-1")
    moto_rows = sorted(json.dumps(row, sort_keys=True) for row in updated)
    updated.clear()
    ours = run_on_ours(peer, definition, payload, "c-1")
    assert without_timestamps(ours) == without_timestamps(theirs)
    assert _map_events_aside(theirs.events) == ours.events
    assert sorted(json.dumps(row, sort_keys=True) for row in updated) == moto_rows
    assert len(moto_rows) == 4  # every row of both CSV files; the marker is skipped


def test_a_failed_child_fails_the_map_run_on_ours_only(peer: Peer) -> None:
    """No ToleratedFailurePercentage/Count means none tolerated: AWS fails the Map Run.

    Ours fails it with States.ExceedToleratedFailureThreshold, which the workflow catches
    and dead-letters the file; moto's Map Run succeeds over the failed child.
    """
    key = "in/failing.json"
    version = _put_file(peer, key, json.dumps([{"o": 1}, {"o": 2}]))
    peer.handlers["inspect"] = lambda e: _inspection(key, version, "json_array")
    peer.handlers["validate"] = fail("StoreDown")
    definition, _ = comparable(validation(peer))
    theirs, ours = both(peer, definition, {"detail": {}}, "v-failing")
    assert (ours.status, ours.error) == ("FAILED", "FileUnreadable")
    (letter,) = ours.letters
    assert letter["error"] == "States.ExceedToleratedFailureThreshold"
    assert "MapRunFailed" in ours.events
    assert (theirs.status, theirs.letters) == ("SUCCEEDED", [])
    assert "MapRunSucceeded" in theirs.events
