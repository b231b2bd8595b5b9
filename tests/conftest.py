"""One harness for the session; each harness run and emulator deploy installs its own mocks."""

from __future__ import annotations

import pytest
from pulumi_harness import PulumiHarness


@pytest.fixture(scope="session")
def pulumi_harness() -> PulumiHarness:
    return PulumiHarness()
