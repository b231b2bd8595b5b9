"""The emulator's faster moto TransactWriteItems answers exactly as moto's own does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from emulator.services.dynamodb_transactions import fast_transactions


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="ledger", Item={"pk": {"S": "A"}, "status": {"S": "flagged"}})
        yield client


def _reconcile(client: Any) -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "ledger",
                    "Key": {"pk": {"S": "A"}},
                    "UpdateExpression": "SET #s = :done",
                    "ConditionExpression": "#s = :flagged",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":done": {"S": "reconciled"},
                        ":flagged": {"S": "flagged"},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Update": {
                    "TableName": "ledger",
                    "Key": {"pk": {"S": "DAY"}},
                    "UpdateExpression": "ADD #n :one",
                    "ExpressionAttributeNames": {"#n": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )


def _outcome(client: Any) -> tuple[Any, ...]:
    """Apply twice: the second must be cancelled with the old item and change nothing."""
    _reconcile(client)
    with pytest.raises(ClientError) as raised:
        _reconcile(client)
    day = client.get_item(TableName="ledger", Key={"pk": {"S": "DAY"}})["Item"]
    entry = client.get_item(TableName="ledger", Key={"pk": {"S": "A"}})["Item"]
    return (
        raised.value.response["Error"]["Code"],
        raised.value.response.get("CancellationReasons"),
        day,
        entry,
    )


def test_fast_transactions_match_moto(dynamodb: Any) -> None:
    with fast_transactions():
        fast = _outcome(dynamodb)
    dynamodb.delete_item(TableName="ledger", Key={"pk": {"S": "DAY"}})
    dynamodb.put_item(TableName="ledger", Item={"pk": {"S": "A"}, "status": {"S": "flagged"}})
    assert fast == _outcome(dynamodb)
    assert fast[0] == "TransactionCanceledException"
    assert fast[2]["count"] == {"N": "1"}  # the cancelled second ADD did not apply
