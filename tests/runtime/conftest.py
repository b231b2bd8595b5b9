"""Fixtures for the Lambda runtime tests: fake credentials, moto resources, a Lambda context."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from validation_support import BUCKET, QUEUE, TABLE, WORK_BUCKET, Aws, FakeLambdaContext

from runtime.common import clients


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a fixed region, so nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    clients.reset()
    yield
    clients.reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A mocked bucket, orders table and dead-letter queue, wired into the handler env."""
    with mock_aws():
        s3 = boto3.client("s3")
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=WORK_BUCKET)  # InspectFile's normalized copies
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queue_url)
        monkeypatch.setenv("WORK_BUCKET", WORK_BUCKET)
        monkeypatch.delenv("PIPELINE_NAME", raising=False)
        yield Aws(s3, dynamodb, sqs, BUCKET, TABLE, queue_url)


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()
