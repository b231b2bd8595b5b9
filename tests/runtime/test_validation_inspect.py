"""inspect_file against moto: key decoding, versions, classification and file dead letters."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from validation_support import (
    BUCKET,
    SAMPLES,
    WORK_BUCKET,
    Aws,
    FakeLambdaContext,
    valid_record,
)

from runtime.common import clients
from runtime.common.dead_letter import dead_letter_id
from runtime.validation import handler
from runtime.validation.file_format import SNIFF_BYTES
from runtime.validation.normalize import normalized_key

OUTPUT_KEYS = {
    "bucket",
    "key",
    "versionId",
    "readBucket",
    "readKey",
    "readVersionId",
    "size",
    "ingestedAt",
    "format",
    "reason",
    "message",
    "fileDeadLetterId",
}


def s3_event(
    key: str, size: int, *, version_id: str | None = None, bucket: str = BUCKET
) -> dict[str, Any]:
    """An EventBridge "Object Created" event as S3 sends it to the default bus."""
    obj: dict[str, Any] = {"key": key, "size": size, "etag": "0", "sequencer": "0"}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2024-05-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def upload(aws: Aws, key: str, body: bytes, bucket: str = BUCKET) -> dict[str, Any]:
    aws.s3.put_object(Bucket=bucket, Key=key, Body=body)
    head: dict[str, Any] = aws.s3.head_object(Bucket=bucket, Key=key)
    return head


def last_modified(head: dict[str, Any]) -> str:
    stamp: str = head["LastModified"].strftime("%Y-%m-%dT%H:%M:%SZ")
    return stamp


def inspect(event: dict[str, Any], context: FakeLambdaContext) -> dict[str, Any]:
    result: dict[str, Any] = handler.inspect_file(event, context)
    assert set(result) == OUTPUT_KEYS
    expected_id = dead_letter_id(
        "validation",
        {"bucket": result["bucket"], "key": result["key"], "versionId": result["versionId"]},
    )
    assert result["fileDeadLetterId"] == expected_id
    return result


def assert_file_dead_letter(aws: Aws, result: dict[str, Any], reason: str) -> None:
    """Exactly one file-level dead letter, tied to the result."""
    assert result["format"] == "rejected"
    assert result["reason"] == reason
    assert result["message"]
    [message] = aws.dead_letters()
    body = message["body"]
    assert body["id"] == result["fileDeadLetterId"]
    assert body["reason"] == reason
    assert body["message"] == result["message"]
    assert body["record"] is None
    assert body["source"] == {
        "bucket": result["bucket"],
        "key": result["key"],
        "versionId": result["versionId"],
    }
    assert message["attributes"] == {
        "reason": reason,
        "pipeline": "validation",
        "deadLetterId": body["id"],
    }


def test_seed_file_from_eventbridge(aws: Aws, context: FakeLambdaContext) -> None:
    data = (SAMPLES / "mock-data.json").read_bytes()
    head = upload(aws, "incoming/mock-data.json", data)
    result = inspect(s3_event("incoming/mock-data.json", len(data)), context)
    assert result == {
        "bucket": BUCKET,
        "key": "incoming/mock-data.json",
        "versionId": None,
        # The Map reads the orders array's copy in the work bucket, not the file itself.
        "readBucket": WORK_BUCKET,
        "readKey": normalized_key(BUCKET, "incoming/mock-data.json", None),
        "readVersionId": "null",
        "size": len(data),
        "ingestedAt": last_modified(head),
        "format": "orders_object",
        "reason": None,
        "message": None,
        "fileDeadLetterId": result["fileDeadLetterId"],
    }
    assert aws.queue_depth() == 0


def test_manual_replay_gives_the_same_answer_as_the_event(
    aws: Aws, context: FakeLambdaContext
) -> None:
    data = (SAMPLES / "orders-array.json").read_bytes()
    upload(aws, "orders-array.json", data)
    from_event = inspect(s3_event("orders-array.json", len(data)), context)
    from_replay = inspect({"bucket": BUCKET, "key": "orders-array.json"}, context)
    assert from_event == from_replay
    assert from_event["format"] == "json_array"
    assert from_event["ingestedAt"] != "2024-05-01T12:00:00Z"  # LastModified, not event time


@pytest.mark.parametrize(
    ("name", "key", "expected"),
    [
        ("orders-array.json", "drop/orders-array.json", "json_array"),
        ("orders.jsonl", "drop/orders.jsonl", "jsonl"),
        ("orders.jsonl", "drop/orders.txt", "jsonl"),
    ],
)
def test_readable_formats(
    aws: Aws, context: FakeLambdaContext, name: str, key: str, expected: str
) -> None:
    data = (SAMPLES / name).read_bytes()
    upload(aws, key, data)
    assert inspect(s3_event(key, len(data)), context)["format"] == expected
    assert aws.queue_depth() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty_file"),
        (b"  \n\t \r\n", "empty_file"),
        (b"\xff\xfe[\x00]\x00", "not_utf8"),
        (b'[{"name": "Jos\xe9"}]', "not_utf8"),
        (b"this is not json at all", "not_json"),
        (b"42", "unknown_shape"),
        (b'"just a string"', "unknown_shape"),
        (b'{"records": []}', "unknown_shape"),
        (b'{"orders": "none"}', "unknown_shape"),
    ],
)
def test_rejected_files_send_one_file_dead_letter(
    aws: Aws, context: FakeLambdaContext, body: bytes, reason: str
) -> None:
    upload(aws, "bad/file.json", body)
    result = inspect(s3_event("bad/file.json", len(body)), context)
    assert result["size"] == len(body)
    assert_file_dead_letter(aws, result, reason)


@pytest.mark.parametrize(
    "event_key", ["in/my+orders+2024%281%29.json", "in/my%20orders%202024(1).json"]
)
def test_url_encoded_key_is_decoded(aws: Aws, context: FakeLambdaContext, event_key: str) -> None:
    data = (SAMPLES / "orders-array.json").read_bytes()
    upload(aws, "in/my orders 2024(1).json", data)
    result = inspect(s3_event(event_key, len(data)), context)
    assert result["key"] == "in/my orders 2024(1).json"
    assert result["format"] == "json_array"


def test_raw_key_wins_when_it_exists(aws: Aws, context: FakeLambdaContext) -> None:
    upload(aws, "a+b.json", b"[1]")
    upload(aws, "a b.json", b"garbage")
    result = inspect(s3_event("a+b.json", 3), context)
    assert (result["key"], result["format"]) == ("a+b.json", "json_array")


def test_missing_object(aws: Aws, context: FakeLambdaContext) -> None:
    result = inspect(s3_event("gone/orders+1.json", 123), context)
    assert result["key"] == "gone/orders+1.json"
    assert result["size"] == 123
    assert result["versionId"] is None
    assert "does not exist" in result["message"]
    assert_file_dead_letter(aws, result, "object_missing")


def test_missing_object_from_a_replay(aws: Aws, context: FakeLambdaContext) -> None:
    result = inspect({"bucket": BUCKET, "key": "nope.json", "versionId": "v9"}, context)
    assert (result["size"], result["versionId"]) == (0, "v9")
    assert result["message"] == f"s3://{BUCKET}/nope.json (version v9) does not exist"
    assert_file_dead_letter(aws, result, "object_missing")


@pytest.fixture
def versioned(aws: Aws) -> str:
    bucket = "orderflow-versioned"
    aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_unknown_version_of_a_versioned_object_is_missing(
    aws: Aws, context: FakeLambdaContext, versioned: str
) -> None:
    aws.s3.put_object(Bucket=versioned, Key="o.json", Body=b"[1]")
    result = inspect({"bucket": versioned, "key": "o.json", "versionId": "nonexistent"}, context)
    assert_file_dead_letter(aws, result, "object_missing")


def test_versioned_bucket_pins_the_version(
    aws: Aws, context: FakeLambdaContext, versioned: str
) -> None:
    old = aws.s3.put_object(Bucket=versioned, Key="o.json", Body=b"[1, 2]")["VersionId"]
    new = aws.s3.put_object(Bucket=versioned, Key="o.json", Body=b"not json")["VersionId"]
    assert old != new

    pinned = inspect(s3_event("o.json", 6, version_id=old, bucket=versioned), context)
    assert (pinned["versionId"], pinned["format"], pinned["size"]) == (old, "json_array", 6)
    assert pinned["readVersionId"] == old
    assert aws.queue_depth() == 0

    latest = inspect({"bucket": versioned, "key": "o.json"}, context)
    assert latest["versionId"] == new
    assert pinned["fileDeadLetterId"] != latest["fileDeadLetterId"]
    assert_file_dead_letter(aws, latest, "not_json")

    again = inspect({"bucket": versioned, "key": "o.json", "versionId": old}, context)
    assert again == pinned


class RecordingS3:
    """Real (moto) S3 that remembers GetObject ranges."""

    def __init__(self, real: Any):
        self.real = real
        self.ranges: list[str] = []

    def head_object(self, **kwargs: Any) -> Any:
        return self.real.head_object(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self.ranges.append(kwargs.get("Range", "whole object"))
        return self.real.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:  # uploads of a normalized copy
        return getattr(self.real, name)


def test_large_file_is_sniffed_with_one_ranged_get(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bare array is read by the Map in place: InspectFile only sniffs its first bytes.
    data = json.dumps([valid_record(i) for i in range(3000)]).encode()
    assert len(data) > 4 * SNIFF_BYTES
    upload(aws, "big.json", data)
    recorder = RecordingS3(aws.s3)
    real_client = clients.client
    monkeypatch.setattr(clients, "client", lambda s: recorder if s == "s3" else real_client(s))
    result = inspect(s3_event("big.json", len(data)), context)
    assert (result["format"], result["size"]) == ("json_array", len(data))
    assert (result["readBucket"], result["readKey"]) == (BUCKET, "big.json")
    assert recorder.ranges == [f"bytes=0-{SNIFF_BYTES - 1}"]


def test_empty_file_needs_no_get(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(aws, "empty.json", b"")
    recorder = RecordingS3(aws.s3)
    real_client = clients.client
    monkeypatch.setattr(clients, "client", lambda s: recorder if s == "s3" else real_client(s))
    assert inspect(s3_event("empty.json", 0), context)["reason"] == "empty_file"
    assert recorder.ranges == []


def test_rejection_metric_and_log(
    aws: Aws,
    context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    upload(aws, "x.json", b"nope")
    inspect(s3_event("x.json", 4), context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    [emf] = [line for line in lines if "_aws" in line]
    assert emf["FilesRejected"] == [1.0]
    [record] = [r for r in caplog.records if r.getMessage() == "file inspected"]
    assert record.__dict__["inspection"]["reason"] == "not_json"


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    "event",
    [{}, {"detail": {"bucket": {}, "object": {"key": "k"}}}, {"bucket": BUCKET}, [1]],
)
def test_unusable_events_fail_loudly(aws: Aws, context: FakeLambdaContext, event: Any) -> None:
    with pytest.raises(ValueError, match="event"):
        handler.inspect_file(event, context)
    assert aws.queue_depth() == 0


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_queue_configuration(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URL")
    with pytest.raises(RuntimeError, match="DEAD_LETTER_QUEUE_URL"):
        handler.inspect_file({"bucket": BUCKET, "key": "k"}, context)
