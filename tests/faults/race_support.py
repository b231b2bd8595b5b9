"""Deploying one pipeline into an interleaving emulator, and the seeds the race suites use.

`make test` runs each race on `SEEDS` (a handful: seconds); `make races` sets
`ORDERFLOW_RACE_SEEDS` to run them on many more. A failing seed reproduces the same
interleaving: `Emulator(interleave=seed)` or `python -m emulator run ... --interleave SEED`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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


def some_seed_interleaves(emulator: Emulator, run: Callable[[int], object]) -> int:
    """Run `run(seed)` for fresh seeds until one preempts a unit at an AWS call.

    A single seed may well run its units one after another (that is one of the
    interleavings); the races are only exercised if some seeds do not. Seeds from 1000
    on, so the data of `run` does not collide with the per-seed tests'.
    """
    scheduler = emulator.interleaver
    assert scheduler is not None
    for seed in range(1000, 1020):
        scheduler.reseed(seed)
        run(seed)
        if scheduler.preemptions:
            return seed
    raise AssertionError("no seed interleaved the concurrent units")
