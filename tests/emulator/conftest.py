"""Emulator fixtures: one emulator per test module (deploying takes a couple of seconds).

Only one emulator can be open per process, so every fixture here is module-scoped and
a module uses one of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_support import ROOT

from emulator.engine import Emulator


@pytest.fixture(scope="module")
def dev() -> Iterator[Emulator]:
    """The dev stack deployed into an emulator."""
    with Emulator() as emulator:
        emulator.deploy(ROOT, "dev")
        yield emulator


@pytest.fixture(scope="module")
def bare() -> Iterator[Emulator]:
    """An emulator with nothing deployed (tests deploy small programs into it)."""
    with Emulator() as emulator:
        yield emulator
