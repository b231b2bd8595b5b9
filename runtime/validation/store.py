"""AWS access for the validation pipeline: DynamoDB writes and S3 reads.

Clients are injectable (tests wrap them to simulate throttling) and otherwise come lazily
from runtime.common.clients.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from orderflow import aws_facts
from runtime.common import clients
from runtime.common.retry import RetryPolicy, drain

DYNAMODB_BATCH_LIMIT: Final = aws_facts.DYNAMODB_BATCH_WRITE_MAX_ITEMS.value
# HeadObject has no body, so a missing key arrives as a bare HTTP status code.
_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})
# S3 answers 400 for a malformed version id (e.g. a replay naming a version of an
# unversioned bucket): with a version id in the request, that means "no such version".
_BAD_VERSION_CODES: Final = frozenset({"400", "InvalidArgument"})

Item = dict[str, dict[str, str]]


class UnprocessedItemsError(RuntimeError):
    """DynamoDB kept refusing items; failing the invocation lets Step Functions retry."""


class OrderTable:
    """Writes order items with BatchWriteItem, retrying UnprocessedItems with backoff."""

    def __init__(self, table_name: str, *, dynamodb: Any = None, policy: RetryPolicy | None = None):
        if not table_name:
            raise ValueError("a table name is required")
        self.table_name = table_name
        self._dynamodb = dynamodb
        self.policy = policy if policy is not None else RetryPolicy()

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = clients.client("dynamodb")
        return self._dynamodb

    def put_items(self, items: Sequence[Item]) -> int:
        """Put every item (keys must be unique per call) or raise UnprocessedItemsError."""
        for start in range(0, len(items), DYNAMODB_BATCH_LIMIT):
            chunk = items[start : start + DYNAMODB_BATCH_LIMIT]
            requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in chunk]
            left = drain(self._write, requests, self.policy)
            if left:
                raise UnprocessedItemsError(
                    f"{len(left)} item(s) still unprocessed by {self.table_name} after "
                    f"{self.policy.max_attempts} attempts"
                )
        return len(items)

    def _write(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.dynamodb.batch_write_item(RequestItems={self.table_name: list(requests)})
        unprocessed: list[dict[str, Any]] = response.get("UnprocessedItems", {}).get(
            self.table_name, []
        )
        return unprocessed


@dataclass(frozen=True)
class ObjectHead:
    """What HeadObject tells us about one object version."""

    key: str
    version_id: str | None
    size: int
    last_modified: str


def iso_utc(moment: datetime) -> str:
    """Second-precision ISO-8601 UTC, the precision S3 reports LastModified with."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_missing(exc: Exception, version_id: str | None) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code"))
    return code in _MISSING_CODES or (version_id is not None and code in _BAD_VERSION_CODES)


class S3Objects:
    """HeadObject and ranged GetObject, mapping "not there" to None instead of raising.

    HeadObject returns 404 only when the caller may s3:ListBucket; without it S3 answers
    403, which is raised here (a permissions bug must not look like a missing file).
    """

    def __init__(self, *, s3: Any = None):
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = clients.client("s3")
        return self._s3

    def head(self, bucket: str, key: str, version_id: str | None) -> ObjectHead | None:
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        try:
            response = self.s3.head_object(**params)
        except Exception as exc:
            if _is_missing(exc, version_id):
                return None
            raise
        return ObjectHead(
            key=key,
            version_id=response.get("VersionId") or version_id,
            size=int(response["ContentLength"]),
            last_modified=iso_utc(response["LastModified"]),
        )

    def read_prefix(
        self, bucket: str, key: str, version_id: str | None, length: int
    ) -> bytes | None:
        """First `length` bytes of a non-empty object, or None if it vanished meanwhile."""
        params: dict[str, str] = {"Bucket": bucket, "Key": key, "Range": f"bytes=0-{length - 1}"}
        if version_id:
            params["VersionId"] = version_id
        try:
            response = self.s3.get_object(**params)
        except Exception as exc:
            if _is_missing(exc, version_id):
                return None
            raise
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data[:length]

    def chunks(self, bucket: str, key: str, version_id: str | None, size: int) -> Iterator[bytes]:
        """The whole object, `size` bytes at a time (bounded memory for any file size)."""
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        body = self.s3.get_object(**params)["Body"]
        try:
            yield from body.iter_chunks(size)
        finally:
            body.close()
