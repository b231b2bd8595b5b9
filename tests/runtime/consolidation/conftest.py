"""Fixtures for the consolidation runtime tests: moto tables, DLQ and fan-out state machine."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import boto3.session
import botocore.session
import pytest
from consolidation_support import (
    ALLOWED_PREFIXES,
    CHARGEBACKS_TABLE,
    CONSOLIDATIONS_TABLE,
    QUEUE,
    STATE_MACHINE,
    ConsolidationAws,
    FakeLambdaContext,
)
from moto import mock_aws

from runtime.common import clients
from runtime.common.retry import RetryPolicy
from runtime.consolidation import handler

ENVIRONMENT = (
    "DYNAMODB_TABLE_NAME",
    "CONSOLIDATIONS_TABLE_NAME",
    "FANOUT_STATE_MACHINE_ARN",
    "DEAD_LETTER_QUEUE_URL",
    "ALLOWED_OUTPUT_PREFIXES",
    "UPDATE_CONCURRENCY",
    "PIPELINE_NAME",
)


_SHARED: list[Any] = []


def _shared_session(**kwargs: Any) -> Any:
    """A boto3 Session over one botocore session for the whole run.

    Each fresh botocore session re-reads the endpoint and service models (~0.1 s per client),
    and runtime.common.clients builds a new one per service after every reset. Sharing the
    core keeps the production code path and makes the moto tests several times faster.
    """
    if not _SHARED:
        _SHARED.append(botocore.session.Session())
    return _REAL_SESSION(botocore_session=_SHARED[0], **kwargs)


_REAL_SESSION = boto3.session.Session


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """No real sleeping in retries (the delays are recorded), and no settings left over."""
    monkeypatch.setattr(boto3.session, "Session", _shared_session)
    delays: list[float] = []
    monkeypatch.setattr(handler, "RETRY", RetryPolicy(max_attempts=4, sleep=delays.append))
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    clients.reset()
    yield delays
    clients.reset()


@pytest.fixture
def slept(fresh_runtime: list[float]) -> list[float]:
    """The backoff delays the handler asked for."""
    return fresh_runtime


def _table(dynamodb: Any, name: str, key: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def cons_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsolidationAws]:
    """Both tables, the DLQ and a trivial fan-out machine (moto records, never runs, it)."""
    with mock_aws():
        session = boto3.session.Session()
        dynamodb = session.client("dynamodb")
        sqs = session.client("sqs")
        stepfunctions = session.client("stepfunctions")
        _table(dynamodb, CHARGEBACKS_TABLE, "chargeback_id")
        _table(dynamodb, CONSOLIDATIONS_TABLE, "consolidation_id")
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        machine = stepfunctions.create_state_machine(
            name=STATE_MACHINE,
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/fanout",
        )["stateMachineArn"]
        monkeypatch.setenv("DYNAMODB_TABLE_NAME", CHARGEBACKS_TABLE)
        monkeypatch.setenv("CONSOLIDATIONS_TABLE_NAME", CONSOLIDATIONS_TABLE)
        monkeypatch.setenv("FANOUT_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", queue_url)
        monkeypatch.setenv("ALLOWED_OUTPUT_PREFIXES", ALLOWED_PREFIXES)
        yield ConsolidationAws(dynamodb, sqs, stepfunctions, queue_url, machine)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The handler's JSON log records so far (a second handler sharing the Logger's formatter)."""
    buffer = io.StringIO()
    extra = logging.StreamHandler(buffer)
    extra.setFormatter(handler.logger.registered_formatter)
    underlying = logging.getLogger(handler.logger.name)
    underlying.addHandler(extra)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    underlying.removeHandler(extra)
