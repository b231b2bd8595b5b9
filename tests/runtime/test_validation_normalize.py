"""A `{"orders": [...]}` file's array, copied for the Map to read as a bare JSON array.

The Map reads no unverified ASL field (`ReaderConfig.ItemsPointer`): InspectFile copies
the array, and item i of the copy must be record i of the file, for files of any size.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from validation_support import BUCKET, WORK_BUCKET, Aws, FakeLambdaContext, valid_record

from runtime.validation import handler
from runtime.validation.normalize import (
    PART_BYTES,
    MalformedFileError,
    extract_orders,
    normalized_key,
)

TRICKY = {
    "orders": [
        {"note": 'brackets in strings: ]} [{ and an escaped quote \\" ]', "n": 1},
        {"nested": [[1, 2], {"a": [3]}], "s": "\\\\"},
        "a bare string record",
        42,
        1.10,
        {"unicode": "é ü 漢字 🎉"},
        [],
    ],
    "meta": {"after": ["the array", {"x": 1}]},
}


class Buffer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_the_array_is_copied_byte_for_byte_whatever_the_chunking(chunk: int) -> None:
    data = ("\ufeff" + json.dumps(TRICKY, ensure_ascii=False, indent=1)).encode()
    sink = Buffer()
    extract_orders(split(data, chunk), sink)
    text = data.decode().removeprefix("\ufeff")
    start = text.index("[")
    assert bytes(sink.data).decode() == text[start : text.index(',\n "meta"')]
    assert json.loads(bytes(sink.data)) == TRICKY["orders"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"orders": [1, 2', "never closed"),
        (b'{"orders": [1, {"a": "]"}', "never closed"),
        (b'{"orders": [1, 2]', "object is never closed"),
        (b'{"orders": [1, 2]} trailing', "data after"),
        (b'{"orders": [1, 2]}{}', "data after"),
        (b'{"orders": [1, 2]]}', "closes nothing"),
        (b'{"orders": [1, {]}', "closes nothing"),
        (b'{"records": [1]}', "does not start"),
    ],
)
def test_a_broken_structure_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedFileError, match=problem):
        extract_orders(split(body, 4), Buffer())


def inspect(aws: Aws, context: FakeLambdaContext, key: str, body: bytes) -> dict[str, Any]:
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    result: dict[str, Any] = handler.inspect_file({"bucket": BUCKET, "key": key}, context)
    return result


def read_copy(aws: Aws, result: dict[str, Any]) -> Any:
    body = aws.s3.get_object(Bucket=result["readBucket"], Key=result["readKey"])["Body"]
    return json.loads(body.read())


def test_a_file_larger_than_a_part_is_copied_by_multipart_upload(
    aws: Aws, context: FakeLambdaContext
) -> None:
    orders = [valid_record(i) for i in range(50_000)]
    data = json.dumps({"orders": orders}).encode()
    assert len(data) > PART_BYTES
    result = inspect(aws, context, "incoming/big.json", data)
    assert result["format"] == "orders_object"
    assert (result["readBucket"], result["readKey"]) == (
        WORK_BUCKET,
        normalized_key(BUCKET, "incoming/big.json", None),
    )
    copied = read_copy(aws, result)
    assert len(copied) == len(orders)
    assert copied[0] == orders[0]
    assert copied[-1] == orders[-1]
    assert aws.s3.list_multipart_uploads(Bucket=WORK_BUCKET).get("Uploads", []) == []


def test_a_small_file_whose_orders_key_is_not_first_is_copied(
    aws: Aws, context: FakeLambdaContext
) -> None:
    doc = {"batch": "b-1", "orders": [valid_record(1), {"broken": True}]}
    result = inspect(aws, context, "incoming/small.json", json.dumps(doc).encode())
    assert result["format"] == "orders_object"
    assert read_copy(aws, result) == doc["orders"]


def test_a_big_file_broken_after_its_array_is_dead_lettered_whole_with_a_reason(
    aws: Aws, context: FakeLambdaContext
) -> None:
    data = json.dumps({"orders": [valid_record(i) for i in range(3000)]}).encode()[:-1]
    result = inspect(aws, context, "incoming/cut.json", data)
    assert (result["format"], result["reason"]) == ("rejected", "not_json")
    assert "never closed" in result["message"]
    [letter] = aws.dead_letters()
    assert letter["body"]["source"]["key"] == "incoming/cut.json"
    assert aws.s3.list_objects_v2(Bucket=WORK_BUCKET).get("KeyCount") == 0
