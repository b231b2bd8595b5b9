"""ValidationPipeline when AWS runs some Express Map children twice (at least once).

The workflow's Distributed Map runs its batches as Express children, which AWS runs at
least once; with `express_at_least_once` the seed picks children that run a second time,
beside the first. Every record must still end in exactly one place: a rewritten item is
the same item, a re-sent dead letter carries the same id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import conservation
import pytest
from fault_support import run_input, sales_record, write
from race_support import interleaved, seeds

from emulator.engine import Emulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with interleaved(
        "validation", 0, express_at_least_once=True, batchSize=2, maxConcurrency=3
    ) as emulator:
        yield emulator


@pytest.mark.parametrize("seed", seeds())
def test_children_run_twice_and_every_record_ends_in_one_place(
    emulator: Emulator, tmp_path: Path, seed: int
) -> None:
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(seed)
    records = [sales_record(f"alo{seed}-{i}", contact=i % 3 != 0) for i in range(9)]
    name = f"alo-{seed}.json"
    run = run_input(emulator, "validation", write(tmp_path, name, records))

    # Each batch of 2 is a child; each child run (first or again) is one invocation.
    children = (len(records) + 1) // 2
    invocations = run.report["invocations"]["validation-validate"]
    assert invocations == children + emulator.interleaver.repeated
    key = f"incoming/{name}"
    version = conservation.uploaded_version(run.report, key)
    result = conservation.validation(
        run.report, key, json.dumps(records).encode(), version=version
    ).check()
    assert (result.stored, result.dead_lettered) == (6, 3)
    assert run.report["errors"] == []


def test_some_seed_runs_a_child_twice(emulator: Emulator, tmp_path: Path) -> None:
    assert emulator.interleaver is not None
    for seed in range(20):
        emulator.interleaver.reseed(seed)
        records = [sales_record(f"twice{seed}-{i}") for i in range(4)]
        run = run_input(emulator, "validation", write(tmp_path, f"twice-{seed}.json", records))
        if emulator.interleaver.repeated:
            assert run.report["invocations"]["validation-validate"] > 2
            return
    pytest.fail("no seed ran an Express child twice")


def test_at_least_once_needs_an_interleaving_seed() -> None:
    with pytest.raises(ValueError, match="interleave"):
        Emulator(express_at_least_once=True)
