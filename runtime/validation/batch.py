"""Turn one Distributed Map batch into table items and dead letters (pure, no I/O).

Every input item ends in exactly one of the two lists. Items are derived only from the
file identity, the record and its index, so reprocessing a file rewrites identical bytes.

BatchWriteItem refuses two puts with the same key in one request, so inside a batch the
first record with an orderId is stored and later ones are dead-lettered as
`duplicate_order_id`. Across batches or files the table is a last-writer-wins upsert on
orderId; with concurrent Map children the surviving copy of a cross-batch duplicate
depends on completion order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from runtime.common.dead_letter import DeadLetter, build_dead_letter, utc_now_iso
from runtime.common.dynamodb_item import item_problem
from runtime.validation.file_format import JSON_ARRAY, JSONL, ORDERS_OBJECT
from runtime.validation.schema import DUPLICATE_ORDER_ID, Rejection, ValidRecord, validate_record
from runtime.validation.store import Item

READABLE_FORMATS: Final = frozenset({JSON_ARRAY, ORDERS_OBJECT, JSONL})
MAX_ITEMS_PER_BATCH: Final = 1000
ORDER_KEY: Final = "orderId"  # the orders table's partition key (components/validation_pipeline)


def file_source(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    """Dead-letter `source` for a whole file (no recordIndex, so its id is file-level)."""
    return {"bucket": bucket, "key": key, "versionId": version_id}


def record_source(
    bucket: str, key: str, version_id: str | None, record_index: int
) -> dict[str, Any]:
    """Dead-letter `source` for one record of a file."""
    return {**file_source(bucket, key, version_id), "recordIndex": record_index}


@dataclass(frozen=True)
class BatchInput:
    """The file a batch came from, as InspectFile described it."""

    bucket: str
    key: str
    version_id: str | None
    ingested_at: str
    format: str


@dataclass(frozen=True)
class BatchItem:
    """One record of the file and its 0-based position in it."""

    index: int
    value: Any


@dataclass
class BatchPlan:
    """What to write where; `reasons` counts dead letters per reason for the log."""

    items: list[Item] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


def _require_str(mapping: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = mapping.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"BatchInput.{name} must be a non-empty string, got {value!r}")
    return value


def parse_batch_event(event: Any) -> tuple[BatchInput, list[BatchItem]]:
    """Check the Map's batch envelope; a malformed one is a wiring bug and must fail loudly."""
    if not isinstance(event, Mapping):
        raise ValueError("the event must be an object with Items and BatchInput")
    raw_input = event.get("BatchInput")
    raw_items = event.get("Items")
    if not isinstance(raw_input, Mapping) or not isinstance(raw_items, list):
        raise ValueError("the event needs BatchInput (object) and Items (array)")
    if len(raw_items) > MAX_ITEMS_PER_BATCH:
        raise ValueError(f"{len(raw_items)} items exceed the batch limit {MAX_ITEMS_PER_BATCH}")
    batch = BatchInput(
        bucket=_require_str(raw_input, "bucket"),
        key=_require_str(raw_input, "key"),
        version_id=_require_str(raw_input, "versionId", optional=True),
        ingested_at=_require_str(raw_input, "ingestedAt"),
        format=_require_str(raw_input, "format"),
    )
    if batch.format not in READABLE_FORMATS:
        raise ValueError(f"BatchInput.format {batch.format!r} is not one of {READABLE_FORMATS}")
    items: list[BatchItem] = []
    for position, raw in enumerate(raw_items):
        if not isinstance(raw, Mapping) or "value" not in raw:
            raise ValueError(f"Items[{position}] must be an object with index and value")
        index = raw.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"Items[{position}].index must be a non-negative integer")
        items.append(BatchItem(index, raw["value"]))
    return batch, items


def to_item(record: ValidRecord, batch: BatchInput, index: int) -> Item:
    """DynamoDB item (wire format) for a valid record; optional attributes are omitted."""
    item: Item = {
        "orderId": {"S": record.order_id},
        "itemId": {"S": record.item_id},
        "quantity": {"N": str(record.quantity)},
        "customerName": {"S": record.customer_name},
        "customerEmail": {"S": record.customer_email},
        "sourceBucket": {"S": batch.bucket},
        "sourceKey": {"S": batch.key},
        "recordIndex": {"N": str(index)},
        "ingestedAt": {"S": batch.ingested_at},
    }
    if record.item_description is not None:
        item["itemDescription"] = {"S": record.item_description}
    if batch.version_id is not None:
        item["sourceVersionId"] = {"S": batch.version_id}
    return item


def plan_batch(
    items: Sequence[BatchItem],
    batch: BatchInput,
    *,
    pipeline: str,
    timestamp: str | None = None,
) -> BatchPlan:
    """Validate every item; valid ones become items, the rest dead letters."""
    stamp = timestamp if timestamp is not None else utc_now_iso()
    plan = BatchPlan()
    first_index: dict[str, int] = {}
    for item in items:
        outcome = validate_record(item.value)
        if isinstance(outcome, ValidRecord):
            earlier = first_index.get(outcome.order_id)
            stored = to_item(outcome, batch, item.index)
            unstorable = item_problem(stored, partition_key=ORDER_KEY)
            if unstorable is not None:  # DynamoDB would refuse it, and the batch with it
                outcome = Rejection(unstorable.reason, f"not storable: {unstorable.message}")
            elif earlier is None:
                first_index[outcome.order_id] = item.index
                plan.items.append(stored)
                continue
            else:
                outcome = Rejection(
                    DUPLICATE_ORDER_ID,
                    f"orderId {outcome.order_id!r} already appears at record index {earlier} "
                    "in this batch; only the first occurrence is stored",
                )
        plan.reasons[outcome.reason] += 1
        plan.dead_letters.append(
            build_dead_letter(
                pipeline=pipeline,
                reason=outcome.reason,
                message=outcome.message,
                source=record_source(batch.bucket, batch.key, batch.version_id, item.index),
                record=item.value,
                timestamp=stamp,
            )
        )
    return plan
