"""The meter bills what AWS bills: each rule below was missing once and is pinned here.

Workload calls go through the emulator's IAM guard as a role, as Lambda code's calls do,
so the meter sees them exactly as it sees a pipeline's.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_support import LAMBDA_TRUST, allow, policy

from emulator.engine import Emulator
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.lambdas.runtime import FunctionLog
from emulator.metering import Meter, express_billed_seconds
from emulator.states import ExecutionResult

TABLE = "meter-ledger"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
KB = 1024


@pytest.fixture(scope="module")
def worker(bare: Emulator) -> Principal:
    """A role that may use DynamoDB, and the ledger table with a status index."""
    bare.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    iam = bare.client("iam")
    role = iam.create_role(RoleName="meter-worker", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.put_role_policy(
        RoleName="meter-worker",
        PolicyName="all",
        PolicyDocument=policy(allow("dynamodb:*", "*")),
    )
    return Principal.role(role["Arn"])


@pytest.fixture
def meter(bare: Emulator) -> Meter:
    """The emulator's meter, emptied for one test."""
    for counter in vars(bare.meter).values():
        counter.clear()
    return bare.meter


def _call(bare: Emulator, worker: Principal, operation: str, **params: Any) -> Any:
    with acting_as(worker):
        return getattr(bare.client("dynamodb"), operation)(**params)


def _item(pk: str, *, padding: int = 0, status: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}}
    if padding:
        item["data"] = {"S": "x" * padding}
    if status is not None:
        item["status"] = {"S": status}
    return item


def _units(meter: Meter) -> tuple[int, int]:
    return meter.dynamodb_write_units[TABLE], meter.dynamodb_index_write_units[f"{TABLE}/by-status"]


def test_a_failed_conditional_put_is_billed(
    bare: Emulator, worker: Principal, meter: Meter
) -> None:
    _call(bare, worker, "put_item", TableName=TABLE, Item=_item("claimed", padding=2 * KB))
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        _call(
            bare,
            worker,
            "put_item",
            TableName=TABLE,
            Item=_item("claimed"),
            ConditionExpression="attribute_not_exists(pk)",
        )
    # 3 units for the first put (2 KB + key), 3 for the refused one: sized by the
    # existing item that stopped it, not by the small item it tried to write.
    assert meter.dynamodb_write_units[TABLE] == 3 + 3
    assert meter.dynamodb_failed_conditional_writes[TABLE] == 1


def test_an_update_is_billed_by_the_larger_image(
    bare: Emulator, worker: Principal, meter: Meter
) -> None:
    _call(bare, worker, "put_item", TableName=TABLE, Item=_item("big", padding=3 * KB))
    before = meter.dynamodb_write_units[TABLE]
    _call(  # changes one small attribute, returns nothing: the item is still 3 KB+
        bare,
        worker,
        "update_item",
        TableName=TABLE,
        Key={"pk": {"S": "big"}},
        UpdateExpression="SET n = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert meter.dynamodb_write_units[TABLE] - before == 4
    _call(bare, worker, "delete_item", TableName=TABLE, Key={"pk": {"S": "big"}})
    assert meter.dynamodb_write_units[TABLE] - before == 4 + 4  # a delete: the item deleted


def test_writes_that_touch_an_index_entry_pay_index_units(
    bare: Emulator, worker: Principal, meter: Meter
) -> None:
    key = {"pk": {"S": "indexed"}}
    _call(bare, worker, "put_item", TableName=TABLE, Item=_item("indexed"))
    assert _units(meter) == (1, 0)  # no status: not in the index
    set_status = "SET #s = :s"
    names = {"#s": "status"}

    def update(expression: str, values: dict[str, Any] | None = None) -> None:
        extra = {"ExpressionAttributeValues": values} if values else {}
        _call(
            bare,
            worker,
            "update_item",
            TableName=TABLE,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            **extra,
        )

    update(set_status, {":s": {"S": "late"}})  # enters the index: one index write
    assert _units(meter) == (2, 1)
    update(set_status, {":s": {"S": "reconciled"}})  # index key changed: delete + put
    assert _units(meter) == (3, 3)
    update("SET #s = :s, note = :n", {":s": {"S": "reconciled"}, ":n": {"S": "x"}})
    assert _units(meter) == (4, 4)  # a projected attribute changed: one index write
    update("REMOVE #s")  # leaves the index: one index write
    assert _units(meter) == (5, 5)


def test_transactions_bill_twice_the_item_units(
    bare: Emulator, worker: Principal, meter: Meter
) -> None:
    _call(bare, worker, "put_item", TableName=TABLE, Item=_item("tx", padding=KB + 100))
    before = meter.dynamodb_write_units[TABLE]

    def reconcile() -> None:
        _call(
            bare,
            worker,
            "transact_write_items",
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "tx"}},
                        "UpdateExpression": "SET done = :t",
                        "ConditionExpression": "attribute_not_exists(done)",
                        "ExpressionAttributeValues": {":t": {"BOOL": True}},
                    }
                }
            ],
        )

    reconcile()
    assert meter.dynamodb_write_units[TABLE] - before == 2 * 2  # 1.1 KB item: 2 units, x2
    with pytest.raises(ClientError, match="TransactionCanceled"):
        reconcile()
    assert meter.dynamodb_write_units[TABLE] - before == 2 * 2 + 2 * 2
    assert meter.dynamodb_failed_conditional_writes[TABLE] == 1


def test_express_duration_is_billed_in_started_100_ms() -> None:
    assert express_billed_seconds(0.0) == pytest.approx(0.1)
    assert express_billed_seconds(0.1) == pytest.approx(0.1)
    assert express_billed_seconds(0.101) == pytest.approx(0.2)
    assert express_billed_seconds(2.25) == pytest.approx(2.3)
    meter = Meter()
    meter.execution(MACHINE, "EXPRESS", _result("e", 0, [], virtual_seconds=0.25))
    assert meter.express_gb_seconds[MACHINE] == pytest.approx(64 / 1024 * 0.3)


def test_each_distributed_map_child_start_is_a_transition_of_the_parent() -> None:
    express = [_result(f"e{i}", 2, [], express=True) for i in range(3)]
    file_child = _result("file", 3, express)  # a Standard child with 3 Express children
    parent = _result("top", 4, [file_child, _result("marker", 3, [])])
    meter = Meter()
    meter.execution(MACHINE, "STANDARD", parent)
    # Own states (4 + 3 + 3) and one per child started (2 + 3); Express children bill
    # requests, not their states.
    assert meter.state_transitions[MACHINE] == 4 + 3 + 3 + 2 + 3
    assert meter.express_requests[MACHINE] == 3


def test_what_a_function_logs_is_metered_as_ingested_bytes() -> None:
    log = FunctionLog()
    log.write("héllo\n")  # 7 bytes in UTF-8
    assert log.bytes_written == 7
    meter = Meter()
    meter.lambda_invocation("f", 128, 1, False, log_group="/aws/lambda/f", log_bytes=7)
    assert meter.cloudwatch_log_bytes["/aws/lambda/f"] == 7


def _result(
    name: str,
    transitions: int,
    children: list[ExecutionResult],
    *,
    express: bool = False,
    virtual_seconds: float = 0.0,
) -> ExecutionResult:
    kind = "express" if express else "execution"
    return ExecutionResult(
        name=name,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:{kind}:m:{name}",
        status="SUCCEEDED",
        input={},
        output={},
        error=None,
        cause=None,
        history=[],
        state_transitions=transitions,
        children=children,
        virtual_seconds=virtual_seconds,
    )
