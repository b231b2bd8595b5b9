"""Fixtures for the reconciliation runtime tests: moto ledger/DLQ/bus and a wired runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from reconciliation_support import (
    BUS,
    Harness,
    LateAws,
    create_resources,
    make_clients,
)

from runtime.common import clients
from runtime.common.retry import RetryPolicy
from runtime.reconciliation import handler


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, a fixed region and no real sleeping in retries."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "late-data-test")
    monkeypatch.setattr(handler, "TRANSACT_RETRY", RetryPolicy(max_attempts=4, sleep=no_sleep))
    monkeypatch.setattr(handler, "PUBLISH_RETRY", RetryPolicy(max_attempts=3, sleep=no_sleep))
    monkeypatch.setattr(handler, "DEAD_LETTER_RETRY", RetryPolicy(max_attempts=3, sleep=no_sleep))
    cached_runtime = handler.runtime  # tests replace handler.runtime; clear the real cache
    cached_runtime.cache_clear()
    clients.reset()
    yield
    cached_runtime.cache_clear()
    clients.reset()


def no_sleep(_: float) -> None:
    return None


def _late_aws(bus: str) -> Iterator[LateAws]:
    with mock_aws():
        dynamodb, events, sqs = make_clients()
        dead_letter_url, events_url = create_resources(dynamodb, sqs, events, bus)
        yield LateAws(dynamodb, sqs, events, dead_letter_url, events_url)


@pytest.fixture
def late_aws() -> Iterator[LateAws]:
    yield from _late_aws(BUS)


@pytest.fixture
def harness(late_aws: LateAws, monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(late_aws, monkeypatch, BUS)


@pytest.fixture
def default_bus_harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for aws in _late_aws("default"):
        yield Harness(aws, monkeypatch, "default")
