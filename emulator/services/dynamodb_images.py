"""The items a DynamoDB write touches, before and after it, read from moto's tables.

What a write costs depends on items the request does not carry: an UpdateItem is billed
by the larger of the item before and after it, a failed conditional write by the item
that stopped it, and a secondary index entry is added, changed or removed depending on
both images (`emulator.metering` applies those rules). So around each workload write the
meter asks for a `WriteCapture`: it reads the current item of every key the request
names before the call, and again after it. Reading moto's table directly makes no AWS
call (nothing is metered or checked twice) and costs one dictionary lookup per key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table

from emulator.program import ACCOUNT

Item = dict[str, Any]
"""An item as typed JSON (`{"pk": {"S": "a"}}`)."""

WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)


@dataclass(frozen=True)
class IndexSpec:
    """A secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...] = ()

    def entry(self, table_keys: tuple[str, ...], item: Item | None) -> Item | None:
        """The index entry of `item`, or None when the item is not in the index."""
        if item is None or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = {*table_keys, *self.keys, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}


@dataclass(frozen=True)
class TableSpec:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[IndexSpec, ...] = ()


@dataclass(frozen=True)
class ItemWrite:
    """One item a write request named: as it was, as it is after, and what was asked.

    `proposed` is the item a Put would have written (a failed Put is billed by the larger
    of it and the existing item); None for Update, Delete and ConditionCheck.
    """

    table: TableSpec
    before: Item | None
    after: Item | None
    proposed: Item | None = None


def _table_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def table_spec(table: Table) -> TableSpec:
    keys = tuple(k for k in (table.hash_key_attr, table.range_key_attr) if k)
    indexes = tuple(
        IndexSpec(
            name=index.name,
            keys=tuple(index.schema_key_attrs),
            projection=str((index.projection or {}).get("ProjectionType", "ALL")),
            non_key=tuple((index.projection or {}).get("NonKeyAttributes", ())),
        )
        for index in [*table.indexes, *table.global_indexes]
    )
    return TableSpec(table.name, keys, indexes)


def _targets(operation: str, params: Mapping[str, Any]) -> list[tuple[str, Item | None, Item]]:
    """(table, proposed item, key-or-item) of every item the request writes or checks."""
    if operation == "PutItem":
        return [(params["TableName"], params["Item"], params["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], None, params["Key"])]
    if operation == "BatchWriteItem":
        targets: list[tuple[str, Item | None, Item]] = []
        for table, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    targets.append((table, item, item))
                else:
                    targets.append((table, None, request["DeleteRequest"]["Key"]))
        return targets
    if operation == "TransactWriteItems":
        targets = []
        for entry in params["TransactItems"]:
            ((kind, request),) = entry.items()
            if kind == "Put":
                targets.append((request["TableName"], request["Item"], request["Item"]))
            else:
                targets.append((request["TableName"], None, request["Key"]))
        return targets
    return []


class WriteCapture:
    """The images of one write request: `before` read at creation, `after` at `finish`."""

    def __init__(self, backend: DynamoDBBackend, operation: str, params: Mapping[str, Any]):
        self._backend = backend
        self._pending: list[tuple[TableSpec, Item, Item | None, Item | None]] = []
        for name, proposed, key_source in _targets(operation, params):
            table = backend.get_table(_table_name(name))
            spec = table_spec(table)
            key = {k: key_source[k] for k in spec.keys if k in key_source}
            self._pending.append((spec, key, proposed, self._read(spec.name, key)))

    def _read(self, table: str, key: Item) -> Item | None:
        found = self._backend.get_item(table, key)
        return None if found is None else dict(found.to_json()["Attributes"])

    def finish(self) -> list[ItemWrite]:
        return [
            ItemWrite(spec, before, self._read(spec.name, key), proposed)
            for spec, key, proposed, before in self._pending
        ]


def capture(region: str, operation: str, params: Mapping[str, Any]) -> WriteCapture | None:
    """A capture for a write request; None for anything else or a request moto will refuse."""
    if operation not in WRITE_OPERATIONS:
        return None
    try:
        return WriteCapture(dynamodb_backends[ACCOUNT][region], operation, params)
    except Exception:  # a missing table or malformed key: moto answers the call itself
        return None
