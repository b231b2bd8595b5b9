"""Deploying one pipeline into an interleaving emulator, and the seeds the race suites use.

`make test` runs each race on `SEEDS` (a handful: seconds); `make races` sets
`ORDERFLOW_RACE_SEEDS` to run them on many more. A failing seed reproduces the same
interleaving: `Emulator(interleave=seed)` or `python -m emulator run ... --interleave SEED`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fault_support import PROGRAMS, dev_config

from emulator.engine import Emulator

DEFAULT_SEEDS = 4


def seeds() -> list[int]:
    """The seeds to run each race with (`ORDERFLOW_RACE_SEEDS=200` for the slow target)."""
    return list(range(int(os.environ.get("ORDERFLOW_RACE_SEEDS", DEFAULT_SEEDS))))


@contextmanager
def interleaved(
    pipeline: str, seed: int, *, express_at_least_once: bool = False, **overrides: Any
) -> Iterator[Emulator]:
    """An emulator interleaving with `seed`, holding just `pipeline`'s component."""
    with Emulator(interleave=seed, express_at_least_once=express_at_least_once) as emulator:
        emulator.deploy_program(PROGRAMS[pipeline], dev_config(pipeline, **overrides))
        yield emulator
