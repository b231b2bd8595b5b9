"""Distributed Map ItemReader: turn an S3 object's text into the Map's items.

`ReaderConfig.InputType`: JSON (an array, or with `ItemsPointer` the array a JSON Pointer
selects, e.g. `/orders`), JSONL (one JSON value per line, no blank lines) or CSV (header from
the first row or `CSVHeaders`, each row an object of strings). Anything unreadable is
States.ItemReaderFailed with a cause naming the problem (the line, for JSONL/CSV), which
a Catch can route, exactly the failure the validation workflow dead-letters.
`MaxItems` stops reading early, so lines after the limit are never parsed.

PARQUET is valid ASL but needs a columnar decoder we do not depend on: a dispatcher may
return the object's rows already decoded (a list, as `services.s3_reader` does when
pyarrow is installed), which is accepted for any InputType; a PARQUET body given as text
or bytes fails with States.ItemReaderFailed naming the missing dependency.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Mapping
from typing import Any, Final

from emulator.states.errors import ITEM_READER_FAILED, TaskError
from orderflow.aws_facts import STEP_FUNCTIONS_ITEM_READER_UNDOCUMENTED_INPUTS

UNDOCUMENTED: Final = STEP_FUNCTIONS_ITEM_READER_UNDOCUMENTED_INPUTS.value

INPUT_TYPES: Final = frozenset({"JSON", "JSONL", "CSV", "PARQUET"})
CSV_DELIMITERS: Final = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
READER_CONFIG_FIELDS: Final = frozenset(
    {
        "InputType",
        "ItemsPointer",
        "MaxItems",
        "MaxItemsPath",
        "CSVHeaderLocation",
        "CSVHeaders",
        "CSVDelimiter",
    }
)


def fail(cause: str) -> TaskError:
    return TaskError(ITEM_READER_FAILED, cause)


def decode(body: Any, source: str) -> str:
    """The object body as text (a dispatcher may hand back bytes)."""
    if isinstance(body, str):
        return body
    if isinstance(body, bytes | bytearray):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise fail(f"{source} is not UTF-8 text: {exc}") from None
    raise fail(f"{source}: the reader expected the object body as text, got {type(body)}")


def items_from_object(
    body: Any, config: Mapping[str, Any], *, source: str, max_items: int | None = None
) -> list[Any]:
    """The items of an S3 object as the dispatcher returned it (text, bytes or rows)."""
    if isinstance(body, list):
        return body if max_items is None else body[:max_items]
    if config.get("InputType") == "PARQUET":
        if importlib.util.find_spec("pyarrow") is None:
            raise fail(
                f"{source}: the emulator decodes PARQUET with the optional dependency pyarrow, "
                "which is not installed (pip install pyarrow)"
            )
        raise fail(f"{source} is not a PARQUET file (no PAR1 magic bytes)")
    return read_items(decode(body, source), config, source=source, max_items=max_items)


def read_items(
    body: str, config: Mapping[str, Any], *, source: str, max_items: int | None = None
) -> list[Any]:
    """Parse `body` per the ReaderConfig; `max_items` (MaxItems) truncates."""
    input_type = config.get("InputType")
    if input_type == "JSON":
        items = _json(body, config.get("ItemsPointer"), source)
        return items if max_items is None else items[:max_items]
    if input_type == "JSONL":
        return _jsonl(body, source, max_items)
    if input_type == "CSV":
        return _csv(body, config, source, max_items)
    raise fail(f"unsupported ReaderConfig.InputType {input_type!r}")


def _json(body: str, pointer: str | None, source: str) -> list[Any]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise fail(f"{source} is not valid JSON: {exc}") from None
    if pointer is not None:
        document = resolve_pointer(document, pointer, source)
    if not isinstance(document, list):
        where = f"the value at ItemsPointer {pointer!r}" if pointer is not None else "the file"
        raise fail(f"{source}: {where} is not a JSON array")
    return document


def resolve_pointer(document: Any, pointer: str, source: str) -> Any:
    """RFC 6901 JSON Pointer (`/orders`, `/data/0/items`, `~1` and `~0` escapes)."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise fail(f"ItemsPointer {pointer!r} must be a JSON Pointer starting with '/'")
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise fail(f"{source}: ItemsPointer {pointer!r} does not match anything")
    return node


def _jsonl(body: str, source: str, max_items: int | None) -> list[Any]:
    """One JSON value per line; CRLF ends a line too (a CR is JSON whitespace).

    A blank line is refused, except after the last line's newline: JSON Lines says every
    line is a JSON value, and whether AWS's reader skips blank lines is not documented
    (STEP_FUNCTIONS_ITEM_READER_UNDOCUMENTED_INPUTS), so the emulator takes the strict
    reading (a BOM fails too: it is not JSON whitespace).
    """
    items: list[Any] = []
    lines = body.split("\n")
    for number, line in enumerate(lines, start=1):
        if max_items is not None and len(items) >= max_items:
            break
        text = line.strip(" \t\r")
        if not text and number == len(lines):
            continue  # the file's final newline (or trailing spaces after it)
        if not text and "blank_jsonl_line" not in UNDOCUMENTED:
            continue
        if not text:
            raise fail(f"{source}: line {number} is blank; every JSON Lines line is a value")
        try:
            items.append(json.loads(text))
        except ValueError as exc:
            raise fail(f"{source}: line {number} is not valid JSON: {exc}") from None
    return items


def _csv(body: str, config: Mapping[str, Any], source: str, max_items: int | None) -> list[Any]:
    delimiter = CSV_DELIMITERS[config.get("CSVDelimiter", "COMMA")]
    rows = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        headers = list(config.get("CSVHeaders") or [])
    items: list[Any] = []
    try:
        for row in rows:
            if max_items is not None and len(items) >= max_items:
                break
            if not row or row == [""]:
                continue
            if headers is None:
                headers = row
                continue
            if len(row) != len(headers):
                raise fail(
                    f"{source}: CSV line {rows.line_num} has {len(row)} fields but there are "
                    f"{len(headers)} headers"
                )
            items.append(dict(zip(headers, row, strict=True)))
    except csv.Error as exc:
        raise fail(f"{source}: CSV line {rows.line_num} is malformed: {exc}") from None
    return items
