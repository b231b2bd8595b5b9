"""The faster UpdateItem answers exactly as moto (and DynamoDB) would."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.engine import Emulator
from emulator.services.dynamodb_updates import plain_assignments

TABLE = "fast-updates"


@pytest.fixture(scope="module")
def dynamodb(bare: Emulator) -> Any:
    client = bare.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def update(client: Any, key: str, order: str, **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = client.update_item(
        TableName=TABLE,
        Key={"id": {"S": key}},
        UpdateExpression="SET #o = :o, #s = :s",
        ConditionExpression="attribute_not_exists(#o) OR #o < :o",
        ExpressionAttributeNames={"#o": "order", "#s": "status"},
        ExpressionAttributeValues={":o": {"S": order}, ":s": {"S": f"at {order}"}},
        **extra,
    )
    return response


@pytest.mark.parametrize(
    ("expression", "plain"),
    [
        ("SET #a = :a, b=:b", (("#a", ":a"), ("b", ":b"))),
        ("set a = :a", (("a", ":a"),)),
        ("SET a = a + :x", None),
        ("SET #a.b = :v", None),
        ("SET a[0] = :v", None),
        ("SET a = if_not_exists(a, :v)", None),
        ("SET a = :a REMOVE b", None),
        ("REMOVE a", None),
    ],
)
def test_only_plain_assignments_take_the_fast_path(
    expression: str, plain: tuple[tuple[str, str], ...] | None
) -> None:
    assert plain_assignments(expression) == plain


def test_a_conditional_update_creates_then_moves_forward_only(dynamodb: Any) -> None:
    created = update(dynamodb, "a", "2025-01-02", ReturnValues="ALL_NEW")
    assert created["Attributes"] == {
        "id": {"S": "a"},
        "order": {"S": "2025-01-02"},
        "status": {"S": "at 2025-01-02"},
    }
    with pytest.raises(ClientError) as older:
        update(dynamodb, "a", "2025-01-01", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert older.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert older.value.response["Item"]["order"] == {"S": "2025-01-02"}
    newer = update(dynamodb, "a", "2025-01-03", ReturnValues="UPDATED_OLD")
    assert newer["Attributes"] == {"order": {"S": "2025-01-02"}, "status": {"S": "at 2025-01-02"}}
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "a"}})["Item"]
    assert item["status"] == {"S": "at 2025-01-03"}


def test_what_dynamodb_refuses_is_still_refused(dynamodb: Any) -> None:
    with pytest.raises(ClientError, match="key"):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"id": {"S": "b"}},
            UpdateExpression="SET id = :v",
            ExpressionAttributeValues={":v": {"S": "c"}},
        )
    for wrong in (
        {"UpdateExpression": "SET a = :missing"},
        {"UpdateExpression": "SET #m = :v", "ExpressionAttributeNames": {"#x": "x"}},
        {"UpdateExpression": "SET a = :v, a = :v"},
    ):
        with pytest.raises(ClientError, match="ValidationException"):
            dynamodb.update_item(
                TableName=TABLE,
                Key={"id": {"S": "b"}},
                ExpressionAttributeValues={":v": {"S": "c"}},
                **wrong,
            )
    with pytest.raises(ClientError, match="Item size to update has exceeded"):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"id": {"S": "b"}},
            UpdateExpression="SET big = :v",
            ExpressionAttributeValues={":v": {"S": "x" * 410_000}},
        )
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "b"}})


def test_other_expressions_still_go_through_moto(dynamodb: Any) -> None:
    for _ in range(2):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"id": {"S": "counter"}},
            UpdateExpression="SET n = if_not_exists(n, :zero) + :one",
            ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}},
        )
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "counter"}})["Item"]
    assert item["n"] == {"N": "2"}
