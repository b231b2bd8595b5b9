"""The MSK event: its records in partition order, their decoding, and the partial-failure reply.

Pure. Kafka only guarantees order within a partition, and on a partial batch response the
event source mapping resumes each partition from its lowest reported offset. So records
are handled per partition in offset order, a partition stops at its first failure (later
records are held back, not processed out of order), and the reply reports that record and
every later offset of its partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

MISSING_VALUE: Final = "missing_value"
INVALID_BASE64: Final = "invalid_base64"
INVALID_UTF8: Final = "invalid_utf8"
INVALID_JSON: Final = "invalid_json"


class MalformedEventError(ValueError):
    """The event is not an MSK event at all: a wiring error, so the invocation fails."""


@dataclass(frozen=True)
class KafkaRecord:
    """One record of the batch; `raw` is the record exactly as Lambda delivered it."""

    topic: str
    partition: int
    offset: int
    raw: Mapping[str, Any]

    @property
    def partition_id(self) -> str:
        """`<topic>-<partition>`: the records map key and the failure item's `partition`."""
        return f"{self.topic}-{self.partition}"

    def source(self, event_source_arn: str | None) -> dict[str, Any]:
        """Where the record came from (a dead letter's `source`; its id hashes this)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "eventSourceArn": event_source_arn,
        }


def records_of(event: Mapping[str, Any]) -> list[KafkaRecord]:
    """Every record, grouped by partition (in the event's order) and sorted by offset."""
    groups = event.get("records")
    if not isinstance(groups, dict):
        raise MalformedEventError("an MSK event has a `records` object keyed by topic-partition")
    records: list[KafkaRecord] = []
    for key, group in groups.items():
        if not isinstance(group, list):
            raise MalformedEventError(f"records[{key!r}] must be a list")
        batch: list[KafkaRecord] = []
        for raw in group:
            topic = raw.get("topic") if isinstance(raw, dict) else None
            partition = raw.get("partition") if isinstance(raw, dict) else None
            offset = raw.get("offset") if isinstance(raw, dict) else None
            if (
                not isinstance(raw, dict)
                or not isinstance(topic, str)
                or type(partition) is not int
                or type(offset) is not int
            ):
                raise MalformedEventError(
                    f"a record of {key!r} lacks a string topic and integer partition/offset"
                )
            batch.append(KafkaRecord(topic, partition, offset, raw))
        records.extend(sorted(batch, key=lambda record: (record.partition_id, record.offset)))
    return records


@dataclass(frozen=True)
class Decoded:
    """The record's value parsed as JSON (any JSON value; the schema judges it)."""

    value: Any


@dataclass(frozen=True)
class Poison:
    """A value that can never be read, whatever the retries."""

    reason: str
    message: str


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_value(raw: Mapping[str, Any]) -> Decoded | Poison:
    """base64 → UTF-8 → JSON, naming the first step that fails."""
    encoded = raw.get("value")
    if encoded is None:
        return Poison(MISSING_VALUE, "the record has no value (a tombstone or empty message)")
    if not isinstance(encoded, str):
        return Poison(
            INVALID_BASE64, f"value must be a base64 string, got {type(encoded).__name__}"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        return Poison(INVALID_BASE64, f"value is not valid base64: {exc}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Poison(INVALID_UTF8, f"value is not UTF-8: {exc}")
    try:
        return Decoded(json.loads(text, parse_constant=_reject_constant))
    except (ValueError, RecursionError) as exc:
        return Poison(INVALID_JSON, f"value is not JSON: {exc}")


@dataclass
class BatchFailures:
    """Which records must be retried; a partition stops at its first failure."""

    lowest: dict[str, int] = field(default_factory=dict)

    def fail(self, record: KafkaRecord) -> None:
        current = self.lowest.get(record.partition_id)
        if current is None or record.offset < current:
            self.lowest[record.partition_id] = record.offset

    def held_back(self, record: KafkaRecord) -> bool:
        """True once an earlier record of the same partition failed."""
        lowest = self.lowest.get(record.partition_id)
        return lowest is not None and record.offset >= lowest

    def response(self, records: list[KafkaRecord]) -> dict[str, list[dict[str, Any]]]:
        """`{"batchItemFailures": [{"itemIdentifier": {"partition", "offset"}}]}` (AWS's shape)."""
        return {
            "batchItemFailures": [
                {"itemIdentifier": {"partition": record.partition_id, "offset": record.offset}}
                for record in records
                if self.held_back(record)
            ]
        }
