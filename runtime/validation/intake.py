"""InspectFile: find the uploaded object, sniff its first 64 KiB, and decide its format.

A file the Map could not read becomes one file-level dead letter sent from here, and the
workflow ends normally with `format: "rejected"`.

`ingestedAt` is the object's LastModified, not the event's `time`: it is fixed per object
version, so an EventBridge delivery and a later manual replay of the same version stamp
identical items (the event time can differ from LastModified by a second or more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from runtime.common.dead_letter import DeadLetterSender, build_dead_letter, dead_letter_id
from runtime.validation.batch import file_source
from runtime.validation.exports import IGNORED, SUFFIX_NOT_ACCEPTED, accepts_key, clean_export
from runtime.validation.file_format import (
    NOT_JSON,
    OBJECT_MISSING,
    ORDERS_OBJECT,
    REJECTED,
    SNIFF_BYTES,
    UTF8_BOM,
    Classification,
    classify,
    rejected,
)
from runtime.validation.normalize import (
    CHUNK_BYTES,
    MalformedFileError,
    MultipartUpload,
    extract_orders,
    extract_orders_small,
    normalized_key,
    starts_with_orders,
)
from runtime.validation.store import S3Objects


@dataclass(frozen=True)
class ReadFrom:
    """The object the Distributed Map reads: the file itself, or its normalized copy."""

    bucket: str
    key: str
    version_id: str | None


@dataclass(frozen=True)
class FileEvent:
    """The object to inspect, from an EventBridge S3 event or a manual replay input."""

    bucket: str
    key: str
    version_id: str | None
    size: int | None
    time: str | None


def parse_file_event(event: Any) -> FileEvent:
    """Accept `{"detail": {"bucket": {"name"}, "object": {...}}}` or `{"bucket", "key"}`."""
    if not isinstance(event, Mapping):
        raise ValueError("the event must be a JSON object")
    detail = event.get("detail")
    if isinstance(detail, Mapping):
        bucket = (detail.get("bucket") or {}).get("name")
        obj = detail.get("object") or {}
        key, version_id, size = obj.get("key"), obj.get("version-id"), obj.get("size")
        time = event.get("time")
    else:
        bucket, key = event.get("bucket"), event.get("key")
        version_id, size, time = event.get("versionId"), None, None
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise ValueError("the event names no bucket and key")
    return FileEvent(
        bucket=bucket,
        key=key,
        version_id=version_id if isinstance(version_id, str) and version_id else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        time=time if isinstance(time, str) and time else None,
    )


def candidate_keys(key: str) -> list[str]:
    """The key as given, then URL-decoded (S3 event keys may arrive encoded, `+` for space)."""
    decoded = unquote_plus(key)
    return [key] if decoded == key else [key, decoded]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ignored(event: FileEvent, suffixes: Sequence[str], pipeline: str) -> dict[str, Any]:
    """InspectFile's answer for a key that is not a sales file (the workflow just ends)."""
    source = file_source(event.bucket, event.key, event.version_id)
    return {
        "bucket": event.bucket,
        "key": event.key,
        "versionId": event.version_id,
        "readBucket": event.bucket,
        "readKey": event.key,
        "readVersionId": event.version_id or "null",
        "size": event.size or 0,
        "ingestedAt": event.time or _now(),
        "format": IGNORED,
        "reason": SUFFIX_NOT_ACCEPTED,
        "message": f"the key does not end with one of {', '.join(suffixes)} (any case)",
        "fileDeadLetterId": dead_letter_id(pipeline, source),
    }


