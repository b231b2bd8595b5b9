"""Copy the `orders` array of a `{"orders": [...]}` file into a work object of its own.

Why: the Distributed Map's ItemReader is documented to read a bare JSON array, but not
(as far as AWS's documentation could be checked) an array nested in an object:
`ReaderConfig.ItemsPointer` is unverified, and a field AWS refused would fail the whole
stack's deployment. So InspectFile copies the array, byte for byte, to the pipeline's work
bucket and the Map reads that as a plain JSON array. Element i of `orders` is item i of
the copy, so every record keeps its source (the original bucket, key, version) and index.

The scan is one pass in chunks, in bounded memory: a regular expression with possessive
quantifiers jumps from bracket to bracket over strings (C speed, no backtracking), the
array's bytes are uploaded as they go by (a multipart upload above one part), and the
rest of the file must close the object. A file that breaks the structure (an unclosed
array or object, data after the object) is refused with a reason; malformed values
inside the array are left to the reader, whose failure dead-letters the file whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

CHUNK_BYTES: Final = 1024 * 1024
PART_BYTES: Final = 8 * 1024 * 1024  # S3 multipart parts: at least 5 MiB but the last
NORMALIZED_PREFIX: Final = "normalized/"

_BOM: Final = b"\xef\xbb\xbf"
_ORDERS_FIRST: Final = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"orders"[ \t\n\r]*:[ \t\n\r]*\[')
# Everything up to the next bracket outside a string, strings skipped whole.
_TO_BRACKET: Final = re.compile(rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+([\[\]{}])', re.S)
_WHITESPACE: Final = b" \t\n\r"


class MalformedFileError(ValueError):
    """The file is not a well-formed `{"orders": [...]}` object."""


class Sink(Protocol):
    """Where the array's bytes go (an S3 upload, or a buffer in tests)."""

    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class Extracted:
    """What was copied: the bytes of the array (and whether its key came first)."""

    size: int


def normalized_key(bucket: str, key: str, version_id: str | None) -> str:
    """One work key per source object version, so a replay rewrites the same object."""
    digest = hashlib.sha256(f"{bucket}/{key}?versionId={version_id or 'null'}".encode())
    return f"{NORMALIZED_PREFIX}{digest.hexdigest()}.json"


def starts_with_orders(head: bytes) -> bool:
    """Whether the file's first key is `orders` holding an array (the streamable shape)."""
    return _ORDERS_FIRST.match(head.removeprefix(_BOM)) is not None


def extract_orders(chunks: Iterable[bytes], sink: Sink) -> Extracted:
    """Stream the `orders` array of a file whose first key is `orders` into `sink`."""
    stream = iter(chunks)
    head = _read_until(stream, 64 * 1024)
    head = head.removeprefix(_BOM)
    opening = _ORDERS_FIRST.match(head)
    if opening is None:
        raise MalformedFileError('the file does not start with {"orders": [')
    start = opening.end() - 1  # the array's "["
    return _copy_array(head[start:], stream, sink)


def extract_orders_small(text: str, sink: Sink) -> Extracted:
    """A file small enough to parse whole whose `orders` key may come anywhere."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MalformedFileError(f"the file is not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("orders"), list):
        raise MalformedFileError('the file is not an object with an "orders" array')
    data = json.dumps(value["orders"], ensure_ascii=False).encode("utf-8")
    sink.write(data)
    return Extracted(len(data))


def _read_until(stream: Iterator[bytes], size: int) -> bytes:
    buffer = bytearray()
    for chunk in stream:
        buffer += chunk
        if len(buffer) >= size:
            break
    return bytes(buffer)


_PAIRS: Final = {b"]": b"[", b"}": b"{"}


def _copy_array(first: bytes, stream: Iterator[bytes], sink: Sink) -> Extracted:
    """Copy from the array's `[` to its matching `]`, then check the object closes."""
    open_brackets = [b"{"]  # the file's top-level object, whose "orders" array comes next
    copied = 0
    buffer = first
    copying = True
    while True:
        position = 0
        while open_brackets:
            token = _TO_BRACKET.match(buffer, position)
            if token is None:
                break
            bracket = token.group(1)
            position = token.end()
            if bracket in (b"[", b"{"):
                open_brackets.append(bracket)
                continue
            if open_brackets.pop() != _PAIRS[bracket]:
                raise MalformedFileError(f"a {bracket.decode()!r} closes nothing it opened")
            if copying and len(open_brackets) == 1:  # the array's own "]"
                sink.write(buffer[:position])
                copied += position
                buffer, position, copying = buffer[position:], 0, False
        if copying and position:
            sink.write(buffer[:position])
            copied += position
        buffer = buffer[position:]
        if not open_brackets and buffer.strip(_WHITESPACE):
            raise MalformedFileError("the file holds data after its JSON object")
        chunk = next(stream, None)
        if chunk is None:
            break
        buffer += chunk
    if copying:
        raise MalformedFileError('the "orders" array is never closed')
    if open_brackets:
        raise MalformedFileError("the JSON object is never closed")
    return Extracted(copied)


class MultipartUpload:
    """A `Sink` uploading to S3: one PutObject if small, else a multipart upload.

    `close()` finishes the upload and returns the object's version id (None when the
    bucket is not versioned); `abort()` drops what was uploaded.
    """

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= PART_BYTES:
            self._send_part(bytes(self._buffer[:PART_BYTES]))
            del self._buffer[:PART_BYTES]

    def _send_part(self, data: bytes) -> None:
        if self._upload_id is None:
            created = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="application/json"
            )
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        sent = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def close(self) -> str | None:
        if self._upload_id is None:
            response = self.s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=bytes(self._buffer),
                ContentType="application/json",
            )
        else:
            if self._buffer:
                self._send_part(bytes(self._buffer))
            response = self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer.clear()
        version = response.get("VersionId")
        return str(version) if version else None

    def abort(self) -> None:
        if self._upload_id is not None:
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )
            self._upload_id = None
