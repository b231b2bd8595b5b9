"""Classify an uploaded file from its first 64 KiB, before the Distributed Map reads it.

Pure: bytes in, verdict out. The Map's ItemReader needs to know the shape up front
(JSON array, `{"orders": [...]}` or JSON Lines), and a file it cannot read should become
one clear file-level dead letter instead of a failed Map run.

Files up to 64 KiB are parsed completely. For bigger files only cheap lexical checks are
possible: an object whose *first* key is `"orders"` followed by `[` is accepted, and if
the rest turns out malformed the Map's reader fails and the workflow's Catch handles it.
A big object whose `orders` key is not first is rejected as `unknown_shape`.
A UTF-8 BOM is tolerated here; whether ItemReader tolerates it too is unverified, and a
reader failure is caught the same way.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Final

from runtime.validation.schema import json_type

SNIFF_BYTES: Final = 64 * 1024
UTF8_BOM: Final = codecs.BOM_UTF8

JSON_ARRAY: Final = "json_array"
ORDERS_OBJECT: Final = "orders_object"
JSONL: Final = "jsonl"
REJECTED: Final = "rejected"

EMPTY_FILE: Final = "empty_file"
NOT_UTF8: Final = "not_utf8"
UNKNOWN_SHAPE: Final = "unknown_shape"
NOT_JSON: Final = "not_json"
OBJECT_MISSING: Final = "object_missing"
FILE_REASONS: Final = frozenset({EMPTY_FILE, NOT_UTF8, UNKNOWN_SHAPE, NOT_JSON, OBJECT_MISSING})

_JSON_WHITESPACE: Final = " \t\n\r"
_ORDERS_FIRST: Final = re.compile(r'\{[ \t\n\r]*"orders"[ \t\n\r]*:[ \t\n\r]*\[')


@dataclass(frozen=True)
class Classification:
    """The file's format, or `rejected` with a machine-readable reason and a message."""

    format: str
    reason: str | None = None
    message: str | None = None

    @property
    def rejected(self) -> bool:
        return self.format == REJECTED


def rejected(reason: str, message: str) -> Classification:
    return Classification(REJECTED, reason, message)


def classify(head: bytes, *, size: int, key: str) -> Classification:
    """Classify a file of `size` bytes whose first bytes are `head` (at most SNIFF_BYTES)."""
    if size <= 0 or not head:
        return rejected(EMPTY_FILE, "the file is empty (0 bytes)")
    complete = len(head) >= size
    text = _decode(head, complete)
    if isinstance(text, Classification):
        return text
    body = text.lstrip(_JSON_WHITESPACE)
    if not body:
        if complete:
            return rejected(EMPTY_FILE, f"the file holds only whitespace ({size} bytes)")
        return rejected(UNKNOWN_SHAPE, f"the first {len(head)} bytes are all whitespace")
    if key.lower().endswith(".jsonl"):
        return _classify_jsonl(body, complete)
    shape = {"[": _classify_array, "{": _classify_object}.get(body[0], _classify_other)
    return shape(body, complete)


def _decode(head: bytes, complete: bool) -> str | Classification:
    """UTF-8 text of `head` without a BOM, or a `not_utf8` rejection."""
    data = head.removeprefix(UTF8_BOM)
    try:
        # Incremental decoding tolerates a multi-byte character cut by the 64 KiB window.
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError as exc:
        offset = len(head) - len(data)
        return rejected(NOT_UTF8, f"byte {exc.start + offset} is not valid UTF-8")


def _classify_jsonl(body: str, complete: bool) -> Classification:
    """A `.jsonl` key is JSON Lines; check that its first line is a JSON value."""
    first_line, newline, _ = body.partition("\n")
    if not newline and not complete:
        return Classification(JSONL)  # first line longer than the window: cannot check
    try:
        json.loads(first_line)
    except ValueError:
        return rejected(NOT_JSON, "the first line of this .jsonl file is not a JSON value")
    return Classification(JSONL)


def _classify_array(body: str, complete: bool) -> Classification:
    if complete:
        try:
            json.loads(body)
        except ValueError as exc:
            return rejected(NOT_JSON, f"the file starts like a JSON array but is not JSON: {exc}")
    return Classification(JSON_ARRAY)


def _looks_like_jsonl(body: str) -> bool:
    """First line is a complete JSON object, followed by a newline and another line."""
    first_line, newline, rest = body.partition("\n")
    if not newline or not rest.strip(_JSON_WHITESPACE):
        return False
    try:
        return isinstance(json.loads(first_line), dict)
    except ValueError:
        return False


def _classify_object(body: str, complete: bool) -> Classification:
    if complete:
        return _classify_small_object(body)
    if _looks_like_jsonl(body):
        return Classification(JSONL)
    if _ORDERS_FIRST.match(body):
        return Classification(ORDERS_OBJECT)
    return rejected(
        UNKNOWN_SHAPE,
        'a JSON object over 64 KiB must have "orders" as its first key (or be JSON Lines)',
    )


def _classify_small_object(body: str) -> Classification:
    """The whole file is in hand: parse it and check `orders` really is an array."""
    try:
        value = json.loads(body)
    except ValueError as exc:
        if _looks_like_jsonl(body):
            return Classification(JSONL)
        return rejected(NOT_JSON, f"the file starts like a JSON object but is not JSON: {exc}")
    if "orders" not in value:
        keys = ", ".join(sorted(value)[:10]) or "none"
        return rejected(UNKNOWN_SHAPE, f'the JSON object has no "orders" key (keys: {keys})')
    if not isinstance(value["orders"], list):
        return rejected(
            UNKNOWN_SHAPE, f'"orders" is a JSON {json_type(value["orders"])}, not an array'
        )
    return Classification(ORDERS_OBJECT)


def _classify_other(body: str, complete: bool) -> Classification:
    """Anything not starting with `[` or `{`: a bare JSON scalar, or not JSON at all."""
    try:
        value, end = json.JSONDecoder().raw_decode(body)
    except ValueError:
        return rejected(NOT_JSON, "the file is not JSON")
    if complete and body[end:].strip(_JSON_WHITESPACE):
        return rejected(NOT_JSON, "the file is not JSON (data after the first value)")
    return rejected(
        UNKNOWN_SHAPE, f"the file holds a JSON {json_type(value)}, not an array or object"
    )
