"""Files as people export them: a byte-order mark, CRLF line endings, blank lines.

Spreadsheet tools and Windows editors write a UTF-8 byte-order mark first and end lines
with CRLF; hand-edited JSON Lines files gain blank lines, often at the end. Python reads all
of that, but the Distributed Map's ItemReader is AWS's: whether it skips a BOM or a blank
JSON line is not documented (a BOM is not JSON whitespace; a blank line is not a JSON
value), and the embedded emulator refuses both, as the strictest reading of the formats.
So a file showing either is copied, cleaned, to the pipeline's work bucket and the Map
reads the copy, the way a `{"orders": [...]}` file is (`normalize`):

- a leading BOM is dropped (JSON arrays and JSON Lines);
- JSON Lines lose their blank (whitespace-only) lines and the CR of CRLF endings, so item
  i of the copy is the file's i-th non-blank line, the index every record keeps.

A CR is JSON whitespace (RFC 8259), so CRLF endings alone need no copy: the JSON Lines
format names CRLF as a line end too (https://jsonlines.org), and a reader that splits on
LF parses a line's JSON value followed by a CR as that value. CR and blank lines inside a
JSON array are whitespace for any JSON reader, so an array is copied only for a BOM.

What InspectFile cannot see it cannot clean: it looks at the first 64 KiB and the last 4 KiB,
where export noise sits (a BOM first, stray blank lines mostly at the end); a blank line
deep inside a bigger file fails the Map's read, and the file is dead-lettered whole with
the reader's message.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from orderflow.aws_facts import STEP_FUNCTIONS_ITEM_READER_UNDOCUMENTED_INPUTS
from runtime.validation.file_format import JSON_ARRAY, JSONL, UTF8_BOM
from runtime.validation.normalize import (
    CHUNK_BYTES,
    Extracted,
    MultipartUpload,
    Sink,
    normalized_key,
)

CLEANABLE_FORMATS: Final = frozenset({JSON_ARRAY, JSONL})
# What AWS's reader is not documented to take (a fact confirmed later leaves this set).
UNSURE: Final = STEP_FUNCTIONS_ITEM_READER_UNDOCUMENTED_INPUTS.value
# A whitespace-only line: between two newlines (anywhere), or before the first one.
_BLANK_LINE: Final = re.compile(rb"\n[ \t\r]*\n")
_BLANK_FIRST_LINE: Final = re.compile(rb"[ \t\r]*\n")


def needs_cleaning(file_format: str, head: bytes, tail: bytes) -> bool:
    """Whether the file's first bytes (`head`) or last bytes (`tail`) show export noise."""
    if file_format not in CLEANABLE_FORMATS:
        return False
    if "utf8_bom" in UNSURE and head.startswith(UTF8_BOM):
        return True
    if file_format != JSONL or "blank_jsonl_line" not in UNSURE:
        return False
    return bool(
        _BLANK_FIRST_LINE.match(head) or _BLANK_LINE.search(head) or _BLANK_LINE.search(tail)
    )


def clean_copy(chunks: Iterable[bytes], sink: Sink, file_format: str) -> Extracted:
    """Write the file to `sink` without its BOM (and, for JSON Lines, blank lines and CRs)."""
    if file_format not in CLEANABLE_FORMATS:
        raise ValueError(f"{file_format!r} files are not cleaned here")
    stream = iter(chunks)
    start = b""
    for chunk in stream:  # enough bytes to see a whole BOM, however small the chunks
        start += chunk
        if len(start) >= len(UTF8_BOM):
            break
    written = 0
    pending = b""
    for chunk in itertools.chain([start.removeprefix(UTF8_BOM)], stream):
        if file_format != JSONL:
            sink.write(chunk)
            written += len(chunk)
            continue
        *lines, pending = (pending + chunk).split(b"\n")
        written += _write_lines(lines, sink)
    return Extracted(written + _write_lines([pending], sink))


def _write_lines(lines: list[bytes], sink: Sink) -> int:
    """The non-blank lines, each ending in a single LF."""
    kept = [line.rstrip(b"\r") for line in lines if line.strip(b" \t\r")]
    if not kept:
        return 0
    data = b"\n".join(kept) + b"\n"
    sink.write(data)
    return len(data)


IGNORED: Final = "ignored"
"""InspectFile's format for a key outside `key_suffixes`: nothing read, nothing dead-lettered."""
SUFFIX_NOT_ACCEPTED: Final = "suffix_not_accepted"


def accepts_key(key: str, suffixes: Sequence[str]) -> bool:
    """Whether `key` ends with one of `suffixes`, ignoring case (`ORDERS.JSON` is a `.json`).

    The rule selects by prefix only: EventBridge matches a prefix and a suffix of one field
    together only with a `wildcard`, which is case-sensitive, and `suffix` with
    `equals-ignore-case` cannot be combined with a prefix on the same field. No suffixes:
    every key is accepted.
    """
    folded = key.casefold()
    return not suffixes or any(folded.endswith(s.casefold()) for s in suffixes)


def read_tail(s3: Any, bucket: str, key: str, version_id: str | None, length: int) -> bytes:
    """The last `length` bytes of an object (a ranged GET)."""
    params: dict[str, str] = {"Bucket": bucket, "Key": key, "Range": f"bytes=-{length}"}
    if version_id:
        params["VersionId"] = version_id
    body = s3.get_object(**params)["Body"]
    try:
        data: bytes = body.read()
    finally:
        body.close()
    return data[-length:]


def clean_export(
    s3: Any,
    source: tuple[str, str, str | None],
    *,
    file_format: str,
    size: int,
    head: bytes,
    work_bucket: str,
) -> tuple[str, str, str | None] | None:
    """Copy a noisy export, cleaned, to the work bucket: (bucket, key, version) of the copy.

    None when the file needs no cleaning (the Map reads it as it is). `head` holds the
    file's first bytes (all of it when `len(head) >= size`); a bigger JSON Lines file's
    last 4 KiB are read too, for the blank lines an editor leaves at the end.
    """
    bucket, key, version_id = source
    if file_format not in CLEANABLE_FORMATS:
        return None
    noisy = needs_cleaning(file_format, head, b"")
    if not noisy and file_format == JSONL and len(head) < size:  # one more ranged GET
        noisy = needs_cleaning(file_format, head, read_tail(s3, bucket, key, version_id, 4096))
    if not noisy:
        return None
    copy_key = normalized_key(bucket, key, version_id)
    upload = MultipartUpload(s3, work_bucket, copy_key)
    try:
        if len(head) >= size:
            clean_copy([head], upload, file_format)
        else:
            params: dict[str, str] = {"Bucket": bucket, "Key": key}
            if version_id:
                params["VersionId"] = version_id
            body = s3.get_object(**params)["Body"]
            try:
                clean_copy(body.iter_chunks(CHUNK_BYTES), upload, file_format)
            finally:
                body.close()
        version = upload.close()
    except BaseException:
        upload.abort()
        raise
    return work_bucket, copy_key, version
