"""The real ValidationPipeline definition, run end to end against a fake dispatcher."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from states_support import (
    FN,
    LAMBDA_INVOKE,
    S3_GET_OBJECT,
    SQS_SEND,
    FakeDispatcher,
    always,
    flaky,
    machine,
    types,
)

from components.validation_workflow import validation_definition
from emulator.states import ExecutionResult

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "validation"
INSPECT = f"{FN}inspect-file"
VALIDATE = f"{FN}validate-batch"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters"
BUCKET = "orderflow-uploads"
WORK_BUCKET = "orderflow-work"
BATCH_SIZE = 2

SAMPLE_FILES = {
    "json_array": ("orders-array.json", 3),
    "orders_object": ("mock-data.json", 2),
    "jsonl": ("orders.jsonl", 4),
}


def definition(child_type: str = "EXPRESS") -> dict[str, Any]:
    return validation_definition(
        inspect_arn=INSPECT,
        validate_arn=VALIDATE,
        dead_letter_queue_url=QUEUE_URL,
        batch_size=BATCH_SIZE,
        max_concurrency=4,
        child_type=child_type,
    )


def inspection(key: str, file_format: str, **overrides: Any) -> dict[str, Any]:
    """What the InspectFile Lambda returns."""
    copied = file_format == "orders_object"  # InspectFile reads `orders` from its copy
    return {
        "bucket": BUCKET,
        "key": key,
        "versionId": "v-1",
        "readBucket": WORK_BUCKET if copied else BUCKET,
        "readKey": f"normalized/{key}" if copied else key,
        "readVersionId": "v-1-read",
        "size": 1234,
        "ingestedAt": "2024-05-01T12:00:00Z",
        "format": file_format,
        "fileDeadLetterId": f"file-{key}",
        "reason": None,
        "message": None,
        **overrides,
    }


def validate_batch(event: dict[str, Any]) -> dict[str, int]:
    items = event["Items"]
    assert all(set(item) == {"index", "value"} for item in items)
    return {"stored": len(items), "deadLettered": 0}


def pipeline(
    key: str, file_format: str, body: Any, *, child_type: str = "EXPRESS"
) -> tuple[ExecutionResult, FakeDispatcher]:
    dispatcher = FakeDispatcher()
    dispatcher.on(INSPECT, lambda event: inspection(event["key"], file_format))
    dispatcher.on(VALIDATE, validate_batch)
    dispatcher.on(SQS_SEND, lambda params: {"MessageId": "m-1"})
    if body is not None:
        dispatcher.put_object(BUCKET, key, body)
    if body is not None and file_format == "orders_object":
        # What InspectFile leaves for the Map: the `orders` array as a bare JSON array.
        parsed = json.loads(body)
        orders = parsed.get("orders") if isinstance(parsed, dict) else parsed
        dispatcher.put_object(WORK_BUCKET, f"normalized/{key}", json.dumps(orders))
    interpreter = machine(definition(child_type), dispatcher)
    return interpreter.execute({"bucket": BUCKET, "key": key}, "upload-1"), dispatcher


@pytest.mark.parametrize("file_format", sorted(SAMPLE_FILES))
@pytest.mark.parametrize("child_type", ["EXPRESS", "STANDARD"])
def test_each_readable_format_is_validated_in_batches(file_format: str, child_type: str) -> None:
    filename, records = SAMPLE_FILES[file_format]
    body = (SAMPLES / filename).read_text(encoding="utf-8")
    result, dispatcher = pipeline(filename, file_format, body, child_type=child_type)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["file"]["format"] == file_format
    assert len(result.children) == math.ceil(records / BATCH_SIZE)
    assert all(child.status == "SUCCEEDED" for child in result.children)
    assert sum(child.output["stored"] for child in result.children) == records

    read = dispatcher.calls_to(S3_GET_OBJECT)
    copied = file_format == "orders_object"
    assert [call.parameters for call in read] == [
        {
            "Bucket": WORK_BUCKET if copied else BUCKET,
            "Key": f"normalized/{filename}" if copied else filename,
            "VersionId": "v-1-read",
        }
    ]
    batches = [call.parameters["Payload"] for call in dispatcher.calls_to(VALIDATE)]
    assert [item["index"] for batch in batches for item in batch["Items"]] == list(range(records))
    assert batches[0]["BatchInput"] == {
        "bucket": BUCKET,
        "key": filename,
        "versionId": "v-1",
        "ingestedAt": "2024-05-01T12:00:00Z",
        "format": file_format,
    }
    assert {call.context.workflow_type for call in dispatcher.calls_to(VALIDATE)} == {child_type}
    assert dispatcher.calls_to(SQS_SEND) == []
    # start + InspectFile + RouteByFormat + the Map + FileValidated
    assert result.state_transitions == 5
    assert {"MapRunStarted", "MapRunSucceeded"} <= set(types(result))


def test_items_are_the_records_of_the_file() -> None:
    body = (SAMPLES / "mock-data.json").read_text(encoding="utf-8")
    result, dispatcher = pipeline("mock-data.json", "orders_object", body)
    first = dispatcher.calls_to(VALIDATE)[0].parameters["Payload"]["Items"][0]
    assert first == {"index": 0, "value": json.loads(body)["orders"][0]}
    assert result.status == "SUCCEEDED"


def test_rejected_file_ends_without_reading() -> None:
    dispatcher = FakeDispatcher()
    dispatcher.on(INSPECT, lambda event: inspection(event["key"], "rejected", reason="not_json"))
    result = machine(definition(), dispatcher).execute({"bucket": BUCKET, "key": "x"}, "up")
    assert result.status == "SUCCEEDED"
    assert dispatcher.calls_to(S3_GET_OBJECT) == []
    assert "SucceedStateEntered" in types(result)


@pytest.mark.parametrize(
    ("file_format", "body", "detail"),
    [
        ("json_array", None, "S3.NoSuchKey"),
        ("jsonl", '{"a": 1}\n{"a": \n', "line 2"),
        ("orders_object", '{"orders": {"not": "an array"}}', "not a JSON array"),
        ("json_array", "[1, 2", "not valid JSON"),
    ],
)
def test_unreadable_file_is_dead_lettered_then_fails(
    file_format: str, body: str | None, detail: str
) -> None:
    result, dispatcher = pipeline("broken", file_format, body)

    assert (result.status, result.error) == ("FAILED", "FileUnreadable")
    sent = dispatcher.calls_to(SQS_SEND)
    assert len(sent) == 1
    message = sent[0].parameters
    assert message["QueueUrl"] == QUEUE_URL
    assert message["MessageAttributes"]["reason"]["StringValue"] == "file_unreadable"
    letter = message["MessageBody"]
    assert letter["id"] == "file-broken"
    assert letter["reason"] == "file_unreadable"
    assert letter["error"] == "States.ItemReaderFailed"
    assert detail in letter["message"]
    assert letter["source"] == {"bucket": BUCKET, "key": "broken", "versionId": "v-1"}
    assert letter["record"] is None
    assert letter["timestamp"].endswith("Z")
    assert dispatcher.calls_to(VALIDATE) == []
    assert types(result)[-3:] == ["TaskStateExited", "FailStateEntered", "ExecutionFailed"]


def test_failing_batch_exceeds_zero_tolerance_and_dead_letters_the_file() -> None:
    body = (SAMPLES / "orders.jsonl").read_text(encoding="utf-8")
    dispatcher = FakeDispatcher()
    dispatcher.on(INSPECT, lambda event: inspection(event["key"], "jsonl"))
    dispatcher.on(VALIDATE, always("RuntimeError", '{"errorMessage": "table unavailable"}'))
    dispatcher.on(SQS_SEND, lambda params: {"MessageId": "m"})
    dispatcher.put_object(BUCKET, "orders.jsonl", body)
    result = machine(definition(), dispatcher).execute(
        {"bucket": BUCKET, "key": "orders.jsonl"}, "u"
    )

    assert (result.status, result.error) == ("FAILED", "FileUnreadable")
    letter = dispatcher.calls_to(SQS_SEND)[0].parameters["MessageBody"]
    assert letter["error"] == "States.ExceedToleratedFailureThreshold"
    child = result.children[0]
    assert child.status == "FAILED"
    # 1 try + 3 retries of States.TaskFailed (batch_retry_attempts=3), each one a transition
    assert len(dispatcher.calls_to(VALIDATE)) == 4
    assert child.state_transitions == 1 + 1 + 3
    assert 0 < child.virtual_seconds <= 2 + 4 + 8


def test_transient_lambda_errors_are_retried_inside_the_child() -> None:
    body = json.dumps([{"order": 1}])
    dispatcher = FakeDispatcher()
    dispatcher.on(INSPECT, lambda event: inspection(event["key"], "json_array"))
    dispatcher.on(
        VALIDATE, flaky(2, "Lambda.TooManyRequestsException", {"stored": 1, "deadLettered": 0})
    )
    dispatcher.put_object(BUCKET, "one.json", body)
    result = machine(definition(), dispatcher).execute({"bucket": BUCKET, "key": "one.json"}, "u")
    assert result.status == "SUCCEEDED"
    assert result.children[0].state_transitions == 1 + 1 + 2
    assert result.virtual_seconds == result.children[0].virtual_seconds


def test_inspect_failure_dead_letters_the_event() -> None:
    dispatcher = FakeDispatcher()
    dispatcher.on(INSPECT, always("Lambda.ServiceException", "service down"))
    dispatcher.on(SQS_SEND, lambda params: {"MessageId": "m"})
    event = {"bucket": BUCKET, "key": "k"}
    result = machine(definition(), dispatcher).execute(event, "upload-9")

    assert (result.status, result.error) == ("FAILED", "InspectFailed")
    assert len(dispatcher.calls_to(INSPECT)) == 1 + 6
    assert 0 < result.virtual_seconds <= 1 + 2 + 4 + 8 + 16 + 30
    letter = dispatcher.calls_to(SQS_SEND)[0].parameters["MessageBody"]
    assert letter["id"] == "upload-9"
    assert letter["source"] == {"event": event}
    assert letter["reason"] == "inspect_failed"


def test_dead_letter_send_is_retried() -> None:
    dispatcher = FakeDispatcher()
    dispatcher.on(INSPECT, always("Lambda.ServiceException"))
    dispatcher.on(SQS_SEND, flaky(2, "SQS.SdkClientException", {"MessageId": "m"}))
    result = machine(definition(), dispatcher).execute({"bucket": BUCKET, "key": "k"}, "u")
    assert result.error == "InspectFailed"
    assert len(dispatcher.calls_to(SQS_SEND)) == 3


def test_the_task_dispatcher_sees_lambda_invoke_as_written() -> None:
    body = json.dumps([1])
    result, dispatcher = pipeline("one.json", "json_array", body)
    inspect_call = dispatcher.calls_to(INSPECT)[0]
    assert inspect_call.resource == LAMBDA_INVOKE
    assert inspect_call.parameters == {
        "FunctionName": INSPECT,
        "Payload": {"bucket": BUCKET, "key": "one.json"},
    }
    assert result.status == "SUCCEEDED"


def test_a_dispatcher_error_type_is_not_swallowed() -> None:
    class Broken(FakeDispatcher):
        def invoke(self, resource: str, parameters: Any, **kwargs: Any) -> Any:
            raise TypeError("emulator bug")

    with pytest.raises(TypeError):
        machine(definition(), Broken()).execute({"bucket": BUCKET, "key": "k"}, "u")
