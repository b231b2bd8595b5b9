"""Payload limits AWS enforces and moto does not: each fails as AWS fails it.

SQS: a message over the queue's MaximumMessageSize (AWS's default; moto's is 1 MiB).
EventBridge PutEvents: `Detail` must be a JSON object (MalformedDetail, per entry); the
entries over 256 KiB fail the request. Lambda Invoke: a payload over 6 MB synchronous or
the asynchronous limit is RequestEntityTooLargeException.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.engine import Emulator
from emulator.services import eventbridge
from orderflow.aws_facts import (
    EVENTBRIDGE_MAX_ENTRY_BYTES,
    LAMBDA_ASYNC_PAYLOAD_BYTES,
    LAMBDA_SYNC_PAYLOAD_BYTES,
    SQS_MAX_MESSAGE_BYTES,
)

FUNCTION = "limits-echo"


@pytest.fixture(scope="module")
def queue(bare: Emulator) -> str:
    url: str = bare.client("sqs").create_queue(QueueName="limits-queue")["QueueUrl"]
    return url


def test_a_message_over_the_queues_maximum_size_is_refused(bare: Emulator, queue: str) -> None:
    sqs = bare.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["MaximumMessageSize"])
    assert int(attributes["Attributes"]["MaximumMessageSize"]) == SQS_MAX_MESSAGE_BYTES.value
    sqs.send_message(QueueUrl=queue, MessageBody="x" * SQS_MAX_MESSAGE_BYTES.value)
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=queue, MessageBody="x" * (SQS_MAX_MESSAGE_BYTES.value + 1))
    assert exc.value.response["Error"]["Code"] in {
        "InvalidParameterValue",
        "InvalidParameterValues",
    }
    assert "Message must be shorter than" in exc.value.response["Error"]["Message"]


def entry(detail: str, **extra: Any) -> dict[str, Any]:
    return {"Source": "limits.test", "DetailType": "probe", "Detail": detail, **extra}


@pytest.mark.parametrize("detail", ['"a string"', "[1, 2]", "42", "null", "{not json"])
def test_put_events_detail_must_be_a_json_object(bare: Emulator, detail: str) -> None:
    response = bare.client("events").put_events(Entries=[entry(detail), entry('{"ok": 1}')])
    assert response["FailedEntryCount"] == 1
    refused, accepted = response["Entries"]
    assert refused["ErrorCode"] == "MalformedDetail"
    assert "EventId" in accepted


def test_put_events_over_256_kib_is_refused(bare: Emulator) -> None:
    limit = EVENTBRIDGE_MAX_ENTRY_BYTES.value
    overhead = eventbridge.entry_size(entry('{"p":""}'))
    fits = entry(json.dumps({"p": "x" * (limit - overhead)}, separators=(",", ":")))
    assert eventbridge.entry_size(fits) == limit
    assert bare.client("events").put_events(Entries=[fits])["FailedEntryCount"] == 0
    over = entry(json.dumps({"p": "x" * (limit - overhead + 1)}, separators=(",", ":")))
    with pytest.raises(ClientError) as exc:
        bare.client("events").put_events(Entries=[over])
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert exc.value.response["Error"]["Message"] == eventbridge.ENTRIES_TOO_LARGE


@pytest.mark.parametrize(
    ("invocation_type", "limit"),
    [
        ("RequestResponse", LAMBDA_SYNC_PAYLOAD_BYTES.value),
        ("Event", LAMBDA_ASYNC_PAYLOAD_BYTES.value),
    ],
)
def test_an_invoke_payload_over_lambdas_limit_is_refused(
    bare: Emulator, invocation_type: str, limit: int
) -> None:
    """Refused before anything runs: the function need not even exist in the runtime."""
    lam = bare.client("lambda")
    iam = bare.client("iam")
    role = iam.create_role(
        RoleName=f"limits-{invocation_type}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    name = f"{FUNCTION}-{invocation_type}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    payload = json.dumps({"p": "x" * limit}).encode()
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, InvocationType=invocation_type, Payload=payload)
    assert exc.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert str(limit) in exc.value.response["Error"]["Message"]
