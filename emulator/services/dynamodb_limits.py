"""DynamoDB's item and request rules that moto does not hold, on every write path.

moto sizes items its own way (a number by its text, a map without overhead), checks the
number range only with floats and only on PutItem, never checks nesting, the precision of
a number, an UpdateItem's resulting numbers, BatchWriteItem's 25 requests, a
transaction's 4 MB, or two transactions touching one item. While an emulator is open:

- every item a PutItem, BatchWriteItem, TransactWriteItems or UpdateItem would store is
  measured as AWS measures it (`item_size`, from the "item sizes and formats" page) and
  checked for size, nesting depth, number range and precision, and key attribute sizes,
  with the error code and message AWS returns. A request is checked before anything is
  written; an UpdateItem's result is checked before it is kept (a rejected update leaves
  the item, and the table's stream, as they were). Inside a transaction a rejected result
  cancels it with the `ValidationError` reason, as AWS does.
- `TransactionLocks` holds the items of every transaction in flight: another transaction
  touching one of them is cancelled with `TransactionConflict`, a single-item write gets
  `TransactionConflictException`. Calls are serial unless something runs them on threads
  (the interleaving scheduler does); `TransactionLocks.hold` lets a test stand in for a
  transaction in flight.
- `WriteThrottle` (off unless enabled, for load tests) refuses writes beyond a table's
  throughput (provisioned WCU, or on-demand's initial rate) or one partition key's
  1,000 WCU/s with `ProvisionedThroughputExceededException`, on the emulator's clock.

Every limit is read from `orderflow.aws_facts`.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import operator
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any, Final, cast
from unittest import mock

from moto.dynamodb.exceptions import (
    DynamodbException,
    MockValidationException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from orderflow.aws_facts import (
    DYNAMODB_BATCH_WRITE_MAX_ITEMS,
    DYNAMODB_ITEM_SIZE_BYTES,
    DYNAMODB_MAX_ITEM_BYTES,
    DYNAMODB_MAX_NESTING_DEPTH,
    DYNAMODB_MAX_PARTITION_KEY_BYTES,
    DYNAMODB_MAX_SORT_KEY_BYTES,
    DYNAMODB_NUMBER_MAX_DIGITS,
    DYNAMODB_NUMBER_MAX_MAGNITUDE,
    DYNAMODB_NUMBER_MIN_MAGNITUDE,
    DYNAMODB_ON_DEMAND_INITIAL_WRU_PER_SECOND,
    DYNAMODB_PARTITION_MAX_WCU_PER_SECOND,
    DYNAMODB_TRANSACT_MAX_BYTES,
    DYNAMODB_TRANSACTION_UNIT_FACTOR,
    DYNAMODB_WRITE_UNIT_BYTES,
)

AttributeValue = Mapping[str, Any]
WireItem = Mapping[str, AttributeValue]

MAX_ITEM_BYTES: Final = DYNAMODB_MAX_ITEM_BYTES.value
_SIZES: Final = DYNAMODB_ITEM_SIZE_BYTES.value
MAX_DEPTH: Final = DYNAMODB_MAX_NESTING_DEPTH.value
MAX_DIGITS: Final = DYNAMODB_NUMBER_MAX_DIGITS.value
MAX_MAGNITUDE: Final = Decimal(DYNAMODB_NUMBER_MAX_MAGNITUDE.value)
MIN_MAGNITUDE: Final = Decimal(DYNAMODB_NUMBER_MIN_MAGNITUDE.value)
MAX_BATCH_WRITES: Final = DYNAMODB_BATCH_WRITE_MAX_ITEMS.value
MAX_TRANSACTION_BYTES: Final = DYNAMODB_TRANSACT_MAX_BYTES.value

# AWS's messages (DynamoDB API reference: PutItem/UpdateItem errors and the
# TransactWriteItems cancellation reasons).
ITEM_TOO_LARGE: Final = "Item size has exceeded the maximum allowed size"
UPDATE_TOO_LARGE: Final = "Item size to update has exceeded the maximum allowed size"
NESTING_TOO_DEEP: Final = "Nesting Levels have exceeded supported limits"
NUMBER_OVERFLOW: Final = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
NUMBER_UNDERFLOW: Final = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
TOO_MANY_DIGITS: Final = (
    f"Attempting to store more than {MAX_DIGITS} significant digits in a Number"
)
EMPTY_KEY: Final = (
    "One or more parameter values are not valid. The AttributeValue for a key attribute "
    "cannot contain an empty {kind} value. Key: {name}"
)
PARTITION_KEY_TOO_LONG: Final = (
    "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
    f"size limit of{DYNAMODB_MAX_PARTITION_KEY_BYTES.value} bytes"
)
SORT_KEY_TOO_LONG: Final = (
    "One or more parameter values were invalid: Aggregated size of all range keys has "
    f"exceeded the size limit of {DYNAMODB_MAX_SORT_KEY_BYTES.value} bytes"
)
BATCH_TOO_LARGE: Final = (
    "1 validation error detected: Value '{{{table}={count}}}' at 'requestItems' failed to "
    "satisfy constraint: Map value must satisfy constraint: [Member must have length less "
    f"than or equal to {MAX_BATCH_WRITES}, Member must have length greater than or equal to 1]"
)
BATCH_TOTAL_TOO_LARGE: Final = "Too many items requested for the BatchWriteItem call"
TRANSACTION_TOO_LARGE: Final = (
    "Transaction request size has exceeded the maximum allowed size of "
    f"{MAX_TRANSACTION_BYTES} bytes"
)
TRANSACTION_CONFLICT: Final = "Transaction is ongoing for the item"
THROTTLED_PROVISIONED: Final = (
    "The level of configured provisioned throughput for the table was exceeded. Consider "
    "increasing your provisioning level with the UpdateTable API."
)
THROTTLED_ON_DEMAND: Final = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is "
    "automatically scaling your table or index so please try again shortly. If exceptions "
    "persist, check if you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
_PREFIX: Final = "com.amazonaws.dynamodb.v20120810#"
_EXACT: Final = Context(prec=400)  # wide enough for any sum of two in-range numbers


# --- measuring -----------------------------------------------------------------------------
def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _binary(value: Any) -> int:
    """Raw bytes of a binary value (moto holds them base64-encoded, or as bytes)."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(str(value), validate=False))
    except ValueError:
        return len(str(value))


