"""Every AWS call made as a role is checked against that role's policies in moto."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_support import LAMBDA_TRUST, allow, policy

from emulator.engine import Emulator
from emulator.iam.actions import UnmappedOperationError
from emulator.iam.guard import Denial, acting_as
from emulator.iam.policies import Principal

TABLE = "guard-orders"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"
ITEM = {"orderId": {"S": "1"}}


@pytest.fixture(scope="module")
def writer(bare: Emulator) -> Principal:
    """A role that may BatchWriteItem to the table, and nothing else."""
    bare.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    iam = bare.client("iam")
    role = iam.create_role(RoleName="guard-writer", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.put_role_policy(
        RoleName="guard-writer",
        PolicyName="write",
        PolicyDocument=policy(allow("dynamodb:BatchWriteItem", TABLE_ARN)),
    )
    return Principal.role(role["Arn"])


def _write(emulator: Emulator) -> Any:
    return emulator.client("dynamodb").batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": ITEM}}]}
    )


def test_an_allowed_call_goes_through(bare: Emulator, writer: Principal) -> None:
    with acting_as(writer):
        _write(bare)
    assert bare.client("dynamodb").get_item(TableName=TABLE, Key=ITEM)["Item"] == ITEM


def test_a_call_without_permission_is_denied_as_aws_would_and_recorded(
    bare: Emulator, writer: Principal
) -> None:
    before = len(bare.guard.denials)
    with acting_as(writer), pytest.raises(ClientError) as denied:
        bare.client("dynamodb").get_item(TableName=TABLE, Key=ITEM)
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: dynamodb:GetItem" in error["Message"]
    assert bare.guard.denials[before:] == [Denial(writer.arn, "dynamodb:GetItem", TABLE_ARN)]


def test_s3_and_sqs_answer_with_their_own_error_code(bare: Emulator, writer: Principal) -> None:
    queue_url = bare.client("sqs").create_queue(QueueName="guard-queue")["QueueUrl"]
    with acting_as(writer), pytest.raises(ClientError) as denied:
        bare.client("sqs").send_message(QueueUrl=queue_url, MessageBody="{}")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_an_explicit_deny_overrides_the_allow(bare: Emulator) -> None:
    iam = bare.client("iam")
    role = iam.create_role(RoleName="guard-denied", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.put_role_policy(
        RoleName="guard-denied",
        PolicyName="write",
        PolicyDocument=policy(allow("dynamodb:BatchWriteItem", "*")),
    )
    managed = iam.create_policy(
        PolicyName="no-orders",
        PolicyDocument=policy({"Effect": "Deny", "Action": "dynamodb:*", "Resource": TABLE_ARN}),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="guard-denied", PolicyArn=managed)
    with acting_as(Principal.role(role["Arn"])), pytest.raises(ClientError, match="explicit deny"):
        _write(bare)


def test_calls_without_a_principal_are_not_checked(bare: Emulator, writer: Principal) -> None:
    with acting_as(None):
        bare.client("dynamodb").describe_table(TableName=TABLE)


def test_calls_from_a_handler_thread_are_checked_as_the_invoking_role(
    bare: Emulator, writer: Principal
) -> None:
    errors: list[BaseException] = []

    def read() -> None:
        try:
            bare.client("dynamodb").get_item(TableName=TABLE, Key=ITEM)
        except ClientError as exc:
            errors.append(exc)

    with acting_as(writer):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert "dynamodb:GetItem" in str(errors[0])


def test_an_unmapped_operation_fails_and_is_reported(bare: Emulator, writer: Principal) -> None:
    with acting_as(writer), pytest.raises(UnmappedOperationError):
        bare.client("dynamodb").list_tables()
    assert any("dynamodb:ListTables" in e.get("message", "") for e in bare.errors)


def test_tls_only_bucket_policies_do_not_block_calls_over_tls(bare: Emulator) -> None:
    s3 = bare.client("s3")
    s3.create_bucket(Bucket="guard-tls-only")
    s3.put_bucket_policy(
        Bucket="guard-tls-only",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            "arn:aws:s3:::guard-tls-only",
                            "arn:aws:s3:::guard-tls-only/*",
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    s3.put_object(Bucket="guard-tls-only", Key="a.json", Body=b"[]")
    assert s3.get_object(Bucket="guard-tls-only", Key="a.json")["Body"].read() == b"[]"
