"""Classification of a file from its first 64 KiB (pure)."""

from __future__ import annotations

import json

import pytest
from validation_support import SAMPLES, valid_record

from runtime.validation.file_format import (
    FILE_REASONS,
    SNIFF_BYTES,
    Classification,
    classify,
)


def sniff(data: bytes, key: str = "upload.json") -> Classification:
    """What InspectFile does: hand over at most the first 64 KiB and the real size."""
    verdict = classify(data[:SNIFF_BYTES], size=len(data), key=key)
    if verdict.rejected:
        assert verdict.reason in FILE_REASONS
        assert verdict.message
    else:
        assert verdict.reason is None
        assert verdict.message is None
    return verdict


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mock-data.json", "orders_object"),
        ("orders.jsonl", "jsonl"),
        ("orders-array.json", "json_array"),
    ],
)
def test_samples(name: str, expected: str) -> None:
    assert sniff((SAMPLES / name).read_bytes(), key=name).format == expected


def big_array(count: int) -> bytes:
    return json.dumps([valid_record(i) for i in range(count)], indent=2).encode()


def test_bare_array_small_and_large() -> None:
    assert sniff(b"  \n[1, 2]").format == "json_array"
    data = big_array(2000)
    assert len(data) > SNIFF_BYTES
    assert sniff(data).format == "json_array"


def test_empty_array_is_still_an_array() -> None:
    assert sniff(b"[]").format == "json_array"


def test_broken_small_array_is_not_json() -> None:
    verdict = sniff(b"[1, 2")
    assert (verdict.format, verdict.reason) == ("rejected", "not_json")


def test_orders_object_small() -> None:
    assert sniff(b'{"meta": 1, "orders": []}').format == "orders_object"


def test_orders_must_be_an_array() -> None:
    verdict = sniff(b'{"orders": {"a": 1}}')
    assert (verdict.reason, verdict.message) == (
        "unknown_shape",
        '"orders" is a JSON object, not an array',
    )


def test_object_without_orders() -> None:
    verdict = sniff(b'{"sales": [1, 2]}')
    assert verdict.reason == "unknown_shape"
    assert 'no "orders" key (keys: sales)' in (verdict.message or "")


def test_large_orders_object_accepted_when_orders_is_first_key() -> None:
    data = json.dumps({"orders": [valid_record(i) for i in range(2000)]}, indent=4).encode()
    assert len(data) > SNIFF_BYTES
    assert sniff(data).format == "orders_object"


def test_large_object_with_orders_not_first_is_rejected() -> None:
    data = json.dumps({"meta": {"n": 1}, "orders": [valid_record(i) for i in range(2000)]})
    verdict = sniff(data.encode())
    assert verdict.reason == "unknown_shape"
    assert "first key" in (verdict.message or "")


def jsonl(count: int) -> bytes:
    return b"".join(json.dumps(valid_record(i)).encode() + b"\n" for i in range(count))


def test_jsonl_detected_by_content_small_and_large() -> None:
    assert sniff(jsonl(3), key="orders.json").format == "jsonl"
    big = jsonl(2000)
    assert len(big) > SNIFF_BYTES
    assert sniff(big, key="orders.json").format == "jsonl"


def test_jsonl_with_crlf_line_endings() -> None:
    data = jsonl(3).replace(b"\n", b"\r\n")
    assert sniff(data, key="orders.txt").format == "jsonl"


def test_jsonl_extension_wins_even_for_one_line() -> None:
    assert sniff(b'{"a": 1}\n', key="ORDERS.JSONL").format == "jsonl"
    assert sniff(b'[1, 2]\n["x"]\n', key="rows.jsonl").format == "jsonl"


def test_jsonl_extension_with_garbage_first_line() -> None:
    verdict = sniff(b"hello world\n{}\n", key="orders.jsonl")
    assert verdict.reason == "not_json"


def test_single_object_line_without_extension_is_unknown_shape() -> None:
    assert sniff(json.dumps(valid_record(1)).encode() + b"\n").reason == "unknown_shape"


def test_empty_and_whitespace_only() -> None:
    assert sniff(b"").reason == "empty_file"
    assert sniff(b" \n\t\r\n ").reason == "empty_file"
    assert "only whitespace" in (sniff(b"   ").message or "")


def test_whitespace_filling_the_whole_window() -> None:
    verdict = sniff(b" " * (SNIFF_BYTES + 10) + b"[]")
    assert verdict.reason == "unknown_shape"


def test_not_utf8() -> None:
    verdict = sniff(b'[{"name": "caf\xe9"}]')
    assert verdict.reason == "not_utf8"
    assert verdict.message == "byte 14 is not valid UTF-8"
    assert sniff("[1]".encode("utf-16")).reason == "not_utf8"


def test_utf8_bom_is_tolerated() -> None:
    assert sniff(b"\xef\xbb\xbf[1]").format == "json_array"
    assert sniff(b'\xef\xbb\xbf{"orders": []}').format == "orders_object"
    assert sniff(b"\xef\xbb\xbf[\xff]").message == "byte 4 is not valid UTF-8"


def test_multibyte_character_cut_by_the_window_is_not_an_error() -> None:
    prefix = b'["' + b"a" * (SNIFF_BYTES - 3)
    data = prefix + "é".encode() + b'"]'
    assert len(prefix) == SNIFF_BYTES - 1  # the window ends inside the 2-byte "é"
    assert sniff(data).format == "json_array"


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"42", "number"), (b'"orders"', "string"), (b"true", "boolean"), (b" null ", "null")],
)
def test_json_scalars_are_unknown_shape(data: bytes, kind: str) -> None:
    verdict = sniff(data)
    assert verdict.reason == "unknown_shape"
    assert verdict.message == f"the file holds a JSON {kind}, not an array or object"


@pytest.mark.parametrize(
    "data",
    [b"hello, world", b"<xml/>", b"\x00\x01\x02", b"42 43", b"{not json}", b'{"a": 1'],
)
def test_garbage_is_not_json(data: bytes) -> None:
    assert sniff(data).reason == "not_json"
