"""One Pulumi mocks installation for the whole session (the last `set_mocks` wins)."""

from __future__ import annotations

import pytest
from pulumi_harness import PulumiHarness


@pytest.fixture(scope="session")
def pulumi_harness() -> PulumiHarness:
    return PulumiHarness()
