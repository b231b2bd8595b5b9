"""Lazily created, cached boto3 clients.

boto3 costs ~200 ms to import, so nothing here touches it until a handler first needs a
client: importing a handler stays cheap (tests, tooling, init), and each client is built
once per execution environment and reused across invocations.
"""

from __future__ import annotations

import functools
from typing import Any

# Botocore's "standard" mode retries throttling and transient 5xx errors per call; the
# partial-failure retries of batch APIs are handled separately by runtime.common.retry.
_CLIENT_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 5,
    "read_timeout": 30,
    # Above the updaters' default thread pool (16), so concurrent calls reuse connections.
    "max_pool_connections": 32,
}


def client(service: str) -> Any:
    """Return the shared client for `service` (region and credentials from the environment)."""
    return _build(service)


@functools.cache
def _build(service: str) -> Any:
    from botocore.config import Config  # noqa: PLC0415 - deliberately lazy, see docstring

    return _session().client(service, config=Config(**_CLIENT_CONFIG))


@functools.cache
def _session() -> Any:
    """One session for all clients, so service models and credentials are loaded once."""
    import boto3  # noqa: PLC0415 - deliberately lazy, see module docstring

    return boto3.session.Session()


def reset() -> None:
    """Forget cached clients and session (tests switch credentials and mocks between cases)."""
    _build.cache_clear()
    _session.cache_clear()