def significant_digits(number: Decimal) -> int:
    """Digits left once leading and trailing zeros are trimmed (0 for zero)."""
    if number.is_zero():
        return 0
    digits = number.as_tuple().digits
    return len("".join(map(str, digits)).strip("0"))


def _number_size(text: str) -> int:
    """A byte per two significant digits, plus one (AWS's item-size rule)."""
    try:
        number = Decimal(str(text).strip())
    except InvalidOperation:
        return _utf8(str(text))
    if not number.is_finite():
        return _utf8(str(text))
    return math.ceil(significant_digits(number) / _SIZES["digits_per_byte"]) + _SIZES["number"]


def _number_size_any(inner: Any) -> int:
    return _number_size(str(inner))


def _binary_any(inner: Any) -> int:
    return _binary(inner)


_SCALAR_SIZES: Final[Mapping[str, Callable[[Any], int]]] = {
    "S": lambda inner: _utf8(str(inner)),
    "N": _number_size_any,
    "B": _binary_any,
    "BOOL": lambda inner: _SIZES["bool_or_null"],
    "NULL": lambda inner: _SIZES["bool_or_null"],
    "SS": lambda inner: sum(_utf8(str(v)) for v in inner),
    "NS": lambda inner: sum(_number_size(v) for v in inner),
    "BS": lambda inner: sum(_binary(v) for v in inner),
}


