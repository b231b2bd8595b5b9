"""moto's TransactWriteItems without its whole-table copies.

moto backs up every table a transaction touches with `copy.deepcopy` before applying it
(to roll back on failure). The LateDataReconciler's reconcile step is one transaction
per late record against a ledger that grows by one entry per record, so 10,000 events
cost O(n^2) copying: minutes of CPU and, in one run, 18 GB of memory; the measured
Lambda durations (and so the GB-seconds billed) would be moto's copying, not the handler.

Here every condition of the transaction is evaluated first against the current items
(as DynamoDB does: all conditions before any write). If one fails, the transaction is
cancelled exactly as moto cancels it, without writing anything; if all hold, moto's own
code applies the writes with the table backup skipped. Anything unusual (a missing
table, two operations on one item, an unknown operation, more items than a transaction
may hold) goes through moto unchanged. What DynamoDB bills is unaffected: only how long
moto takes. Applied while an emulator is open (`patches`), next to the UpdateItem fast
path in `dynamodb_updates`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import types
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import ConditionalCheckFailed, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_LOCK = threading.Lock()
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})
Errors = list[tuple[str | None, str | None, Any]]


def _deepcopy_except_tables(value: Any, memo: Any = None) -> Any:
    """`copy.deepcopy`, but a Table is returned as is (the skipped backup)."""
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_NO_TABLE_BACKUP = types.SimpleNamespace(deepcopy=_deepcopy_except_tables)


def precheck(backend: DynamoDBBackend, items: list[dict[str, Any]]) -> Errors | None:
    """Per-operation outcome of every condition (moto's error tuples), or None to defer."""
    errors: Errors = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        if len(item) != 1:
            return None
        operation, request = next(iter(item.items()))
        if operation not in _OPERATIONS:
            return None
        try:
            table = backend.get_table(request["TableName"])
            if operation == "Put":
                key = {table.hash_key_attr: request["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = request["Item"][table.range_key_attr]
            else:
                key = request["Key"]
            marker = (request["TableName"], json.dumps(key, sort_keys=True))
            if marker in seen:
                return None
            seen.add(marker)
            current = backend.get_item(request["TableName"], key)
            expression = request.get("ConditionExpression")
            if expression is None:
                errors.append((None, None, None))
                continue
            condition = get_filter_expression(
                expression,
                request.get("ExpressionAttributeNames"),
                request.get("ExpressionAttributeValues"),
            )
            holds = condition.expr(current)
        except Exception:  # let moto raise whatever it raises for this request
            return None
        if holds:
            errors.append((None, None, None))
            continue
        old = None
        if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        errors.append(("ConditionalCheckFailed", str(ConditionalCheckFailed().message), old))
    return errors


def patches() -> list[AbstractContextManager[Any]]:
    """The fast TransactWriteItems, as the engine's other moto patches are given."""
    return [fast_transactions()]


@contextlib.contextmanager
def fast_transactions() -> Iterator[None]:
    """Patch `DynamoDBBackend.transact_write_items` for the duration of the block."""
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: DynamoDBBackend, items: list[dict[str, Any]]) -> None:
        errors = precheck(backend, items) if len(items) <= 100 else None
        if errors is None:
            return original(backend, items)
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        with _LOCK:
            saved = vars(dynamodb_models)["copy"]  # moto's module-level `import copy`
            setattr(dynamodb_models, "copy", _NO_TABLE_BACKUP)  # noqa: B010
            try:
                return original(backend, items)
            finally:
                setattr(dynamodb_models, "copy", saved)  # noqa: B010

    setattr(DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010
    try:
        yield
    finally:
        setattr(DynamoDBBackend, "transact_write_items", original)  # noqa: B010
