"""Fixtures for the consumer tests: the provider schema is inferred once per session."""

from __future__ import annotations

from typing import Any

import pytest
from consumers_support import provider_schema


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    return provider_schema()
