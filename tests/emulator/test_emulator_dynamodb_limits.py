"""DynamoDB's limits hold in the emulator and fail with AWS's error code and message.

moto alone stores each of these (a 40-level map, 1E+126, 39 digits, an ADD leaving the
range, 26 batch writes, an item a transaction holds); each test here fails without
`emulator.services.dynamodb_limits`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from emulator.engine import Emulator
from emulator.program import ACCOUNT, REGION
from emulator.services import dynamodb_limits as limits
from orderflow.aws_facts import (
    DYNAMODB_BATCH_WRITE_MAX_ITEMS,
    DYNAMODB_MAX_ITEM_BYTES,
    DYNAMODB_MAX_NESTING_DEPTH,
    DYNAMODB_MAX_PARTITION_KEY_BYTES,
    DYNAMODB_MAX_SORT_KEY_BYTES,
    DYNAMODB_NUMBER_MAX_MAGNITUDE,
    DYNAMODB_PARTITION_MAX_WCU_PER_SECOND,
)

TABLE = "limits"
SORTED = "limits-sorted"
STREAMED = "limits-streamed"


@pytest.fixture(scope="module")
def dynamodb(bare: Emulator) -> Any:
    client = bare.client("dynamodb")
    for name, sort in ((TABLE, False), (SORTED, True), (STREAMED, False)):
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
        if sort:
            schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
            attributes.append({"AttributeName": "sk", "AttributeType": "S"})
        extra: dict[str, Any] = {}
        if name == STREAMED:
            extra["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
        client.create_table(
            TableName=name,
            KeySchema=schema,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
    return client


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels):
        value = {"M": {"next": value}}
    return value


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def stored(client: Any, key: str, table: str = TABLE) -> dict[str, Any] | None:
    item: dict[str, Any] | None = client.get_item(TableName=table, Key={"pk": {"S": key}}).get(
        "Item"
    )
    return item


def backend() -> DynamoDBBackend:
    return dynamodb_backends[ACCOUNT][REGION]


# --- measuring, as AWS's "item sizes and formats" page counts ---------------------------------
@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "héllo"}, 6),
        ({"N": "123"}, 3),  # 3 significant digits: 2 bytes + 1
        ({"N": "0012300"}, 3),  # leading and trailing zeros trimmed
        ({"N": "-1.5"}, 2),
        ({"B": "AAEC"}, 3),  # the raw bytes, not the base64 text
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"L": []}, 3),
        ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + (2 + 1) + (2 + 1)),
        ({"M": {"k": {"S": "ab"}}}, 3 + 1 + 2 + 1),
        ({"SS": ["a", "bc"]}, 3),
    ],
)
def test_values_are_sized_as_aws_documents(value: dict[str, Any], size: int) -> None:
    assert limits.value_size(value) == size


def test_nesting_depth_counts_levels_of_lists_and_maps() -> None:
    assert limits.nesting_depth({"S": "x"}) == 0
    assert limits.nesting_depth({"M": {}}) == 1
    assert limits.nesting_depth(nested(40)) == 40
    assert limits.nesting_depth({"L": [{"S": "x"}, {"L": [{"M": {}}]}]}) == 3


# --- PutItem ---------------------------------------------------------------------------------
def test_an_item_over_400_kb_is_refused_by_aws_size_not_by_its_json(dynamodb: Any) -> None:
    limit = DYNAMODB_MAX_ITEM_BYTES.value
    name_and_key = len("pk") + len("big-ok") + len("blob")
    fits = {"pk": {"S": "big-ok"}, "blob": {"S": "x" * (limit - name_and_key)}}
    assert limits.item_size(fits) == limit
    dynamodb.put_item(TableName=TABLE, Item=fits)
    over = {"pk": {"S": "big-no"}, "blob": {"L": [{"S": "x" * (limit // 2)}] * 2}}
    with pytest.raises(ClientError) as exc:
        dynamodb.put_item(TableName=TABLE, Item=over)
    assert error(exc) == ("ValidationException", limits.ITEM_TOO_LARGE)
    assert stored(dynamodb, "big-no") is None


def test_nesting_beyond_32_levels_is_refused(dynamodb: Any) -> None:
    depth = DYNAMODB_MAX_NESTING_DEPTH.value
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "deep-ok"}, "doc": nested(depth)})
    with pytest.raises(ClientError) as exc:
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "deep-no"}, "doc": nested(40)})
    assert error(exc) == ("ValidationException", limits.NESTING_TOO_DEEP)
    assert stored(dynamodb, "deep-no") is None


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("1E+126", limits.NUMBER_OVERFLOW),
        ("-1E+126", limits.NUMBER_OVERFLOW),
        ("9.99999999999999999999999999999999999991E+125", limits.TOO_MANY_DIGITS),
        ("1E-131", limits.NUMBER_UNDERFLOW),
        ("1" * 39, limits.TOO_MANY_DIGITS),
        ("0." + "1" * 39, limits.TOO_MANY_DIGITS),
    ],
)
def test_numbers_outside_range_or_precision_are_refused(
    dynamodb: Any, number: str, message: str
) -> None:
    for item in (
        {"pk": {"S": "n"}, "v": {"N": number}},
        {"pk": {"S": "n"}, "v": {"M": {"deep": {"NS": ["1", number]}}}},
    ):
        with pytest.raises(ClientError) as exc:
            dynamodb.put_item(TableName=TABLE, Item=item)
        assert error(exc) == ("ValidationException", message)


def test_numbers_at_the_edges_are_stored(dynamodb: Any) -> None:
    for number in (DYNAMODB_NUMBER_MAX_MAGNITUDE.value, "1E-130", "1" * 38, "100" + "0" * 100):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "edge"}, "v": {"N": number}})
        assert Decimal(stored(dynamodb, "edge")["v"]["N"]) == Decimal(number)  # type: ignore[index]


def test_key_attributes_have_their_own_limits(dynamodb: Any) -> None:
    long_pk = "k" * (DYNAMODB_MAX_PARTITION_KEY_BYTES.value + 1)
    cases = [
        (TABLE, {"pk": {"S": long_pk}}, limits.PARTITION_KEY_TOO_LONG),
        (
            SORTED,
            {"pk": {"S": "a"}, "sk": {"S": "s" * (DYNAMODB_MAX_SORT_KEY_BYTES.value + 1)}},
            limits.SORT_KEY_TOO_LONG,
        ),
    ]
    for table, item, message in cases:
        with pytest.raises(ClientError) as exc:
            dynamodb.put_item(TableName=table, Item=item)
        assert error(exc) == ("ValidationException", message)
    with pytest.raises(ClientError) as exc:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": ""}},
            UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}},
        )
    assert error(exc) == (
        "ValidationException",
        limits.EMPTY_KEY.format(kind="string", name="pk"),
    )


# --- UpdateItem: the result is what is checked -----------------------------------------------
def add(client: Any, key: str, amount: str, table: str = TABLE) -> None:
    client.update_item(
        TableName=table,
        Key={"pk": {"S": key}},
        UpdateExpression="ADD #total :amount",
        ExpressionAttributeNames={"#total": "total"},
        ExpressionAttributeValues={":amount": {"N": amount}},
    )


def test_an_add_that_leaves_the_range_fails_and_changes_nothing(dynamodb: Any) -> None:
    add(dynamodb, "day", "9E+125")
    with pytest.raises(ClientError) as exc:
        add(dynamodb, "day", "9E+125")
    assert error(exc) == ("ValidationException", limits.NUMBER_OVERFLOW)
    assert Decimal(stored(dynamodb, "day")["total"]["N"]) == Decimal("9E+125")  # type: ignore[index]


def test_a_failed_update_of_a_missing_item_creates_nothing(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as exc:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "never"}},
            UpdateExpression="SET doc = :doc",
            ExpressionAttributeValues={":doc": nested(33)},
        )
    assert error(exc) == ("ValidationException", limits.NESTING_TOO_DEEP)
    assert stored(dynamodb, "never") is None


def test_an_update_growing_an_item_past_400_kb_fails(dynamodb: Any) -> None:
    half = {"S": "x" * (DYNAMODB_MAX_ITEM_BYTES.value // 2)}
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "grow"}, "a": half})
    with pytest.raises(ClientError) as exc:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "grow"}},
            UpdateExpression="SET b = :b",
            ExpressionAttributeValues={":b": half},
        )
    assert error(exc) == ("ValidationException", limits.UPDATE_TOO_LARGE)
    assert set(stored(dynamodb, "grow") or {}) == {"pk", "a"}


def test_a_refused_update_leaves_no_stream_record(dynamodb: Any) -> None:
    table = backend().get_table(STREAMED)
    assert table.stream_shard is not None
    add(dynamodb, "s", "1", table=STREAMED)
    records = len(table.stream_shard.items)
    with pytest.raises(ClientError):
        add(dynamodb, "s", "1" * 39, table=STREAMED)
    assert len(table.stream_shard.items) == records
    add(dynamodb, "s", "1", table=STREAMED)
    assert len(table.stream_shard.items) == records + 1


# --- BatchWriteItem ----------------------------------------------------------------------------
def test_batch_write_takes_at_most_25_requests(dynamodb: Any) -> None:
    count = DYNAMODB_BATCH_WRITE_MAX_ITEMS.value + 1
    requests = [{"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}} for i in range(count)]
    with pytest.raises(ClientError) as exc:
        dynamodb.batch_write_item(RequestItems={TABLE: requests})
    assert error(exc) == (
        "ValidationException",
        limits.BATCH_TOO_LARGE.format(table=TABLE, count=count),
    )
    assert stored(dynamodb, "b0") is None


def test_one_bad_item_refuses_the_whole_batch(dynamodb: Any) -> None:
    requests = [
        {"PutRequest": {"Item": {"pk": {"S": "ok-1"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "bad"}, "doc": nested(40)}}},
    ]
    with pytest.raises(ClientError) as exc:
        dynamodb.batch_write_item(RequestItems={TABLE: requests})
    assert error(exc) == ("ValidationException", limits.NESTING_TOO_DEEP)
    assert stored(dynamodb, "ok-1") is None


# --- TransactWriteItems ------------------------------------------------------------------------
def ledger_transaction(key: str, day: str, amount: str) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": key}},
                "UpdateExpression": "SET #s = :done",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":done": {"S": "done"}},
            }
        },
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": day}},
                "UpdateExpression": "ADD #total :amount",
                "ExpressionAttributeNames": {"#total": "total"},
                "ExpressionAttributeValues": {":amount": {"N": amount}},
            }
        },
    ]


def test_a_transaction_whose_result_breaks_a_rule_is_cancelled_whole(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=ledger_transaction("e1", "t-day", "9E+125"))
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=ledger_transaction("e2", "t-day", "9E+125"))
    assert exc.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ValidationError"]
    assert reasons[1]["Message"] == limits.NUMBER_OVERFLOW
    assert stored(dynamodb, "e2") is None  # the first update was undone
    assert Decimal(stored(dynamodb, "t-day")["total"]["N"]) == Decimal("9E+125")  # type: ignore[index]


def test_a_transaction_over_4_mb_is_refused(dynamodb: Any) -> None:
    blob = {"S": "x" * (DYNAMODB_MAX_ITEM_BYTES.value - 100)}
    items = [
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": f"tx{i}"}, "blob": blob}}}
        for i in range(11)
    ]
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=items)
    assert error(exc) == ("ValidationException", limits.TRANSACTION_TOO_LARGE)
    assert stored(dynamodb, "tx0") is None


def test_transactions_take_at_most_100_items(dynamodb: Any) -> None:
    items = [{"Put": {"TableName": TABLE, "Item": {"pk": {"S": f"many{i}"}}}} for i in range(101)]
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=items)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 100" in exc.value.response["Error"]["Message"]


@pytest.fixture
def held(bare: Emulator, dynamodb: Any) -> Iterator[None]:
    """Another transaction in flight holding the item `busy`."""
    with bare.dynamodb_limits.locks.hold(backend().get_table(TABLE), {"pk": {"S": "busy"}}):
        yield


@pytest.mark.usefixtures("held")
def test_a_transaction_touching_an_item_another_holds_conflicts(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=ledger_transaction("free", "busy", "1"))
    assert exc.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "TransactionConflict"]
    assert reasons[1]["Message"] == limits.TRANSACTION_CONFLICT
    assert stored(dynamodb, "free") is None


@pytest.mark.usefixtures("held")
def test_a_single_write_to_an_item_a_transaction_holds_conflicts(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as exc:
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "busy"}})
    assert error(exc) == ("TransactionConflictException", limits.TRANSACTION_CONFLICT)


def test_two_concurrent_transactions_on_one_item_conflict(bare: Emulator, dynamodb: Any) -> None:
    """A transaction paused mid-flight on a thread holds its items against a second one."""
    inside, release = threading.Event(), threading.Event()
    original = DynamoDBBackend.update_item
    outcome: list[BaseException | None] = []

    def slow_update(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(5)
        return original(*args, **kwargs)

    def first() -> None:
        try:
            dynamodb.transact_write_items(TransactItems=ledger_transaction("c1", "c-day", "1"))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    DynamoDBBackend.update_item = slow_update  # type: ignore[method-assign]
    try:
        thread = threading.Thread(target=first, name="first")
        thread.start()
        assert inside.wait(5)
        with pytest.raises(ClientError) as exc:
            dynamodb.transact_write_items(TransactItems=ledger_transaction("c2", "c-day", "1"))
        release.set()
        thread.join(5)
    finally:
        DynamoDBBackend.update_item = original  # type: ignore[method-assign]
    codes = [r["Code"] for r in exc.value.response["CancellationReasons"]]
    assert codes == ["None", "TransactionConflict"]
    assert outcome == [None]
    assert stored(dynamodb, "c-day")["total"] == {"N": "1"}  # type: ignore[index]


# --- throttling (off unless asked for) -----------------------------------------------------------
def test_writes_beyond_a_partitions_throughput_are_throttled_when_enabled(
    bare: Emulator, dynamodb: Any
) -> None:
    throttle = bare.dynamodb_limits.throttle
    assert not throttle.enabled
    item = {"pk": {"S": "hot"}, "blob": {"S": "x" * 10_000}}  # 10 write units
    per_second = DYNAMODB_PARTITION_MAX_WCU_PER_SECOND.value // limits.write_units(item)
    throttle.enabled = True
    frozen = bare.clock.now()
    throttle.clock = lambda: frozen
    no_retries = Config(retries={"mode": "standard", "max_attempts": 1})
    once = boto3.client("dynamodb", region_name=REGION, config=no_retries)
    try:
        for _ in range(per_second):
            dynamodb.put_item(TableName=TABLE, Item=item)
        with pytest.raises(ClientError) as exc:
            once.put_item(TableName=TABLE, Item=item)
        assert error(exc) == (
            "ProvisionedThroughputExceededException",
            limits.THROTTLED_ON_DEMAND,
        )
        throttle.clock = lambda: frozen + 1
        dynamodb.put_item(TableName=TABLE, Item=item)  # the next second has room again
    finally:
        throttle.enabled = False
        throttle.clock = bare.clock.now


def test_throttled_batch_entries_come_back_unprocessed(bare: Emulator, dynamodb: Any) -> None:
    """BatchWriteItem does not fail for throttling: what was refused is UnprocessedItems."""
    throttle = bare.dynamodb_limits.throttle
    item = {"pk": {"S": "hot-batch"}, "blob": {"S": "x" * 100_000}}  # 98 units each
    frozen = bare.clock.now() + 100  # a second nothing else has written in
    fitting = DYNAMODB_PARTITION_MAX_WCU_PER_SECOND.value // limits.write_units(item)
    requests = [
        {"PutRequest": {"Item": {**item, "pk": {"S": f"hot-batch-{i}"}}}}
        for i in range(fitting + 2)
    ]
    throttle.enabled = True
    throttle.clock = lambda: frozen
    try:
        # Every key its own partition, the table under on-demand's rate: all written.
        response = dynamodb.batch_write_item(RequestItems={TABLE: requests})
        assert response["UnprocessedItems"] == {}
        hot = [{"PutRequest": {"Item": {**item, "pk": {"S": "one-hot-key"}}}}]
        for _ in range(fitting):
            dynamodb.batch_write_item(RequestItems={TABLE: hot})
        with pytest.raises(ClientError) as exc:  # all of a batch throttled: an error
            once().batch_write_item(RequestItems={TABLE: hot})
        assert exc.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        mixed = [*hot, {"PutRequest": {"Item": {"pk": {"S": "cool-key"}}}}]
        response = dynamodb.batch_write_item(RequestItems={TABLE: mixed})
        assert response["UnprocessedItems"] == {TABLE: hot}
        assert stored(dynamodb, "cool-key") is not None
    finally:
        throttle.enabled = False
        throttle.clock = bare.clock.now


def once() -> Any:
    """A client that does not retry (botocore retries throttling errors on its own)."""
    no_retries = Config(retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("dynamodb", region_name=REGION, config=no_retries)
