"""Fixtures for the order runtime tests: moto bus/topic/queues/table and a fresh runtime."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from orders_support import FakeLambdaContext, OrdersAws, create_resources, shared_client

from runtime.common import clients
from runtime.common.retry import RetryPolicy
from runtime.orders import handler

OPTIONAL_SETTINGS = (
    "EVENT_SOURCE",
    "ACCEPTED_STATUSES",
    "KNOWN_STATUSES",
    "PREMIUM_FROM_STATUS",
    "PREMIUM_TO_STATUS",
    "STANDARD_MIN_AMOUNT",
    "PREMIUM_MIN_AMOUNT",
    "TEST_EMAIL_DOMAINS",
    "PIPELINE_NAME",
    "POWERTOOLS_IDEMPOTENCY_DISABLED",
)


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real sleeping in retries, and settings/clients rebuilt for every test."""
    no_sleep = RetryPolicy(max_attempts=3, sleep=lambda _: None)
    monkeypatch.setattr(handler, "RETRY", no_sleep)
    monkeypatch.setattr(handler, "PUBLISH_RETRY", no_sleep)
    for name in OPTIONAL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    handler.reset()
    clients.reset()
    yield
    handler.reset()
    clients.reset()


@pytest.fixture
def orders_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[OrdersAws]:
    """Moto resources; the handler gets the shared clients through runtime.common.clients."""
    with mock_aws():
        monkeypatch.setattr(clients, "client", shared_client)
        yield create_resources(shared_client, monkeypatch)


@pytest.fixture
def cold_orders_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[OrdersAws]:
    """Moto resources with nothing shared: the handler builds its own clients, as in Lambda."""
    with mock_aws():
        yield create_resources(boto3.client, monkeypatch)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
