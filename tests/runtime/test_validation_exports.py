"""Export noise (BOM, CRLF, blank lines): what needs a clean copy, and what the copy holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from validation_support import BUCKET, WORK_BUCKET, Aws, FakeLambdaContext

from runtime.validation import handler
from runtime.validation.exports import accepts_key, clean_copy, needs_cleaning
from runtime.validation.file_format import JSON_ARRAY, JSONL, ORDERS_OBJECT
from runtime.validation.normalize import normalized_key

BOM = b"\xef\xbb\xbf"


class Buffer:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


@pytest.mark.parametrize(
    ("fmt", "head", "tail", "expected"),
    [
        (JSONL, b'{"a":1}\n{"a":2}\n', b'{"a":2}\n', False),
        (JSONL, b'{"a":1}\r\n{"a":2}\r\n', b'{"a":2}\r\n', False),  # CR is JSON whitespace
        (JSONL, BOM + b'{"a":1}\n', b'{"a":1}\n', True),
        (JSONL, b'\n{"a":1}\n', b'{"a":1}\n', True),
        (JSONL, b'{"a":1}\n \t\r\n{"a":2}', b"", True),
        (JSONL, b'{"a":1}\n', b'1}\n{"a":2}\r\n\r\n', True),  # blank lines at the end only
        (JSON_ARRAY, b"[1,\r\n\r\n2]", b"[1,\r\n\r\n2]", False),
        (JSON_ARRAY, BOM + b"[1]", b"[1]", True),
        (ORDERS_OBJECT, BOM + b'{"orders": []}', b"", False),  # normalize's job
    ],
)
def test_what_needs_a_clean_copy(fmt: str, head: bytes, tail: bytes, expected: bool) -> None:
    assert needs_cleaning(fmt, head, tail) is expected


@given(
    records=st.lists(st.dictionaries(st.text(max_size=3), st.integers()), max_size=8),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    blanks=st.lists(st.sampled_from([b"", b"  ", b"\t\r"]), max_size=8),
    chunk=st.integers(min_value=1, max_value=64),
    bom=st.booleans(),
)
def test_a_clean_json_lines_copy_holds_the_records_in_order_and_nothing_else(
    records: list[dict[str, int]], newline: bytes, blanks: list[bytes], chunk: int, bom: bool
) -> None:
    lines = [json.dumps(r).encode() for r in records]
    for position, blank in enumerate(blanks):  # blank lines anywhere, the last one too
        lines.insert(position * 3 % (len(lines) + 1), blank)
    data = (BOM if bom else b"") + newline.join(lines) + newline
    sink = Buffer()
    written = clean_copy([data[i : i + chunk] for i in range(0, len(data), chunk)], sink, JSONL)
    assert written.size == len(sink.data)
    copied = sink.data.split(b"\n")
    assert copied[-1] == b""
    assert [json.loads(line) for line in copied[:-1]] == records
    assert b"\r" not in sink.data
    assert not sink.data.startswith(BOM)


def test_a_json_array_copy_only_loses_its_byte_order_mark() -> None:
    data = BOM + b'[{"a": 1},\r\n\r\n {"a": 2}]'
    sink = Buffer()
    clean_copy([data[:2], data[2:5], data[5:]], sink, JSON_ARRAY)
    assert sink.data == data[3:]


def test_objects_are_not_cleaned_here() -> None:
    with pytest.raises(ValueError, match="orders_object"):
        clean_copy([b"{}"], Buffer(), ORDERS_OBJECT)


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("incoming/orders.json", True),
        ("incoming/ORDERS.JSON", True),
        ("incoming/Export.JsonL", True),
        ("incoming/notes.txt", False),
        ("incoming/orders.json.bak", False),
    ],
)
def test_suffixes_are_compared_ignoring_case(key: str, accepted: bool) -> None:
    assert accepts_key(key, [".json", ".jsonl"]) is accepted
    assert accepts_key(key, []) is True  # no suffixes configured: every key


# --- InspectFile, against moto ---------------------------------------------------------
def _event(key: str, size: int) -> dict[str, Any]:
    return {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2024-05-01T12:00:00Z",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": size}},
    }


def _inspect(aws: Aws, context: FakeLambdaContext, key: str, data: bytes) -> dict[str, Any]:
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    result: dict[str, Any] = handler.inspect_file(_event(key, len(data)), context)
    return result


def test_a_noisy_export_is_copied_clean_and_the_map_reads_the_copy(
    aws: Aws, context: FakeLambdaContext
) -> None:
    data = BOM + b'{"a": 1}\r\n\r\n{"a": 2}\r\n'
    result = _inspect(aws, context, "incoming/export.jsonl", data)
    assert (result["format"], result["key"]) == (JSONL, "incoming/export.jsonl")
    assert (result["readBucket"], result["readKey"]) == (
        WORK_BUCKET,
        normalized_key(BUCKET, "incoming/export.jsonl", None),
    )
    copy = aws.s3.get_object(Bucket=WORK_BUCKET, Key=result["readKey"])["Body"].read()
    assert copy == b'{"a": 1}\n{"a": 2}\n'
    assert aws.dead_letters() == []


def test_a_clean_file_is_read_in_place(aws: Aws, context: FakeLambdaContext) -> None:
    result = _inspect(aws, context, "incoming/clean.jsonl", b'{"a": 1}\r\n{"a": 2}\r\n')
    assert (result["readBucket"], result["readKey"]) == (BUCKET, "incoming/clean.jsonl")


def test_a_key_outside_the_suffixes_is_ignored_unread(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY_SUFFIXES", ".json,.jsonl")
    result = _inspect(aws, context, "incoming/notes.txt", b"not a sales file")
    assert (result["format"], result["reason"]) == ("ignored", "suffix_not_accepted")
    assert aws.dead_letters() == []
    upper = _inspect(aws, context, "incoming/ORDERS.JSON", b'[{"a": 1}]')
    assert upper["format"] == JSON_ARRAY