def normalize_orders(
    s3: S3Objects, source: ReadFrom, *, size: int, head: bytes, work_bucket: str
) -> ReadFrom:
    """Copy a `{"orders": [...]}` file's array to the work bucket; the Map reads the copy.

    Raises MalformedFileError when the file's structure is broken (see `normalize`).
    """
    key = normalized_key(source.bucket, source.key, source.version_id)
    upload = MultipartUpload(s3.s3, work_bucket, key)
    try:
        if len(head) >= size and not starts_with_orders(head):
            # A small file (parsed whole) whose "orders" key is not the first one.
            extract_orders_small(head.removeprefix(UTF8_BOM).decode("utf-8"), upload)
        elif len(head) >= size:
            extract_orders([head], upload)
        else:
            chunks = s3.chunks(source.bucket, source.key, source.version_id, CHUNK_BYTES)
            extract_orders(chunks, upload)
        version = upload.close()
    except BaseException:
        upload.abort()
        raise
    return ReadFrom(work_bucket, key, version)


def inspect_object(
    event: FileEvent,
    *,
    s3: S3Objects,
    sender: DeadLetterSender,
    pipeline: str,
    work_bucket: str | None = None,
    key_suffixes: Sequence[str] = (),
) -> dict[str, Any]:
    """Describe the file for the workflow, dead-lettering it if it cannot be processed.

    With a `work_bucket`, a `{"orders": [...]}` file is normalized into it (its array as a
    bare JSON array) and `read*` name that copy; records keep the original as source. So is
    a JSON array or JSON Lines file exported with a BOM or blank lines (`exports`).

    A key outside `key_suffixes` (compared ignoring case) is not a sales file: it is
    reported as format `ignored`, neither read nor dead-lettered (see `exports.accepts_key`).
    """
    if not accepts_key(event.key, key_suffixes):
        return _ignored(event, key_suffixes, pipeline)
    head = None
    for key in candidate_keys(event.key):
        head = s3.head(event.bucket, key, event.version_id)
        if head is not None:
            break

    verdict: Classification
    prefix: bytes | None = None
    if head is None:
        version = f" (version {event.version_id})" if event.version_id else ""
        verdict = rejected(
            OBJECT_MISSING, f"s3://{event.bucket}/{event.key}{version} does not exist"
        )
        key, version_id = event.key, event.version_id
        size, ingested_at = event.size or 0, event.time or _now()
    else:
        key, version_id, size, ingested_at = (
            head.key,
            head.version_id,
            head.size,
            head.last_modified,
        )
        prefix = b"" if size == 0 else s3.read_prefix(event.bucket, key, version_id, SNIFF_BYTES)
        if prefix is None:
            verdict = rejected(OBJECT_MISSING, f"s3://{event.bucket}/{key} vanished while read")
        else:
            verdict = classify(prefix, size=size, key=key)

    read = ReadFrom(event.bucket, key, version_id)
    if verdict.format == ORDERS_OBJECT and work_bucket is not None and prefix is not None:
        try:
            read = normalize_orders(s3, read, size=size, head=prefix, work_bucket=work_bucket)
        except MalformedFileError as exc:
            verdict = rejected(NOT_JSON, f"{exc}; no record of it was read")
    elif work_bucket is not None and prefix is not None:
        cleaned = clean_export(
            s3.s3,
            (read.bucket, read.key, read.version_id),
            file_format=verdict.format,
            size=size,
            head=prefix,
            work_bucket=work_bucket,
        )
        read = ReadFrom(*cleaned) if cleaned is not None else read

    source = file_source(event.bucket, key, version_id)
    if verdict.format == REJECTED:
        sender.send(
            [
                build_dead_letter(
                    pipeline=pipeline,
                    reason=str(verdict.reason),
                    message=str(verdict.message),
                    source=source,
                    record=None,
                )
            ]
        )
    return {
        "bucket": event.bucket,
        "key": key,
        "versionId": version_id,
        # What the Distributed Map reads (the file, or its normalized copy). Its ItemReader
        # always passes a VersionId; S3 names the version of an object stored while
        # versioning was off "null".
        "readBucket": read.bucket,
        "readKey": read.key,
        "readVersionId": read.version_id or "null",
        "size": size,
        "ingestedAt": ingested_at,
        "format": verdict.format,
        "reason": verdict.reason,
        "message": verdict.message,
        "fileDeadLetterId": dead_letter_id(pipeline, source),
    }
