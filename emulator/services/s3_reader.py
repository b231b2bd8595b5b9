"""What a Distributed Map's ItemReader gets from S3, as the Step Functions dispatcher asks.

`arn:aws:states:::s3:listObjectsV2` lists every page (each page is one ListObjectsV2
call as the machine's role, so `s3:ListBucket` and its `s3:prefix` condition are checked
per call, as in AWS) and turns each object into the item Step Functions passes on:
`{"Etag", "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}`.

`arn:aws:states:::s3:getObject` bodies are handed back as text when they are UTF-8, as
rows when they are PARQUET and pyarrow is importable, and as bytes otherwise; the reader
(`emulator.states.readers`) then fails clearly on what it cannot read.
"""

from __future__ import annotations

import importlib
import io
from typing import Any, Final

PARQUET_MAGIC: Final = b"PAR1"


def list_objects(client: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """Every object under the listing's Bucket/Prefix, following continuation tokens."""
    params = dict(parameters)
    items: list[dict[str, Any]] = []
    while True:
        page = client.list_objects_v2(**params)
        items.extend(_item(entry) for entry in page.get("Contents", []))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return {"Contents": items}
        params["ContinuationToken"] = token


def _item(entry: dict[str, Any]) -> dict[str, Any]:
    modified = entry.get("LastModified")
    return {
        "Etag": entry.get("ETag", ""),
        "Key": entry["Key"],
        "LastModified": int(modified.timestamp()) if modified is not None else 0,
        "Size": entry.get("Size", 0),
        "StorageClass": entry.get("StorageClass", "STANDARD"),
    }


def is_parquet(data: bytes) -> bool:
    """A Parquet file starts and ends with the magic `PAR1`."""
    return len(data) >= 8 and data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC


def object_body(data: bytes) -> str | bytes | list[Any]:
    """An object's body for the ItemReader: text, PARQUET rows (with pyarrow), or bytes."""
    if is_parquet(data):
        return _parquet_rows(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _parquet_rows(data: bytes) -> list[Any] | bytes:
    """Rows as objects via pyarrow (optional; without it the reader names what is missing)."""
    try:
        parquet = importlib.import_module("pyarrow.parquet")
    except ImportError:
        return data
    rows: list[Any] = parquet.read_table(io.BytesIO(data)).to_pylist()
    return rows