def value_size(value: AttributeValue) -> int:
    """Bytes of one attribute value, without its name (lists and maps: 3 + 1 per element)."""
    kind, inner = next(iter(value.items()))
    if kind == "L":
        return _SIZES["list_or_map"] + sum(value_size(v) + _SIZES["element"] for v in inner)
    if kind == "M":
        return _SIZES["list_or_map"] + sum(
            _utf8(k) + value_size(v) + _SIZES["element"] for k, v in inner.items()
        )
    measure = _SCALAR_SIZES.get(kind)
    return measure(inner) if measure else _utf8(json.dumps(inner, default=str))


def item_size(item: WireItem) -> int:
    """An item's size as DynamoDB counts it: every attribute name plus its value."""
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def nesting_depth(value: AttributeValue) -> int:
    """Levels of lists and maps inside one value (a scalar is 0, `{"M": {}}` is 1)."""
    deepest = 0
    stack: list[tuple[AttributeValue, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        kind, inner = next(iter(current.items()))
        if kind in {"L", "M"}:
            deepest = max(deepest, depth + 1)
            children = inner if kind == "L" else inner.values()
            stack.extend((child, depth + 1) for child in children)
    return deepest


def number_problem(text: Any) -> str | None:
    """AWS's message for a number DynamoDB cannot hold, or None."""
    try:
        number = Decimal(str(text).strip())
    except InvalidOperation:
        return None  # not a number at all: moto rejects that with AWS's message
    if not number.is_finite() or number.is_zero():
        return None
    if significant_digits(number) > MAX_DIGITS:
        return TOO_MANY_DIGITS
    if number.copy_abs() > MAX_MAGNITUDE:
        return NUMBER_OVERFLOW
    if number.copy_abs() < MIN_MAGNITUDE:
        return NUMBER_UNDERFLOW
    return None


def _values(value: AttributeValue) -> Iterator[tuple[str, Any]]:
    """(type, scalar) of every scalar inside a value, sets' members included."""
    stack = [value]
    while stack:
        kind, inner = next(iter(stack.pop().items()))
        if kind == "L":
            stack.extend(inner)
        elif kind == "M":
            stack.extend(inner.values())
        elif kind in {"SS", "NS", "BS"}:
            yield from ((kind[0], member) for member in inner)
        else:
            yield kind, inner


def item_problem(item: WireItem, *, size_message: str = ITEM_TOO_LARGE) -> str | None:
    """The first rule an item breaks, as AWS words it, or None (size, nesting, numbers)."""
    for value in item.values():
        if nesting_depth(value) > MAX_DEPTH:
            return NESTING_TOO_DEEP
        for kind, scalar in _values(value):
            if kind == "N":
                problem = number_problem(scalar)
                if problem:
                    return problem
    if item_size(item) > MAX_ITEM_BYTES:
        return size_message
    return None


def key_problem(table: Table, key: WireItem) -> str | None:
    """An empty or oversized key attribute (the table's own key; moto checks index keys)."""
    limits: list[tuple[str, int, str]] = [
        (table.hash_key_attr, DYNAMODB_MAX_PARTITION_KEY_BYTES.value, PARTITION_KEY_TOO_LONG),
    ]
    if table.range_key_attr:
        limits.append((table.range_key_attr, DYNAMODB_MAX_SORT_KEY_BYTES.value, SORT_KEY_TOO_LONG))
    for name, limit, message in limits:
        value = key.get(name)
        if not isinstance(value, Mapping) or not value:
            continue
        kind = next(iter(value))
        if kind in {"S", "B"} and value_size(value) == 0:
            return EMPTY_KEY.format(kind="string" if kind == "S" else "binary", name=name)
        if value_size(value) > limit:
            return message
    return None


# --- transactions in flight ------------------------------------------------------------------
ItemId = tuple[str, str]


def item_id(table: Table, key_or_item: WireItem) -> ItemId:
    """(table, key) of the item a request names, from its key or its whole item."""
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    key = {name: key_or_item.get(name) for name in names}
    return table.name, json.dumps(key, sort_keys=True, default=str)


class TransactionConflictException(DynamodbException):
    """A single-item write to an item a transaction in flight holds (AWS's own error)."""

    def __init__(self) -> None:
        super().__init__(_PREFIX + "TransactionConflictException", TRANSACTION_CONFLICT)


class TransactionLocks:
    """The items each transaction in flight holds; a second one touching them conflicts."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held: dict[ItemId, object] = {}

    def acquire(self, owner: object, items: list[ItemId]) -> list[bool]:
        """Hold every item for `owner`, or none: the list says which items conflicted."""
        with self._mutex:
            conflicts = [self._held.get(item, owner) is not owner for item in items]
            if not any(conflicts):
                self._held.update(dict.fromkeys(items, owner))
            return conflicts

    def release(self, owner: object) -> None:
        with self._mutex:
            for item in [i for i, o in self._held.items() if o is owner]:
                del self._held[item]

    def holder(self, item: ItemId) -> object | None:
        with self._mutex:
            return self._held.get(item)

    @contextlib.contextmanager
    def hold(self, table: Table, key: WireItem) -> Iterator[None]:
        """Stand in for a transaction in flight on one item (tests, the scheduler)."""
        owner = object()
        if any(self.acquire(owner, [item_id(table, key)])):
            raise RuntimeError(f"{item_id(table, key)} is already held by a transaction")
        try:
            yield
        finally:
            self.release(owner)


# --- throttling ------------------------------------------------------------------------------
class WriteThrottle:
    """Per-second write units per table and per partition key value; off by default.

    A table's rate is its provisioned WriteCapacityUnits, or on-demand's initial rate;
    one partition key value takes at most the partition limit (a hot key).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.enabled = False
        self._mutex = threading.Lock()
        self._used: dict[tuple[str, str], tuple[int, float]] = {}

    def charge(self, table: Table, item: WireItem, *, units: int) -> None:
        """Count `units` for the table and the item's partition, or refuse the write."""
        if not self.enabled:
            return
        provisioned = int((table.throughput or {}).get("WriteCapacityUnits") or 0)
        on_demand = table.billing_mode == "PAY_PER_REQUEST" or provisioned <= 0
        table_rate = DYNAMODB_ON_DEMAND_INITIAL_WRU_PER_SECOND.value if on_demand else provisioned
        partition = json.dumps(item.get(table.hash_key_attr), sort_keys=True, default=str)
        second = math.floor(self.clock())
        buckets = [
            ((table.name, ""), table_rate),
            ((table.name, partition), DYNAMODB_PARTITION_MAX_WCU_PER_SECOND.value),
        ]
        with self._mutex:
            used = [self._used.get(b, (second, 0.0)) for b, _ in buckets]
            now_used = [u if s == second else 0.0 for s, u in used]
            if any(u + units > rate for u, (_, rate) in zip(now_used, buckets, strict=True)):
                message = THROTTLED_ON_DEMAND if on_demand else THROTTLED_PROVISIONED
                raise DynamodbException(_PREFIX + "ProvisionedThroughputExceededException", message)
            for (bucket, _), u in zip(buckets, now_used, strict=True):
                self._used[bucket] = (second, u + units)


def write_units(item: WireItem | None, *, transactional: bool = False) -> int:
    """Write units for an item of this size (1 KB each, doubled in a transaction)."""
    size = item_size(item) if item else 0
    units = max(1, math.ceil(size / DYNAMODB_WRITE_UNIT_BYTES.value))
    return units * (DYNAMODB_TRANSACTION_UNIT_FACTOR.value if transactional else 1)


# --- the patches ---------------------------------------------------------------------------
class _Invalid(MockValidationException):
    """A ValidationException with AWS's message."""


class _ValidationError(Exception):
    """An update's result broke a rule inside a transaction: moto records the class name."""


_ValidationError.__name__ = "ValidationError"  # the cancellation reason code AWS uses


class _LazyPatch(AbstractContextManager[None]):
    """Replace an attribute on enter, wrapping whatever is there then (other patches too)."""

    def __init__(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        self.owner, self.name, self.make = owner, name, make
        self.saved: Any = None

    def __enter__(self) -> None:
        self.saved = self.owner.__dict__[self.name]
        setattr(self.owner, self.name, self.make(getattr(self.owner, self.name)))

    def __exit__(self, *exc: object) -> None:
        setattr(self.owner, self.name, self.saved)


@dataclass
class _Write:
    """One item a transaction changed: how it was (to undo) and how it is (for the stream)."""

    table: Table
    hash_value: DynamoType
    range_value: DynamoType | None
    before: Item | None
    after: Item | None


@dataclass
class _Transaction:
    """A transaction in flight on this thread: its writes, in order."""

    writes: list[_Write] = field(default_factory=list)


class DynamoDBLimits:
    """The rules above for one emulator: its transaction locks and its throttle."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.locks = TransactionLocks()
        self.throttle = WriteThrottle(clock)
        self._local = threading.local()

    # who is writing -------------------------------------------------------------------
    def _transaction(self) -> _Transaction | None:
        current: _Transaction | None = getattr(self._local, "transaction", None)
        return current

    def _check_single_write(self, table: Table, key: WireItem) -> None:
        holder = self.locks.holder(item_id(table, key))
        if holder is not None and holder is not self._transaction():
            raise TransactionConflictException()

    def _charge(self, table: Table, item: WireItem | None, key: WireItem) -> None:
        """Single-item writes; a transaction is charged as a whole before it starts."""
        batch = getattr(self._local, "batch", False)
        if self.throttle.enabled and self._transaction() is None and not batch:
            self.throttle.charge(table, dict(key), units=write_units(item))

    def _write(self, table: Table, key: WireItem, apply: Callable[[], Any]) -> Any:
        """Run one moto write with the stream held back; keep it only if `apply` succeeds.

        Outside a transaction the stream record is added once the write is kept; inside
        one, the write is logged and the transaction adds every record when it commits.
        """
        hash_value, range_value = _key_values(table, key)
        before = copy.deepcopy(table.get_item(hash_value, range_value))
        shard, table.stream_shard = table.stream_shard, None
        try:
            result = apply()
        except BaseException:
            _restore(table, hash_value, range_value, before)
            raise
        finally:
            table.stream_shard = shard
        after = table.get_item(hash_value, range_value)
        transaction = self._transaction()
        if transaction is not None:
            transaction.writes.append(_Write(table, hash_value, range_value, before, after))
        elif shard is not None and (before is not None or after is not None):
            shard.add(before, after)
        return result

    # patches ------------------------------------------------------------------------------
    def patches(self) -> list[AbstractContextManager[Any]]:
        """Enter after the engine's other DynamoDB patches: these wrap them.

        moto's own item-size check (its measure, at 405,000 bytes) and its float range
        check on numbers are replaced by AWS's rules here; its number arithmetic is made
        exact (it parses `9E+125` with int() and rounds at 28 digits).
        """
        return [
            mock.patch.object(LimitedSizeDict, "__setitem__", dict.__setitem__),
            _LazyPatch(Table, "_validate_number_type", _exact_number_type),
            _LazyPatch(DynamoType, "__add__", _exact_arithmetic(operator.add)),
            _LazyPatch(DynamoType, "__sub__", _exact_arithmetic(operator.sub)),
            _LazyPatch(DynamoHandler, "batch_write_item", self._batch_write_item),
            _LazyPatch(DynamoDBBackend, "put_item", self._put_item),
            _LazyPatch(DynamoDBBackend, "update_item", self._update_item),
            _LazyPatch(DynamoDBBackend, "delete_item", self._delete_item),
            _LazyPatch(DynamoDBBackend, "transact_write_items", self._transact_write_items),
        ]

    def _batch_write_item(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def batch_write_item(handler: DynamoHandler) -> Any:
            """Count the requests and check every item before any is written."""
            requests = handler.body.get("RequestItems") or {}
            for table_name, entries in requests.items():
                if len(entries) > MAX_BATCH_WRITES:
                    raise _Invalid(BATCH_TOO_LARGE.format(table=table_name, count=len(entries)))
            if sum(len(entries) for entries in requests.values()) > MAX_BATCH_WRITES:
                raise _Invalid(BATCH_TOTAL_TOO_LARGE)
            backend = handler.dynamodb_backend
            for table_name, entries in requests.items():
                table = backend.get_table(table_name)
                for entry in entries:
                    put = entry.get("PutRequest")
                    key = put["Item"] if put else (entry.get("DeleteRequest") or {}).get("Key", {})
                    problem = key_problem(table, key) or (
                        item_problem(put["Item"]) if put else None
                    )
                    if problem:
                        raise _Invalid(problem)
            if not self.throttle.enabled:
                return original(handler)
            return self._throttled_batch(handler, original, requests)

        return batch_write_item

    def _throttled_batch(
        self, handler: DynamoHandler, original: Callable[..., Any], requests: dict[str, Any]
    ) -> Any:
        """Throttled entries come back in UnprocessedItems; all of them throttled is an error."""
        accepted: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        refusal: DynamodbException | None = None
        for table_name, entries in requests.items():
            table = handler.dynamodb_backend.get_table(table_name)
            for entry in entries:
                put = entry.get("PutRequest")
                key = put["Item"] if put else entry["DeleteRequest"]["Key"]
                try:
                    units = write_units(put["Item"] if put else None)
                    self.throttle.charge(table, dict(key), units=units)
                    accepted.setdefault(table_name, []).append(entry)
                except DynamodbException as exc:
                    refusal = exc
                    unprocessed.setdefault(table_name, []).append(entry)
        if not accepted and refusal is not None:
            raise refusal
        handler.body["RequestItems"] = accepted
        self._local.batch = True  # charged above, entry by entry
        try:
            result = original(handler)
        finally:
            self._local.batch = False
            handler.body["RequestItems"] = requests
        result.result["UnprocessedItems"] = unprocessed
        return result

    def _put_item(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def put_item(
            backend: DynamoDBBackend,
            table_name: str,
            item_attrs: dict[str, Any],
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            table = backend.get_table(table_name)
            problem = key_problem(table, item_attrs) or item_problem(item_attrs)
            if problem:
                raise _Invalid(problem)
            if table.hash_key_attr not in item_attrs:
                return original(backend, table_name, item_attrs, *args, **kwargs)  # moto's error
            self._check_single_write(table, item_attrs)
            self._charge(table, item_attrs, item_attrs)
            return self._write(
                table,
                item_attrs,
                lambda: original(backend, table_name, item_attrs, *args, **kwargs),
            )

        return put_item

    def _delete_item(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def delete_item(
            backend: DynamoDBBackend,
            table_name: str,
            key: dict[str, Any],
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            table = backend.get_table(table_name)
            problem = key_problem(table, key)
            if problem:
                raise _Invalid(problem)
            if table.hash_key_attr not in key:
                return original(backend, table_name, key, *args, **kwargs)  # moto's error
            self._check_single_write(table, key)
            self._charge(table, None, key)
            return self._write(
                table, key, lambda: original(backend, table_name, key, *args, **kwargs)
            )

        return delete_item

    def _update_item(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def update_item(
            backend: DynamoDBBackend,
            table_name: str,
            key: dict[str, Any],
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            """Apply the update, check what it made, keep it only if AWS would."""
            table = backend.get_table(table_name)
            problem = key_problem(table, key)
            if problem:
                raise _Invalid(problem)
            if table.hash_key_attr not in key:
                return original(backend, table_name, key, *args, **kwargs)  # moto's error
            self._check_single_write(table, key)

            def apply() -> Any:
                item = original(backend, table_name, key, *args, **kwargs)
                after = item.to_json()["Attributes"]
                problem = item_problem(after, size_message=UPDATE_TOO_LARGE)
                if problem is not None:
                    if self._transaction() is not None:
                        raise _ValidationError(problem)
                    raise _Invalid(problem)
                self._charge(table, after, key)
                return item

            return self._write(table, key, apply)

        return update_item

    def _transact_write_items(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def transact_write_items(
            backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
        ) -> Any:
            """Hold every item the transaction names; all its writes commit or none do."""
            size = 0
            named: list[tuple[Table, WireItem]] = []
            for entry in transact_items:
                op = next(iter(entry.values()))
                table = backend.get_table(op["TableName"])
                request = op.get("Item") or op.get("Key") or {}
                named.append((table, request))
                size += item_size(request)
            if size > MAX_TRANSACTION_BYTES:
                raise _Invalid(TRANSACTION_TOO_LARGE)
            transaction = _Transaction()
            conflicts = self.locks.acquire(transaction, [item_id(t, r) for t, r in named])
            if any(conflicts):
                raise TransactionCanceledException(
                    [
                        ("TransactionConflict", TRANSACTION_CONFLICT, None)
                        if c
                        else (None, None, None)
                        for c in conflicts
                    ]
                )
            try:
                self._charge_transaction(named)
                self._local.transaction = transaction
                try:
                    result = original(backend, transact_items)
                except BaseException:
                    for write in reversed(transaction.writes):
                        _restore(write.table, write.hash_value, write.range_value, write.before)
                    raise
                finally:
                    self._local.transaction = None
                for write in transaction.writes:
                    if write.table.stream_shard is not None:
                        write.table.stream_shard.add(write.before, write.after)
                return result
            finally:
                self.locks.release(transaction)

        return transact_write_items

    def _charge_transaction(self, named: list[tuple[Table, WireItem]]) -> None:
        """Charge every item at the transactional rate, or cancel with ThrottlingError."""
        if not self.throttle.enabled:
            return
        reasons: list[tuple[str | None, str | None, Any]] = []
        for table, request in named:
            try:
                units = write_units(request, transactional=True)
                self.throttle.charge(table, dict(request), units=units)
                reasons.append((None, None, None))
            except DynamodbException as exc:
                reasons.append(("ThrottlingError", exc.message, None))
        if any(code for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)


def _exact_number_type(original: Callable[..., Any]) -> Callable[..., Any]:
    def validate(table: Table, value: Any) -> None:
        """A finite decimal string is moto-valid; its range is checked by `number_problem`."""
        if isinstance(value, str) and value == value.strip():
            try:
                if Decimal(value).is_finite():
                    return
            except InvalidOperation:
                pass
        original(table, value)

    return validate


def _exact_arithmetic(
    operation: Callable[[Decimal, Decimal], Decimal],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`SET a = a + :x` and `ADD` on numbers, computed exactly (AWS's range checked after)."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def compute(self: DynamoType, other: DynamoType) -> DynamoType:
            if self.type != "N" or other.type != "N":
                return cast(DynamoType, original(self, other))
            with localcontext(_EXACT):
                result = operation(Decimal(self.value), Decimal(other.value))
            return DynamoType({"N": str(result)})

        return compute

    return make


def _key_values(table: Table, key: Mapping[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    hash_value = DynamoType(key[table.hash_key_attr])
    range_attr = table.range_key_attr
    range_value = DynamoType(key[range_attr]) if range_attr and range_attr in key else None
    return hash_value, range_value


def _restore(
    table: Table, hash_value: DynamoType, range_value: DynamoType | None, snapshot: Item | None
) -> None:
    """Put an item back as it was before a rejected write (or remove one it created)."""
    if range_value is not None:
        partition: dict[DynamoType, Item] = table.items.setdefault(hash_value, {})
        if snapshot is None:
            partition.pop(range_value, None)
        else:
            partition[range_value] = snapshot
    elif snapshot is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = snapshot  # type: ignore[assignment]
